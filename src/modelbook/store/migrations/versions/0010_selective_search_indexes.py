"""indexes that let a search on a stage, deprecation, semver range or lineage prefix
read only its answer

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

A search that finds few versions read every version when the condition it
asked had no index that yields its matches:

- ``versions (stage, id)``: ``stage = 'deployed'`` walks the stage's versions
  newest first and stops after a page (``stage in (...)`` gathers its stages'
  versions when they are few);
- ``versions (id) WHERE deprecated_at IS NOT NULL``: ``deprecated = true``
  walks the deprecated versions only, newest first;
- ``versions (semver_major, semver_minor, semver_patch, id)``: a semver range
  across models gathers its matches when they are few;
- on PostgreSQL, ``lineage (kind, key, value, version_id)`` compares ``value``
  by byte (``text_pattern_ops``), as the search's ``like`` prefix range does
  (SQLite's index already compares so); equality reads it as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_LINEAGE = "ix_lineage_kind_key_value_version_id"
_LINEAGE_COLUMNS = ["kind", "key", "value", "version_id"]


def upgrade() -> None:
    op.create_index("ix_versions_stage_id", "versions", ["stage", "id"])
    op.create_index(
        "ix_versions_deprecated_id",
        "versions",
        ["id"],
        sqlite_where=sa.text("deprecated_at IS NOT NULL"),
        postgresql_where=sa.text("deprecated_at IS NOT NULL"),
    )
    op.create_index(
        "ix_versions_semver_major_semver_minor_semver_patch_id",
        "versions",
        ["semver_major", "semver_minor", "semver_patch", "id"],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(_LINEAGE, table_name="lineage")
        op.create_index(
            _LINEAGE,
            "lineage",
            _LINEAGE_COLUMNS,
            postgresql_ops={"value": "text_pattern_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(_LINEAGE, table_name="lineage")
        op.create_index(_LINEAGE, "lineage", _LINEAGE_COLUMNS)
    op.drop_index("ix_versions_semver_major_semver_minor_semver_patch_id", table_name="versions")
    op.drop_index("ix_versions_deprecated_id", table_name="versions")
    op.drop_index("ix_versions_stage_id", table_name="versions")
