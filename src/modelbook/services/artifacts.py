"""Artifacts of versions: verified download, single-file reads, and rehashing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Row

from .. import downloads, validation
from ..domain import Problem, VerifyReport
from ..errors import IntegrityError, NotFound
from ..files import Progress
from ..manifest_paths import check_stored_paths
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
        before any file is hashed, when a version's stored manifest cannot be read
        or its artifact rows (the files hashed) are not the files it names.
        """
        if name is not None:
            validation.model_name(name)
        with self.ctx.db.read() as conn:
            if name is not None and model_rows.find(conn, name) is None:
                raise NotFound(f"model {name!r} not found")
            rows = version_rows.artifact_rows(conn, name)
            manifests = version_rows.manifest_rows(conn, name)
        _check_agree(manifests, rows)
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
    rows = version_rows.artifact_rows(conn, None)
    _check_agree(version_rows.manifest_rows(conn, None), rows)
    return {r.sha256 for r in rows}


def _check_agree(manifests: list[Row[Any]], rows: list[Row[Any]]) -> None:
    """Refuse versions whose stored record (``manifests``: name, number, doc) names
    other files than their artifact rows (``rows``: name, number, path, size, sha256)."""
    files: dict[tuple[str, int], list[tuple[str, int, str]]] = {}
    for r in rows:
        files.setdefault((r.name, r.number), []).append((r.path, r.size, r.sha256))
    for m in manifests:
        record = version_records.stored_record(m.name, m)
        named = sorted((a.path, a.size, a.sha256) for a in record.artifacts)  # type: ignore[attr-defined]
        if named != sorted(files.get((m.name, m.number), [])):
            raise IntegrityError(
                f"models:/{m.name}/{m.number}: its stored manifest and its artifact rows "
                "name different files; the registry's records may have been altered"
            )
