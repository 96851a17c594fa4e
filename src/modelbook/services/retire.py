"""Retiring versions: deprecation, its undo, and archiving, each behind its role.

A version that serves (``deployed``) or that a rollback may return to (the
stage before ``deployed``, ``approved`` by default) is the deployer's to
retire or bring back (:func:`modelbook.roles.retire_operation`); any other
version is a contributor's. Moves into and out of ``archived`` follow one rule
(:meth:`.release.ReleaseService.require_archive_move`), whatever asks for them.
Rollback deprecates the version it leaves within
its own deployer-only operation (:mod:`modelbook.services.rollback`).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from .. import roles as role_rules
from .. import validation
from ..domain import Version
from ..lifecycle import ARCHIVED, DEPLOYED
from .gates import Locked
from .release import OnRelease


class RetireService(OnRelease):
    def _require(self, conn: Connection, operation: str, v: Locked, actor: str) -> None:
        graph = self.gov.policy(conn).graph
        released = (DEPLOYED, graph.return_stage)
        self.gov.require(conn, role_rules.retire_operation(operation, v.row.stage, released), actor)

    def deprecate(self, uri: str, *, actor: str, note: str) -> Version:
        """Mark a version deprecated (never a rollback target nor deployed until undone).

        Raises InvalidInput (no note), PermissionDenied (a deployed or approved
        version needs the deployer role), Conflict (already deprecated), NotFound.
        """
        why = validation.reason(note, "note", "--note")
        with self.ctx.db.write() as conn:
            v = self.release.lock(conn, uri)
            self._require(conn, "deprecate", v, actor)
            self.release.mark_deprecated(conn, v, actor, why)
        return self.release.reread(uri)

    def undeprecate(self, uri: str, *, actor: str, reason: str) -> Version:
        """Withdraw a version's deprecation: it may be deployed and rolled back to again.

        Needs the same role as deprecating it. Raises InvalidInput (no reason),
        PermissionDenied, Conflict (not deprecated), NotFound.
        """
        why = validation.reason(reason)
        with self.ctx.db.write() as conn:
            v = self.release.lock(conn, uri)
            self._require(conn, "undeprecate", v, actor)
            self.release.mark_deprecated(conn, v, actor, why, deprecated=False)
        return self.release.reread(uri)

    def archive(self, uri: str, *, actor: str, note: str) -> Version:
        """Move a version to ``archived``: its artifacts and history are kept.

        Raises InvalidInput (no note; a deployed version), PermissionDenied (an
        approved version needs the deployer role), NotFound.
        """
        why = validation.reason(note, "note", "--note")
        with self.ctx.db.write() as conn:
            v = self.release.lock(conn, uri)
            graph = self.gov.policy(conn).graph
            # The rule every move into (or out of) archived is held to, whoever asks.
            self.release.require_archive_move(conn, v, ARCHIVED, actor, why)
            graph.check_move(v.row.stage, ARCHIVED)
            self.release.set_stage(conn, v, ARCHIVED, actor, why, action="version.archive")
        return self.release.reread(uri)
