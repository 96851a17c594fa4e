"""Statements on the audit log: append, read back, and walk every chain."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from . import event_ids, models
from . import schema as t
from .dialects import dialect_insert
from .engine import Prebuilt

_e = t.events.c
EVENT_COLUMNS = ("chain", "seq", "at", "actor", "action", "model", "version")
_INSERT = Prebuilt(t.events.insert(), ("id", *EVENT_COLUMNS, "canonical", "prev_hash", "hash"))


def insert(conn: Connection, row: Mapping[str, Any]) -> None:
    """Append one event (its id, columns, canonical encoding and hashes) to the log."""
    _INSERT.run(conn, row)


# The registry-wide chain's head ----------------------------------------------------

_LOCK_HEAD = (
    sa.select(t.chain_heads.c.seq, t.chain_heads.c.hash)
    .where(t.chain_heads.c.chain == sa.bindparam("chain"))
    .with_for_update()
)
_HEAD = {
    dialect: Prebuilt(event_ids.with_next_id(_LOCK_HEAD, dialect))
    for dialect in ("postgresql", "sqlite")
}
_SET_HEAD = Prebuilt(
    t.chain_heads.update().where(t.chain_heads.c.chain == sa.bindparam("chain")), ("seq", "hash")
)


def lock_head(conn: Connection, chain: str, genesis: str) -> tuple[int, str, int]:
    """Lock a chain head of ``chain_heads`` (creating it at ``genesis``) and read it:
    (position, hash, the id of the next event; see :mod:`.event_ids`)."""
    insert_: Any = dialect_insert(conn.dialect.name, t.chain_heads)
    conn.execute(
        insert_.on_conflict_do_nothing(index_elements=["chain"]),
        {"chain": chain, "seq": 0, "hash": genesis},
    )
    row = _HEAD[conn.dialect.name].first(conn, {"chain": chain})
    return int(row.seq), str(row.hash), int(row.next_event_id)


def set_head(conn: Connection, chain: str, seq: int, hash_: str) -> None:
    _SET_HEAD.run(conn, {"chain": chain, "seq": seq, "hash": hash_})


def heads(conn: Connection) -> list[tuple[str, int, str]]:
    """The recorded head of every chain: (chain, position, hash)."""
    rows = conn.execute(sa.select(t.chain_heads.c.chain, t.chain_heads.c.seq, t.chain_heads.c.hash))
    found = [(r.chain, int(r.seq), str(r.hash)) for r in rows]
    found += [(f"model:{name}", int(seq), str(h)) for name, seq, h in models.event_heads(conn)]
    return found


# Reading ---------------------------------------------------------------------------


def page(
    conn: Connection,
    *,
    chain: str | None,
    actions: tuple[str, ...],
    since: int | None,
    until: int | None,
    before: int | None,
    limit: int,
) -> list[Row[Any]]:
    """Events newest first, filtered; each row has the columns and the canonical encoding.

    With ``chain`` (one model's events) the walk goes down that chain's
    ``(chain, seq)`` index and ``before`` is a position; without, down the ids
    and ``before`` is an id. Within a chain, ids grow with positions (events
    are appended under the chain's lock), so both orders are newest first.
    """
    stmt = sa.select(t.events).limit(limit)
    if chain is not None:
        stmt = stmt.where(_e.chain == chain).order_by(_e.seq.desc())
        if before is not None:
            stmt = stmt.where(_e.seq < before)
    else:
        stmt = stmt.order_by(_e.id.desc())
        if before is not None:
            stmt = stmt.where(_e.id < before)
    if actions:
        stmt = stmt.where(_e.action.in_(actions))
    if since is not None:
        stmt = stmt.where(_e.at >= since)
    if until is not None:
        stmt = stmt.where(_e.at < until)
    return list(conn.execute(stmt))


def high_water(conn: Connection) -> tuple[int, int]:
    """(largest event id, number of events), read after every in-flight append has committed.

    On PostgreSQL the log is locked in SHARE mode for the rest of the
    transaction: appends take ROW EXCLUSIVE, so this waits for writers that
    already appended and holds off new ones, and every id at or below the
    largest one is then committed (a sequence hands ids out before commit).
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE events IN SHARE MODE")
    row = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_e.id), 0), sa.func.count())).one()
    return int(row[0]), int(row[1])


def count_through(conn: Connection, through_id: int) -> int:
    """How many events have an id at or below ``through_id``."""
    stmt = sa.select(sa.func.count()).where(_e.id <= through_id)
    return int(conn.execute(stmt).scalar_one())


def heads_through(conn: Connection, through_id: int) -> list[tuple[str, int, str]]:
    """Each chain's last (position, hash) among events with id <= ``through_id``."""
    last = (
        sa.select(_e.chain, sa.func.max(_e.seq).label("seq"))
        .where(_e.id <= through_id)
        .group_by(_e.chain)
        .subquery()
    )
    stmt = sa.select(_e.chain, _e.seq, _e.hash).join(
        last, sa.and_(last.c.chain == _e.chain, last.c.seq == _e.seq)
    )
    return [(r.chain, int(r.seq), str(r.hash)) for r in conn.execute(stmt)]


# One page of the log in chain order, after a given (chain, position).
_WALK = Prebuilt(
    sa.select(_e.id, *(_e[c] for c in EVENT_COLUMNS), _e.canonical, _e.prev_hash, _e.hash)
    .where(sa.tuple_(_e.chain, _e.seq) > sa.tuple_(sa.bindparam("chain"), sa.bindparam("seq")))
    .where(_e.id <= sa.bindparam("through"))
    .order_by(_e.chain, _e.seq)
    .limit(sa.bindparam("limit"))
)


_WALK_TO = Prebuilt(
    sa.select(_e.id, *(_e[c] for c in EVENT_COLUMNS), _e.canonical, _e.prev_hash, _e.hash)
    .where(sa.tuple_(_e.chain, _e.seq) > sa.tuple_(sa.bindparam("chain"), sa.bindparam("seq")))
    .where(_e.chain < sa.bindparam("stop"))
    .where(_e.id <= sa.bindparam("through"))
    .order_by(_e.chain, _e.seq)
    .limit(sa.bindparam("limit"))
)


def walk(
    conn: Connection,
    through_id: int,
    batch: int = 10_000,
    *,
    start: str = "",
    stop: str | None = None,
) -> Iterator[list[Any]]:
    """Every event with an id at or below ``through_id``, in chain order, a page at a time:
    rows of (id, chain, seq, at, actor, action, model, version, canonical, prev_hash, hash).

    ``start`` and ``stop`` walk part of the chains: from the chain ``start``
    (inclusive) to the chain ``stop`` (exclusive), as the database orders
    them; walks split at one chain cover every event exactly once, whatever
    the database's collation.

    Each page is one statement on the driver's cursor (SQLAlchemy's result rows cost
    more than reading them), starting in the ``(chain, seq)`` index right after the
    last event of the page before; run inside one read transaction, the pages are
    one consistent view of the log. The next page is read on a second thread while
    the caller works on this one: the database's part (the server's, or SQLite's
    B-tree walk, which runs without the GIL) then overlaps the caller's. Only that
    thread uses the connection until the walk ends.
    """

    statement = _WALK if stop is None else _WALK_TO

    def page(after: tuple[str, int]) -> list[Any]:
        params = {"chain": after[0], "seq": after[1], "through": through_id, "limit": batch}
        return statement.tuples(conn, params if stop is None else {**params, "stop": stop})

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelbook-audit-walk") as reader:
        # Positions start at 1: (start, 0) is just before the chain's first event.
        pending: Future[list[Any]] | None = reader.submit(page, (start, 0))
        while pending is not None:
            rows = pending.result()
            full = len(rows) == batch
            pending = reader.submit(page, (rows[-1][1], rows[-1][2])) if full else None
            if rows:
                yield rows
