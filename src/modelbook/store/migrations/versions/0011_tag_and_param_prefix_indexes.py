"""tag and parameter indexes that a search's like prefix reads as a range

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

A search on a tag's or parameter's ``like`` prefix (``tags.team like
'risk-%'``) read every version. It now gathers the versions whose value lies
in the prefix's byte range through the ``(key, value, version_id)`` index.
SQLite's index already compares bytes; on PostgreSQL the index of
``version_tags`` and of ``params`` is rebuilt with ``text_pattern_ops`` on
``value`` (byte order), as revision 0010 did for lineage. Equality reads it
as before.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_INDEXES = {
    "version_tags": "ix_version_tags_key_value_version_id",
    "params": "ix_params_key_value_version_id",
}
_COLUMNS = ["key", "value", "version_id"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, index in _INDEXES.items():
        op.drop_index(index, table_name=table)
        op.create_index(index, table, _COLUMNS, postgresql_ops={"value": "text_pattern_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, index in _INDEXES.items():
        op.drop_index(index, table_name=table)
        op.create_index(index, table, _COLUMNS)
