"""The schema is made by Alembic migrations, matches the tables, and upgrades old databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from modelbook import InvalidInput, Registry, audit
from modelbook.store import Database, metadata
from modelbook.store.engine import MIGRATIONS


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head() -> str:
    rev = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert rev is not None
    return rev


def revisions(reg: Registry) -> list[str]:
    with reg.db.engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]


def tables(reg: Registry) -> set[str]:
    with reg.db.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine in this process runs during the test."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(Engine, "before_cursor_execute", listener)
    yield seen
    sa.event.remove(Engine, "before_cursor_execute", listener)


def test_migrated_schema_matches_the_table_definitions(registry: Registry) -> None:
    """Alembic's autogenerate finds no difference between the migrated database and
    the SQLAlchemy tables, and the database is at the head revision."""
    with registry.db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, metadata) == []
    assert revisions(registry) == [head()]
    assert {t.name for t in metadata.sorted_tables} <= tables(registry)


def test_reopening_keeps_data_and_does_not_migrate_again(
    new_db_uri: str, blob_dir: Path, model_file: Path, statements: list[str]
) -> None:
    """Opening an existing registry runs no DDL and sees everything written before."""
    with Registry(new_db_uri, blob_uri=str(blob_dir)) as reg:
        reg.register("kept", [model_file], owners="o", metrics={"auc": 0.9})
        reg.set_alias("kept", "champion", 1, reason="r")
    created = [s for s in statements if s.lstrip().upper().startswith("CREATE TABLE")]
    assert created, "the first open should have created tables"

    statements.clear()
    with Registry(new_db_uri, blob_uri=str(blob_dir)) as reg:
        ddl = [
            s
            for s in statements
            if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP", "INSERT INTO ALEMBIC"))
        ]
        assert ddl == []
        assert revisions(reg) == [head()]
        v = reg.resolve("models:/kept@champion")
        assert (v.number, v.metric("auc")) == (1, 0.9)
        assert reg.verify().ok


def _downgrade_to_base(reg: Registry) -> None:
    cfg = alembic_config()
    with reg.db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        conn.commit()


def test_database_at_base_revision_is_upgraded_on_open(
    new_db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    """A database taken back to the base revision is migrated again when opened,
    comes back empty and complete, and works."""
    with Registry(new_db_uri, blob_uri=str(blob_dir)) as reg:
        reg.register("old", [model_file], owners="o")
        _downgrade_to_base(reg)
        assert tables(reg) <= {"alembic_version"}
        assert revisions(reg) == []

    with Registry(new_db_uri, blob_uri=str(blob_dir)) as reg:
        assert revisions(reg) == [head()]
        with reg.db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, metadata) == []
        assert reg.models().items == []
        v = reg.register("old", [model_file], owners="o")
        assert v.number == 1
        with pytest.raises(sa.exc.DBAPIError, match="frozen"), reg.db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE versions SET number = 5")


def test_empty_version_table_is_migrated(new_db_uri: str, blob_dir: Path) -> None:
    """A database whose Alembic version table exists but names no revision is brought
    to head on open."""
    engine = sa.create_engine(new_db_uri)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    finally:
        engine.dispose()
    with Registry(new_db_uri, blob_uri=str(blob_dir)) as reg:
        assert revisions(reg) == [head()]
        assert {t.name for t in metadata.sorted_tables} <= tables(reg)


def test_production_of_an_older_registry_is_deployed_after_the_upgrade(
    new_db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    """Before revision 0003 any version could be pointed at by production; after the
    upgrade each such version is deployed, with its stage event, and the chains verify."""
    # Made by an older modelbook: no first admin recorded (its roles table is 0003's).
    schema = Database(new_db_uri)
    schema.migrate()
    schema.dispose()
    with Registry(new_db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        reg.register("m", [model_file], owners="o")
        reg.register("m", [model_file])
        cfg = alembic_config()
        with reg.db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0002")
            conn.commit()
        with reg.db.engine.begin() as conn:
            # What revision 0002's code allowed: production on a staging version, with
            # the alias.set event it wrote.
            version_id = conn.exec_driver_sql("SELECT id FROM versions WHERE number = 2").scalar()
            model_id, seq, prev = conn.exec_driver_sql(
                "SELECT id, event_seq, event_hash FROM models"
            ).one()
            conn.execute(
                sa.text(
                    "INSERT INTO aliases (model_id, name, version_id, number, updated_at, "
                    "updated_by) VALUES (:m, 'production', :v, 2, 1, 'founder')"
                ),
                {"m": model_id, "v": version_id},
            )
            fields = {
                "chain": "model:m",
                "seq": seq + 1,
                "at": 1,
                "actor": "founder",
                "action": "alias.set",
                "model": "m",
                "version": 2,
                "subject": "models:/m@production",
                "before": None,
                "after": {"alias": "production", "version": 2},
                "reason": "ship",
            }
            encoded = audit.canonical(fields)
            digest = audit.chain_hash(prev, encoded)
            conn.execute(
                sa.text(
                    "INSERT INTO events (chain, seq, at, actor, action, model, version, "
                    "canonical, prev_hash, hash) VALUES (:chain, :seq, :at, :actor, :action, "
                    ":model, :version, :canonical, :prev_hash, :hash)"
                ),
                {
                    **{k: fields[k] for k in audit.COLUMNS},
                    "canonical": encoded.decode(),
                    "prev_hash": prev,
                    "hash": digest,
                },
            )
            conn.execute(
                sa.text("UPDATE models SET event_seq = :s, event_hash = :h WHERE id = :m"),
                {"s": seq + 1, "h": digest, "m": model_id},
            )
    with Registry(new_db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        assert revisions(reg) == [head()]
        v = reg.get_version("models:/m@production")
        assert (v.number, v.stage) == (2, "deployed")
        event = reg.events(model="m", action="version.stage").items[0]
        assert (event.actor, event.after) == ("modelbook-upgrade", {"stage": "deployed"})
        assert reg.verify_audit().ok
        reg.grant_role("founder", "admin", first_admin=True)
        with pytest.raises(InvalidInput):
            reg.archive("models:/m/2", note="would leave production on an archived version")
