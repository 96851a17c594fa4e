"""Realistic registry metadata, bulk-loaded: many models, skewed tags, sliced metrics,
lineage (code commits, data snapshots, feature sets, runs, parents).

    .venv/bin/python bench/gen_metadata.py URI --versions 100000 --work DIR [--seed 0]

What is generated (:class:`Catalogue`, deterministic for a seed):

- ``models``: ``versions // 100`` models (at least 20, at most 5,000), of Zipf-like
  sizes (the biggest holds a few percent of all versions, most hold a few dozen);
  versions are interleaved across models in registration order, spread over two
  years. Each model has an owner team (25, skewed), a task, a risk tier, a code
  repository, a framework, a feature set and an experiment.
- ``tags``: ``team`` (the model's), ``region`` (eu 50%, us 30%, apac 15%, latam 5%),
  ``framework`` (mostly the model's), ``dataset`` (the model's data family) and,
  on 3% of versions, ``experimental = true``.
- ``metrics``: ``auc@test`` with its ``region=eu`` and ``region=us`` slices,
  ``loss@test``, ``accuracy@val``; ``params``: learning rate, depth, trees.
- ``lineage``: the model's repository and a commit shared by about three
  consecutive versions; a training snapshot named by the day before registration
  (``ds_2025_10_01``: a day's snapshot trains every version registered the next
  day) and, on a quarter of versions, an evaluation snapshot; on 60% a feature set
  ``NAME@VERSION``; a unique run id; the model's experiment; on 30% the previous
  version as parent.

How it is loaded (:func:`load`): models through ``Registry.create_model``, a pool of
artifact files through ``Registry.store_file``, then the versions in bulk: for
each, the rows registration writes (``versions`` with its document and tag copy,
``artifacts``, ``version_tags``, ``metrics``, ``params``, ``lineage`` and the
``version.register`` event, encoded and chained with the library's own
``audit.canonical`` and ``audit.chain_hash``), built with the library's own
validation, domain types and row helpers, and written with the store's table and
column names in batches (executemany on SQLite, COPY on PostgreSQL); then each
model's newest number, semver and chain head through the store's own statements.
:meth:`Catalogue.register_kwargs` gives the same versions as ``Registry.register``
arguments, so a test can register a sample through the API and compare the rows.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import operator
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import common as c  # noqa: E402
from catalogue import ARTIFACT_NAME, ARTIFACT_POOL, Catalogue, VersionSpec  # noqa: E402
from modelbook import Registry, audit, validation  # noqa: E402
from modelbook import semver as semver_rule  # noqa: E402
from modelbook.audit_frozen import doc_sha256  # noqa: E402
from modelbook.domain import (  # noqa: E402
    CodeRef,
    DataRef,
    Environment,
    FeatureSetRef,
    Lineage,
    Training,
)
from modelbook.flavors.compare import DEFAULT_TOLERANCE  # noqa: E402
from modelbook.semver import PredictionCheck  # noqa: E402
from modelbook.services.audit import subject_of  # noqa: E402
from modelbook.services.comparison import contract_changes  # noqa: E402
from modelbook.store import models as model_rows  # noqa: E402
from modelbook.store import schema as t  # noqa: E402
from modelbook.store.events import EVENT_COLUMNS  # noqa: E402
from modelbook.store.rows import dumps  # noqa: E402

BATCH = 20_000


def register_kwargs(spec: VersionSpec) -> dict[str, Any]:
    """``Registry.register`` keyword arguments of a version (not its paths)."""
    kwargs = Catalogue.register_kwargs(spec)
    return {**kwargs, "data": [DataRef(**d) for d in kwargs["data"]]}


def artifact_pool(work: Path) -> list[Path]:
    """The artifact files versions are registered with (one content per pool slot)."""
    paths = []
    for k in range(ARTIFACT_POOL):
        path = work / "pool" / str(k) / ARTIFACT_NAME
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(c.artifact_bytes("gen-metadata", k))
        paths.append(path)
    return paths


def raw_target(uri: str) -> tuple[str, str]:
    """(kind, target) of a plain DB-API connection (:class:`common.RawDb`) to ``uri``."""
    import sqlalchemy as sa

    url = sa.make_url(uri)
    if url.get_backend_name() == "sqlite":
        assert url.database, "a SQLite file, not an in-memory database"
        return "sqlite", url.database
    parts = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    parts["password"] = url.password
    parts.update({k: v for k, v in url.query.items() if isinstance(v, str)})
    return "postgresql", " ".join(
        f"{k}='{str(v).replace(chr(92), chr(92) * 2).replace(chr(39), chr(92) + chr(39))}'"
        for k, v in parts.items()
        if v is not None
    )


class _Rows:
    """Rows of every table for one batch, written with the store's table and column names."""

    TABLES = (t.versions, t.artifacts, t.version_tags, t.metrics, t.params, t.lineage, t.events)

    def __init__(self) -> None:
        self.cols = {
            tb.name: tuple(
                col.name for col in tb.columns if not (tb is t.events and col.name == "id")
            )
            for tb in self.TABLES
        }
        self.rows: dict[str, list[tuple[Any, ...]]] = {tb.name: [] for tb in self.TABLES}

        # Every row's values come in one dict holding at least the table's columns.
        self.pick = {name: operator.itemgetter(*cols) for name, cols in self.cols.items()}

    def add(self, table: str, values: dict[str, Any]) -> None:
        self.rows[table].append(self.pick[table](values))

    def flush(self, db: c.RawDb) -> None:
        for table, rows in self.rows.items():
            db.insert(table, self.cols[table], rows)
            rows.clear()


def load(reg: Registry, uri: str, cat: Catalogue, work: Path, log: Any = print) -> dict[str, Any]:
    """Load ``cat`` into the empty registry ``reg`` (opened on ``uri``); returns timings."""
    t0 = time.perf_counter()
    clock = reg.ctx.clock
    try:
        for i, m in enumerate(cat.models):
            reg.ctx.clock = lambda at=cat.model_created_at(i): at
            reg.create_model(m.name, actor="platform", **cat.model_kwargs(i))
        pool = [reg.store_file(p, ARTIFACT_NAME) for p in artifact_pool(work)]
    finally:
        reg.ctx.clock = clock
    stage = reg.db.reading(lambda conn: reg._gov.policy(conn).graph.first)
    t_api, cpu_api = time.perf_counter(), time.process_time()
    kind, target = raw_target(uri)
    db = c.RawDb(kind, target)
    if kind == "sqlite":
        # A million versions' indexes do not fit SQLite's default 2 MB page cache: random
        # inserts into them would each read pages back from the file.
        db.execute("PRAGMA cache_size = -2000000")
    try:
        model_ids = {name: mid for mid, name in db.query("SELECT id, name FROM models")[1]}
        heads = {
            name: (int(seq), str(h))
            for name, seq, h in db.query("SELECT name, event_seq, event_hash FROM models")[1]
        }
        (_, [(max_id,)]) = db.query("SELECT max(id) FROM versions")
        next_id = int(max_id or 0) + 1
        # An event's id is part of its hashed encoding (see modelbook.store.event_ids).
        (_, [(max_event,)]) = db.query("SELECT max(id) FROM events")
        next_event = int(max_event or 0) + 1
        highest: dict[int, str | None] = {}
        last_artifact: dict[int, int] = {}
        rows = _Rows()
        tpl = _Templates(cat)
        manifests = {
            k: (
                [a.model_dump() for a in [art]],
                hashlib.sha256(dumps([art.model_dump()]).encode()).hexdigest(),
            )
            for k, art in enumerate(pool)
        }
        db.begin()
        for g in range(cat.versions):
            spec = cat.version(g)
            m = cat.models[spec.model]
            model_id = model_ids[m.name]
            changed = last_artifact.get(spec.model) != spec.artifact
            semver, classification = tpl.classify(
                m.name, spec.number, highest.get(spec.model), changed
            )
            highest[spec.model] = semver
            last_artifact[spec.model] = spec.artifact
            artifacts, manifest_sha = manifests[spec.artifact]
            vid = next_id + g
            doc_text = _version_rows(
                rows, tpl, spec, model_id, vid, semver, classification, stage, artifacts
            )
            seq, prev = heads[m.name]
            fields = {
                "id": next_event + g,
                "chain": f"model:{m.name}",
                "seq": seq + 1,
                "at": spec.at,
                "actor": spec.actor,
                "action": "version.register",
                "model": m.name,
                "version": spec.number,
                "subject": subject_of(m.name, spec.number),
                "before": None,
                "after": {
                    "semver": semver,
                    "stage": stage,
                    "files": len(artifacts),
                    "bytes": sum(a["size"] for a in artifacts),
                    "manifest_sha256": manifest_sha,
                    "tags": spec.metadata["tags"],
                    "doc_sha256": doc_sha256(doc_text),
                },
                "reason": None,
            }
            encoded = audit.canonical(fields)
            digest = audit.chain_hash(prev, encoded)
            heads[m.name] = (seq + 1, digest)
            rows.add(
                "events",
                {
                    "id": fields["id"],
                    **{k: fields[k] for k in EVENT_COLUMNS},
                    "canonical": encoded.decode(),
                    "prev_hash": prev,
                    "hash": digest,
                },
            )
            if (g + 1) % BATCH == 0:
                rows.flush(db)
                if (g + 1) % (BATCH * 10) == 0:
                    log(f"  {g + 1:,} versions, {time.perf_counter() - t_api:.0f} s")
        rows.flush(db)
        db.commit()
    finally:
        db.close()
    t_bulk, cpu_bulk = time.perf_counter(), time.process_time()

    def heads_and_numbers(conn: Any) -> None:
        for i, m in enumerate(cat.models):
            numbered = None
            if i in highest:
                numbered = model_rows.numbered(cat.counts[i], semver_rule.parse(highest[i] or ""))
            seq, digest = heads[m.name]
            model_rows.set_event_head(conn, model_ids[m.name], seq, digest, numbered)

    with reg.db.write() as conn:
        heads_and_numbers(conn)
    db = c.RawDb(kind, target)
    try:
        if kind == "postgresql":
            for table in ("versions", "events"):
                db.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        # What autovacuum does within a minute of a bulk load; SQLite is left as loaded.
        db.analyze()
    finally:
        db.close()
    return {
        "versions": cat.versions,
        "models": len(cat.models),
        "api_s": round(t_api - t0, 2),
        "bulk_s": round(t_bulk - t_api, 2),
        "bulk_cpu_s": round(cpu_bulk - cpu_api, 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }


# The semver rule's functions are pure: each is computed once per distinct argument.
@functools.lru_cache(maxsize=65536)
def _next_semver(highest: str, bump: Any, why: str) -> str:
    return semver_rule.next_semver("generated", highest, None, bump, why)


@functools.lru_cache(maxsize=65536)
def _bumped_within(highest: str, bump: Any) -> str | None:
    return semver_rule.bumped_within(highest, bump)


@functools.lru_cache(maxsize=65536)
def _semver_parts(semver: str) -> tuple[int, int, int]:
    return semver_rule.parse(semver)


class _Templates:
    """What the domain types write for a version's parts, taken from them once, so that
    each version fills in its values without a validation pass per part (the loaded
    rows are compared with registered ones by tests/test_gen_metadata.py)."""

    def __init__(self, cat: Catalogue) -> None:
        self.code = CodeRef().model_dump(mode="json")
        self.data = DataRef(snapshot="x").model_dump(mode="json")
        self.features = FeatureSetRef(name="x").model_dump(mode="json")
        self.lineage = Lineage().model_dump(mode="json")
        self.training = Training().model_dump(mode="json")
        self.environment = Environment().model_dump(mode="json")
        # Each metric key once: its name, split and slice as validation reads them.
        self.metrics: dict[str, Any] = {}
        # The semver classification of a version whose artifact changed since its parent,
        # and of one whose artifact did not (no contract, no sample: no predictions).
        self.classes: dict[bool, dict[str, Any]] = {}
        diff = contract_changes(None, None)
        for changed in (False, True):
            paths = (ARTIFACT_NAME,) if changed else ()
            predictions = None
            if changed:
                predictions = PredictionCheck(
                    compared=False, tolerance=DEFAULT_TOLERANCE, message="PARENT"
                )
            bump, reasons = semver_rule.classify(diff, predictions, paths)
            self.classes[changed] = semver_rule.Classification(
                parent="PARENT",
                bump=bump,
                computed=semver_rule.FIRST,
                method="artifacts",
                contract=diff,
                predictions=predictions,
                artifacts_changed=paths,
                reasons=reasons,
            ).model_dump(mode="json")
        self.first = semver_rule.Classification(
            computed=semver_rule.FIRST, method="first", reasons=("the first version",)
        ).model_dump(mode="json")

    def classify(
        self, model: str, number: int, highest: str | None, changed: bool
    ) -> tuple[str, dict[str, Any]]:
        """(semver, stored classification) of a version, as registration computes them
        for a version compared with its parent, the model's previous version."""
        if highest is None:
            return semver_rule.FIRST, self.first
        cls = dict(self.classes[changed])
        parent = f"models:/{model}/{number - 1}"
        bump = semver_rule.Bump(cls["bump"])
        why = "; ".join(cls["reasons"])
        semver = _next_semver(highest, bump, why)
        cls["parent"] = parent
        cls["parent_semver"] = highest
        cls["parent_bump"] = bump.value
        cls["computed"] = _bumped_within(highest, bump) or semver
        if changed:
            message = f"{parent} has no stored input sample to predict on"
            cls["predictions"] = dict(cls["predictions"], message=message)
        return semver, cls

    def metric(self, key: str, value: float) -> tuple[dict[str, Any], dict[str, Any]]:
        """(document entry, ``metrics`` row values) of one metric."""
        parsed = self.metrics.get(key)
        if parsed is None:
            m = validation.metrics({key: 0.5})[0]
            parsed = self.metrics[key] = (m.model_dump(mode="json"), m.split or "", m.slice_key)
        entry, split, slice_key = parsed
        return (
            {**entry, "value": float(value)},
            {"name": entry["name"], "split": split, "slice": slice_key, "value": float(value)},
        )


def _version_rows(
    rows: _Rows,
    tpl: _Templates,
    spec: VersionSpec,
    model_id: int,
    vid: int,
    semver: str,
    classification: dict[str, Any],
    stage: str,
    artifacts: list[dict[str, Any]],
) -> str:
    """The rows registration writes for one version (see services/registration.py);
    returns its document as stored, whose sha256 its registration event records."""
    md = spec.metadata
    tags = md["tags"]
    params = md["params"]
    features = None
    if md["features"] is not None:
        fname, _, fver = md["features"].partition("@")
        features = {**tpl.features, "name": fname, "version": fver or None}
    lineage = {
        **tpl.lineage,
        "code": {**tpl.code, **md["code"]},
        "data": [{**tpl.data, **d} for d in md["data"]],
        "features": features,
        "run_id": md["run_id"],
        "experiment_id": md["experiment_id"],
        "parents": [p.removeprefix("models:/") for p in md["parents"]],
    }
    metrics = [tpl.metric(k, v) for k, v in md["metrics"].items()]
    env = md["environment"]
    doc = {
        "artifacts": artifacts,
        "contract": None,
        "lineage": lineage,
        "training": {
            **tpl.training,
            "params": params,
            "seed": md["seed"],
            "hardware": md["hardware"],
            "duration_seconds": float(md["duration_seconds"]),
        },
        "environment": {**tpl.environment, **env, "frameworks": dict(env["frameworks"])},
        "metrics": [entry for entry, _ in metrics],
        "caveats": [],
        "change_summary": None,
        "classification": classification,
    }
    major, minor, patch = _semver_parts(semver)
    doc_text = dumps(doc)
    rows.add(
        "versions",
        {
            "id": vid,
            "model_id": model_id,
            "number": spec.number,
            "semver": semver,
            "semver_major": major,
            "semver_minor": minor,
            "semver_patch": patch,
            "stage": stage,
            "doc": doc_text,
            "tags": dumps(tags),
            "created_at": spec.at,
            "created_by": spec.actor,
            "deprecated_at": None,
            "aliases": None,
        },
    )
    for a in artifacts:
        rows.add("artifacts", {"version_id": vid, **a})
    for k, v in tags.items():
        rows.add("version_tags", {"version_id": vid, "key": k, "value": v, "model_id": model_id})
    for _, values in metrics:
        rows.add("metrics", {"version_id": vid, **values})
    for k, v in params.items():
        rows.add("params", {"version_id": vid, "key": k, "value": v})
    for kind, key, value in dict.fromkeys(_lineage_rows(lineage)):
        rows.add("lineage", {"version_id": vid, "kind": kind, "key": key, "value": value})
    return doc_text


def _lineage_rows(lin: dict[str, Any]) -> list[tuple[str, str, str]]:
    """:func:`modelbook.services.registration.lineage_rows` of a lineage document: the
    same rows, without building the Lineage first (tests compare the two)."""
    out: list[tuple[str, str, str]] = []
    code = lin["code"]
    if code["repo"]:
        out.append(("code", "repo", code["repo"]))
    if code["commit"]:
        out.append(("code", "commit", code["commit"]))
    for d in lin["data"]:
        out.append(("data", "snapshot", d["snapshot"]))
        if d["sha256"]:
            out.append(("data", "sha256", d["sha256"]))
    if lin["features"]:
        f = lin["features"]
        out.append(("features", "name", f["name"]))
        if f["version"]:
            out.append(("features", "ref", f"{f['name']}@{f['version']}"))
    if lin["run_id"]:
        out.append(("run", "id", lin["run_id"]))
    if lin["experiment_id"]:
        out.append(("experiment", "id", lin["experiment_id"]))
    for p in lin["parents"]:
        out.append(("parent", "version", p))
    return out


def iter_sample(cat: Catalogue, k: int) -> Iterator[VersionSpec]:
    """``k`` versions spread over the catalogue (first, last and between)."""
    step = max(1, cat.versions // max(1, k))
    for g in range(0, cat.versions, step):
        yield cat.version(g)


def check(reg: Registry, cat: Catalogue, k: int = 50) -> int:
    """Read ``k`` generated versions back through the registry's read API and compare them
    with the catalogue; returns how many were checked. Raises AssertionError on a difference."""
    n = 0
    for spec in iter_sample(cat, k):
        m = cat.models[spec.model]
        v = reg.get_version(f"models:/{m.name}/{spec.number}")
        md = spec.metadata
        assert dict(v.tags) == md["tags"], (v.uri, v.tags, md["tags"])
        want = [
            (x.name, x.split, dict(x.slice), x.value) for x in validation.metrics(md["metrics"])
        ]
        assert [(x.name, x.split, dict(x.slice), x.value) for x in v.metrics] == want, v.uri
        assert v.lineage.code.commit == md["code"]["commit"]
        assert [(d.snapshot, d.role) for d in v.lineage.data] == [
            (d["snapshot"], d["role"]) for d in md["data"]
        ]
        assert list(v.lineage.parents) == [p.removeprefix("models:/") for p in md["parents"]]
        assert v.created_by == spec.actor and v.artifacts[0].path == ARTIFACT_NAME
        n += 1
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("uri", help="SQLAlchemy URI of an empty registry database")
    p.add_argument("--versions", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, required=True, help="folder for blobs and pool files")
    p.add_argument("--check", type=int, default=50, help="versions read back afterwards")
    args = p.parse_args()
    cat = Catalogue(args.versions, args.seed)
    with Registry(args.uri, blob_uri=str(args.work / "blobs"), actor="platform") as reg:
        print(json.dumps(load(reg, args.uri, cat, args.work)))
        print(f"checked {check(reg, cat, args.check)} versions through Registry.get_version")


if __name__ == "__main__":
    main()
