"""The negative-typing checker reads marks and mypy output as intended.

mypy itself runs in ``./dev types`` (the test environments do not install it); these
tests pin the parsing and the comparison that decide whether that run passes.
"""

from __future__ import annotations

from tests.typing.check_negative import NEGATIVE_DIR, compare, expected_errors, reported_errors

SOURCE = """\
x: int = "a"  # E: assignment
f(1, 2)  # E: call-arg, arg-type
# A comment that mentions ``# E:`` in prose is no mark.
y = 1
"""

OUTPUT = """\
neg.py:1: error: Incompatible types in assignment  [assignment]
neg.py:2: error: Too many arguments  [call-arg]
neg.py:2: note: "f" defined here
neg.py:4: error: Something new  [misc]
other.py:9: error: Elsewhere  [attr-defined]
neg.py:5: error: An error without a code
"""


def test_marks_give_line_and_code_pairs() -> None:
    assert expected_errors(SOURCE) == {(1, "assignment"), (2, "call-arg"), (2, "arg-type")}


def test_output_gives_the_files_errors_and_the_rest() -> None:
    found, others = reported_errors(OUTPUT, "neg.py")
    assert found == {(1, "assignment"), (2, "call-arg"), (4, "misc")}
    assert others == [
        "other.py:9: error: Elsewhere  [attr-defined]",
        "neg.py:5: error: An error without a code",
    ]


def test_every_disagreement_is_a_problem() -> None:
    found, others = reported_errors(OUTPUT, "neg.py")
    problems = compare(expected_errors(SOURCE), found, others)
    assert problems == [
        "line 2: expected [arg-type], mypy no longer reports it",
        "line 4: unexpected [misc]",
        "unexpected: other.py:9: error: Elsewhere  [attr-defined]",
        "unexpected: neg.py:5: error: An error without a code",
    ]


def test_agreement_is_no_problem() -> None:
    assert compare({(1, "assignment")}, {(1, "assignment")}, []) == []


def test_the_negative_file_marks_the_misuses() -> None:
    source = (NEGATIVE_DIR / "wrong_usage.py").read_text(encoding="utf-8")
    codes = {code for _, code in expected_errors(source)}
    assert {"arg-type", "assignment", "override", "union-attr", "call-arg"} <= codes
    assert len(expected_errors(source)) >= 15
