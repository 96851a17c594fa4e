"""indexes that let a selective search read only its answer

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

A search returns versions newest first and stops after a page, so each filter
needs an index that yields its matching versions in ``version_id`` order:

- ``version_tags`` gains the version's ``model_id`` (a version never changes
  model) and the index ``(key, value, model_id, version_id)``: "versions of
  model X with tag Y" walks exactly its answer, where it walked every version
  of X (or every version with Y) and probed the other filter row by row;
- ``lineage (kind, key, value)`` and ``params (key, value)`` become
  ``(kind, key, value, version_id)`` and ``(key, value, version_id)``: a
  lineage or parameter filter no longer reads and sorts every match to find
  the newest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("version_tags", sa.Column("model_id", Id, nullable=True))
    op.execute(
        "UPDATE version_tags SET model_id = "
        "(SELECT versions.model_id FROM versions WHERE versions.id = version_tags.version_id)"
    )
    with op.batch_alter_table("version_tags", schema=None) as batch_op:
        batch_op.alter_column("model_id", existing_type=Id, nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_version_tags_model_id_models"), "models", ["model_id"], ["id"]
        )
        batch_op.create_index(
            batch_op.f("ix_version_tags_key_value_model_id_version_id"),
            ["key", "value", "model_id", "version_id"],
            unique=False,
        )
    with op.batch_alter_table("lineage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lineage_kind_key_value"))
        batch_op.create_index(
            batch_op.f("ix_lineage_kind_key_value_version_id"),
            ["kind", "key", "value", "version_id"],
            unique=False,
        )
    with op.batch_alter_table("params", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_params_key_value"))
        batch_op.create_index(
            batch_op.f("ix_params_key_value_version_id"),
            ["key", "value", "version_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("params", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_params_key_value_version_id"))
        batch_op.create_index(batch_op.f("ix_params_key_value"), ["key", "value"], unique=False)
    with op.batch_alter_table("lineage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lineage_kind_key_value_version_id"))
        batch_op.create_index(
            batch_op.f("ix_lineage_kind_key_value"), ["kind", "key", "value"], unique=False
        )
    with op.batch_alter_table("version_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_version_tags_key_value_model_id_version_id"))
        batch_op.drop_constraint(batch_op.f("fk_version_tags_model_id_models"), type_="foreignkey")
        batch_op.drop_column("model_id")
