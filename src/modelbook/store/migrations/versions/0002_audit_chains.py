"""audit chains

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Events become typed and hash-chained: one chain per model, whose head is kept
on the model's row, and one registry-wide chain. Events written before this
revision start the chains, in the order they were written. The events table
becomes append-only: a trigger refuses every UPDATE and DELETE.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from modelbook import audit

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _subject(model: str | None, version: int | None) -> str:
    if model is None:
        return "registry"
    return f"models:/{model}" if version is None else f"models:/{model}/{version}"


_OLDER = "recorded before revision 0002"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _convert(row: Any, bind: Any) -> dict[str, Any]:
    """An event of revision 0001 in the fields and typed shapes of this one.

    Revision 0001 kept a free-form detail; the state it did not record is read
    from the rows as they are at the upgrade, and the reason says so.
    """
    detail = json.loads(row.detail or "{}")
    before: Any = None
    after: Any = detail or None
    reason = None
    if row.action in ("alias.set", "alias.delete"):
        alias = detail.get("alias")
        old, new = detail.get("from"), detail.get("to")
        before = None if old is None else {"alias": alias, "version": old}
        after = None if new is None else {"alias": alias, "version": new}
        reason = detail.get("reason")
    elif row.action == "model.create":
        model = bind.execute(
            sa.text("SELECT * FROM models WHERE name = :n"), {"n": row.model}
        ).first()
        after = {
            "owners": json.loads(model.owners) if model else [],
            "task": model.task if model else None,
            "risk_tier": model.risk_tier if model else "low",
            "description": model.description if model else None,
            "tags": json.loads(model.tags) if model else {},
        }
        reason = f"{_OLDER}: the model as it was at the upgrade"
    elif row.action == "version.register":
        version = bind.execute(
            sa.text(
                "SELECT v.doc, v.stage FROM versions v JOIN models m ON m.id = v.model_id "
                "WHERE m.name = :n AND v.number = :v"
            ),
            {"n": row.model, "v": row.version},
        ).first()
        artifacts = json.loads(version.doc)["artifacts"] if version else []
        after = {
            "semver": detail.get("semver", ""),
            "stage": "staging",
            "files": len(artifacts),
            "bytes": sum(int(a["size"]) for a in artifacts),
            "manifest_sha256": hashlib.sha256(_dumps(artifacts).encode()).hexdigest(),
        }
        reason = _OLDER
    elif row.action in ("model.tag", "version.tag"):
        before = {}
        after = {k: str(v) for k, v in (detail.get("set") or {}).items()}
        removed = detail.get("removed") or []
        reason = f"{_OLDER}: only the tags set" + (
            f" are known; removed: {', '.join(map(str, removed))}" if removed else " are known"
        )
    return {
        "chain": "registry" if row.model is None else f"model:{row.model}",
        "at": row.at,
        "actor": row.actor,
        "action": row.action,
        "model": row.model,
        "version": row.version,
        "subject": _subject(row.model, row.version),
        "before": before,
        "after": after,
        "reason": reason,
    }


def _install_append_only_trigger() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER events_append_only_{verb.lower()} BEFORE {verb} ON events "
                "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
            )
    elif bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION events_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
            "FOR EACH ROW EXECUTE FUNCTION events_append_only()"
        )


def upgrade() -> None:
    bind = op.get_bind()
    old = list(bind.execute(sa.text("SELECT * FROM events ORDER BY id")))
    op.drop_table("events")
    events = op.create_table(
        "events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("chain", sa.String(length=160), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("chain", "seq", name=op.f("uq_events_chain_seq")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_model_id"), ["model", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_action_id"), ["action", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_at"), ["at"], unique=False)
    op.create_table(
        "chain_heads",
        sa.Column("chain", sa.String(length=160), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_chain_heads")),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("event_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "event_hash", sa.String(length=64), nullable=False, server_default=audit.GENESIS
            )
        )

    heads: dict[str, tuple[int, str]] = {}
    rows = []
    for row in old:
        fields = _convert(row, bind)
        seq, prev = heads.get(fields["chain"], (0, audit.GENESIS))
        fields["seq"] = seq + 1
        encoded = audit.canonical(fields)
        digest = audit.chain_hash(prev, encoded)
        heads[fields["chain"]] = (seq + 1, digest)
        rows.append(
            {
                **{k: fields[k] for k in audit.COLUMNS},
                "canonical": encoded.decode("utf-8"),
                "prev_hash": prev,
                "hash": digest,
            }
        )
    if rows:
        op.bulk_insert(events, rows)
    models = sa.table("models", sa.column("name"), sa.column("event_seq"), sa.column("event_hash"))
    heads_table = sa.table("chain_heads", sa.column("chain"), sa.column("seq"), sa.column("hash"))
    for chain, (seq, digest) in heads.items():
        if chain.startswith("model:"):
            bind.execute(
                models.update()
                .where(models.c.name == chain.removeprefix("model:"))
                .values(event_seq=seq, event_hash=digest)
            )
        else:
            bind.execute(heads_table.insert().values(chain=chain, seq=seq, hash=digest))
    _install_append_only_trigger()


def downgrade() -> None:
    """Back to revision 0001: events keep their who, what and when; the chains are dropped."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS events_append_only_update")
        op.execute("DROP TRIGGER IF EXISTS events_append_only_delete")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
    rows = list(bind.execute(sa.text("SELECT * FROM events ORDER BY id")))
    op.drop_table("events")
    op.drop_table("chain_heads")
    # Not in batch mode: on SQLite that would copy ``models``, which other
    # tables reference; SQLite 3.35 and later drop a column in place.
    op.drop_column("models", "event_hash")
    op.drop_column("models", "event_seq")
    events = op.create_table(
        "events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_model_id"), ["model", "id"], unique=False)
    old = []
    for row in rows:
        fields = json.loads(row.canonical)
        detail = {k: fields.get(k) for k in ("before", "after", "reason") if fields.get(k)}
        if row.action in ("alias.set", "alias.delete"):
            # Revision 0001's own shape, which the upgrade reads back.
            before, after = fields.get("before") or {}, fields.get("after") or {}
            detail = {
                "alias": after.get("alias", before.get("alias")),
                "from": before.get("version"),
                "to": after.get("version"),
                "reason": fields.get("reason"),
            }
        old.append(
            {
                "at": row.at,
                "actor": row.actor,
                "action": row.action,
                "model": row.model,
                "version": row.version,
                "detail": json.dumps(detail, sort_keys=True),
            }
        )
    if old:
        op.bulk_insert(events, old)
