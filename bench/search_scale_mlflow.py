"""MLflow's side of bench/search_scale.py, run with ``bench/.venv-mlflow/bin/python``.

``serve`` answers the orchestrator (``common.serve``): ``open`` a registry,
``load`` the generated catalogue's models and versions into it, ``search`` with
a filter string, ``measure`` a list of filters. MLflow's registry keeps, of a
version's metadata, its tags and its run id; the catalogue's tags and run ids
are loaded, the rest (metrics, lineage, parameters) has no place there.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import common as c
from catalogue import Catalogue

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow
from mlflow import MlflowClient


def source_uri(name: str, n: int) -> str:
    return f"file:///bench/artifacts/{name}/{n}"


class Side:
    def __init__(self) -> None:
        self.client: MlflowClient | None = None

    def info(self) -> str:
        return mlflow.__version__

    def open(self, uri: str, raw_kind: str, raw_target: str) -> dict:
        self.uri, self.raw_kind, self.raw_target = uri, raw_kind, raw_target
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self.client.search_registered_models(max_results=1)
        return {}

    def close(self) -> None:
        self.client = None

    @property
    def cl(self) -> MlflowClient:
        assert self.client is not None, "open first"
        return self.client

    def load(self, versions: int, seed: int) -> dict:
        """Each model and its first version through ``MlflowClient``; the other versions
        by replicating the rows those calls wrote, with each version's tags and run id."""
        cat = Catalogue(versions, seed)
        t0 = time.perf_counter()
        first: dict[int, Any] = {}
        for g in range(len(cat.models)):
            spec = cat.version(g)
            name = cat.models[spec.model].name
            self.cl.create_registered_model(name)
            self.cl.create_model_version(
                name, source_uri(name, spec.number), tags=spec.metadata["tags"]
            )
            first[spec.model] = spec
        t_api = time.perf_counter()
        db = c.RawDb(self.raw_kind, self.raw_target)
        try:
            vcols, vrows = db.query("SELECT * FROM model_versions WHERE version = 1")
            templates = {}
            for row in vrows:
                d = dict(zip(vcols, row, strict=True))
                templates[d["name"]] = d
            tcols, trows = db.query("SELECT * FROM model_version_tags WHERE version = 1")
            tag_templates = {}
            for row in trows:
                d = dict(zip(tcols, row, strict=True))
                tag_templates[d["name"]] = d
            db.begin()
            for spec in first.values():
                name = cat.models[spec.model].name
                db.execute(
                    "UPDATE model_versions SET run_id = ? WHERE name = ? AND version = 1",
                    [spec.metadata["run_id"], name],
                )
            for span in c.chunks(len(cat.models), cat.versions, 20_000):
                rows, tag_rows = [], []
                for g in span:
                    spec = cat.version(g)
                    name = cat.models[spec.model].name
                    at = spec.at // 1000
                    src = source_uri(name, spec.number)
                    v = dict(
                        templates[name],
                        version=spec.number,
                        creation_time=at,
                        last_updated_time=at,
                        source=src,
                        storage_location=src,
                        run_id=spec.metadata["run_id"],
                    )
                    rows.append(tuple(v[col] for col in vcols))
                    for key, value in spec.metadata["tags"].items():
                        d = dict(tag_templates[name], key=key, value=value, version=spec.number)
                        tag_rows.append(tuple(d[col] for col in tcols))
                db.insert("model_versions", vcols, rows)
                db.insert("model_version_tags", tcols, tag_rows)
            db.commit()
            (_, [(count,)]) = db.query("SELECT count(*) FROM model_versions")
            db.analyze()
        finally:
            db.close()
        return {
            "versions": count,
            "api_s": round(t_api - t0, 2),
            "bulk_s": round(time.perf_counter() - t_api, 2),
        }

    def measure(self, filters: list[str], warm: int = 2) -> dict:
        """Milliseconds of ``search_model_versions`` for each filter (100 results at most),
        after ``warm`` untimed calls of the first; and how many rows each returned."""
        for _ in range(warm):
            self.cl.search_model_versions(filters[0], max_results=100)
        ms, rows = [], []
        for f in filters:
            gc.collect()  # untimed, as on modelbook's side
            t0 = time.perf_counter_ns()
            got = self.cl.search_model_versions(f, max_results=100)
            ms.append(round((time.perf_counter_ns() - t0) / 1e6, 4))
            rows.append(len(got))
        return {"ms": ms, "rows": rows}


if __name__ == "__main__":
    c.serve(Side())
