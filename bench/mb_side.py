"""The modelbook side of the benchmark, run with the project's Python.

``python bench/mb_side.py serve`` answers the orchestrator's requests (see
``common.serve``); ``python bench/mb_side.py writer URI BLOBS`` is one of the
concurrent writer processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common as c
import modelbook
from modelbook import Registry, audit
from modelbook.audit_frozen import doc_sha256

REVIEWER = "bench-reviewer"

#: Events per version in the bulk-loaded audit log: its registration, tag writes and
#: an alias move. Earlier rounds' logs moved to a new version number every 9 events;
#: a release flow writes about as many (promotions, gate evaluations, approvals, the
#: deploy and its alias move).
AUDIT_EVENTS_PER_VERSION = 9


def _dumps(value: Any) -> str:
    """JSON as modelbook writes a row's tags (``store.rows.dumps``)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


# One gate with five checks (the candidate gate of low-risk models); the later
# gates ask for nothing more, so deploy and rollback measure the moves themselves.
RELEASE_POLICY = """\
serving_aliases = ["production"]

[[tiers.low.candidate]]
check = "metric"
rules = ["auc@test >= 0.5", "auc@test{*} >= 0.45"]

[[tiers.low.candidate]]
check = "slice_gap"
metric = "auc@test"
by = "region"
max_gap = 0.05

[[tiers.low.candidate]]
check = "lineage_complete"
fields = ["code.commit", "data", "run_id"]

[[tiers.low.candidate]]
check = "approvals"
count = 1
role = "reviewer"

[[tiers.low.candidate]]
check = "expr"
expression = 'version.metrics["auc@test"] >= 0.5 && !("experimental" in version.tags)'
message = "auc@test of at least 0.5, and not tagged experimental"

[tiers.medium]
[tiers.high]
"""


class Chains:
    """Heads of audit chains while rows are bulk-loaded: each appended event is
    encoded and hashed with the library's own ``audit.canonical`` and
    ``audit.chain_hash``, so the loaded log verifies like one written by the API."""

    COLUMNS = ("id", *audit.COLUMNS, "canonical", "prev_hash", "hash")

    def __init__(self, heads: dict[str, tuple[int, str]], next_id: int) -> None:
        self.heads = heads
        #: The id of the next event: an event's hashed encoding holds its id.
        self.next_id = next_id

    @classmethod
    def from_models(cls, db: c.RawDb) -> Chains:
        _, rows = db.query("SELECT name, event_seq, event_hash FROM models")
        _, [(last,)] = db.query("SELECT max(id) FROM events")
        heads = {f"model:{name}": (int(seq), str(h)) for name, seq, h in rows}
        return cls(heads, int(last or 0) + 1)

    def append(self, fields: dict[str, Any]) -> tuple[Any, ...]:
        """The events row of ``fields`` (every field but ``id``, ``chain`` and ``seq``)
        after its chain's head; the head moves on."""
        chain = fields.get("chain") or f"model:{fields['model']}"
        seq, prev = self.heads.get(chain, (0, audit.GENESIS))
        fields = dict(fields, id=self.next_id, chain=chain, seq=seq + 1)
        self.next_id += 1
        encoded = audit.canonical(fields)
        digest = audit.chain_hash(prev, encoded)
        self.heads[chain] = (seq + 1, digest)
        return (
            fields["id"],
            *(fields[k] for k in audit.COLUMNS),
            encoded.decode("utf-8"),
            prev,
            digest,
        )

    def store_heads(self, db: c.RawDb) -> None:
        """Record every model chain's head on its model row, as the API does (and on
        PostgreSQL move the events' sequence past the ids given)."""
        if db.kind == "postgresql":
            db.execute("SELECT setval(pg_get_serial_sequence('events', 'id'), max(id)) FROM events")
        for chain, (seq, digest) in self.heads.items():
            if chain.startswith("model:"):
                db.execute(
                    "UPDATE models SET event_seq = ?, event_hash = ? WHERE name = ?",
                    [seq, digest, chain.removeprefix("model:")],
                )


class MbSide:
    def __init__(self) -> None:
        self.reg: Registry | None = None
        self.per_model = 0
        self.alias_state: dict[int, int] = {}
        self._writer_calls = 0

    # setup ----------------------------------------------------------------------

    def info(self) -> str:
        return modelbook.__version__

    def open(self, uri: str, blob_dir: str, workdir: str, raw_kind: str, raw_target: str) -> dict:
        t0 = time.perf_counter()
        self.uri, self.blob_dir, self.workdir = uri, blob_dir, Path(workdir)
        self.raw_kind, self.raw_target = raw_kind, raw_target
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.reg = Registry(uri, blob_uri=blob_dir, actor=c.ACTOR)
        return {"open_s": round(time.perf_counter() - t0, 3)}

    def close(self) -> None:
        if getattr(self, "_floor_db", None) is not None:
            self._floor_db.close()
            self._floor_db = None
        if self.reg is not None:
            self.reg.close()
            self.reg = None

    @property
    def r(self) -> Registry:
        assert self.reg is not None, "open first"
        return self.reg

    def _file(self, tag: str, k: int) -> Path:
        path = self.workdir / "files" / tag / f"{k}.bin"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(c.artifact_bytes(tag, k))
        return path

    def seed(self, n_versions: int) -> dict:
        """Version 1 of each model through ``Registry.register``; the rest by
        replicating the rows those registrations wrote; aliases through the API."""
        per_model = n_versions // c.N_MODELS
        art = self._file("seed", 0)
        t0 = time.perf_counter()
        for i in range(c.N_MODELS):
            self.r.register(
                c.model_name(i),
                [art],
                owners=[c.OWNER],
                metrics=c.version_metrics(i, 1),
                tags=c.version_tags(i, 1),
                capture_environment=False,
            )
        t_api = time.perf_counter()
        if per_model > 1:
            self._replicate(per_model)
        t_bulk = time.perf_counter()
        for i in range(c.N_MODELS):
            a, _ = c.alias_pair(i, per_model)
            self.r.set_alias(c.model_name(i), c.ALIAS_RESOLVED, a, reason="bench setup")
            self.r.set_alias(c.model_name(i), c.ALIAS_MOVED, a, reason="bench setup")
            self.alias_state[i] = a
        self.per_model = per_model
        db = c.RawDb(self.raw_kind, self.raw_target)
        (_, [(count,)]) = db.query("SELECT count(*) FROM versions")
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

    def _replicate(self, per_model: int) -> None:
        db = c.RawDb(self.raw_kind, self.raw_target)
        try:
            self._replicate_rows(db, per_model)
        finally:
            db.close()

    def _replicate_rows(self, db: c.RawDb, per_model: int) -> None:
        vcols, vrows = db.query(
            "SELECT versions.*, models.name AS model_name FROM versions "
            "JOIN models ON models.id = versions.model_id WHERE versions.number = 1"
        )
        vcols = vcols[:-1]
        by_model: dict[str, dict[str, Any]] = {}
        for row in vrows:
            by_model[row[-1]] = dict(zip(vcols, row[:-1], strict=True))
        template_ids = {d["id"]: name for name, d in by_model.items()}
        assert len(by_model) == c.N_MODELS, "one template version per model"

        children: dict[str, tuple[list[str], dict[str, list[dict[str, Any]]]]] = {}
        marks = ",".join("?" for _ in template_ids)
        for table in ("artifacts", "version_tags", "metrics", "params", "lineage"):
            cols, rows = db.query(
                f"SELECT * FROM {table} WHERE version_id IN ({marks})", list(template_ids)
            )
            grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in by_model}
            for row in rows:
                d = dict(zip(cols, row, strict=True))
                grouped[template_ids[d["version_id"]]].append(d)
            children[table] = (cols, grouped)
        _, erows = db.query(
            "SELECT model, canonical FROM events WHERE action = 'version.register' AND version = 1"
        )
        events = {model: json.loads(text) for model, text in erows}
        chains = Chains.from_models(db)

        # Per model: the frozen document with the metric values left open.
        docs: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        for i in range(c.N_MODELS):
            name = c.model_name(i)
            tv = by_model[name]
            assert tv["semver"] == "1.0.0", tv["semver"]
            doc = json.loads(tv["doc"])
            holes = []
            for j, m in enumerate(doc["metrics"]):
                hole = 9_876_543.25 + j
                holes.append((json.dumps(hole), m["name"]))
                m["value"] = hole
            docs[name] = (c.json_dumps_like(tv["doc"], doc), holes)
            assert json.loads(tv["tags"]) == c.version_tags(i, 1)
            assert {t["key"] for t in children["version_tags"][1][name]} == set(
                c.version_tags(i, 1)
            )

        (_, [(max_id,)]) = db.query("SELECT max(id) FROM versions")
        first_g = c.N_MODELS
        total = per_model * c.N_MODELS
        t_created = max(d["created_at"] for d in by_model.values())

        db.begin()
        for span in c.chunks(first_g, total, 50_000):
            out: dict[str, list[tuple[Any, ...]]] = {
                t: [] for t in ("versions", *children, "events")
            }
            for g in span:
                i, n = g % c.N_MODELS, g // c.N_MODELS + 1
                name = c.model_name(i)
                vid = max_id + 1 + (g - first_g)
                semver = f"1.{n - 1}.0"
                tags = c.version_tags(i, n)
                metrics = c.version_metrics(i, n)
                doc_text, holes = docs[name]
                for hole, mname in holes:
                    doc_text = doc_text.replace(hole, json.dumps(metrics[mname]))
                created = t_created + (g - first_g + 1)
                v = dict(by_model[name])
                v.update(
                    id=vid,
                    number=n,
                    semver=semver,
                    semver_major=1,
                    semver_minor=n - 1,
                    semver_patch=0,
                    doc=doc_text,
                    tags=c.json_dumps_like(by_model[name]["tags"], tags),
                    created_at=created,
                )
                out["versions"].append(tuple(v[col] for col in vcols))
                for table, (cols, grouped) in children.items():
                    for trow in grouped[name]:
                        d = dict(trow, version_id=vid)
                        if table == "version_tags":
                            d["value"] = tags[d["key"]]
                        elif table == "metrics":
                            d["value"] = metrics[d["name"]]
                        out[table].append(tuple(d[col] for col in cols))
                ev = dict(events[name], at=created, version=n, subject=f"models:/{name}/{n}")
                ev["after"] = dict(ev["after"], semver=semver, doc_sha256=doc_sha256(doc_text))
                out["events"].append(chains.append(ev))
            db.insert("versions", vcols, out["versions"])
            for table, (cols, _) in children.items():
                db.insert(table, cols, out[table])
            db.insert("events", Chains.COLUMNS, out["events"])
        db.execute(
            "UPDATE models SET last_number = ? WHERE name LIKE ? AND name != ?",
            [per_model, "bench-%", c.REGISTER_MODEL],
        )
        chains.store_heads(db)
        if db.kind == "postgresql":
            db.execute(
                "SELECT setval(pg_get_serial_sequence('versions', 'id'), "
                "(SELECT max(id) FROM versions))"
            )
        db.commit()

    # measured operations ------------------------------------------------------------

    def op(self, kind: str, k0: int, n: int, warm: int = 0, budget_s: float = 0) -> dict:
        fn = getattr(self, f"_op_{kind}")
        if kind.startswith("register"):
            for k in range(k0 - warm, k0 + n):
                self._file(kind, k)
        setup = getattr(self, f"_setup_{kind}", None)
        if setup is not None:
            return c.measure_each(setup, fn, k0, n, warm)
        return c.measure(fn, k0, n, warm, budget_s)

    def _op_register(self, k: int) -> None:
        self.r.register(
            c.REGISTER_MODEL,
            [self._file("register", k)],
            owners=[c.OWNER],
            metrics=c.version_metrics(999, k),
            tags=c.version_tags(999, k),
            capture_environment=False,
        )

    def _op_register_capture(self, k: int) -> None:
        self.r.register(
            c.REGISTER_MODEL,
            [self._file("register_capture", k)],
            owners=[c.OWNER],
            metrics=c.version_metrics(999, k),
            tags=c.version_tags(999, k),
        )

    def _op_floor_commit(self, k: int) -> None:
        """One committed one-row INSERT on the same database, through the bare driver."""
        db = getattr(self, "_floor_db", None)
        if db is None:
            db = self._floor_db = c.RawDb(self.raw_kind, self.raw_target)
            if db.kind == "sqlite":
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
            db.execute("CREATE TABLE IF NOT EXISTS bench_floor (k INTEGER, v TEXT)")
        db.execute("BEGIN IMMEDIATE" if db.kind == "sqlite" else "BEGIN")
        db.execute("INSERT INTO bench_floor (k, v) VALUES (?, ?)", [k, "x"])
        db.execute("COMMIT")

    def _op_floor_file(self, k: int) -> None:
        """A 4 KiB file made durable the way a blob is: write, fsync, rename, fsync folder."""
        folder = self.workdir / "floor"
        folder.mkdir(exist_ok=True)
        tmp = folder / f".{k}.tmp"
        with open(tmp, "wb") as f:
            f.write(c.artifact_bytes("floor", k))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / f"{k}.bin")
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _op_resolve(self, k: int) -> None:
        name = c.model_name(c.pick(k, "resolve", c.N_MODELS))
        self.r.resolve(f"models:/{name}@{c.ALIAS_RESOLVED}")

    def _op_read(self, k: int) -> None:
        name = c.model_name(c.pick(k, "read-m", c.N_MODELS))
        self.r.get_version(f"models:/{name}/{1 + c.pick(k, 'read-n', self.per_model)}")

    def _op_set_tag(self, k: int) -> None:
        name = c.model_name(c.pick(k, "tag-m", c.N_MODELS))
        n = 1 + c.pick(k, "tag-n", self.per_model)
        self.r.set_tags(f"models:/{name}/{n}", {"note": f"v{k}"})

    def _op_move_alias(self, k: int) -> None:
        i = k % c.N_MODELS
        a, b = c.alias_pair(i, self.per_model)
        target = b if self.alias_state[i] == a else a
        self.r.set_alias(c.model_name(i), c.ALIAS_MOVED, target, reason="bench move")
        self.alias_state[i] = target

    def _check(self, page: Any) -> None:
        if len(page.items) != 100:
            raise AssertionError(f"search returned {len(page.items)} rows, expected 100")

    def _op_search_tag(self, k: int) -> None:
        key, value = c.tag_filter(k)
        self._check(self.r.search_versions(tags={key: value}, limit=100))

    def _op_search_name_tag(self, k: int) -> None:
        name, key, value = c.name_tag_filter(k)
        self._check(self.r.search_versions(model=name, tags={key: value}, limit=100))

    def _op_search_metric(self, k: int) -> None:
        self._check(self.r.search_versions(metrics=[c.metric_filter(k)], limit=100))

    # release flow ------------------------------------------------------------------

    def release_setup(self, models: int) -> dict:
        """The bench policy, a reviewer, and per model of the deploy and rollback
        operations the versions they move between (approved, one of them deployed)."""
        t0 = time.perf_counter()
        self.r.set_policy(RELEASE_POLICY, source="bench-policy.toml")
        self.r.grant_role(REVIEWER, "reviewer")
        self.deploy_state: dict[int, list[int]] = {}
        self.known_good: dict[int, int] = {}
        for i in range(models):
            a = self._approved(f"rel-deploy-{i:03d}", ("deploy-a", i))
            b = self._approved(f"rel-deploy-{i:03d}", ("deploy-b", i))
            self.r.deploy(a.uri, reason="bench setup")
            self.deploy_state[i] = [a.number, b.number]
            good = self._approved(f"rel-rollback-{i:03d}", ("rollback-good", i))
            self.r.deploy(good.uri, reason="bench setup")
            self.known_good[i] = good.number
        self.release_models = models
        return {"setup_s": round(time.perf_counter() - t0, 3)}

    def _register_release(self, name: str, key: tuple[str, int]) -> Any:
        """A version carrying what the bench policy's candidate gate asks for."""
        tag, k = key
        i, n = k % c.N_MODELS, k // c.N_MODELS + 1
        auc = c.version_metrics(i, n)["auc"]
        return self.r.register(
            name,
            [self._file(f"release-{tag}", k)],
            owners=[c.OWNER],
            metrics={
                "auc@test": auc,
                "auc@test{region=eu}": auc - 0.01,
                "auc@test{region=us}": auc + 0.01,
                "loss@test": round(1 - auc, 6),
            },
            tags=c.version_tags(i, n),
            code={"repo": "git@example:bench/models", "commit": f"{c.pick(k, tag, 1 << 60):040x}"},
            data=[f"snapshot-{tag}-{k}"],
            run_id=f"run-{tag}-{k}",
            capture_environment=False,
        )

    def _approved(self, name: str, key: tuple[str, int]) -> Any:
        v = self._register_release(name, key)
        self.r.approve(v.uri, actor=REVIEWER)
        promoted = self.r.promote(v.uri, auto=True)
        assert promoted.stages == ("candidate", "approved"), promoted.stages
        return promoted.version

    def _setup_promote(self, k: int) -> None:
        v = self._register_release(f"rel-promote-{k % 10}", ("promote", k))
        self.r.approve(v.uri, actor=REVIEWER)
        self._to_promote = v.uri

    def _op_promote(self, k: int) -> None:
        """staging -> candidate through a gate of five checks (the version was approved)."""
        p = self.r.promote(self._to_promote, to="candidate")
        if p.stages != ("candidate",) or len(p.outcomes[0].results) != 5:
            raise AssertionError(f"promotion did not pass five checks: {p.outcomes}")

    def _op_deploy(self, k: int) -> None:
        """Point production at the other approved version of a model; the one it leaves
        returns to approved."""
        i = k % self.release_models
        current, other = self.deploy_state[i]
        self.r.deploy(f"models:/rel-deploy-{i:03d}/{other}", reason="bench deploy")
        self.deploy_state[i] = [other, current]

    def _setup_rollback(self, k: int) -> None:
        i = k % self.release_models
        bad = self._approved(f"rel-rollback-{i:03d}", ("rollback-bad", k))
        self.r.deploy(bad.uri, reason="bench setup")

    def _op_rollback(self, k: int) -> None:
        """Production back to the known-good version; the version rolled back from is
        deprecated."""
        i = k % self.release_models
        plan = self.r.rollback(f"rel-rollback-{i:03d}", reason_code="bench_drill")
        if plan.to_version != self.known_good[i]:
            raise AssertionError(f"rolled back to {plan.to_version}, not {self.known_good[i]}")

    # concurrency -------------------------------------------------------------------

    def concurrent(self, writers: int, per_writer: int, rounds: int) -> dict:
        plan = []
        for r in range(rounds):
            model = f"conc-{r}"
            self.r.create_model(model, owners=[c.OWNER])
            plan.append((model, per_writer))
            for w in range(writers):
                for k in range((r * writers + w) * per_writer, (r * writers + w + 1) * per_writer):
                    self._file("conc", k)
        argv = [sys.executable, os.path.abspath(__file__), "writer"]
        argv += [self.uri, self.blob_dir, str(self.workdir)]
        results = c.run_writers(argv, writers, plan, cwd=str(self.workdir))
        db = c.RawDb(self.raw_kind, self.raw_target)
        out = []
        for res in results:
            _, rows = db.query(
                "SELECT versions.number FROM versions JOIN models ON models.id = versions.model_id "
                "WHERE models.name = ?",
                [res["model"]],
            )
            out.append(c.concurrency_stats(res["reports"], [r[0] for r in rows]))
        db.close()
        return {"rounds": out}

    def writers(
        self, kind: str, layout: str, writers: int, per_writer: int, rounds: int, first: int = 0
    ) -> dict:
        """Writer processes at once: ``layout`` "one" (every writer on one model),
        "own" (each writer on a model of its own) or "single" (one writer doing all
        ``writers * per_writer`` calls). ``kind``: "register" or "tag" (a tag write on
        version 1 of the model, always a change)."""
        n_proc = 1 if layout == "single" else writers
        per = writers * per_writer if layout == "single" else per_writer
        plan: list[tuple[list[str], int]] = []
        for r in range(first, first + rounds):
            names = [f"w-{kind}-{layout}-{r}-{w if layout == 'own' else 0}" for w in range(n_proc)]
            for name in dict.fromkeys(names):
                self.r.create_model(name, owners=[c.OWNER])
                if kind == "tag":
                    self.r.register(
                        name, [self._file("writers-seed", 0)], capture_environment=False
                    )
            plan.append((names, per))
        # Every registration stores new content: number calls after all earlier ones.
        k_base = self._writer_calls
        self._writer_calls += rounds * n_proc * per
        for k in range(k_base, self._writer_calls):
            self._file("conc", k)
        argv = [sys.executable, os.path.abspath(__file__), "writer"]
        argv += [self.uri, self.blob_dir, str(self.workdir), kind]
        results = c.run_writers(argv, n_proc, plan, cwd=str(self.workdir), k_base=k_base)
        db = c.RawDb(self.raw_kind, self.raw_target)
        out = []
        for res in results:
            stored = None
            if kind == "register":
                stored = {}
                for name in dict.fromkeys(res["model"]):
                    _, rows = db.query(
                        "SELECT versions.number FROM versions "
                        "JOIN models ON models.id = versions.model_id WHERE models.name = ?",
                        [name],
                    )
                    stored[name] = [row[0] for row in rows]
            out.append(c.writers_stats(res["reports"], stored))
        db.close()
        return {"rounds": out}

    # the audit log -------------------------------------------------------------------

    def audit_seed(self, n_events: int, models: int, sample_models: int) -> dict:
        """A log of ``n_events`` events: a sample written through the API (registrations,
        tag writes, alias moves on ``sample_models`` models), then the rest bulk-loaded as
        chained rows modelled on the sample's events, spread over ``models`` models'
        chains in the order writers would interleave them. The rows those events
        describe are bulk-loaded too (each version, its tags, where each alias points),
        so the live state agrees with the log as ``audit verify`` checks it."""
        t0 = time.perf_counter()
        names = [f"audit-{i:04d}" for i in range(models)]
        for name in names:
            self.r.create_model(name, owners=[c.OWNER])
        for i, name in enumerate(names[:sample_models]):
            for n in range(1, 4):
                self.r.register(
                    name,
                    [self._file("audit", i * 10 + n)],
                    metrics=c.version_metrics(i, n),
                    tags=c.version_tags(i, n),
                    capture_environment=False,
                )
                self.r.set_tags(f"models:/{name}/{n}", {"note": f"checked {n}"})
                self.r.set_alias(name, c.ALIAS_RESOLVED, n, reason="bench: newest version")
        t_api = time.perf_counter()
        db = c.RawDb(self.raw_kind, self.raw_target)
        (_, [(api_events,)]) = db.query("SELECT count(*) FROM events")
        _, rows = db.query(
            "SELECT action, canonical FROM events WHERE model = ? ORDER BY seq", [names[0]]
        )
        # One version's events as the sample wrote them: its registration, a tag write,
        # an alias move.
        templates = [json.loads(text) for action, text in rows if action != "model.create"][:3]
        actions = [t["action"] for t in templates]
        assert actions == ["version.register", "version.tag", "alias.set"], actions
        register, tagged, moved = templates
        registered_tags = tagged["before"]
        _, [(doc,)] = db.query(
            "SELECT v.doc FROM versions v JOIN models m ON m.id = v.model_id "
            "WHERE m.name = ? AND v.number = 1",
            [names[0]],
        )
        model_ids = dict(db.query("SELECT name, id FROM models")[1])
        _, aliased = db.query(
            "SELECT m.name, a.number FROM aliases a JOIN models m ON m.id = a.model_id "
            "WHERE a.name = ?",
            [c.ALIAS_RESOLVED],
        )
        alias_at: dict[str, int | None] = {name: None for name in names}
        alias_at.update(aliased)
        first = {name: (4 if name in names[:sample_models] else 1) for name in names}
        chains = Chains.from_models(db)
        at = max(t["at"] for t in templates)
        bulk = n_events - api_events
        # Every bulk-loaded version stores the sample's document: its registration
        # records that document's sha256, as an API registration does.
        registered_doc = doc_sha256(doc)
        # (model, number): [registered at, tags]; written after the events.
        versions: dict[tuple[str, int], list[Any]] = {}
        moved_by: dict[str, tuple[int, str]] = {}
        db.begin()
        batch: list[tuple[Any, ...]] = []
        for j in range(bulk):
            name = names[j % models]
            turn = j // models
            # Each version's events: its registration, tag writes, an alias move.
            step = turn % AUDIT_EVENTS_PER_VERSION
            last = AUDIT_EVENTS_PER_VERSION - 1
            template = register if step == 0 else moved if step == last else tagged
            ev = dict(template, chain=f"model:{name}", model=name, at=at + j)
            number = first[name] + turn // AUDIT_EVENTS_PER_VERSION
            ev["version"] = number
            if ev["action"] == "alias.set":
                ev["subject"] = f"models:/{name}@{c.ALIAS_RESOLVED}"
                was = alias_at[name]
                ev["before"] = None if was is None else {"alias": c.ALIAS_RESOLVED, "version": was}
                ev["after"] = {"alias": c.ALIAS_RESOLVED, "version": number}
                alias_at[name] = number
                # The alias row records who moved it and when, as its event does.
                moved_by[name] = (ev["at"], ev["actor"])
            else:
                ev["subject"] = f"models:/{name}/{number}"
            if ev["action"] == "version.register":
                ev["after"] = dict(
                    ev["after"], semver=f"1.{number - 1}.0", doc_sha256=registered_doc
                )
                # Its registration's tags: what the first tag write found.
                versions[(name, number)] = [at + j, registered_tags]
            elif ev["action"] == "version.tag":
                ev["before"] = versions[(name, number)][1]
                ev["after"] = {**registered_tags, "note": f"checked {step}"}
                versions[(name, number)][1] = ev["after"]
            batch.append(chains.append(ev))
            if len(batch) == 50_000:
                db.insert("events", Chains.COLUMNS, batch)
                batch = []
        db.insert("events", Chains.COLUMNS, batch)
        chains.store_heads(db)
        self._bulk_versions(db, versions, model_ids, doc, register)
        self._bulk_aliases(db, alias_at, moved_by, model_ids, first)
        db.commit()
        db.analyze()
        (_, [(count,)]) = db.query("SELECT count(*) FROM events")
        db.close()
        return {
            "events": count,
            "api_events": api_events,
            "bulk_events": bulk,
            "bulk_versions": len(versions),
            "chains": len(chains.heads),
            "api_s": round(t_api - t0, 3),
            "bulk_s": round(time.perf_counter() - t_api, 3),
        }

    @staticmethod
    def _bulk_versions(
        db: c.RawDb,
        versions: dict[tuple[str, int], list[Any]],
        model_ids: dict[str, int],
        doc: str,
        register: dict[str, Any],
    ) -> None:
        """The version rows (and indexed tags) of the bulk-loaded registrations."""
        (_, [(max_id,)]) = db.query("SELECT coalesce(max(id), 0) FROM versions")
        cols = (
            "id",
            "model_id",
            "number",
            "semver",
            "semver_major",
            "semver_minor",
            "semver_patch",
            "stage",
            "doc",
            "tags",
            "created_at",
            "created_by",
        )
        rows: list[tuple[Any, ...]] = []
        tag_rows: list[tuple[Any, ...]] = []
        # Each version's files, as registration writes them beside its document (audit
        # verify compares the two with the registration event's manifest).
        files = [(a["path"], a["size"], a["sha256"]) for a in json.loads(doc)["artifacts"]]
        file_rows: list[tuple[Any, ...]] = []
        file_cols = ("version_id", "path", "size", "sha256")
        stage, actor = register["after"]["stage"], register["actor"]
        for k, ((name, number), (created, tags)) in enumerate(versions.items()):
            vid, mid = max_id + 1 + k, model_ids[name]
            semver = (f"1.{number - 1}.0", 1, number - 1, 0)
            rows.append((vid, mid, number, *semver, stage, doc, _dumps(tags), created, actor))
            tag_rows += [(vid, key, value, mid) for key, value in tags.items()]
            file_rows += [(vid, *f) for f in files]
            if len(rows) == 50_000:
                db.insert("versions", cols, rows)
                db.insert("version_tags", ("version_id", "key", "value", "model_id"), tag_rows)
                db.insert("artifacts", file_cols, file_rows)
                rows, tag_rows, file_rows = [], [], []
        db.insert("versions", cols, rows)
        db.insert("version_tags", ("version_id", "key", "value", "model_id"), tag_rows)
        db.insert("artifacts", file_cols, file_rows)
        if db.kind == "postgresql":
            # The ids were given: the sequence goes on after them.
            db.execute(
                "SELECT setval(pg_get_serial_sequence('versions', 'id'), max(id)) FROM versions"
            )
        _, newest = db.query("SELECT model_id, max(number) FROM versions GROUP BY model_id")
        for mid, number in newest:
            db.execute(
                "UPDATE models SET last_number = ?, semver_major = 1, semver_minor = ?, "
                "semver_patch = 0 WHERE id = ?",
                [number, number - 1, mid],
            )

    @staticmethod
    def _bulk_aliases(
        db: c.RawDb,
        alias_at: dict[str, int | None],
        moved_by: dict[str, tuple[int, str]],
        model_ids: dict[str, int],
        first: dict[str, int],
    ) -> None:
        """Each alias where the bulk-loaded moves left it, moved by whom and when its
        last move's event says; the database's triggers (revision 0009) keep the
        alias names each version row lists."""
        moved = [(name, n) for name, n in alias_at.items() if n is not None and n >= first[name]]
        for name, number in moved:
            mid = model_ids[name]
            at, actor = moved_by[name]
            db.execute(
                "DELETE FROM aliases WHERE model_id = ? AND name = ?", [mid, c.ALIAS_RESOLVED]
            )
            db.execute(
                "INSERT INTO aliases (model_id, name, version_id, number, updated_at, updated_by) "
                "SELECT model_id, ?, id, number, ?, ? FROM versions "
                "WHERE model_id = ? AND number = ?",
                [c.ALIAS_RESOLVED, at, actor, mid, number],
            )

    def verify(self, rounds: int) -> dict:
        """``Registry.verify_audit`` over the whole log, ``rounds`` times."""
        out = []
        for _ in range(rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            res = self.r.verify_audit()
            seconds = time.perf_counter() - t0
            cpu_s = time.process_time() - c0
            if not res.ok:
                raise AssertionError(
                    f"the bench's audit log does not verify: {res.breaks[:3]} "
                    f"{res.record_problems[:3]} {res.expected_head_problem}"
                )
            # Every version is checked whole: a registration loaded without what the
            # API records would be counted here and measure less work.
            if res.unchecked:
                raise AssertionError(f"the bench's audit log leaves unchecked: {res.unchecked[:3]}")
            out.append(
                {
                    "seconds": round(seconds, 4),
                    "events": res.events,
                    "chains": res.chains,
                    "events_per_s": round(res.events / seconds, 1),
                    # This process's CPU time only (not the PostgreSQL server's).
                    "cpu_s": round(cpu_s, 4),
                    "events_per_cpu_s": round(res.events / cpu_s, 1),
                }
            )
        return {"rounds": out}

    # ingest ------------------------------------------------------------------------

    def ingest(self, size_mb: int, reps: int) -> dict:
        base = self.workdir / "ingest"
        base.mkdir(parents=True, exist_ok=True)
        src = base / f"src-{size_mb}.bin"
        if not src.exists() or src.stat().st_size != size_mb << 20:
            block = os.urandom(16 << 20)
            assert size_mb % 16 == 0, "ingest size must be a multiple of 16 MB"
            with open(src, "wb") as f:
                for j in range(size_mb // 16):
                    f.write(hashlib.sha256(str(j).encode()).digest() + block[32:])
        dst = base / "copy.bin"
        rounds = []
        for r in range(reps):
            res: dict[str, float] = {}
            for step in ("floor", "modelbook") if r % 2 == 0 else ("modelbook", "floor"):
                os.sync()
                if step == "floor":
                    t0 = time.perf_counter()
                    digest = hashlib.sha256()
                    buf = bytearray(4 << 20)
                    view = memoryview(buf)
                    with open(src, "rb", buffering=0) as f:
                        while m := f.readinto(buf):
                            digest.update(view[:m])
                    t1 = time.perf_counter()
                    subprocess.run(["cp", str(src), str(dst)], check=True)
                    t2 = time.perf_counter()
                    fd = os.open(dst, os.O_RDONLY)
                    os.fsync(fd)
                    os.close(fd)
                    t3 = time.perf_counter()
                    res.update(hash_s=t1 - t0, cp_s=t2 - t1, floor_s=t2 - t0, floor_fsync_s=t3 - t0)
                    dst.unlink()
                else:
                    where = base / f"registry-{r}"
                    reg = Registry(
                        f"sqlite:///{where / 'registry.db'}",
                        blob_uri=str(where / "blobs"),
                        actor=c.ACTOR,
                    )
                    reg.create_model("ingest", owners=[c.OWNER])
                    os.sync()
                    t0 = time.perf_counter()
                    v = reg.register("ingest", [src], capture_environment=False)
                    res["modelbook_s"] = time.perf_counter() - t0
                    assert v.artifacts[0].size == size_mb << 20
                    reg.close()
                    shutil.rmtree(where)
            rounds.append({k: round(x, 4) for k, x in res.items()})
        src.unlink()
        return {"size_mb": size_mb, "rounds": rounds}


def _writer() -> None:
    uri, blob_dir, workdir = sys.argv[2:5]
    kind = sys.argv[5] if len(sys.argv) > 5 else "register"
    files = Path(workdir) / "files" / "conc"

    def open_client() -> Registry:
        return Registry(uri, blob_uri=blob_dir, actor=c.ACTOR)

    def register(reg: Registry, model: str, k: int) -> int:
        return reg.register(
            model,
            [files / f"{k}.bin"],
            metrics=c.version_metrics(7, k),
            tags=c.version_tags(7, k),
            capture_environment=False,
        ).number

    def tag(reg: Registry, model: str, k: int) -> int:
        reg.set_tags(f"models:/{model}/1", {"note": f"v{k}"})
        return k

    def warm(reg: Registry) -> None:
        """A registration and a tag write on a model of this process's own, untimed."""
        path = Path(workdir) / "files" / "warm" / f"{os.getpid()}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(c.artifact_bytes("warm", os.getpid()))
        v = reg.register(f"warm-{os.getpid()}", [path], owners=[c.OWNER], capture_environment=False)
        reg.set_tags(v.uri, {"warm": "yes"})

    # The writers' comparison ("writer URI BLOBS WORKDIR KIND") measures writers in their
    # stride; the older eight-writer test ("writer URI BLOBS WORKDIR") keeps its cold start.
    if len(sys.argv) > 5:
        c.writer_main(open_client, tag if kind == "tag" else register, warm)
    else:
        c.writer_main(open_client, register)


if __name__ == "__main__":
    if sys.argv[1:2] == ["writer"]:
        _writer()
    else:
        c.serve(MbSide())
