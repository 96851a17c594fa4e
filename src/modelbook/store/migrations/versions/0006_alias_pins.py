"""contract pins of aliases

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

A pin holds an alias to one semver MAJOR: every alias move reads it, and a
move to another MAJOR is refused unless explicitly overridden. One row per
pinned alias, in a table of its own so that a pin outlives the removal of its
alias and the moves of unpinned aliases find nothing in one primary-key lookup.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alias_pins",
        sa.Column("model_id", Id, nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("major", sa.Integer(), nullable=False),
        sa.Column("pinned_at", sa.BigInteger(), nullable=False),
        sa.Column("pinned_by", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_alias_pins_model_id_models")
        ),
        sa.PrimaryKeyConstraint("model_id", "alias", name=op.f("pk_alias_pins")),
    )


def downgrade() -> None:
    op.drop_table("alias_pins")
