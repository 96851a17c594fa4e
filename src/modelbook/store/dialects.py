"""Dialect-specific statements, loaded only for the database in use."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def dialect_insert(dialect: str, table: sa.Table) -> Any:
    """An INSERT with ``ON CONFLICT`` support for ``dialect`` (``postgresql`` or ``sqlite``).

    The dialect's module is imported here, when first needed, so a command on
    SQLite never loads PostgreSQL's.
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
