"""the names of the aliases pointing at a version, on the version's row

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A read of a version returns the aliases that point at it. They were found by a
correlated subquery on every read; they are now a column of the version's row,
rewritten from the ``aliases`` table in the transaction of every alias write,
so a read is one lookup and an alias move two more single-row statements.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("versions", sa.Column("aliases", sa.Text(), nullable=True))
    joined = (
        "string_agg(aliases.name, ',')"
        if op.get_bind().dialect.name == "postgresql"
        else "group_concat(aliases.name, ',')"
    )
    op.execute(
        f"UPDATE versions SET aliases = (SELECT {joined} FROM aliases "
        "WHERE aliases.model_id = versions.model_id AND aliases.version_id = versions.id) "
        "WHERE versions.id IN (SELECT version_id FROM aliases)"
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35 and later): a batch copy
    # would drop the table that other tables' foreign keys name.
    op.drop_column("versions", "aliases")
