"""Tenant archives: one file with a tenant's rows and the migration state they belong to.

An archive is a zip file: ``manifest.json`` (format, version, the migrations applied to
the tenant, per table its model, columns, row count and checksum, the primary-key
sequences, and whatever the caller describes the tenant with) and one
``tables/<table>.jsonl`` per table, a row per line in the row path's JSON form
(:mod:`omnitenant_backends._rows`). It is independent of the database vendor and of the
isolation type: a schema tenant's archive loads into an SQLite database tenant.

Writing goes to a temporary file beside the destination, renamed over it only when
complete: an interrupted dump leaves no archive. Reading checks each table's rows against
the manifest's count and checksum as they stream, so a damaged archive fails the load
(whose target then rolls back) instead of loading wrong rows.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from omnitenant_backends._rows import (
    CopyError,
    CopyMismatch,
    RowDigest,
    RowSource,
    TableRows,
    encode_row,
)
from omnitenant_backends.copying import CopyReport, Progress, TableCopy

__all__ = ["ARCHIVE_FORMAT", "ARCHIVE_VERSION", "ArchiveError", "ArchiveSource", "write_archive"]

ARCHIVE_FORMAT: Final = "omnitenant-tenant-archive"
ARCHIVE_VERSION: Final = 1
_MANIFEST = "manifest.json"


class ArchiveError(CopyError):
    """The file is not a tenant archive this version can read, or it is damaged."""


def _member(table: str) -> str:
    return f"tables/{table}.jsonl"


def write_archive(
    path: Path,
    source: RowSource,
    *,
    migrations: set[tuple[str, str]],
    about: dict[str, Any],
    progress: Progress | None = None,
) -> CopyReport:
    """Write ``source``'s rows to the archive ``path``; nothing at ``path`` on failure."""
    import time  # noqa: PLC0415 - only for the report

    started = time.perf_counter()
    report = CopyReport()
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            described: list[dict[str, Any]] = []
            for table in source.tables():
                digest = RowDigest()
                with archive.open(_member(table.table), "w", force_zip64=True) as member:
                    for row in source.rows(table):
                        encoded = encode_row(row)
                        digest.add_encoded(encoded)
                        member.write(encoded + b"\n")
                described.append(
                    {
                        "table": table.table,
                        "model": table.model,
                        "columns": list(table.columns),
                        "rows": digest.count,
                        "checksum": digest.hexdigest,
                    }
                )
                copied = TableCopy(table.table, digest.count, digest.bytes, digest.hexdigest)
                report.tables.append(copied)
                if progress is not None:
                    progress(copied)
            sequences = source.sequences()
            report.sequences = len(sequences)
            manifest = {
                "format": ARCHIVE_FORMAT,
                "version": ARCHIVE_VERSION,
                "tenant": about,
                "migrations": sorted([app, name] for app, name in migrations),
                "tables": described,
                "sequences": sequences,
            }
            archive.writestr(_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    report.seconds = time.perf_counter() - started
    return report


class ArchiveSource:
    """The rows of an archive, as a :class:`~omnitenant_backends.copying.RowSource`.

    Raises:
        ArchiveError: The file cannot be read as a tenant archive of a known version.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
            manifest = json.loads(self._zip.read(_MANIFEST))
        except FileNotFoundError as exc:
            raise ArchiveError(f"There is no file {str(path)!r}.") from exc
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise ArchiveError(f"{str(path)!r} is not a tenant archive: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
            raise ArchiveError(f"{str(path)!r} is not a tenant archive (no {ARCHIVE_FORMAT!r}).")
        version = manifest.get("version")
        if version != ARCHIVE_VERSION:
            raise ArchiveError(
                f"{str(path)!r} is an archive of version {version!r}; this omnitenant reads "
                f"version {ARCHIVE_VERSION}."
            )
        self.manifest: dict[str, Any] = manifest

    def close(self) -> None:
        """Close the archive file."""
        self._zip.close()

    @property
    def about(self) -> dict[str, Any]:
        """What the dump recorded about the tenant."""
        return dict(self.manifest.get("tenant") or {})

    @property
    def migrations(self) -> set[tuple[str, str]]:
        """The migrations applied to the tenant when it was dumped."""
        return {(str(app), str(name)) for app, name in self.manifest["migrations"]}

    def tables(self) -> list[TableRows]:
        return [
            TableRows(str(t["table"]), str(t["model"]), tuple(t["columns"]))
            for t in self.manifest["tables"]
        ]

    def rows(self, table: TableRows) -> Iterator[list[Any]]:
        expected = next(t for t in self.manifest["tables"] if t["table"] == table.table)
        digest = RowDigest()
        try:
            with self._zip.open(_member(table.table)) as member:
                for line in member:
                    encoded = line.rstrip(b"\n")
                    digest.add_encoded(encoded)
                    yield json.loads(encoded)
        except (KeyError, zipfile.BadZipFile, ValueError, OSError) as exc:
            raise ArchiveError(f"The archive's table {table.table} is damaged: {exc}") from exc
        if (digest.count, digest.hexdigest) != (expected["rows"], expected["checksum"]):
            raise CopyMismatch(
                f"The archive's table {table.table} holds {digest.count} rows (checksum "
                f"{digest.hexdigest}); its manifest says {expected['rows']} "
                f"({expected['checksum']}): the file is damaged."
            )

    def sequences(self) -> dict[str, int | None]:
        return {str(k): v for k, v in (self.manifest.get("sequences") or {}).items()}
