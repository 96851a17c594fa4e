"""One-row lookups that can also take the row locks a write needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .engine import Prebuilt


class Lookup:
    """A one-row lookup, plain or locking rows of ``lock_of`` (in that order).

    Locks are taken on PostgreSQL only: SQLite's write transaction already
    holds the database's write lock. Every writer of a model locks the model's
    row first, so listing ``models`` first here keeps one lock order.
    """

    def __init__(self, stmt: sa.Select[Any], *lock_of: sa.Table) -> None:
        self.plain = Prebuilt(stmt)
        self.locked = Prebuilt(stmt.with_for_update(of=list(lock_of)))

    def first(self, conn: Connection, params: Mapping[str, Any], lock: bool = False) -> Any:
        use = self.locked if lock and conn.dialect.name == "postgresql" else self.plain
        return use.first(conn, params)
