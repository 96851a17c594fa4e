"""Who may move a serving alias, and whether a version's files can be served.

:func:`check_mover` is the one rule of who may move or remove a serving alias
on the paths that do not run the whole ``deployed`` gate (rollback, removing
the alias); deploy, ``alias set`` and ``alias swap`` run the same checks as
part of that gate.

A rollback and its dry run look at every blob's presence and stored size (a
stat per file, so the command stays fast in an incident); the drill, run
ahead of time, also rehashes each file. Both ask :func:`check_files`, so a
target the drill finds missing or truncated is one the rollback refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from ..blobs import BlobStore
from ..checks import CheckContext, evaluate_gate
from ..domain import Version
from ..errors import GateFailed, IntegrityError, Unavailable
from ..lifecycle import DEPLOYED
from ..policy import Policy
from ..store import models as model_rows
from ..store.rows import to_dt
from .release import Locked


def check_mover(
    conn: Connection, v: Locked, policy: Policy, actor: str, roles: frozenset[str], doing: str
) -> None:
    """Apply the ``deployed`` gate's ``actor`` checks to a serving-alias move that does not
    run the whole gate: a rollback (``v`` is its target) or the removal of a serving alias
    (``v`` is the version it leaves).

    ``roles``: the actor's roles now. ``doing``: the move, for the message (``"roll
    models:/m@production back to version 3"``). Nothing is recorded. Raises GateFailed
    naming each failing check.
    """
    model = model_rows.model_from_row(model_rows.find(conn, v.name))
    specs = [s for s in policy.gate(model.risk_tier, DEPLOYED) if s.check == "actor"]
    if not specs:
        return
    ctx = CheckContext(
        model=model, target_stage=DEPLOYED, actor=actor, actor_roles=roles, now=to_dt(v.chain.at)
    )
    outcome = evaluate_gate(specs, v.version, ctx)
    if outcome.passed:
        return
    lines = [
        f"{actor} may not {doing}: the {model.risk_tier}-risk gate of {DEPLOYED!r} decides "
        "who moves a serving alias, on every path"
    ]
    for r in outcome.failures:
        lines.append(f"- {r.check}: {r.message}" + (f" (to pass: {r.hint})" if r.hint else ""))
    raise GateFailed("\n".join(lines), failures=outcome.failures)


@dataclass(frozen=True)
class FileCheck:
    """One line per artifact: ``checks`` for the good ones, ``problems`` for the others
    (``artifact PATH: what is wrong``)."""

    checks: tuple[str, ...]
    problems: tuple[str, ...]


def check_files(blobs: BlobStore, version: Version, *, rehash: bool) -> FileCheck:
    """Check every artifact blob of ``version``: present with its recorded size and, with
    ``rehash``, hashing to its recorded sha256.

    A store that cannot be read is a problem of each file it holds (not an
    exception), so that every file is reported and a forced rollback may
    still go ahead. Raises nothing of its own.
    """
    checks: list[str] = []
    problems: list[str] = []
    for a in version.artifacts:
        try:
            bad = (
                blobs.check(a.sha256, a.size) if rehash else _size_problem(blobs, a.sha256, a.size)
            )
        except (Unavailable, IntegrityError) as exc:
            bad = f"cannot be read: {exc.message}"
        if bad is not None:
            problems.append(f"artifact {a.path}: {bad}")
        elif rehash:
            checks.append(f"artifact {a.path}: sha256 verified ({a.size} bytes)")
        else:
            checks.append(f"artifact {a.path}: present ({a.size} bytes)")
    return FileCheck(tuple(checks), tuple(problems))


def _size_problem(blobs: BlobStore, sha256: str, size: int) -> str | None:
    stored = blobs.stored_size(sha256)
    if stored is None:
        return "missing"
    if stored != size:
        # The wording of BlobStore.check, so the drill and the rollback read alike.
        return f"size {stored} bytes, expected {size}"
    return None
