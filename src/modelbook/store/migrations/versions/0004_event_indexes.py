"""fewer indexes on the audit log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Every change appends one event, and each index of the events table is one more
page its commit writes. Two are dropped: ``(model, id)``, because a model's
events are exactly its chain (``model:NAME``), which the ``(chain, seq)`` index
already orders; and ``(at)``, because the log is read newest first and a time
window is found by walking back from the newest event.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_events_model_id", table_name="events")
    op.drop_index("ix_events_at", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_at", "events", ["at"], unique=False)
    op.create_index("ix_events_model_id", "events", ["model", "id"], unique=False)
