"""indexes that let a search on who registered a version, or on its number, read only
its answer

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

``created_by = 'alice'`` and ``number = 1`` without a model's name read every
version. ``versions (created_by, id)`` and ``versions (number, id)`` hold each
value's versions in registration order: such a search walks them newest first
and stops after a page, as one on a stage does.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_versions_created_by_id", "versions", ["created_by", "id"])
    op.create_index("ix_versions_number_id", "versions", ["number", "id"])


def downgrade() -> None:
    op.drop_index("ix_versions_number_id", table_name="versions")
    op.drop_index("ix_versions_created_by_id", table_name="versions")
