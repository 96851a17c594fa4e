"""alias history read from the audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Every alias move has been recorded twice: a row of ``alias_events`` and an
``alias.set`` or ``alias.delete`` event of the model's audit chain, with the
same actor, time and reason. The history is now read from the chain, which
``audit verify`` proves unchanged, so the copy, which nothing verified, is
dropped (one insert and two pages fewer in every alias move's commit). The
downgrade rebuilds it from the events.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("alias_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alias_events_model_id_alias_id"))
    op.drop_table("alias_events")


def downgrade() -> None:
    table = op.create_table(
        "alias_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("model_id", Id, nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("from_number", sa.Integer(), nullable=True),
        sa.Column("to_number", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_alias_events_model_id_models")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias_events")),
    )
    with op.batch_alter_table("alias_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alias_events_model_id_alias_id"), ["model_id", "alias", "id"]
        )
    bind = op.get_bind()
    ids = {str(r.name): int(r.id) for r in bind.execute(sa.text("SELECT id, name FROM models"))}
    rows = []
    for r in bind.execute(
        sa.text(
            "SELECT model, canonical FROM events "
            "WHERE action IN ('alias.set', 'alias.delete') ORDER BY id"
        )
    ):
        model, event = r.model, json.loads(r.canonical)
        before, after = event.get("before") or {}, event.get("after") or {}
        rows.append(
            {
                "model_id": ids[str(model)],
                "alias": after.get("alias", before.get("alias")),
                "from_number": before.get("version"),
                "to_number": after.get("version"),
                "actor": event["actor"],
                "reason": event.get("reason") or "",
                "at": event["at"],
            }
        )
    if rows:
        op.bulk_insert(table, rows)
