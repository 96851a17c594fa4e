"""Who may move a serving alias, and whether a version's files can be served.

:func:`check_mover` is the one rule of who may move or remove a serving alias
on the paths that do not run the whole ``deployed`` gate (rollback, removing
the alias); deploy, ``alias set`` and ``alias swap`` run the same checks as
part of that gate.

A rollback and its dry run look at every blob's presence and stored size by
default: a stat per file, so the command stays within milliseconds however
large the model, when every second of an incident counts. That catches a
file deleted or truncated, the usual damage; a file overwritten with other
bytes of the same size is caught only by rehashing, which reads every byte
(seconds to minutes for a large model). So the drill, run ahead of time,
rehashes each file, and a rollback rehashes when asked (``verify``). All ask
:func:`check_files`, so a target the drill finds damaged is one the rollback
refuses. :func:`crossing` and :func:`pin_text` are the contract-pin rule
both apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from .. import pins
from ..blobs import BlobStore
from ..checks import CheckContext, evaluate_gate
from ..checks.base import failure_line
from ..domain import Version
from ..errors import GateFailed, IntegrityError, NotFound, Unavailable
from ..lifecycle import DEPLOYED
from ..policy import Policy
from ..store import models as model_rows
from ..store.rows import to_dt
from .aliases import pin_crossing
from .gates import Locked


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
    raise GateFailed(
        f"{actor} may not {doing}: the {model.risk_tier}-risk gate of {DEPLOYED!r} decides "
        "who moves a serving alias, on every path",
        failures=outcome.failures,
        items=[failure_line(r) for r in outcome.failures],
    )


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
        except (Unavailable, IntegrityError, NotFound) as exc:
            # NotFound: no blob store at all where the URL points (a mistyped folder).
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


def crossing(
    conn: Connection, name: str, alias: str, current: Any, target: Locked, override: str | None
) -> pins.Override | None:
    """How moving ``alias`` from ``current`` (its locked row) to ``target`` crosses the
    alias's contract pin (None: it crosses none); InvalidInput when ``override`` is None
    and it would."""
    return pin_crossing(
        conn, name, current.model_id, alias, target.row.number, int(target.row.id), override
    )


def pin_text(crossed: pins.Override | None) -> str | None:
    """The crossing of a contract pin, as a rollback and a drill say it."""
    if crossed is None:
        return None
    return (
        f"crosses the contract pin of @{crossed.alias}: major {crossed.pinned} -> "
        f"{crossed.to_major} ({crossed.to_semver}), allowed by --allow-major"
    )
