"""Artifacts of versions: verified download, single-file reads, and rehashing."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Row

from .. import downloads, validation
from ..domain import Problem, VerifyReport
from ..errors import IntegrityError, NotFound
from ..files import Progress
from ..manifest_paths import check_stored_paths
from ..search_rows import COLUMNS, SearchRows, of_record
from ..store import models as model_rows
from ..store import version_records
from ..store import versions as version_rows
from .base import Context
from .versions import VersionService


class ArtifactService:
    def __init__(self, ctx: Context, versions: VersionService) -> None:
        self.ctx = ctx
        self.versions = versions

    def download(
        self,
        uri: str,
        dest: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write a version's files under ``dest``, all or nothing (see :func:`downloads.place`).

        Raises as ``place`` does, and IntegrityError naming the version when a stored
        artifact path is one no registration writes (absolute, with ``..``), before
        anything is written.
        """
        version = self.versions.get(uri)
        check_stored_paths((a.path for a in version.artifacts), version.uri)
        return downloads.place(
            dest,
            [(a.path, a.sha256, a.size) for a in version.artifacts],
            self.ctx.blobs.copy_to,
            overwrite=overwrite,
            progress=progress,
        )

    def read(self, uri: str, path: str) -> bytes:
        """One artifact's bytes, verified."""
        version = self.versions.get(uri)
        for artifact in version.artifacts:
            if artifact.path == path:
                return self.ctx.blobs.read_verified(artifact.sha256, artifact.size)
        raise NotFound(f"{version.uri} has no artifact {path!r}")

    def verify(self, name: str | None = None, progress: Progress | None = None) -> VerifyReport:
        """Rehash every stored artifact (of one model, or all) and name each bad file.

        Raises NotFound for an unknown model, and IntegrityError naming the version,
        before any file is hashed, when a version's stored record cannot be read, its
        artifact rows (the files hashed) are not the files its manifest names, or its
        rows search reads (``metrics``, ``params``, ``lineage``) are not the ones its
        record yields (each such version named with the tables that differ), or a tag
        row of it names another model.
        """
        if name is not None:
            validation.model_name(name)
        with self.ctx.db.read() as conn:
            if name is not None and model_rows.find(conn, name) is None:
                raise NotFound(f"model {name!r} not found")
            # The records first: on PostgreSQL each statement sees what is committed
            # when it starts, so rows read later may hold a version registered
            # meanwhile (left for the next verify), never lack one a record names.
            manifests = version_rows.manifest_rows(conn, name)
            rows = version_rows.artifact_rows(conn, name)
            indexed = version_rows.stored_search_rows(conn, name)
            off_model = version_rows.tags_off_model(conn, name)
        _check_agree(manifests, rows, indexed)
        if off_model:
            named = ", ".join(f"models:/{r.model}/{r.number}" for r in off_model[:_NAMED])
            more = f" and {len(off_model) - _NAMED} more" if len(off_model) > _NAMED else ""
            raise IntegrityError(
                f"{named}{more}: a tag row names another model than the version's, so a "
                "search by model and tag misses the version; the registry's records may "
                "have been altered"
            )
        verdict: dict[str, str | None] = {}
        problems: list[Problem] = []
        total = 0
        for r in rows:
            if r.sha256 not in verdict:
                try:
                    verdict[r.sha256] = self.ctx.blobs.check(r.sha256, r.size)
                except IntegrityError as exc:
                    verdict[r.sha256] = exc.message
                total += r.size
                if progress:
                    progress(r.size)
            bad = verdict[r.sha256]
            if bad is not None:
                problems.append(
                    Problem(
                        model=r.name,
                        version=r.number,
                        path=r.path,
                        sha256=r.sha256,
                        kind="missing" if bad == "missing" else "corrupt",
                        detail=bad,
                    )
                )
        return VerifyReport(
            versions=len({(r.name, r.number) for r in rows}),
            files=len(rows),
            bytes=total,
            problems=tuple(problems),
        )


def referenced_blobs(conn: Connection) -> set[str]:
    """Every sha256 some version names, from its artifact rows once they are checked
    against the versions' stored manifests (the truth): IntegrityError naming the first
    version whose rows name other files, so that no blob a manifest names is taken for
    unreferenced because its row was edited."""
    # The records before the rows, as in verify: a version registered in between
    # adds rows (its blobs kept) and is not taken for one whose rows are missing.
    manifests = version_rows.manifest_rows(conn, None)
    rows = version_rows.artifact_rows(conn, None)
    _check_agree(manifests, rows)
    return {r.sha256 for r in rows}


def _check_agree(
    manifests: list[Row[Any]],
    rows: list[Row[Any]],
    indexed: Mapping[str, Iterable[Row[Any]]] | None = None,
) -> None:
    """Refuse versions whose stored record (``manifests``: name, number, doc, id) names
    other files than their artifact rows (``rows``: name, number, path, size, sha256),
    and then, given ``indexed`` (each table's rows in ``version_id`` order, as
    :func:`~modelbook.store.versions.stored_search_rows` reads them), versions whose
    rows search reads are not the ones their record yields."""
    files: dict[tuple[str, int], list[tuple[str, int, str]]] = {}
    for r in rows:
        files.setdefault((r.name, r.number), []).append((r.path, r.size, r.sha256))
    expected: dict[int, tuple[str, int, SearchRows]] = {}
    for m in manifests:
        record = version_records.stored_record(m.name, m)
        named = sorted((a.path, a.size, a.sha256) for a in record.artifacts)  # type: ignore[attr-defined]
        if named != sorted(files.get((m.name, m.number), [])):
            raise IntegrityError(
                f"models:/{m.name}/{m.number}: its stored manifest and its artifact rows "
                "name different files; the registry's records may have been altered"
            )
        if indexed is not None:
            expected[m.id] = (m.name, m.number, of_record(record))
    if indexed is not None:
        _check_search_rows(expected, indexed)


# How many versions, and rows of each, a refusal names: a mass edit is named by its first.
_NAMED = 10


def _check_search_rows(
    expected: Mapping[int, tuple[str, int, SearchRows]],
    indexed: Mapping[str, Iterable[Row[Any]]],
) -> None:
    """IntegrityError naming each version (by model and number) whose stored rows of a
    table search reads differ from those its record yields, with what differs."""
    found: dict[tuple[str, int], list[str]] = {}
    for table, stored in indexed.items():
        seen: set[int] = set()
        for version_id, group in itertools.groupby(stored, key=lambda r: r.version_id):
            if version_id not in expected:
                # A version registered after the records were read.
                continue
            seen.add(version_id)
            name, number, rows = expected[version_id]
            differs = _differs(table, [tuple(r)[1:] for r in group], getattr(rows, table))
            if differs:
                found.setdefault((name, number), []).append(differs)
        for version_id, (name, number, rows) in expected.items():
            if version_id not in seen and getattr(rows, table):
                differs = _differs(table, [], getattr(rows, table))
                found.setdefault((name, number), []).append(differs)
    if not found:
        return
    named = [
        f"models:/{name}/{number}: " + "; ".join(found[(name, number)])
        for name, number in sorted(found)[:_NAMED]
    ]
    more = len(found) - len(named)
    one = len(found) == 1
    raise IntegrityError(
        "; ".join(named)
        + (f"; and {more} more versions" if more else "")
        + (
            "; these rows, which search reads, are not the ones "
            + (
                "the version's stored record (versions.doc) yields"
                if one
                else "the versions' stored records (versions.doc) yield"
            )
            + ", so search finds or misses "
            + ("it" if one else "them")
            + " by values "
            + ("its record does" if one else "their records do")
            + " not hold; the registry's records may have been altered"
        )
    )


def _differs(table: str, stored: list[tuple[Any, ...]], derived: tuple[Any, ...]) -> str:
    """What differs between a version's stored rows of ``table`` and those its record
    yields, or "" when nothing does. Values compare exactly: a metric's stored float is
    the one registration wrote from the record's own float. Compared as sets: the
    table's key holds each row once."""
    have, want = set(stored), set(derived)
    if have == want:
        return ""
    parts = []
    if have - want:
        parts.append(f"has {_rows(table, have - want)} that its record does not yield")
    if want - have:
        parts.append(f"lacks {_rows(table, want - have)} that its record yields")
    return f"its {table} table " + " and ".join(parts)


def _rows(table: str, rows: set[tuple[Any, ...]]) -> str:
    shown = [
        "(" + ", ".join(f"{c}={v!r}" for c, v in zip(COLUMNS[table], r, strict=True)) + ")"
        for r in sorted(rows, key=repr)[:_NAMED]
    ]
    more = f" and {len(rows) - _NAMED} more" if len(rows) > _NAMED else ""
    return ("a row " if len(rows) == 1 else f"{len(rows)} rows ") + ", ".join(shown) + more
