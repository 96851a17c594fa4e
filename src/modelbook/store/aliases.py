"""Statements on aliases: the pointer itself and its history of moves."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain import Alias, AliasEvent
from ..errors import IntegrityError
from ..events import model_chain
from . import event_ids, models
from . import schema as t
from .engine import Prebuilt
from .governance import CURRENT_POLICY_SHA256
from .rows import to_dt

_ALIAS_VALUES = ("version_id", "number", "updated_at", "updated_by")
_UPDATE = Prebuilt(
    t.aliases.update().where(
        t.aliases.c.model_id == sa.bindparam("m"), t.aliases.c.name == sa.bindparam("a")
    ),
    _ALIAS_VALUES,
)
_INSERT = Prebuilt(t.aliases.insert(), ("model_id", "name", *_ALIAS_VALUES))

# The version row an alias row points at: its number and model are the truth the
# alias row's own ``number`` must agree with.
_a = t.aliases.c
_HELD = t.versions.alias("held")
#: The held version's number and model, as :func:`check` takes them.
HELD_COLUMNS = (_HELD.c.number.label("held"), _HELD.c.model_id.label("held_model"))


def join_held(source: Any, alias_version_id: Any) -> Any:
    """``source`` joined (outer) to the version row an alias row points at."""
    return source.outerjoin(_HELD, _HELD.c.id == alias_version_id)


def check(
    model: str, alias: str, number: Any, held_number: Any, held_model: Any, model_id: Any
) -> None:
    """IntegrityError naming ``models:/MODEL@ALIAS`` unless its stored ``number`` is the number
    of the version row it points at (``held_number``, of model ``held_model``; None: no such
    row), a version of its own model (``model_id``). No modelbook writes them apart: an alias
    row edited outside it points nowhere a move, a rollback or a read may trust."""
    if held_number is None:
        why = "points at no version row"
    elif held_model != model_id:
        why = "points at a version of another model"
    elif held_number != number:
        why = f"records version {number} but points at the row of version {held_number}"
    else:
        return
    raise IntegrityError(
        f"alias models:/{model}@{alias} {why}; its row was damaged or edited outside modelbook"
    )


def _target(version_match: Any | None) -> sa.Select[Any]:
    m, a, p = t.models, t.aliases, t.alias_pins
    cols: list[Any] = [
        m.c.id.label("model_id"),
        m.c.risk_tier,
        m.c.event_seq,
        m.c.event_hash,
        a.c.number.label("current"),
        a.c.version_id.label("current_id"),
        _HELD.c.number.label("held_number"),
        _HELD.c.model_id.label("held_model"),
        p.c.major.label("pinned"),
        CURRENT_POLICY_SHA256,
    ]
    alias: Any = sa.bindparam("alias")
    source: Any = (
        m.outerjoin(a, sa.and_(a.c.model_id == m.c.id, a.c.name == alias))
        .outerjoin(_HELD, _HELD.c.id == a.c.version_id)
        .outerjoin(p, sa.and_(p.c.model_id == m.c.id, p.c.alias == alias))
    )
    if version_match is not None:
        v = t.versions
        source = source.outerjoin(v, sa.and_(v.c.model_id == m.c.id, version_match))
        cols += [v.c.id.label("version_id"), v.c.number.label("number"), v.c.stage, v.c.semver]
    return sa.select(*cols).select_from(source).where(m.c.name == sa.bindparam("name"))


_MATCHES = {
    "number": t.versions.c.number == sa.bindparam("version"),
    "semver": t.versions.c.semver == sa.bindparam("version"),
    None: None,
}
_TARGETS = {kind: Prebuilt(_target(match)) for kind, match in _MATCHES.items()}
# Read with the model's row locked: the row also holds the id of the move's event.
_LOCKED_TARGETS = {
    dialect: {
        kind: Prebuilt(event_ids.after_lock(_target(match), dialect))
        for kind, match in _MATCHES.items()
    }
    for dialect in ("postgresql", "sqlite")
}


def target(
    conn: Connection,
    name: str,
    alias: str,
    kind: str | None = None,
    version: Any = None,
    *,
    lock: bool = True,
) -> Any:
    """Model id and chain head, the alias's current number and (by ``kind``) the wanted version.

    None when the model does not exist; ``current`` is None when the alias
    does not, ``version_id`` when the version does not. The row also holds
    what a move decides by: ``pinned``, the MAJOR the alias is pinned to (None:
    no pin); ``policy_sha256``, the hash of the policy in force (None: the
    default); and with ``kind``, the wanted version's ``semver`` and ``stage``. The model's row is
    locked first, in its own statement: that serialises the model's writers,
    and the alias is then read after the lock is held, with the id of the move's
    audit event (:data:`.event_ids.NEXT_ID`; ``lock=False``: a plain read, without it).
    IntegrityError (:func:`check`) when the alias row disagrees with its version.
    """
    params: dict[str, Any] = {"name": name, "alias": alias}
    if kind is not None:
        params["version"] = int(version) if kind == "number" else version
    if lock:
        models.lock(conn, name)
        row = _LOCKED_TARGETS[conn.dialect.name][kind].first(conn, params)
    else:
        row = _TARGETS[kind].first(conn, params)
    if row is not None and row.current is not None:
        check(name, alias, row.current, row.held_number, row.held_model, row.model_id)
    return row


def put(
    conn: Connection,
    model_id: int,
    alias: str,
    *,
    version_id: int,
    number: int,
    left: int | None,
    at: int,
    actor: str,
) -> None:
    """Point ``alias`` at ``version_id``; ``left``: the id of the version it points at
    now (None: the alias does not exist). The database's triggers on ``aliases``
    rewrite the alias names the rows of both versions list (revision 0009)."""
    values = dict(zip(_ALIAS_VALUES, (version_id, number, at, actor), strict=True))
    if left is not None:
        _UPDATE.run(conn, {"m": model_id, "a": alias, **values})
    else:
        _INSERT.run(conn, {"model_id": model_id, "name": alias, **values})


_DROP = t.aliases.delete().where(
    t.aliases.c.model_id == sa.bindparam("m"), t.aliases.c.name == sa.bindparam("a")
)


def drop(conn: Connection, model_id: int, alias: str) -> None:
    """Remove ``alias`` (nothing when it does not exist); the database's triggers take
    its name off the row of the version it pointed at."""
    conn.execute(_DROP, {"m": model_id, "a": alias})


_OF_MODEL = (
    sa.select(_a.name, _a.number, _a.updated_at, _a.updated_by, t.alias_pins.c.major, *HELD_COLUMNS)
    .select_from(
        join_held(t.aliases, _a.version_id).outerjoin(
            t.alias_pins,
            sa.and_(t.alias_pins.c.model_id == _a.model_id, t.alias_pins.c.alias == _a.name),
        )
    )
    .where(_a.model_id == sa.bindparam("m"))
    .order_by(_a.name)
)


def of_model(conn: Connection, model: str, model_id: int) -> list[Alias]:
    """The model's aliases by name; IntegrityError (:func:`check`) naming the first whose row
    disagrees with its version."""
    rows = conn.execute(_OF_MODEL, {"m": model_id}).all()
    for r in rows:
        check(model, r.name, r.number, r.held, r.held_model, model_id)
    return [
        Alias(
            model=model,
            name=r.name,
            version=r.number,
            updated_at=to_dt(r.updated_at),
            updated_by=r.updated_by,
            pinned_major=r.major,
        )
        for r in rows
    ]


def _damaged(names: bool, model: bool) -> sa.Select[Any]:
    a, m, held = t.aliases.c, t.models.c, _HELD.c
    wrong = sa.or_(held.id.is_(None), held.model_id != a.model_id, held.number != a.number)
    stmt = (
        sa.select(m.name.label("model"), a.name, a.number, a.model_id, *HELD_COLUMNS)
        .select_from(join_held(t.aliases.join(t.models, m.id == a.model_id), a.version_id))
        .where(wrong)
        .order_by(m.name, a.name)
    )
    if names:
        stmt = stmt.where(a.name.in_(sa.bindparam("names", expanding=True)))
    if model:
        stmt = stmt.where(m.name == sa.bindparam("model"))
    return stmt


_DAMAGED = {(n, m): _damaged(n, m) for n in (False, True) for m in (False, True)}


def damaged(conn: Connection, names: Collection[str] | None, model: str | None) -> list[str]:
    """What :func:`check` says of each alias row that disagrees with its version, by model
    and name: of the aliases ``names`` (None: every alias), of model ``model`` (None: any)."""
    params: dict[str, Any] = {}
    if names is not None:
        if not names:
            return []
        params["names"] = sorted(names)
    if model is not None:
        params["model"] = model
    found = []
    for r in conn.execute(_DAMAGED[names is not None, model is not None], params):
        try:
            check(r.model, r.name, r.number, r.held, r.held_model, r.model_id)
        except IntegrityError as exc:
            found.append(exc.message)
    return found


# The alias moves of one model's audit chain, newest first.
_MOVES = (
    sa.select(t.events.c.canonical)
    .where(
        t.events.c.chain == sa.bindparam("chain"),
        t.events.c.action.in_(("alias.set", "alias.delete")),
    )
    .order_by(t.events.c.seq.desc())
)


def history(conn: Connection, model: str, alias: str | None, limit: int) -> list[AliasEvent]:
    """Moves of the model's aliases (or of one), newest first, at most ``limit``.

    Read from the model's audit chain, whose ``alias.set`` and ``alias.delete``
    events record every move with its actor, time and reason: the history is
    the verified log itself, not a copy that could disagree with it.
    """
    found: list[AliasEvent] = []
    for row in conn.execute(_MOVES, {"chain": model_chain(model)}):
        event = json.loads(row.canonical)
        before, after = event.get("before") or {}, event.get("after") or {}
        name = after.get("alias", before.get("alias"))
        if alias is not None and name != alias:
            continue
        found.append(
            AliasEvent(
                model=model,
                alias=name,
                from_version=before.get("version"),
                to_version=after.get("version"),
                actor=event["actor"],
                reason=event.get("reason") or "",
                at=to_dt(event["at"]),
            )
        )
        if len(found) >= limit:
            break
    return found
