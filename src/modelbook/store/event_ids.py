"""Ids of audit events, taken before an event is hashed: its hash covers its id.

An event's id orders it in the whole log, across chains; hashed, it cannot be
renumbered without breaking the event's hash. So it is taken in the writing
transaction, after the chain's lock and before the event is encoded:

- on PostgreSQL from the table's sequence (``nextval``): unique whatever
  other writers do, and, taken after the chain's lock, larger than the id of
  every earlier event of the chain. A transaction that rolls back leaves a
  gap, which proves nothing missing (each chain's positions do);
- on SQLite as the largest id plus one: the write transaction holds the
  database's write lock, so no one else appends until it commits.

The locking lookup a writer starts with also takes the first id
(:func:`with_next_id`), so the first event of a write costs no statement
of its own; each further event of one transaction takes the next id with one
statement on PostgreSQL, and none on SQLite.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import schema as t
from .prebuilt import Prebuilt

#: The column of a locking lookup that holds the id of the next event.
NEXT_ID = "next_event_id"
#: The largest id this connection wrote an event with, in ``Connection.info``.
_LAST = "modelbook_last_event_id"

_SQLITE_NEXT = (
    sa.select(sa.func.coalesce(sa.func.max(t.events.c.id), 0) + 1).scalar_subquery().label(NEXT_ID)
)
_PG_NEXT = sa.func.nextval(sa.literal_column("'events_id_seq'")).label(NEXT_ID)

_NEXT = {
    "sqlite": Prebuilt(sa.select(_SQLITE_NEXT)),
    "postgresql": Prebuilt(sa.select(_PG_NEXT)),
}


def after_lock(stmt: sa.Select[Any], dialect: str) -> sa.Select[Any]:
    """``stmt`` with one more column, :data:`NEXT_ID`, for a read made once the chain's
    lock is already held (by an earlier statement of the transaction)."""
    return stmt.add_columns(_PG_NEXT if dialect == "postgresql" else _SQLITE_NEXT)


def with_next_id(locking: sa.Select[Any], dialect: str) -> sa.Select[Any]:
    """``locking`` (a lookup that takes the chain's lock on PostgreSQL, ``FOR UPDATE``
    included) with one more column, :data:`NEXT_ID`.

    On PostgreSQL the lookup is a materialised CTE and the sequence is read by
    the query around it, once the lock is held: read in the lookup itself, it
    would be taken before waiting for the lock, and a writer holding it could
    then take a larger id for a later event of the chain.
    """
    if dialect == "postgresql":
        locked = locking.cte("locked").prefix_with("MATERIALIZED")
        return sa.select(locked, _PG_NEXT)
    return locking.add_columns(_SQLITE_NEXT)


def take(conn: Connection, hint: int | None) -> int:
    """The id of the event about to be written in ``conn``'s write transaction.

    ``hint``: an id read with the chain's lock (:func:`with_next_id`), or None.
    On PostgreSQL it is used unless this connection already wrote an event
    with it or a larger id (another event of the same transaction took it);
    on SQLite it is the next id as of the lookup, after which only this
    transaction appends.
    """
    info = conn.info
    last = info.get(_LAST, 0)
    if conn.dialect.name == "postgresql":
        event_id = hint if hint is not None and hint > last else _read_next(conn)
    elif hint is not None:
        event_id = max(hint, last + 1)
    else:
        event_id = _read_next(conn)
    info[_LAST] = event_id
    return event_id


def following(conn: Connection, event_id: int) -> int | None:
    """The id of the next event of a transaction that just wrote ``event_id``, when it is
    known without asking: on SQLite, whose write lock keeps other writers out."""
    return event_id + 1 if conn.dialect.name == "sqlite" else None


def _read_next(conn: Connection) -> int:
    return int(_NEXT[conn.dialect.name].first(conn, {})[0])
