"""The mechanism behind ``OMNITENANT_CONFIG``: one declarative definition per key.

Each package that reads settings declares them once, as the fields of a frozen
dataclass, in the package that reads them::

    @dataclass(frozen=True, slots=True)
    class BackendSettings:
        master_database: str = setting(
            "MASTER_DATABASE", "default", parse=text, section="Models and names",
            doc="The `DATABASES` alias of the master database.",
        )

    backend_settings: Final = SettingsGroup(BackendSettings, package="omnitenant_backends")

``backend_settings()`` then returns the validated, typed, immutable settings. From the same
definitions come the defaults, the validation (each ``parse`` raises ``ValueError`` with
what is wrong; the error names the key), the unknown-key check (a key no registered group
declares is an error) and the table in ``docs/configuration.md`` (:func:`settings_table`;
a test fails when the docs differ).

A loaded settings object is replaced, never mutated, when ``override_settings`` changes
``OMNITENANT_CONFIG`` (or ``DATABASES``, ``CACHES``, ``BASE_DIR``): code that builds
something from the settings keeps the object it built from and rebuilds when
``group() is not kept`` - no listener to register, nothing to leak.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from omnitenant_context import ConfigurationError

__all__ = [
    "OmnitenantConfigurationError",
    "SettingSpec",
    "SettingsGroup",
    "app_labels",
    "flag",
    "known_settings",
    "mapping",
    "non_negative_number",
    "one_of",
    "optional_path",
    "optional_text",
    "positive_int",
    "positive_number",
    "setting",
    "settings_table",
    "text",
]

T = TypeVar("T")
S = TypeVar("S")

_METADATA_KEY: Final = "omnitenant_setting"
# The Django settings whose change invalidates every loaded group.
_WATCHED: Final = frozenset({"OMNITENANT_CONFIG", "BASE_DIR", "DATABASES", "CACHES"})


class OmnitenantConfigurationError(ConfigurationError, ImproperlyConfigured):
    """``OMNITENANT_CONFIG`` is wrong; the message names the key to fix."""


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One ``OMNITENANT_CONFIG`` key: its default, how it is checked and what it does."""

    key: str
    default: object
    parse: Callable[[Any], object]
    doc: str
    section: str
    package: str = ""


def setting(key: str, default: object, *, parse: Callable[[Any], T], doc: str, section: str) -> T:
    """Declare a field of a settings dataclass as the ``OMNITENANT_CONFIG`` key ``key``.

    ``default`` is the documented value used when the key is absent (it goes through
    ``parse`` too); ``parse`` turns the user's value into the field's type or raises
    ``ValueError``/``TypeError`` saying what is wrong; ``doc`` (Markdown) and ``section``
    make the row of the configuration table.
    """
    spec = SettingSpec(key=key, default=default, parse=parse, doc=doc, section=section)
    # No dataclass default: the group always passes every field, and a mutable default
    # (a dict) would be refused.
    field: T = dataclasses.field(metadata={_METADATA_KEY: spec})
    return field


# -- parsers: the small vocabulary definitions use ---------------------------------------


def text(value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, not {value!r}")
    return value


def optional_text(value: object) -> str | None:
    """A non-empty string or ``None``."""
    return None if value is None else text(value)


def flag(value: object) -> bool:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ValueError(f"must be True or False, not {value!r}")
    return value


def positive_int(value: object) -> int:
    """A positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a positive integer, not {value!r}")
    return value


def positive_number(value: object) -> float:
    """A positive number, as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"must be a positive number, not {value!r}")
    return float(value)


def non_negative_number(value: object) -> float:
    """Zero or a positive number, as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"must be zero or a positive number, not {value!r}")
    return float(value)


def one_of(*choices: T) -> Callable[[object], T]:
    """One of ``choices``."""

    def parse(value: object) -> T:
        for choice in choices:
            if value == choice:
                return choice
        raise ValueError(f"is {value!r}; use one of {choices}")

    return parse


def app_labels(value: object) -> frozenset[str]:
    """A list or tuple of app labels."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"must be a list of app labels, not {value!r}")
    labels = frozenset(value)
    if not all(isinstance(label, str) and label for label in labels):
        raise ValueError(f"must be a list of app labels, not {value!r}")
    return labels


def mapping(value: object) -> Mapping[str, Any]:
    """A dict (copied)."""
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a dict, not {value!r}")
    return dict(value)


def optional_path(value: object) -> Path | None:
    """A path (a string or a ``Path``) or ``None``."""
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value):
        raise ValueError(f"must be a path, not {value!r}")
    return Path(value)


# -- groups ---------------------------------------------------------------------------------

_groups: list[SettingsGroup[Any]] = []


class SettingsGroup(Generic[S]):
    """The settings one package reads: call it to get them, validated and typed.

    Creating a group registers its keys (a key declared twice is an error); loading one
    checks ``OMNITENANT_CONFIG`` against every registered key, so a typo is refused.
    """

    def __init__(self, cls: type[S], *, package: str) -> None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass of setting() fields.")
        self.cls = cls
        self.package = package
        specs: list[tuple[str, SettingSpec]] = []
        for field in dataclasses.fields(cls):
            spec = field.metadata.get(_METADATA_KEY)
            if not isinstance(spec, SettingSpec):
                raise TypeError(f"{cls.__name__}.{field.name} is not declared with setting().")
            specs.append((field.name, dataclasses.replace(spec, package=package)))
        taken = known_settings()
        for _, spec in specs:
            if spec.key in taken:
                raise TypeError(
                    f"OMNITENANT_CONFIG[{spec.key!r}] is declared by {taken[spec.key].package} "
                    f"and again by {package}."
                )
        self.specs: tuple[tuple[str, SettingSpec], ...] = tuple(specs)
        #: The settings loaded now; ``None`` before first use and after a change. A new
        #: object on every load, so a memo made from the settings can keep this one and
        #: compare identities instead of calling the group (the engine's path memo).
        self.loaded: S | None = None
        self._lock = threading.Lock()
        _groups.append(self)

    def __call__(self) -> S:
        """The current settings (loaded on first use and after a settings change).

        Raises:
            OmnitenantConfigurationError: ``OMNITENANT_CONFIG`` is invalid.
        """
        loaded = self.loaded
        if loaded is None:
            with self._lock:
                loaded = self.loaded
                if loaded is None:
                    loaded = self.loaded = self._load()
        return loaded

    def defaults(self) -> Mapping[str, object]:
        """The documented default of each key of this group, by key."""
        return {spec.key: spec.default for _, spec in self.specs}

    def reload(self) -> None:
        """Forget the loaded settings; the next call reads them again."""
        self.loaded = None

    def _load(self) -> S:
        raw = getattr(settings, "OMNITENANT_CONFIG", None) or {}
        if not isinstance(raw, Mapping):
            raise OmnitenantConfigurationError("settings.OMNITENANT_CONFIG must be a dict.")
        known = known_settings()
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise OmnitenantConfigurationError(
                f"OMNITENANT_CONFIG has unknown keys {unknown}; the known keys are {sorted(known)}."
            )
        values: dict[str, object] = {}
        for name, spec in self.specs:
            value = raw.get(spec.key, spec.default)
            try:
                values[name] = spec.parse(value)
            except (TypeError, ValueError) as exc:
                raise OmnitenantConfigurationError(
                    f"OMNITENANT_CONFIG[{spec.key!r}] {exc}."
                ) from None
        return self.cls(**values)


def known_settings() -> Mapping[str, SettingSpec]:
    """Every key declared by the groups registered so far (imported packages), by key."""
    return {spec.key: spec for group in _groups for _, spec in group.specs}


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: object) -> None:
    if setting in _WATCHED:
        for group in _groups:
            group.reload()


# -- the documentation table ------------------------------------------------------------


def _render_default(value: object) -> str:
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
        return f"`{value:_}`"
    return f"`{value!r}`"


def settings_table(specs: Iterable[SettingSpec] | None = None) -> str:
    """The Markdown tables of ``docs/configuration.md``, one per section, from the specs."""
    sections: dict[str, list[SettingSpec]] = {}
    for spec in known_settings().values() if specs is None else specs:
        sections.setdefault(spec.section, []).append(spec)
    parts: list[str] = []
    for section, rows in sections.items():
        parts.append(f"### {section}\n\n| key | default | read by | effect |\n|---|---|---|---|")
        parts.extend(
            f"| `{spec.key}` | {_render_default(spec.default)} | `{spec.package}` | {spec.doc} |"
            for spec in rows
        )
        parts.append("")
    return "\n".join(parts)
