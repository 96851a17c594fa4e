"""Garbage collection of blobs that no version references, and of abandoned temporaries.

Dry run by default. A blob is removed only when no version names it and it
was last written more than ``grace`` ago (the artifact rows are read, and
checked against the versions' manifests first: rows edited apart from them
refuse gc as damage): a registration stores its blobs
before it commits the version that names them (and refreshes the time of a
blob it reuses), so a registration in flight never loses a blob it is about
to reference.

A temporary file of a local blob store (``.modelbook/tmp/mb-<hex>.part``) that
was last written more than ``grace`` ago was left by a writer killed mid-write
(a writer in progress keeps writing to it); gc lists those and, with
``apply``, removes them, as the first write of a process does for temporaries
over a day old (:data:`modelbook.blobs_temp.STALE_TMP_SECONDS`).

On an object store an upload killed mid-way leaves a temporary key
(``<root>/.modelbook/tmp/mb-<hex>.part``, of a store whose files commit on
close) or, on S3, an incomplete multipart upload at a blob's key, which the
bucket keeps and bills for. Those begun more than ``grace`` ago are listed
with the temporaries, by URL (an upload as ``s3://<bucket>/<key> (incomplete
multipart upload <id>)``, its bytes the sizes of its parts), and with
``apply`` removed or aborted; only the store's own root is looked at (see
:mod:`modelbook.blobs_abandoned`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..blobs_temp import STALE_TMP_SECONDS
from . import audit as log
from .artifacts import referenced_blobs
from .base import Context
from .governance import GovernanceService

GRACE_SECONDS = STALE_TMP_SECONDS


@dataclass(frozen=True)
class GcReport:
    """Unreferenced blobs and abandoned temporary files found (and, with ``applied``,
    removed). ``temporaries`` holds local paths, or on an object store URLs of temporary
    keys and incomplete uploads; ``temporary_bytes`` is their total size."""

    applied: bool
    blobs: tuple[str, ...]
    bytes: int
    kept_recent: int
    temporaries: tuple[str, ...] = ()
    temporary_bytes: int = 0


class GcService:
    def __init__(self, ctx: Context, governance: GovernanceService) -> None:
        self.ctx = ctx
        self.gov = governance

    def gc(self, *, actor: str, apply: bool = False, grace: float = GRACE_SECONDS) -> GcReport:
        """Find (and with ``apply`` remove) blobs no version references and temporary
        files abandoned by killed writers, both last written over ``grace`` seconds ago;
        on an object store also the temporary keys and incomplete multipart uploads of
        killed uploads begun over ``grace`` seconds ago (aborted with ``apply``).

        Raises PermissionDenied (only an admin removes blobs), NotFound (the store's
        bucket does not exist), Unavailable (the store cannot be listed or written),
        InvalidInput (a read-only store: ``https``), IntegrityError naming a version whose
        artifact rows and stored manifest name different files (nothing removed).
        """
        self.ctx.blobs.require_writable("collect the unreferenced blobs of {store}")
        now = self.ctx.clock()
        cutoff = now / 1e6 - grace
        stored = list(self.ctx.blobs.iter_blobs())
        referenced = self.ctx.db.reading(referenced_blobs)
        unreferenced = [b for b in stored if b[0] not in referenced]
        old = [b for b in unreferenced if b[2] < cutoff]
        if not apply:
            temps = self.ctx.blobs.stale_temporaries(cutoff)
            return GcReport(
                False,
                tuple(b[0] for b in old),
                sum(b[1] for b in old),
                len(unreferenced) - len(old),
                tuple(p for p, _ in temps),
                sum(n for _, n in temps),
            )
        removed: list[tuple[str, int, float]] = []
        with self.ctx.db.write() as conn:
            self.gov.require(conn, "gc", actor, at=now)
            # Read again under the write lock: a version committed since then keeps its blobs.
            referenced = referenced_blobs(conn)
            for sha, size, mtime in old:
                if sha not in referenced and self.ctx.blobs.remove_if_older(sha, cutoff):
                    removed.append((sha, size, mtime))
            temps = self.ctx.blobs.stale_temporaries(cutoff, remove=True)
            log.record(
                conn,
                log.registry_head(conn),
                actor=actor,
                at=now,
                action="blobs.gc",
                subject="registry:blobs",
                after={
                    "removed": [s for s, _, _ in removed],
                    "bytes": sum(n for _, n, _ in removed),
                    "temporaries": len(temps),
                    "temporary_bytes": sum(n for _, n in temps),
                },
            )
        return GcReport(
            True,
            tuple(s for s, _, _ in removed),
            sum(n for _, n, _ in removed),
            len(unreferenced) - len(old),
            tuple(p for p, _ in temps),
            sum(n for _, n in temps),
        )
