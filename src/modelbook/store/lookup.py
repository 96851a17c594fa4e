"""One-row lookups that can also take the row locks a write needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import event_ids
from .engine import Prebuilt


class Lookup:
    """A one-row lookup, plain or locking rows of ``lock_of`` (in that order).

    Locks are taken on PostgreSQL only: SQLite's write transaction already
    holds the database's write lock. Every writer of a model locks the model's
    row first, so listing ``models`` first here keeps one lock order. A locking
    lookup's row also has the id of the writer's first audit event
    (:data:`.event_ids.NEXT_ID`), taken once the lock is held.
    """

    def __init__(self, stmt: sa.Select[Any], *lock_of: sa.Table) -> None:
        self.plain = Prebuilt(stmt)
        self.locked = Prebuilt(stmt.with_for_update(of=list(lock_of)))
        self._for_write = {
            "postgresql": Prebuilt(event_ids.with_next_id(self.locked.stmt, "postgresql")),
            "sqlite": Prebuilt(event_ids.with_next_id(stmt, "sqlite")),
        }

    def first(self, conn: Connection, params: Mapping[str, Any], lock: bool = False) -> Any:
        use = self._for_write[conn.dialect.name] if lock else self.plain
        return use.first(conn, params)
