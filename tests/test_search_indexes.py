"""Revisions 0007, 0010, 0011 and 0012: a registry written before them finds the same
versions after the upgrade (0007: by model and tag, by tag alone, and after a tag changes;
0010: by stage, deprecation, semver range and lineage prefix; 0011: by a tag's or
parameter's prefix, and by its value; 0012: by registrant and by number)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from modelbook import Registry
from modelbook.store import schema_state

from .test_migrations import alembic_config, head, revisions


def _found(reg: Registry, **query: object) -> list[tuple[str, int]]:
    return [(v.model, v.number) for v in reg.search_versions(**query).items]  # type: ignore[arg-type]


def test_tags_written_before_revision_0007_are_found_by_model_after_it(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        for n in range(6):
            for model in ("a", "b"):
                reg.register(
                    model,
                    [model_file],
                    owners="o",
                    tags={"region": "eu" if n % 2 else "us", "team": model},
                    capture_environment=False,
                )
        cfg = alembic_config()
        with reg.db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")
            conn.commit()

    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        assert revisions(reg) == [head()]
        assert _found(reg, model="a", tags={"region": "eu"}) == [("a", 6), ("a", 4), ("a", 2)]
        assert _found(reg, model="b", tags={"region": "us", "team": "b"}) == [
            ("b", 5),
            ("b", 3),
            ("b", 1),
        ]
        assert _found(reg, model="a", tags={"team": "b"}) == []
        assert len(_found(reg, tags={"region": "eu"})) == 6
        # A tag set after the upgrade on a version written before it.
        reg.set_tags("models:/b/1", {"region": "eu", "stage-note": "x"})
        assert _found(reg, model="b", tags={"region": "eu"}) == [
            ("b", 6),
            ("b", 4),
            ("b", 2),
            ("b", 1),
        ]
        assert _found(reg, model="b", tags={"stage-note": "x"}) == [("b", 1)]
        assert _found(reg, model="a", tags={"stage-note": "x"}) == []


def test_a_registry_before_revision_0010_finds_the_same_versions_after_it(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    """Revision 0010's indexes (stage, deprecation, semver, the lineage prefix) are
    built on the versions already there, which searches then find through them."""
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        made = [
            reg.register(
                "a",
                [model_file],
                owners="o",
                features=f"fs-{n % 2}@1",
                capture_environment=False,
            )
            for n in range(5)
        ]
        reg.deprecate(made[1].uri, note="bad")
        cfg = alembic_config()
        with reg.db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0009")
            conn.commit()
            assert "ix_versions_stage_id" not in {
                i["name"] for i in sa.inspect(conn).get_indexes("versions")
            }

    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        assert revisions(reg) == [head()]
        with reg.db.engine.connect() as conn:
            names = {i["name"] for i in sa.inspect(conn).get_indexes("versions")}
        assert {
            "ix_versions_stage_id",
            "ix_versions_deprecated_id",
            "ix_versions_semver_major_semver_minor_semver_patch_id",
        } <= names

        def numbers(query: str) -> list[int]:
            return [v.number for v in reg.search(query).items]

        assert numbers("deprecated = true") == [2]
        assert numbers("stage = 'staging'") == [5, 4, 3, 2, 1]
        assert numbers("stage in ('approved', 'deployed')") == []
        assert numbers(f"semver >= '{made[3].semver}'") == [5, 4]
        assert numbers("features.version like 'fs-1%'") == [4, 2]
        assert numbers("features.version like 'fs-1\\%'") == []


def test_a_registry_before_revision_0011_finds_the_same_versions_after_it(
    db_uri: str, blob_dir: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revision 0011 rebuilds the tag and parameter indexes on PostgreSQL (byte order,
    for a ``like`` prefix); the versions already there are found through them, by
    prefix and by equality."""
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        for n in range(5):
            reg.register(
                "a",
                [model_file],
                owners="o",
                tags={"team": f"risk-{n % 2}"},
                params={"lr": f"0.0{n}"},
                capture_environment=False,
            )
        cfg = alembic_config()
        with reg.db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0010")
            conn.commit()
    # On SQLite the revision changes no schema, which this process would not check again.
    monkeypatch.setattr(schema_state, "_seen_at", {})

    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        assert revisions(reg) == [head()]

        def numbers(query: str) -> list[int]:
            return [v.number for v in reg.search(query).items]

        assert numbers("tags.team like 'risk-1%'") == [4, 2]
        assert numbers("tags.team like 'risk-%'") == [5, 4, 3, 2, 1]
        assert numbers("tags.team = 'risk-0'") == [5, 3, 1]
        assert numbers("params.lr like '0.0%'") == [5, 4, 3, 2, 1]
        assert numbers("params.lr like '0.03%'") == [4]
        assert numbers("params.lr = '0.01'") == [2]


def test_a_registry_before_revision_0012_finds_the_same_versions_after_it(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    """Revision 0012's indexes (who registered a version, its number) are built on
    the versions already there, which searches then find through them."""
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        for n in range(3):
            for model in ("a", "b"):
                reg.register(
                    model,
                    [model_file],
                    owners="o",
                    actor="alice" if n == 1 else "founder",
                    capture_environment=False,
                )
        cfg = alembic_config()
        with reg.db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0011")
            conn.commit()
            names = {i["name"] for i in sa.inspect(conn).get_indexes("versions")}
            assert "ix_versions_number_id" not in names

    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        assert revisions(reg) == [head()]
        with reg.db.engine.connect() as conn:
            names = {i["name"] for i in sa.inspect(conn).get_indexes("versions")}
        assert {"ix_versions_created_by_id", "ix_versions_number_id"} <= names

        def found(query: str) -> list[tuple[str, int]]:
            return [(v.model, v.number) for v in reg.search(query).items]

        assert found("created_by = 'alice'") == [("b", 2), ("a", 2)]
        assert found("number = 3") == [("b", 3), ("a", 3)]
        assert found("number = 1 and created_by = 'founder'") == [("b", 1), ("a", 1)]
