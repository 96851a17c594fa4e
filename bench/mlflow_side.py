"""The MLflow side of the benchmark, run with ``bench/.venv-mlflow/bin/python``.

MLflow's model registry is driven in-process through ``MlflowClient`` on a
SQLAlchemy store (SQLite file or PostgreSQL database), the way a user with a
local or database-backed registry uses it. ``serve`` answers the
orchestrator; ``writer URI`` is one concurrent writer process.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import common as c

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow
from mlflow import MlflowClient


def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


class MlflowSide:
    def __init__(self) -> None:
        self.client: MlflowClient | None = None
        self.per_model = 0
        self.alias_state: dict[int, int] = {}

    def info(self) -> str:
        return mlflow.__version__

    def open(self, uri: str, blob_dir: str, workdir: str, raw_kind: str, raw_target: str) -> dict:
        t0 = time.perf_counter()
        self.uri, self.workdir = uri, Path(workdir)
        self.raw_kind, self.raw_target = raw_kind, raw_target
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.client = _client(uri)
        # The registry store (and its schema) is created on first use.
        self.client.search_registered_models(max_results=1)
        return {"open_s": round(time.perf_counter() - t0, 3)}

    def close(self) -> None:
        self.client = None

    @property
    def cl(self) -> MlflowClient:
        assert self.client is not None, "open first"
        return self.client

    def seed(self, n_versions: int) -> dict:
        """Each model and its version 1 through ``MlflowClient``; the rest by
        replicating the rows those calls wrote; aliases through the API."""
        per_model = n_versions // c.N_MODELS
        t0 = time.perf_counter()
        for i in range(c.N_MODELS):
            name = c.model_name(i)
            self.cl.create_registered_model(name)
            self.cl.create_model_version(name, c.source_uri(name, 1), tags=c.version_tags(i, 1))
        t_api = time.perf_counter()
        if per_model > 1:
            db = c.RawDb(self.raw_kind, self.raw_target)
            try:
                self._replicate_rows(db, per_model)
            finally:
                db.close()
        t_bulk = time.perf_counter()
        for i in range(c.N_MODELS):
            a, _ = c.alias_pair(i, per_model)
            self.cl.set_registered_model_alias(c.model_name(i), c.ALIAS_RESOLVED, str(a))
            self.cl.set_registered_model_alias(c.model_name(i), c.ALIAS_MOVED, str(a))
            self.alias_state[i] = a
        self.per_model = per_model
        db = c.RawDb(self.raw_kind, self.raw_target)
        (_, [(count,)]) = db.query("SELECT count(*) FROM model_versions")
        db.analyze()
        db.close()
        return {
            "versions": count,
            "api_versions": c.N_MODELS,
            "replicated_versions": count - c.N_MODELS,
            "api_s": round(t_api - t0, 3),
            "replicate_s": round(t_bulk - t_api, 3),
            "total_s": round(time.perf_counter() - t0, 3),
        }

    def _replicate_rows(self, db: c.RawDb, per_model: int) -> None:
        vcols, vrows = db.query("SELECT * FROM model_versions WHERE version = 1")
        templates = {}
        for row in vrows:
            d = dict(zip(vcols, row, strict=True))
            templates[d["name"]] = d
        assert len(templates) == c.N_MODELS, "one template version per model"
        tcols, trows = db.query("SELECT * FROM model_version_tags WHERE version = 1")
        tag_rows: dict[str, list[dict[str, Any]]] = {name: [] for name in templates}
        for row in trows:
            d = dict(zip(tcols, row, strict=True))
            tag_rows[d["name"]].append(d)
        for i in range(c.N_MODELS):
            name = c.model_name(i)
            tv = templates[name]
            assert tv["source"] == c.source_uri(name, 1), tv["source"]
            assert tv["storage_location"] == tv["source"], tv["storage_location"]
            assert {t["key"] for t in tag_rows[name]} == set(c.version_tags(i, 1))

        first_g = c.N_MODELS
        total = per_model * c.N_MODELS
        t_created = max(d["creation_time"] for d in templates.values())
        db.begin()
        for span in c.chunks(first_g, total, 50_000):
            versions, tags_out = [], []
            for g in span:
                i, n = g % c.N_MODELS, g // c.N_MODELS + 1
                name = c.model_name(i)
                tags = c.version_tags(i, n)
                at = t_created + (g - first_g + 1)
                v = dict(templates[name])
                src = c.source_uri(name, n)
                v.update(
                    version=n,
                    creation_time=at,
                    last_updated_time=at,
                    source=src,
                    storage_location=src,
                )
                versions.append(tuple(v[col] for col in vcols))
                for trow in tag_rows[name]:
                    d = dict(trow, version=n, value=tags[trow["key"]])
                    tags_out.append(tuple(d[col] for col in tcols))
            db.insert("model_versions", vcols, versions)
            db.insert("model_version_tags", tcols, tags_out)
        db.execute(
            "UPDATE registered_models SET last_updated_time = ? WHERE name LIKE ?",
            [t_created + total, "bench-%"],
        )
        db.commit()

    # measured operations ------------------------------------------------------------

    def op(self, kind: str, k0: int, n: int, warm: int = 0, budget_s: float = 0) -> dict:
        fn = getattr(self, f"_op_{kind}")
        if kind == "register" and k0 - warm <= 0:
            with contextlib.suppress(Exception):
                self.cl.create_registered_model(c.REGISTER_MODEL)
        return c.measure(fn, k0, n, warm, budget_s)

    def _op_register(self, k: int) -> None:
        self.cl.create_model_version(
            c.REGISTER_MODEL, c.source_uri(c.REGISTER_MODEL, k), tags=c.version_tags(999, k)
        )

    def _op_resolve(self, k: int) -> None:
        name = c.model_name(c.pick(k, "resolve", c.N_MODELS))
        self.cl.get_model_version_by_alias(name, c.ALIAS_RESOLVED)

    def _op_read(self, k: int) -> None:
        name = c.model_name(c.pick(k, "read-m", c.N_MODELS))
        self.cl.get_model_version(name, str(1 + c.pick(k, "read-n", self.per_model)))

    def _op_set_tag(self, k: int) -> None:
        name = c.model_name(c.pick(k, "tag-m", c.N_MODELS))
        n = 1 + c.pick(k, "tag-n", self.per_model)
        self.cl.set_model_version_tag(name, str(n), "note", f"v{k}")

    def _op_move_alias(self, k: int) -> None:
        i = k % c.N_MODELS
        a, b = c.alias_pair(i, self.per_model)
        target = b if self.alias_state[i] == a else a
        self.cl.set_registered_model_alias(c.model_name(i), c.ALIAS_MOVED, str(target))
        self.alias_state[i] = target

    def _check(self, rows: Any) -> None:
        if len(rows) != 100:
            raise AssertionError(f"search returned {len(rows)} rows, expected 100")

    def _op_search_tag(self, k: int) -> None:
        key, value = c.tag_filter(k)
        self._check(self.cl.search_model_versions(f"tags.{key} = '{value}'", max_results=100))

    def _op_search_name_tag(self, k: int) -> None:
        name, key, value = c.name_tag_filter(k)
        flt = f"name = '{name}' AND tags.{key} = '{value}'"
        self._check(self.cl.search_model_versions(flt, max_results=100))

    # concurrency -------------------------------------------------------------------

    def concurrent(self, writers: int, per_writer: int, rounds: int) -> dict:
        plan = []
        for r in range(rounds):
            model = f"conc-{r}"
            self.cl.create_registered_model(model)
            plan.append((model, per_writer))
        argv = [sys.executable, os.path.abspath(__file__), "writer", self.uri]
        results = c.run_writers(argv, writers, plan, cwd=str(self.workdir))
        db = c.RawDb(self.raw_kind, self.raw_target)
        out = []
        for res in results:
            _, rows = db.query("SELECT version FROM model_versions WHERE name = ?", [res["model"]])
            out.append(c.concurrency_stats(res["reports"], [r[0] for r in rows]))
        db.close()
        return {"rounds": out}


def _writer() -> None:
    uri = sys.argv[2]

    def open_client() -> MlflowClient:
        client = _client(uri)
        client.search_registered_models(max_results=1)
        return client

    def register(client: MlflowClient, model: str, k: int) -> int:
        mv = client.create_model_version(model, c.source_uri(model, k), tags=c.version_tags(7, k))
        return int(mv.version)

    c.writer_main(open_client, register)


if __name__ == "__main__":
    if sys.argv[1:2] == ["writer"]:
        _writer()
    else:
        c.serve(MlflowSide())
