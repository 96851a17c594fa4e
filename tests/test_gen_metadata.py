"""The bench's metadata generator (bench/gen_metadata.py) writes exactly the rows that
registering the same versions through the API writes, and a registry it loads reads
back, searches and verifies like one written through the API."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import Registry

from .conftest import pg_uri, temporary_pg_schema

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gen_metadata as gen
from modelbook.events import REGISTRY_CHAIN

VERSIONS = 200


@pytest.fixture
def api_uri(db_uri: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind as ``db_uri``."""
    if db_uri.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'api.db'}"
        return
    with temporary_pg_schema("gen") as schema:
        yield pg_uri(schema)


def _register_through_the_api(reg: Registry, cat: gen.Catalogue, work: Path) -> None:
    pool = gen.artifact_pool(work)
    for i, m in enumerate(cat.models):
        reg.ctx.clock = lambda at=cat.model_created_at(i): at
        reg.create_model(m.name, actor="platform", **cat.model_kwargs(i))
    for g in range(cat.versions):
        spec = cat.version(g)
        reg.ctx.clock = lambda at=spec.at: at
        reg.register(
            cat.models[spec.model].name,
            [pool[spec.artifact]],
            actor=spec.actor,
            **gen.register_kwargs(spec),
        )


def _rows(reg: Registry) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, with database ids replaced by model names and version numbers."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with reg.db.engine.connect() as conn:
        models = {r.id: r.name for r in conn.execute(sa.text("SELECT id, name FROM models"))}
        versions = {
            r.id: (models[r.model_id], r.number)
            for r in conn.execute(sa.text("SELECT id, model_id, number FROM versions"))
        }
        for table in (
            "models",
            "model_tags",
            "versions",
            "artifacts",
            "version_tags",
            "metrics",
            "params",
            "lineage",
            "events",
            "aliases",
            "annotations",
        ):
            result = conn.execute(sa.text(f"SELECT * FROM {table}"))
            keys = list(result.keys())
            rows = []
            for r in result:
                d = dict(zip(keys, r, strict=True))
                if table == "events" and d["chain"] == REGISTRY_CHAIN:
                    # The registry's own chain (its creator named first admin) is
                    # written by opening a new registry, not by registration.
                    continue
                if table in ("models", "versions"):
                    d["id"] = models[d["id"]] if table == "models" else versions[d["id"]]
                elif table == "events" or table == "annotations":
                    d.pop("id")
                if table == "events":
                    # An event's hashed encoding holds its id, which depends on how many
                    # registry-chain events came first (above): the encodings are
                    # compared without it, the hashes by verifying each registry's log,
                    # and the order of the ids apart (``event order``).
                    encoding = json.loads(d["canonical"])
                    encoding.pop("id", None)
                    d["canonical"] = json.dumps(encoding, sort_keys=True)
                    d.pop("hash")
                    d.pop("prev_hash")
                elif table == "models":
                    d.pop("event_hash")
                if "model_id" in d:
                    d["model_id"] = models[d["model_id"]]
                if "version_id" in d:
                    d["version_id"] = versions[d["version_id"]]
                rows.append(tuple(sorted((k, repr(v)) for k, v in d.items())))
            out[table] = sorted(rows)
        order = conn.execute(sa.text("SELECT chain, seq FROM events ORDER BY id"))
        out["event order"] = [tuple(r) for r in order if r[0] != REGISTRY_CHAIN]
    return out


def test_generated_rows_are_the_rows_registration_writes(
    db_uri: str, api_uri: str, tmp_path: Path
) -> None:
    cat = gen.Catalogue(VERSIONS, seed=3)
    with Registry(api_uri, blob_uri=str(tmp_path / "api-blobs")) as api:
        _register_through_the_api(api, cat, tmp_path / "work")
        expected = _rows(api)
    with Registry(db_uri, blob_uri=str(tmp_path / "blobs")) as reg:
        gen.load(reg, db_uri, cat, tmp_path / "work", log=lambda _: None)
        got = _rows(reg)
        assert reg.verify_audit().ok
    assert sum(len(rows) for rows in expected.values()) > VERSIONS * 10
    for table, rows in expected.items():
        differ = [
            (table, sorted(set(g) ^ set(e)))
            for g, e in zip(got[table], rows, strict=False)
            if g != e
        ]
        assert not differ and len(got[table]) == len(rows), differ[:2] or table


def test_a_generated_registry_reads_searches_and_verifies(db_uri: str, tmp_path: Path) -> None:
    cat = gen.Catalogue(VERSIONS, seed=5)
    with Registry(db_uri, blob_uri=str(tmp_path / "blobs")) as reg:
        loaded = gen.load(reg, db_uri, cat, tmp_path / "work", log=lambda _: None)
        assert loaded["versions"] == VERSIONS
        assert gen.check(reg, cat, VERSIONS) == VERSIONS
        assert reg.verify_audit().ok
        assert reg.verify().ok
        # The newest versions with a tag, as the catalogue says, newest first.
        specs = [cat.version(g) for g in range(VERSIONS)]
        eu = [s for s in specs if s.metadata["tags"]["region"] == "eu"]
        eu.sort(key=lambda s: -s.g)
        found = reg.search_versions(tags={"region": "eu"}, limit=10).items
        assert [(v.model, v.number) for v in found] == [
            (cat.models[s.model].name, s.number) for s in eu[:10]
        ]
        # A version registered after the load follows the loaded ones.
        m = cat.models[specs[-1].model]
        v = reg.register(
            m.name, [gen.artifact_pool(tmp_path / "work")[0]], capture_environment=False
        )
        assert v.number == cat.counts[specs[-1].model] + 1
        assert reg.verify_audit().ok
