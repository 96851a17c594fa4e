"""release flow

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Annotations of versions (approvals, evaluations, comments, observations ...),
roles, the policies in force over time, and the deprecation mark of versions.

From this revision on, a version a serving alias points at is ``deployed``.
Registries made before it pointed ``production`` (the default serving alias)
at versions of any stage; those versions become ``deployed``, each with its
``version.stage`` event on its model's chain. On PostgreSQL, ``TRUNCATE`` of
the audit log is refused too (row triggers do not see it).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

from modelbook import audit

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deprecated_at", sa.BigInteger(), nullable=True))
    op.create_table(
        "annotations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("version_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_annotations_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotations")),
    )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_annotations_version_id_kind_id"), ["version_id", "kind", "id"]
        )
    op.create_table(
        "roles",
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("granted_by", sa.String(length=256), nullable=False),
        sa.Column("granted_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("actor", "role", name=op.f("pk_roles")),
    )
    op.create_table(
        "policies",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=256), nullable=False),
        sa.Column("set_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
            "FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()"
        )
    _deploy_served_versions()


UPGRADE_ACTOR = "modelbook-upgrade"


def _deploy_served_versions() -> None:
    bind = op.get_bind()
    rows = list(
        bind.execute(
            sa.text(
                "SELECT m.id AS model_id, m.name, m.event_seq, m.event_hash, v.id, v.number, "
                "v.stage FROM aliases a JOIN versions v ON v.id = a.version_id "
                "JOIN models m ON m.id = a.model_id "
                "WHERE a.name = 'production' AND v.stage <> 'deployed' ORDER BY m.id, v.number"
            )
        )
    )
    heads: dict[int, tuple[int, str]] = {}
    now = time.time_ns() // 1000
    for r in rows:
        seq, prev = heads.get(r.model_id, (int(r.event_seq), str(r.event_hash)))
        fields = {
            "chain": f"model:{r.name}",
            "seq": seq + 1,
            "at": now,
            "actor": UPGRADE_ACTOR,
            "action": "version.stage",
            "model": r.name,
            "version": r.number,
            "subject": f"models:/{r.name}/{r.number}",
            "before": {"stage": r.stage},
            "after": {"stage": "deployed"},
            "reason": "upgrade to revision 0003: production serves this version, so it is deployed",
        }
        encoded = audit.canonical(fields)
        digest = audit.chain_hash(prev, encoded)
        bind.execute(sa.text("UPDATE versions SET stage = 'deployed' WHERE id = :id"), {"id": r.id})
        bind.execute(
            sa.text(
                "INSERT INTO events (chain, seq, at, actor, action, model, version, canonical, "
                "prev_hash, hash) VALUES (:chain, :seq, :at, :actor, :action, :model, :version, "
                ":canonical, :prev_hash, :hash)"
            ),
            {
                **{k: fields[k] for k in audit.COLUMNS},
                "canonical": encoded.decode("utf-8"),
                "prev_hash": prev,
                "hash": digest,
            },
        )
        heads[r.model_id] = (seq + 1, digest)
    for model_id, (seq, digest) in heads.items():
        bind.execute(
            sa.text("UPDATE models SET event_seq = :s, event_hash = :h WHERE id = :id"),
            {"s": seq, "h": digest, "id": model_id},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_no_truncate ON events")
    op.drop_table("policies")
    op.drop_table("roles")
    op.drop_table("annotations")
    # Not in batch mode: on SQLite that would copy ``versions``, which other
    # tables reference; SQLite 3.35 and later drop a column in place.
    op.drop_column("versions", "deprecated_at")
