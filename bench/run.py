"""modelbook against MLflow's model registry, same machine, same run.

    .venv/bin/python bench/run.py --quick     # make bench-quick, under 3 minutes
    .venv/bin/python bench/run.py --full      # make bench, about half an hour

Installs the pinned MLflow into ``bench/.venv-mlflow`` when needed, drives
modelbook (``mb_side.py``, this interpreter) and MLflow (``mlflow_side.py``,
that virtual environment) as long-lived worker processes, interleaves their
rounds, and writes ``bench/results/<timestamp>.json``, ``latest.json``, the
plot ``search_latency.png`` and the tables of ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import common as c  # noqa: E402

MLFLOW_VENV = BENCH / ".venv-mlflow"
MLFLOW_VERSION = "3.17.2"
MLFLOW_REQUIREMENTS = (f"mlflow=={MLFLOW_VERSION}", "psycopg[binary]==3.3.9")
RESULTS = BENCH / "results"
WORK = BENCH / ".work"
MARKDOWN = ROOT / "BENCHMARKS.md"
# Hand-kept section appended to BENCHMARKS.md: profiles of missed targets and the
# fixes they led to, with figures before and after.
PROFILE_NOTES = ROOT / "bench" / "profiles.md"
# Hand-kept section: the service layer's before-and-after comparison and the
# profiles of the release-flow and audit targets.
SERVICE_NOTES = ROOT / "bench" / "service_layer.md"
# Sections other harnesses (bench/cli_startup.py, bench/search_scale.py) write into
# BENCHMARKS.md; rebuilding the page keeps them.
KEPT_SECTIONS = ("## CLI start-up", "## Search at scale: generated registries")
PLOT = RESULTS / "search_latency.png"
PG_HOST = os.environ.get("MODELBOOK_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("MODELBOOK_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("MODELBOOK_TEST_PG_USER", "postgres")
SYSTEMS = ("modelbook", "mlflow")
DBS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Op:
    key: str
    title: str
    mlflow_call: str | None
    target: float | None
    group: str
    # A latency target instead of a ratio: p50 under this many ms on ``limit_db``.
    limit_ms: float | None = None
    limit_db: str = "sqlite"


POINT_OPS = (
    Op("register", "register a version", "create_model_version", 10, "register"),
    Op("register_capture", "register, capturing the environment", None, None, "register"),
    Op("floor_file", "floor: durable 4 KiB file", None, None, "register"),
    Op("floor_commit", "floor: one committed INSERT", None, None, "register"),
    Op("resolve", "resolve an alias", "get_model_version_by_alias", 20, "resolve"),
    Op("read", "read one version", "get_model_version", 20, "read"),
    Op("set_tag", "set a version tag", "set_model_version_tag", 20, "tag"),
    Op("move_alias", "move an alias", "set_registered_model_alias", 20, "alias"),
)
SEARCH_OPS = (
    Op("search_tag", "search by one tag", "search_model_versions", 20, "search"),
    Op("search_name_tag", "search by name and tag", "search_model_versions", 20, "search"),
    Op("search_metric", "search by metric threshold", None, None, "search"),
)
RELEASE_OPS = (
    Op("promote", "promote through five checks", None, None, "release"),
    Op("deploy", "deploy", None, None, "release", limit_ms=5.0),
    Op("rollback", "roll back", None, None, "release", limit_ms=5.0),
)
OPS = {op.key: op for op in (*POINT_OPS, *SEARCH_OPS, *RELEASE_OPS)}
GROUPS = (
    "register",
    "resolve",
    "read",
    "tag",
    "alias",
    "search",
    "release",
    "concurrent",
    "writers",
    "verify",
    "ingest",
    "scale",
)
WRITER_KINDS = ("register", "tag")
WRITER_LAYOUTS = ("single", "one", "own")
VERIFY_TARGET = 200_000  # events per second


@dataclass(frozen=True)
class Mode:
    name: str
    sizes: tuple[int, ...]
    big_sizes: tuple[int, ...]
    rounds: int
    point_calls: int
    search_calls: int
    search_budget_s: float
    writers: int
    per_writer: int
    conc_rounds: int
    ingest_mb: int
    ingest_reps: int
    release_models: int = 10
    verify_events: int = 1_000_000
    verify_models: int = 1000
    verify_rounds: int = 3


MODES = {
    "quick": Mode("quick", (10_000,), (), 3, 20, 10, 1.0, 8, 20, 2, 256, 3, 10, 1_000_000, 1000, 3),
    "full": Mode(
        "full",
        (10_000, 100_000),
        (1_000_000,),
        5,
        100,
        40,
        8.0,
        8,
        50,
        3,
        1024,
        3,
        20,
        1_000_000,
        1000,
        5,
    ),
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# MLflow's virtual environment ---------------------------------------------------------


def mlflow_python() -> Path:
    return MLFLOW_VENV / "bin" / "python"


def ensure_mlflow_venv() -> float:
    """Create ``bench/.venv-mlflow`` with the pinned MLflow unless it is there already."""
    stamp = MLFLOW_VENV / ".bench-requirements"
    wanted = "\n".join(MLFLOW_REQUIREMENTS)
    if mlflow_python().exists() and stamp.exists() and stamp.read_text() == wanted:
        return 0.0
    t0 = time.perf_counter()
    log(f"installing {' '.join(MLFLOW_REQUIREMENTS)} into {MLFLOW_VENV.relative_to(ROOT)}")
    if not mlflow_python().exists():
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(MLFLOW_VENV)], check=True)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run(
        [str(mlflow_python()), "-m", "pip", "install", "-q", *MLFLOW_REQUIREMENTS],
        check=True,
        env=env,
    )
    out = subprocess.run(
        [str(mlflow_python()), "-c", "import mlflow; print(mlflow.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    )
    if out.stdout.strip() != MLFLOW_VERSION:
        raise SystemExit(f"expected MLflow {MLFLOW_VERSION}, got {out.stdout.strip()}")
    stamp.write_text(wanted)
    return time.perf_counter() - t0


# Databases ------------------------------------------------------------------------------


def pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


def pg_admin() -> Any:
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    )


@dataclass
class Target:
    system: str
    db: str
    uri: str
    raw_kind: str
    raw_target: str
    blob_dir: str
    pg_name: str | None = None
    path: str | None = None


class Databases:
    """Fresh databases for one run; every one is removed again at the end."""

    def __init__(self, run_dir: Path, run_id: str, keep: bool) -> None:
        self.run_dir, self.run_id, self.keep = run_dir, run_id, keep
        self.made: list[Target] = []

    def fresh(self, system: str, db: str, label: str) -> Target:
        short = {"modelbook": "mb", "before": "mbb"}.get(system, "mlflow")
        blob_dir = str(self.run_dir / f"blobs-{short}-{db}-{label}")
        if db == "sqlite":
            path = self.run_dir / f"{short}-{label}.db"
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                p.unlink(missing_ok=True)
            t = Target(
                system, db, f"sqlite:///{path}", "sqlite", str(path), blob_dir, path=str(path)
            )
        else:
            name = f"bench_{short}_{label}_{self.run_id}".lower()
            with pg_admin() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {name}")
            uri = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
            raw = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={name}"
            t = Target(system, db, uri, "postgresql", raw, blob_dir, pg_name=name)
        self.made.append(t)
        return t

    def drop(self, t: Target) -> None:
        if self.keep:
            return
        if t.pg_name:
            with pg_admin() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {t.pg_name} WITH (FORCE)")
        if t.path:
            for p in (t.path, f"{t.path}-wal", f"{t.path}-shm"):
                Path(p).unlink(missing_ok=True)
        shutil.rmtree(t.blob_dir, ignore_errors=True)

    def drop_all(self) -> None:
        for t in self.made:
            with contextlib.suppress(Exception):
                self.drop(t)


# Workers --------------------------------------------------------------------------------


class Worker:
    """One side's long-lived process, spoken to with JSON lines."""

    def __init__(
        self, system: str, run_dir: Path, label: str, before_dir: Path | None = None
    ) -> None:
        self.system = system
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELBOOK_")}
        env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", PYTHONUNBUFFERED="1")
        if system == "modelbook":
            argv = [sys.executable, str(BENCH / "mb_side.py"), "serve"]
        elif system == "before":
            # An earlier checkout's own harness side against its own code.
            assert before_dir is not None
            argv = [sys.executable, str(before_dir / "bench" / "mb_side.py"), "serve"]
            env["PYTHONPATH"] = str(before_dir / "src")
        else:
            argv = [str(mlflow_python()), str(BENCH / "mlflow_side.py"), "serve"]
        self.log_path = run_dir / f"{system}-{label}.log"
        self._log = open(self.log_path, "a")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            cwd=str(run_dir),
            env=env,
        )

    def cpu_ns(self) -> int:
        """Nanoseconds the worker's threads have run on a CPU (``/proc/PID/task/*/schedstat``);
        0 where the kernel does not say."""
        total = 0
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    total += int((task / "schedstat").read_text().split()[0])
        return total

    def call(self, cmd: str, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, "args": args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.system} worker died during {cmd}; see {self.log_path}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise RuntimeError(f"{self.system} {cmd}: {reply['error']} (see {self.log_path})")
        return reply["result"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("close")
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


# The run --------------------------------------------------------------------------------


class LoadSampler:
    """The machine's one-minute load average every few seconds during the run: the
    machine is shared, and the figures mean more next to how busy it was."""

    def __init__(self, every_s: float = 5.0) -> None:
        import threading

        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float]:
        self._stop.set()
        xs = self.samples
        return {
            "start": round(xs[0], 2),
            "median": round(c.median(xs), 2),
            "max": round(max(xs), 2),
            "samples": len(xs),
        }


class Bench:
    def __init__(
        self,
        mode: Mode,
        groups: set[str],
        dbs: list[str],
        keep: bool,
        before_dir: Path | None = None,
    ) -> None:
        self.mode, self.groups, self.dbs = mode, groups, dbs
        # With ``before_dir`` the other side is modelbook as of an earlier checkout
        # (its own bench/mb_side.py and src/), measured in the same rounds as MLflow is.
        self.before_dir = before_dir
        self.systems: tuple[str, ...] = ("modelbook", "before") if before_dir else SYSTEMS
        self.started = time.time()
        self.run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.run_dir = WORK / self.run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.databases = Databases(self.run_dir, self.run_id.lower(), keep)
        self.load = LoadSampler()
        self.figures: list[dict[str, Any]] = []
        self.seeding: list[dict[str, Any]] = []
        self.concurrency: list[dict[str, Any]] = []
        self.ingest: dict[str, Any] | None = None
        self.writers: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []
        self.ingest_before: dict[str, Any] | None = None
        self.skipped: list[str] = []
        self.phases: dict[str, float] = {}
        self.versions: dict[str, str] = {}

    def elapsed(self) -> float:
        return time.time() - self.started

    @contextlib.contextmanager
    def sides(self, db: str, label: str, systems: tuple[str, ...] | None = None) -> Iterator[dict]:
        workers: dict[str, Worker] = {}
        targets: list[Target] = []
        try:
            for system in systems or self.systems:
                t = self.databases.fresh(system, db, label)
                targets.append(t)
                w = Worker(system, self.run_dir, f"{db}-{label}", self.before_dir)
                workers[system] = w
                w.call(
                    "open",
                    uri=t.uri,
                    blob_dir=t.blob_dir,
                    workdir=str(self.run_dir / f"work-{system}"),
                    raw_kind=t.raw_kind,
                    raw_target=t.raw_target,
                )
                if system not in self.versions:
                    self.versions[system] = w.call("info")
            yield workers
        finally:
            for w in workers.values():
                w.close()
            for t in targets:
                self.databases.drop(t)

    def record(
        self, db: str, size: int, op: str, system: str, ms: list[float], cpu_us: float | None
    ) -> None:
        summary = c.summarize(ms)
        if cpu_us:
            summary["cpu_us"] = round(cpu_us, 2)
        for f in self.figures:
            if (f["db"], f["size"], f["op"], f["system"]) == (db, size, op, system):
                f["rounds"].append(summary)
                return
        self.figures.append(
            {"db": db, "size": size, "op": op, "system": system, "rounds": [summary]}
        )

    def rounds(
        self, workers: dict, db: str, size: int, ops: list[Op], calls: int, budget: float
    ) -> None:
        for r in range(self.mode.rounds):
            order = list(workers) if r % 2 == 0 else list(reversed(workers))
            for op in ops:
                for system in order:
                    if system == "mlflow" and op.mlflow_call is None:
                        continue
                    if system == "before" and op.group == "release":
                        continue
                    warm = 3 if r == 0 else 0
                    cpu0 = workers[system].cpu_ns()
                    res = workers[system].call(
                        "op", kind=op.key, k0=r * calls, n=calls, warm=warm, budget_s=budget
                    )
                    # CPU time of the worker per call in the round (warm-up calls included
                    # in the count): what the code costs, whatever else runs on the machine.
                    cpu_us = (workers[system].cpu_ns() - cpu0) / 1e3 / (len(res["ms"]) + warm)
                    if op.group == "release":
                        cpu_us = None  # the round's CPU includes each call's untimed setup
                    self.record(db, size, op.key, system, res["ms"], cpu_us)
            log(f"  {db} {size:>9,} round {r + 1}/{self.mode.rounds} done")

    def run(self) -> None:
        m = self.mode
        point_ops = [op for op in POINT_OPS if op.group in self.groups]
        search_ops = [op for op in SEARCH_OPS if op.group in self.groups]
        release_ops = [op for op in RELEASE_OPS if op.group in self.groups]
        for db in self.dbs:
            t_db = time.perf_counter()
            for si, size in enumerate(m.sizes):
                ops_here = point_ops if si == 0 else []
                release_here = release_ops if si == 0 else []
                if not ops_here and not search_ops and not release_here:
                    continue
                label = f"{size // 1000}k"
                log(f"{db}: {size:,} versions over {c.N_MODELS} models")
                with self.sides(db, label) as workers:
                    for system, w in workers.items():
                        s = w.call("seed", n_versions=size)
                        self.seeding.append({"db": db, "size": size, "system": system, **s})
                        log(f"  seeded {system}: {s}")
                    if ops_here:
                        self.rounds(workers, db, size, ops_here, m.point_calls, 0)
                    if search_ops:
                        self.rounds(
                            workers, db, size, search_ops, m.search_calls, m.search_budget_s
                        )
                    if release_here:
                        s = workers["modelbook"].call("release_setup", models=m.release_models)
                        log(f"  release flow set up: {s}")
                        self.rounds(workers, db, size, release_here, m.point_calls, 0)
            if "concurrent" in self.groups:
                log(f"{db}: {m.writers} writers x {m.per_writer} registrations, one model")
                # Against an earlier checkout the sides alternate round by round, each
                # round on fresh databases (its harness numbers its models from 0).
                plan = (
                    [(f"conc{r}", 1) for r in range(m.conc_rounds)]
                    if self.before_dir
                    else [("conc", m.conc_rounds)]
                )
                for i, (label, rounds) in enumerate(plan):
                    with self.sides(db, label) as workers:
                        order = list(workers) if db == "sqlite" else list(reversed(workers))
                        for system in order if i % 2 == 0 else order[::-1]:
                            res = workers[system].call(
                                "concurrent",
                                writers=m.writers,
                                per_writer=m.per_writer,
                                rounds=rounds,
                            )
                            self._concurrency(db, system, res)
            if "writers" in self.groups:
                self.run_writers(db)
            if "verify" in self.groups:
                self.run_verify(db)
            self.phases[db] = round(time.perf_counter() - t_db, 1)
        if "ingest" in self.groups:
            t0 = time.perf_counter()
            log(f"ingest of a {m.ingest_mb} MB file against hashlib + cp")
            systems = ("modelbook", "before") if self.before_dir else ("modelbook",)
            with self.sides("sqlite", "ingest", systems) as workers:
                if self.before_dir:
                    # One repetition at a time, alternating sides, so both see the same load.
                    got: dict[str, dict[str, Any]] = {}
                    for r in range(m.ingest_reps):
                        for system in systems if r % 2 == 0 else systems[::-1]:
                            res = workers[system].call("ingest", size_mb=m.ingest_mb, reps=1)
                            got.setdefault(system, {**res, "rounds": []})
                            got[system]["rounds"] += res["rounds"]
                    self.ingest, self.ingest_before = got["modelbook"], got["before"]
                else:
                    self.ingest = workers["modelbook"].call(
                        "ingest", size_mb=m.ingest_mb, reps=m.ingest_reps
                    )
            log(f"  {self.ingest['rounds']}")
            self.phases["ingest"] = round(time.perf_counter() - t0, 1)
        if "scale" in self.groups and m.big_sizes:
            self.run_scale(search_ops)

    def _concurrency(self, db: str, system: str, res: dict[str, Any]) -> None:
        for rr in res["rounds"]:
            log(
                f"  {system}: {rr['throughput']}/s p99 {rr['p99']} ms "
                f"errors {rr['errors']} dup {rr['duplicates']} lost {rr['lost']}"
            )
        for x in self.concurrency:
            if (x["db"], x["system"]) == (db, system):
                x["rounds"] += res["rounds"]
                return
        self.concurrency.append({"db": db, "system": system, **res})

    def run_writers(self, db: str) -> None:
        m = self.mode
        log(f"{db}: 1 writer, {m.writers} writers on one model, {m.writers} on a model each")
        with self.sides(db, "writers", ("modelbook",)) as workers:
            for r in range(m.conc_rounds):
                layouts = WRITER_LAYOUTS if r % 2 == 0 else tuple(reversed(WRITER_LAYOUTS))
                for kind in WRITER_KINDS:
                    for layout in layouts:
                        res = workers["modelbook"].call(
                            "writers",
                            kind=kind,
                            layout=layout,
                            writers=m.writers,
                            per_writer=m.per_writer,
                            rounds=1,
                            first=r,
                        )
                        rr = res["rounds"][0]
                        self.writers.append({"db": db, "kind": kind, "layout": layout, **rr})
                        log(
                            f"  {kind} {layout}: {rr['throughput']}/s p50 {rr['p50']} ms "
                            f"p99 {rr['p99']} ms errors {rr['errors']}"
                        )

    def run_verify(self, db: str) -> None:
        m = self.mode
        log(f"{db}: audit log of {m.verify_events:,} events over {m.verify_models:,} chains")
        with self.sides(db, "audit", ("modelbook",)) as workers:
            w = workers["modelbook"]
            seed = w.call(
                "audit_seed",
                n_events=m.verify_events,
                models=m.verify_models,
                sample_models=20,
            )
            log(f"  seeded: {seed}")
            res = w.call("verify", rounds=m.verify_rounds)
            for rr in res["rounds"]:
                log(f"  verify: {rr['events']:,} events in {rr['seconds']} s")
            self.audit.append({"db": db, "seed": seed, "rounds": res["rounds"]})

    def run_scale(self, search_ops: list[Op]) -> None:
        if "postgresql" not in self.dbs:
            self.skipped.append("1M versions: PostgreSQL not selected or not reachable")
            return
        for size in self.mode.big_sizes:
            if self.elapsed() > self.budget_s:
                self.skipped.append(f"{size:,} versions: the time budget was used up")
                log(f"skipping {size:,} versions: out of time")
                continue
            t0 = time.perf_counter()
            log(f"postgresql: {size:,} versions, modelbook only")
            with self.sides("postgresql", f"{size // 1000}k", ("modelbook",)) as workers:
                s = workers["modelbook"].call("seed", n_versions=size)
                self.seeding.append({"db": "postgresql", "size": size, "system": "modelbook", **s})
                log(f"  seeded modelbook: {s}")
                self.rounds(
                    workers,
                    "postgresql",
                    size,
                    search_ops,
                    self.mode.search_calls,
                    self.mode.search_budget_s,
                )
            self.phases[f"scale-{size}"] = round(time.perf_counter() - t0, 1)

    budget_s = 25 * 60


# Summaries ------------------------------------------------------------------------------


def med(f: dict[str, Any], key: str) -> float:
    return c.median(r[key] for r in f["rounds"])


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """Medians across rounds, ratios (MLflow time / modelbook time) and target checks."""
    figs = {(f["db"], f["size"], f["op"], f["system"]): f for f in results["figures"]}
    rows = []
    seen = set()
    for f in results["figures"]:
        key = (f["db"], f["size"], f["op"])
        if key in seen:
            continue
        seen.add(key)
        mb = figs.get((*key, "modelbook"))
        ml = figs.get((*key, "mlflow"))
        op = OPS[f["op"]]
        row: dict[str, Any] = {"db": key[0], "size": key[1], "op": key[2], "title": op.title}
        bf = figs.get((*key, "before"))
        for name, fig in (("modelbook", mb), ("mlflow", ml), ("before", bf)):
            if fig:
                row[name] = {k: round(med(fig, k), 3) for k in ("p50", "p95", "p99")}
                row[name]["rounds"] = len(fig["rounds"])
                row[name]["calls"] = sum(r["n"] for r in fig["rounds"])
                if all("cpu_us" in r for r in fig["rounds"]):
                    row[name]["cpu_us"] = round(med(fig, "cpu_us"), 1)
        if mb and bf:
            # Per round, after's p50 over before's (both measured in that round), then the
            # median: a change of load between rounds moves both sides alike.
            pairs = list(zip(mb["rounds"], bf["rounds"], strict=False))
            row["change_p50"] = round(c.median(a["p50"] / b["p50"] - 1 for a, b in pairs), 3)
            if "cpu_us" in row["modelbook"] and "cpu_us" in row["before"]:
                row["change_cpu"] = round(
                    c.median(a["cpu_us"] / b["cpu_us"] - 1 for a, b in pairs), 3
                )
        if mb and ml:
            row["ratio_p50"] = round(row["mlflow"]["p50"] / row["modelbook"]["p50"], 2)
            row["ratio_p95"] = round(row["mlflow"]["p95"] / row["modelbook"]["p95"], 2)
            if op.target is not None:
                row["target"] = op.target
                row["met"] = row["ratio_p50"] >= op.target
        if mb and op.limit_ms is not None and key[0] == op.limit_db:
            row["limit_ms"] = op.limit_ms
            row["met"] = row["modelbook"]["p50"] < op.limit_ms
        rows.append(row)

    scale = []
    for row in rows:
        if row["op"].startswith("search") and row["size"] > 100_000 and "modelbook" in row:
            base = next(
                (
                    r
                    for r in rows
                    if (r["db"], r["size"], r["op"]) == (row["db"], 10_000, row["op"])
                    and "modelbook" in r
                ),
                None,
            )
            if base:
                ratio = row["modelbook"]["p95"] / base["modelbook"]["p95"]
                scale.append(
                    {
                        "db": row["db"],
                        "op": row["op"],
                        "size": row["size"],
                        "p95": row["modelbook"]["p95"],
                        "p95_10k": base["modelbook"]["p95"],
                        "ratio": round(ratio, 2),
                        "target": 2.0,
                        "met": ratio <= 2.0,
                    }
                )

    conc = []
    by = {(x["db"], x["system"]): x for x in results["concurrency"]}
    for db in DBS:
        mb, ml = by.get((db, "modelbook")), by.get((db, "mlflow"))
        if not mb:
            continue
        entry: dict[str, Any] = {"db": db}
        for name, x in (("modelbook", mb), ("mlflow", ml)):
            if not x:
                continue
            rs = x["rounds"]
            entry[name] = {
                "throughput": round(c.median(r["throughput"] for r in rs), 1),
                "p50": round(c.median(r["p50"] for r in rs), 2),
                "p99": round(c.median(r["p99"] for r in rs), 2),
                "max": round(max(r["max"] for r in rs), 2),
                "errors": sum(r["errors"] for r in rs),
                "duplicates": sum(r["duplicates"] for r in rs),
                "lost": sum(r["lost"] for r in rs),
                "gaps": sum(r["gaps"] for r in rs),
                "ok": sum(r["ok"] for r in rs),
                "error_kinds": _merge_counts(r["error_kinds"] for r in rs),
            }
        if mb and ml:
            entry["ratio"] = round(
                entry["modelbook"]["throughput"] / entry["mlflow"]["throughput"], 2
            )
            mbe = entry["modelbook"]
            entry["met"] = (
                entry["ratio"] >= 5
                and mbe["p99"] < 50
                and mbe["errors"] == 0
                and mbe["duplicates"] == 0
                and mbe["lost"] == 0
                and mbe["gaps"] == 0
            )
        conc.append(entry)

    ingest = None
    if results.get("ingest"):
        rs = results["ingest"]["rounds"]
        ingest = {
            "size_mb": results["ingest"]["size_mb"],
            **{
                k: round(c.median(r[k] for r in rs), 3)
                for k in ("hash_s", "cp_s", "floor_s", "floor_fsync_s", "modelbook_s")
            },
        }
        ingest["ratio"] = round(ingest["modelbook_s"] / ingest["floor_s"], 3)
        ingest["ratio_fsync"] = round(ingest["modelbook_s"] / ingest["floor_fsync_s"], 3)
        ingest["target"] = 1.25
        ingest["met"] = ingest["ratio"] <= 1.25
    writers = []
    for db in DBS:
        for kind in WRITER_KINDS:
            for layout in WRITER_LAYOUTS:
                rs = [
                    x
                    for x in results.get("writers", [])
                    if (x["db"], x["kind"], x["layout"]) == (db, kind, layout)
                ]
                if not rs:
                    continue
                writers.append(
                    {
                        "db": db,
                        "kind": kind,
                        "layout": layout,
                        "rounds": len(rs),
                        "throughput": round(c.median(r["throughput"] for r in rs), 1),
                        "p50": round(c.median(r["p50"] for r in rs), 2),
                        "p99": round(c.median(r["p99"] for r in rs), 2),
                        "errors": sum(r["errors"] for r in rs),
                        "wrong": sum(r["duplicates"] + r["lost"] + r["gaps"] for r in rs),
                        "ok": sum(r["ok"] for r in rs),
                    }
                )
    for w in writers:
        single = next(
            (
                x
                for x in writers
                if (x["db"], x["kind"], x["layout"]) == (w["db"], w["kind"], "single")
            ),
            None,
        )
        if single and single["throughput"]:
            w["vs_single"] = round(w["throughput"] / single["throughput"], 2)

    audit = []
    for x in results.get("audit", []):
        rate = c.median(r["events_per_s"] for r in x["rounds"])
        audit.append(
            {
                "db": x["db"],
                "events": x["rounds"][0]["events"],
                "chains": x["rounds"][0]["chains"],
                "rounds": len(x["rounds"]),
                "seconds": round(c.median(r["seconds"] for r in x["rounds"]), 3),
                "events_per_s": round(rate),
                "events_per_cpu_s": round(
                    c.median(r.get("events_per_cpu_s", math.nan) for r in x["rounds"])
                )
                if all("events_per_cpu_s" in r for r in x["rounds"])
                else None,
                "target": VERIFY_TARGET,
                "met": rate >= VERIFY_TARGET,
                "seed": x["seed"],
            }
        )
    return {
        "rows": rows,
        "scale": scale,
        "concurrency": conc,
        "ingest": ingest,
        "writers": writers,
        "audit": audit,
    }


def _merge_counts(dicts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


# Machine --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count(), "python": platform.python_version()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip('"')
    info["kernel"] = platform.release()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = (
            subprocess.run(["df", "-T", str(BENCH)], capture_output=True, text=True, check=True)
            .stdout.splitlines()[-1]
            .split()
        )
        info["filesystem"] = f"{out[1]} on {out[0]}"
    info["sqlite"] = sqlite3.sqlite_version
    if pg_reachable():
        with contextlib.suppress(Exception), pg_admin() as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            for name in ("fsync", "synchronous_commit", "shared_buffers", "wal_sync_method"):
                info[f"pg_{name}"] = conn.execute(f"SHOW {name}").fetchone()[0]
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        info["modelbook_commit"] = head + (" with local changes" if dirty else "")
    return info


# Output ---------------------------------------------------------------------------------


def _checkout(path: Path) -> dict[str, str]:
    """Which commit a checkout is at, and whether its src/ has local changes."""
    info = {"dir": str(path)}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        info["src_changed"] = "yes" if dirty else "no"
    return info


def fmt_ms(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def fmt_size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def verdict(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "**missed**")


DB_TITLE = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
SYSTEM_TITLE = {"modelbook": "modelbook", "mlflow": "MLflow"}


def plot(results: dict[str, Any], path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    rows = [f for f in results["figures"] if f["op"].startswith("search")]
    if not rows:
        return False
    dbs = [db for db in DBS if any(f["db"] == db for f in rows)]
    fig, axes = plt.subplots(1, len(dbs), figsize=(6.2 * len(dbs), 4.6), squeeze=False)
    styles = {
        ("modelbook", "search_tag"): ("tab:blue", "-", "o"),
        ("modelbook", "search_name_tag"): ("tab:blue", "--", "s"),
        ("modelbook", "search_metric"): ("tab:blue", ":", "^"),
        ("mlflow", "search_tag"): ("tab:red", "-", "o"),
        ("mlflow", "search_name_tag"): ("tab:red", "--", "s"),
    }
    for ax, db in zip(axes[0], dbs, strict=True):
        for (system, op), (color, ls, marker) in styles.items():
            pts = sorted(
                (f["size"], med(f, "p95"))
                for f in rows
                if (f["db"], f["system"], f["op"]) == (db, system, op)
            )
            if not pts:
                continue
            label = f"{'MLflow' if system == 'mlflow' else 'modelbook'}: {OPS[op].title[7:]}"
            ax.plot(*zip(*pts, strict=True), color=color, ls=ls, marker=marker, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        sizes = sorted({f["size"] for f in rows if f["db"] == db})
        ax.set_xticks(sizes, [fmt_size(n) for n in sizes])
        ax.xaxis.set_minor_locator(ticker.NullLocator())
        ax.set_xlim(sizes[0] / 1.6, sizes[-1] * 1.6)
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(
            ticker.FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else "")
        )
        ax.set_xlabel("versions in the registry (100 models)")
        ax.set_ylabel("p95 latency, ms (100 rows returned)")
        ax.set_title(f"Search latency on {DB_TITLE[db]}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"modelbook vs MLflow {results['versions'].get('mlflow', '')}, p95 per size")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def markdown(results: dict[str, Any]) -> str:
    s = results["summary"]
    run = results["run"]
    mach = results["machine"]
    mode = results["mode"]
    vers = results["versions"]
    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(
        "modelbook against MLflow's model registry on the same machine in the same run. "
        "Every figure is the median over several rounds; ratios are MLflow's time divided by "
        "modelbook's (higher is better for modelbook), computed from figures of this run only."
    )
    w("")
    w("## Reproduce")
    w("")
    w("```")
    w("make bench          # .venv/bin/python bench/run.py --full")
    w("make bench-quick    # .venv/bin/python bench/run.py --quick")
    w("```")
    w("")
    w(
        f"The harness installs MLflow {MLFLOW_VERSION} (with psycopg 3 for PostgreSQL) into "
        "`bench/.venv-mlflow` on first use, creates a fresh SQLite file or PostgreSQL database "
        "for every system and registry size, and drops them afterwards. PostgreSQL is expected "
        f"at {PG_HOST}:{PG_PORT} (user `{PG_USER}`; `MODELBOOK_TEST_PG_HOST`/`_PORT`/`_USER` "
        "override). `--only "
        + ",".join(GROUPS)
        + "` and `--db sqlite|postgresql` run a part; `--report FILE` rebuilds this page from "
        "a results file; `--compare BEFORE AFTER` prints the targeted figures of two results "
        "files side by side; `--against DIR` measures modelbook as of another checkout (its "
        "own `bench/mb_side.py` against its own `src/`) in the same rounds instead of MLflow "
        "and prints before and after with CPU time per call (the service-layer section "
        "below); `--rounds N` and `--verify-events N` override the mode. Raw results: "
        "`bench/results/<timestamp>.json` and `bench/results/latest.json`."
    )
    w("")
    f, q = MODES["full"], MODES["quick"]
    w(
        f"`--full` measures registries of "
        f"{' and '.join(f'{n:,}' for n in f.sizes)} versions on both databases and "
        f"{', '.join(f'{n:,}' for n in f.big_sizes)} versions for modelbook on PostgreSQL, "
        f"{f.rounds} rounds per figure, {f.writers} writers x {f.per_writer} registrations "
        f"({f.conc_rounds} rounds), the release flow on {f.release_models} models per "
        f"operation, the writers' comparison, audit verification over "
        f"{f.verify_events:,} events on each database and a {f.ingest_mb // 1024} GiB ingest "
        f"({f.ingest_reps} rounds). `--quick` measures the same operations at "
        f"{q.sizes[0]:,} versions only, {q.rounds} rounds of fewer calls, {q.writers} writers "
        f"x {q.per_writer} calls ({q.conc_rounds} rounds), verification over "
        f"{q.verify_events:,} events ({q.verify_rounds} runs) and a {q.ingest_mb} MiB ingest; "
        "it skips the larger registries. Loading the million audit events takes about a "
        "minute per database, most of it encoding them."
    )
    w("")
    w(
        f"This page: `--{mode['name']}` run of {run['started']}, {run['duration_s'] / 60:.1f} "
        f"minutes, modelbook {vers.get('modelbook', '?')} "
        f"({mach.get('modelbook_commit', 'unknown commit')}), MLflow {vers.get('mlflow', '?')}."
    )
    if run.get("skipped"):
        w("")
        w("Not measured in this run: " + "; ".join(run["skipped"]) + ".")
    w("")
    w("## Machine")
    w("")
    w(
        f"- {mach.get('cpu', 'unknown CPU')}, {mach.get('cores')} cores, "
        f"{mach.get('memory_gib')} GiB memory; shared and noisy (other jobs run beside it)"
    )
    w(f"- {mach.get('os', '')}, Linux {mach.get('kernel', '')}; {mach.get('filesystem', '')}")
    w(f"- Python {mach.get('python')}, SQLite {mach.get('sqlite')}")
    if results.get("load"):
        ld = results["load"]
        w(
            f"- Load during the run (one-minute load average, sampled every 5 s): "
            f"{ld['start']:.1f} at the start, median {ld['median']:.1f}, highest "
            f"{ld['max']:.1f}, on {mach.get('cores')} cores: other jobs (test suites) ran "
            "beside it"
        )
    if "postgresql" in mach:
        w(
            f"- PostgreSQL {mach['postgresql']} on the same machine over TCP loopback: "
            f"fsync={mach.get('pg_fsync')}, "
            f"synchronous_commit={mach.get('pg_synchronous_commit')}, "
            f"wal_sync_method={mach.get('pg_wal_sync_method')}, "
            f"shared_buffers={mach.get('pg_shared_buffers')}"
        )
    w("")
    w("## Single operations")
    w("")
    w(
        "Latency in milliseconds, measured around the public call "
        "(`modelbook.Registry` / `mlflow.MlflowClient`), registries of 100 models."
    )
    w("")
    w(
        "| Operation | DB | Versions | modelbook p50 | p95 | MLflow call | MLflow p50 | p95 "
        "| Ratio p50 | Ratio p95 | Target | Result |"
    )
    w("|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|---|")
    for row in s["rows"]:
        op = OPS[row["op"]]
        if op.group == "release":
            continue
        mb = row.get("modelbook", {})
        ml = row.get("mlflow", {})
        w(
            f"| {op.title} | {DB_TITLE[row['db']]} | {fmt_size(row['size'])} "
            f"| {fmt_ms(mb.get('p50'))} | {fmt_ms(mb.get('p95'))} "
            f"| {_mlflow_call(op, ml)} "
            f"| {fmt_ms(ml.get('p50'))} | {fmt_ms(ml.get('p95'))} "
            f"| {_ratio(row.get('ratio_p50'))} | {_ratio(row.get('ratio_p95'))} "
            f"| {_target(row.get('target'))} | {verdict(row.get('met'))} |"
        )
    w("")
    if s["scale"]:
        w("## Search at scale (modelbook)")
        w("")
        w("| Search | DB | Versions | p95 | p95 at 10k | Growth | Target | Result |")
        w("|---|---|--:|--:|--:|--:|--:|---|")
        for x in s["scale"]:
            w(
                f"| {OPS[x['op']].title} | {DB_TITLE[x['db']]} | {fmt_size(x['size'])} "
                f"| {fmt_ms(x['p95'])} | {fmt_ms(x['p95_10k'])} | {x['ratio']:.2f}x "
                f"| ≤ {x['target']:.0f}x | {verdict(x['met'])} |"
            )
        w("")
    if PLOT.exists():
        w(f"![p95 search latency against registry size]({PLOT.relative_to(ROOT).as_posix()})")
        w("")
    if s["concurrency"]:
        conf = results["config"]
        w("## Concurrent registration")
        w("")
        w(
            f"{conf['writers']} processes register {conf['per_writer']} versions each of one "
            f"model at the same moment, {conf['conc_rounds']} rounds on a fresh database; "
            "throughput is successful registrations per second of wall time from the first "
            "start to the last finish, latencies are per call. Numbering is read back from the "
            "database: duplicates, numbers a writer was given that are not stored (lost), and "
            "gaps in 1..N."
        )
        w("")
        w(
            "| DB | System | Registrations/s | p50 ms | p99 ms | max ms | Errors "
            "| Duplicates | Lost | Gaps | Ratio | Target | Result |"
        )
        w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
        for e in s["concurrency"]:
            for name in ("modelbook", "mlflow"):
                x = e.get(name)
                if not x:
                    continue
                w(
                    f"| {DB_TITLE[e['db']]} | {'MLflow' if name == 'mlflow' else 'modelbook'} "
                    f"| {x['throughput']:,.0f} | {fmt_ms(x['p50'])} | {fmt_ms(x['p99'])} "
                    f"| {fmt_ms(x['max'])} | {x['errors']} | {x['duplicates']} | {x['lost']} "
                    f"| {x['gaps']} "
                    f"| {_ratio(e.get('ratio')) if name == 'modelbook' else ''} "
                    f"| {'≥ 5x, p99 < 50 ms' if name == 'modelbook' else ''} "
                    f"| {verdict(e.get('met')) if name == 'modelbook' else ''} |"
                )
        kinds = {
            f"{DB_TITLE[e['db']]} {n}": e[n]["error_kinds"]
            for e in s["concurrency"]
            for n in ("modelbook", "mlflow")
            if e.get(n) and e[n]["error_kinds"]
        }
        if kinds:
            w("")
            w("Errors seen:")
            for who, ks in kinds.items():
                for k, v in ks.items():
                    w(f"- {who}: {v} x `{k}`")
        w("")
    if s["ingest"]:
        g = s["ingest"]
        w("## Ingest of a large file")
        w("")
        w(
            f"Registering one {g['size_mb']} MiB file into a fresh registry (SQLite metadata, "
            "local blob folder on the same file system as the source), against this machine's "
            "floor measured in the same rounds: one read of the file through Python's "
            "`hashlib.sha256` plus one `cp`. The source is in the page cache for both; dirty "
            "pages are flushed (`sync`) before each timing. modelbook reads the file once, "
            "hashes each chunk on a second thread while writing the same bytes with direct I/O, "
            "and fsyncs the blob and its folder before it commits: its figure includes the data "
            "reaching the disk, while the floor's `cp` only reaches the page cache (the *floor + "
            "fsync* row adds that). On this machine (a Firecracker VM) filling fresh page-cache "
            "memory is slow and varies from round to round, which is what moves the floor's "
            "`cp` figure."
        )
        w("")
        w("| | seconds |")
        w("|---|--:|")
        w(f"| sha256 read | {g['hash_s']:.3f} |")
        w(f"| `cp` | {g['cp_s']:.3f} |")
        w(f"| floor: sha256 read + `cp` | {g['floor_s']:.3f} |")
        w(f"| floor + fsync of the copy | {g['floor_fsync_s']:.3f} |")
        w(f"| modelbook `register` | {g['modelbook_s']:.3f} |")
        w("")
        w(
            f"modelbook / floor: **{g['ratio']:.2f}x** (target ≤ 1.25x: {verdict(g['met'])}); "
            f"against the floor with fsync: {g['ratio_fsync']:.2f}x."
        )
        w("")
    release_section(results, w)
    w("## Targets")
    w("")
    for line in target_lines(s):
        w(f"- {line}")
    w("")
    w("## What each figure includes")
    w("")
    w(
        "- **Durability.** modelbook on SQLite runs in WAL mode with `synchronous=FULL`: a "
        "commit is on disk when it returns. MLflow on SQLite uses SQLite's defaults (rollback "
        "journal, `synchronous=FULL`). On PostgreSQL both commit with the server's settings "
        "listed above. Neither system's settings were changed."
    )
    w(
        "- **register**: modelbook's `Registry.register` stores and hashes a 4 KiB artifact "
        "(temporary file, fsync, rename, fsync of the folder), then in one transaction locks "
        "the model, reads the release policy, takes the next number, inserts the version row, "
        "its artifact, tags (3) and metrics (2) rows and an audit event chained to the model's "
        "last one (its RFC 8785 encoding, and sha256 over the previous event's hash and that "
        "encoding), moves the chain's head on the model row, and commits. MLflow's "
        "`create_model_version` only records a source "
        "path string: it reads and stores no file; one transaction inserts the version and its "
        "3 tag rows. *register, capturing the environment* is the same modelbook call with "
        "`capture_environment=True` (Python and package hashes, lockfile, `git status` of the "
        "working directory, which is a git checkout here); it has no MLflow counterpart. Both "
        "register into one model that grows during the run."
    )
    w(
        "- **floor** rows are this machine's cost of durability, measured beside modelbook in "
        "the same rounds without any registry code: *durable 4 KiB file* writes a file, fsyncs "
        "it, renames it and fsyncs its folder (what storing one small artifact requires); *one "
        "committed INSERT* is a one-row transaction through the bare driver on the same "
        "database with the same settings. A durable registration cannot cost less than the two "
        "together."
    )
    w(
        "- **resolve an alias / read one version**: one read of a version with its tags "
        "(`models:/NAME@champion` / `models:/NAME/N` through `Registry.resolve` and "
        "`Registry.get_version`), a random one of the 100 models and of its versions per call. "
        "modelbook runs the lookup as one statement on a connection the calling thread keeps "
        "(no pool checkout or liveness ping per call), and reuses the parsed frozen part of a "
        "version it has seen (its tags, stage and the aliases pointing at it, by a correlated "
        "subquery, are read every time)."
    )
    w(
        "- **set a version tag**: modelbook locks the version, upserts the changed tag row, "
        "rewrites the tag copy on the version row and appends a chained audit event (moving "
        "the chain's head on the model row), in one committed transaction. MLflow upserts "
        "one tag row."
    )
    w(
        "- **move an alias**: modelbook, in one committed transaction, locks the model, reads "
        "the release policy (is the alias a serving one?) and the actor's roles, points the "
        "alias at the other version, appends to the alias history (who, when, from, to, why) "
        "and appends a chained audit event. MLflow upserts the alias row; it keeps no history. "
        "Every call is a real move between two versions."
    )
    w(
        "- **search**: 100 rows are returned by every call (checked). *By one tag*: "
        "`dataset = ds-N`, which 10% of all versions carry, across all models. *By name and "
        "tag*: one model and `team`, which all of that model's versions carry. *By metric "
        "threshold*: `auc > 0.9`, 20% of versions; MLflow's model registry has no metrics on "
        "versions. modelbook returns newest registration first; MLflow its default order "
        "(last updated, name, version). Filter values change from call to call: the one-tag "
        "search cycles through 10 values, so from the 11th call on modelbook serves the parsed "
        "versions of a repeated result from its in-process cache of immutable versions (the "
        "16,384 most recently used); the name-and-tag search picks a random model each time "
        "and mostly misses that cache, so most of its calls parse and validate 100 versions."
    )
    w(
        "- Client objects are created once and reused, as an application or server would; "
        "the first calls of each operation are run untimed."
    )
    w("")
    w("## How the registries were seeded")
    w("")
    w(
        "Each system gets 100 models. Version 1 of every model is registered through the "
        "public API (`Registry.register` with tags and metrics; `create_registered_model` and "
        "`create_model_version` with tags). The remaining versions are bulk-loaded by "
        "replicating, for each new version, exactly the rows that registration wrote: for "
        "modelbook the version row (frozen document and tag copy), artifact, tag, metric rows "
        "and the `version.register` audit event (encoded and chained with the library's own "
        "`audit.canonical` and `audit.chain_hash`, each model's chain head stored on its row, "
        "so the log verifies); for MLflow the `model_versions` and "
        "`model_version_tags` rows; with new numbers, semantic versions, timestamps, tag and "
        "metric values. Version numbers are interleaved across models in registration order. "
        "Aliases are then set through the API. On PostgreSQL both databases get an `ANALYZE` "
        "after loading (what autovacuum does within a minute); SQLite files are left as loaded. "
        "Seeding times:"
    )
    w("")
    w("| DB | Versions | System | API calls (s) | replicated rows (s) |")
    w("|---|--:|---|--:|--:|")
    for x in results["seeding"]:
        w(
            f"| {DB_TITLE[x['db']]} | {x['versions']:,} | {SYSTEM_TITLE[x['system']]} "
            f"| {x['api_s']:.1f} "
            f"| {x['replicate_s']:.1f} |"
        )
    w("")
    w("## Method")
    w("")
    w(
        f"Each side runs in its own long-lived process (modelbook in the project's virtual "
        f"environment, MLflow in `bench/.venv-mlflow`); the orchestrator alternates them round "
        f"by round and swaps which one goes first, so that both see the same background load. "
        f"A round is {mode['point_calls']} calls of a single operation "
        f"({mode['search_calls']} for a search, cut short after {mode['search_budget_s']:g} s "
        f"but never below 5 calls); each round gives a p50 and a p95, and the page quotes the "
        f"median of those over {mode['rounds']} rounds. Targets are checked on p50 ratios."
    )
    w("")
    if SERVICE_NOTES.exists():
        w(SERVICE_NOTES.read_text().rstrip())
        w("")
    if PROFILE_NOTES.exists():
        w(PROFILE_NOTES.read_text().rstrip())
        w("")
    for section in kept_sections():
        w(section.rstrip())
        w("")
    return "\n".join(out)


def kept_sections() -> list[str]:
    """Sections of the current BENCHMARKS.md that other tools write (``KEPT_SECTIONS``)."""
    if not MARKDOWN.exists():
        return []
    found, current = [], None
    for line in MARKDOWN.read_text().splitlines():
        if line.startswith("## "):
            if current is not None:
                found.append("\n".join(current))
            current = [line] if line.strip() in KEPT_SECTIONS else None
        elif current is not None:
            current.append(line)
    if current is not None:
        found.append("\n".join(current))
    return found


def release_section(results: dict[str, Any], w: Any) -> None:
    """The release-flow, writers and audit-verification tables (modelbook only)."""
    s = results["summary"]
    mode = results["mode"]
    rel = [r for r in s["rows"] if OPS[r["op"]].group == "release" and "modelbook" in r]
    if rel:
        w("## Release flow")
        w("")
        w(
            "Latency in milliseconds around the public call (`Registry.promote`, "
            "`Registry.deploy`, `Registry.rollback`), in the process, in the registry of "
            f"{fmt_size(rel[0]['size'])} versions the single operations use, after they ran; "
            f"{mode['release_models']} models per operation. MLflow has no equivalent "
            "(its stages are deprecated, and it has no gates and no rollback)."
        )
        w("")
        w("| Operation | DB | p50 | p95 | p99 | Target | Result |")
        w("|---|---|--:|--:|--:|--:|---|")
        for row in rel:
            mb = row["modelbook"]
            limit = f"p50 < {row['limit_ms']:g} ms" if "limit_ms" in row else "-"
            w(
                f"| {row['title']} | {DB_TITLE[row['db']]} | {fmt_ms(mb['p50'])} "
                f"| {fmt_ms(mb['p95'])} | {fmt_ms(mb['p99'])} | {limit} "
                f"| {verdict(row.get('met'))} |"
            )
        w("")
        w(
            "- **promote through five checks**: a version in `staging` of a low-risk model, "
            "registered with its metrics by slice and its lineage and approved by a reviewer "
            "beforehand (untimed), is promoted to `candidate` through a gate of five checks: "
            "`metric` (two rules, one over every slice), `slice_gap` (by region), "
            "`lineage_complete` (commit, data, run id), `approvals` (one reviewer) and `expr` "
            "(a CEL expression over the version's metrics and tags). One transaction locks the "
            "version, reads the model, its aliases and the version's reviews and observations, "
            "runs the checks, stores the evaluation with its evidence and moves the stage, "
            "with two audit events."
        )
        w(
            "- **deploy**: `production` moves to the other of two approved versions of a "
            "model, through the (empty) `deployed` gate: the evaluation is recorded, the alias "
            "moves with its history row, the new version becomes `deployed` and the one left "
            "returns to `approved`; five audit events, one transaction."
        )
        w(
            "- **roll back**: before each call (untimed) a fresh approved version is deployed "
            "over the model's known-good one; the timed call reads the alias, walks its "
            "history for the most recent earlier holder that is approved and not deprecated, "
            "checks for health marks, moves `production` back, sets both stages, deprecates "
            "the version rolled back from and records the rollback: one transaction, six "
            "audit events."
        )
        w("")
    if s["writers"]:
        w("## Writers on one model and on eight")
        w("")
        w(
            f"Separate processes, each with its own `Registry`, on a fresh database, each "
            "warmed by one untimed registration and tag write on a model of its own (so that "
            "what a process loads on its first write is not measured here; the eight-writer "
            "test above keeps that cold start); "
            f"*one writer* makes all {mode['writers'] * mode['per_writer']} calls alone, "
            f"*{mode['writers']} writers, one model* share one model, *{mode['writers']} "
            f"writers, a model each* write to {mode['writers']} different models. Every call "
            "appends to its model's audit chain, whose head lives on the model's row. "
            "Throughput is successful calls per second of wall time; *vs one writer* divides "
            "it by the single writer's. *register*: a registration with a 4 KiB artifact; "
            "*tag*: a tag write on version 1 that changes a value. "
            f"Medians of {mode['conc_rounds']} rounds."
        )
        if results.get("writers_replaced"):
            x = results["writers_replaced"]
            w("")
            w(
                f"This table comes from a separate run, `bench/results/{x['from']}` (modelbook "
                f"{x['commit']}): {x['why']}; the first run's figures are kept in this run's "
                "results file under `writers_replaced`."
            )
        w("")
        w(
            "| DB | Call | Writers | Calls/s | vs one writer | p50 ms | p99 ms | Errors "
            "| Wrong numbers |"
        )
        w("|---|---|---|--:|--:|--:|--:|--:|--:|")
        layout_title = {
            "single": "one writer",
            "one": f"{mode['writers']} writers, one model",
            "own": f"{mode['writers']} writers, a model each",
        }
        for x in s["writers"]:
            wrong = str(x["wrong"]) if x["kind"] == "register" else "-"
            w(
                f"| {DB_TITLE[x['db']]} | {x['kind']} | {layout_title[x['layout']]} "
                f"| {x['throughput']:,.0f} | {x.get('vs_single', 0):.2f}x | {fmt_ms(x['p50'])} "
                f"| {fmt_ms(x['p99'])} | {x['errors']} | {wrong} |"
            )
        w("")
    if s["audit"]:
        w("## Audit verification")
        w("")
        w(
            "`Registry.verify_audit()` (what `modelbook audit verify` runs) over a log of "
            f"{s['audit'][0]['events']:,} events in a fresh registry: every chain re-read in "
            "order, every hash recomputed, every event's columns compared with its hashed "
            "encoding, every head checked, the head digest computed, and the state the events "
            "leave compared with the live tables. The log is a sample "
            "written through the API (registrations, tag writes and alias moves on 20 models), "
            "the rest bulk-loaded as rows modelled on the sample's events, encoded and chained "
            "with the library's own `audit.canonical` and `audit.chain_hash` and interleaved "
            f"across {mode['verify_models']:,} models' chains as concurrent writers would "
            "leave them (each version's registration, seven tag writes and an alias move), "
            "with the version, tag and alias rows those events describe; the log verifies "
            "before it is timed. "
            f"Medians of {mode['verify_rounds']} runs."
        )
        w("")
        w(
            "| DB | Events | Chains | Seconds | Events/s | Events per CPU second | Target "
            "| Result | Loading: API s | bulk s |"
        )
        w("|---|--:|--:|--:|--:|--:|--:|---|--:|--:|")
        for x in s["audit"]:
            per_cpu = f"{x['events_per_cpu_s']:,}" if x.get("events_per_cpu_s") else "-"
            w(
                f"| {DB_TITLE[x['db']]} | {x['events']:,} | {x['chains']:,} | {x['seconds']:.2f} "
                f"| {x['events_per_s']:,} | {per_cpu} | ≥ {x['target']:,} | {verdict(x['met'])} "
                f"| {x['seed']['api_s']:.1f} | {x['seed']['bulk_s']:.1f} |"
            )
        w("")
        w(
            "*Events/s* is the target's measure: events over wall-clock seconds. *Events per "
            "CPU second* divides by the CPU time of the verifying process alone (on PostgreSQL "
            "the server's work is not in it): what the code costs, whatever else the machine "
            "was running."
        )
        w("")


def target_lines(s: dict[str, Any]) -> list[str]:
    """One line per target of this run: what was asked, what was measured."""
    out = []
    for row in s["rows"]:
        if row.get("target") is None:
            continue
        out.append(
            f"{OPS[row['op']].title}, {DB_TITLE[row['db']]}, {fmt_size(row['size'])}: "
            f"speed-up over MLflow {row['ratio_p50']:.1f}x (target at least {row['target']:g}x): "
            f"{verdict(row['met'])}"
        )
    for row in s["rows"]:
        if row.get("limit_ms") is None:
            continue
        out.append(
            f"{OPS[row['op']].title}, {DB_TITLE[row['db']]}: p50 "
            f"{fmt_ms(row['modelbook']['p50'])} ms (target under {row['limit_ms']:g} ms): "
            f"{verdict(row['met'])}"
        )
    for x in s.get("audit", []):
        out.append(
            f"audit verify, {DB_TITLE[x['db']]}: {x['events_per_s']:,} events/s over "
            f"{x['events']:,} events (target at least {x['target']:,}): {verdict(x['met'])}"
        )
    for x in s["scale"]:
        out.append(
            f"{OPS[x['op']].title}, {DB_TITLE[x['db']]}, p95 at {fmt_size(x['size'])} is "
            f"{x['ratio']:.2f}x its p95 at 10k (target at most 2x): {verdict(x['met'])}"
        )
    for e in s["concurrency"]:
        if "ratio" in e:
            mb = e["modelbook"]
            out.append(
                f"concurrent registration, {DB_TITLE[e['db']]}: throughput {e['ratio']:.1f}x "
                f"MLflow's, p99 {fmt_ms(mb['p99'])} ms, {mb['errors']} errors, "
                f"{mb['duplicates'] + mb['lost'] + mb['gaps']} duplicate, lost or missing "
                f"numbers (target 5x, p99 under 50 ms, none wrong): {verdict(e['met'])}"
            )
    if s["ingest"]:
        g = s["ingest"]
        out.append(
            f"ingest of {g['size_mb']} MiB: {g['ratio']:.2f}x the sha256 + cp floor "
            f"(target at most 1.25x): {verdict(g['met'])}"
        )
    return out


def _mlflow_call(op: Op, measured: dict[str, Any]) -> str:
    if op.mlflow_call is None:
        return "no equivalent"
    return f"`{op.mlflow_call}`" if measured else "not measured"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f}x"


def _target(x: float | None) -> str:
    return "-" if x is None else f"≥ {x:g}x"


def write_outputs(results: dict[str, Any], write_md: bool) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results["summary"] = summary(results)
    text = json.dumps(results, indent=1, sort_keys=False)
    against = results.get("versus") == "before"
    name = f"{results['run']['id']}-{results['mode']['name']}{'-against' if against else ''}.json"
    (RESULTS / name).write_text(text + "\n")
    if not against:
        (RESULTS / "latest.json").write_text(text + "\n")
    log(f"results: {(RESULTS / name).relative_to(ROOT)}")
    if write_md:
        plot(results, PLOT)
        MARKDOWN.write_text(markdown(results))
        log(f"wrote {MARKDOWN.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")


# How much slower than before an operation may get: the service-layer issue allows
# 10%, the release-flow issue 15% for the writes that now append a chained event.
SLOWER_ALLOWED = {"register": 0.15, "set_tag": 0.15, "move_alias": 0.15}
SLOWER_DEFAULT = 0.10


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.0f}%"


def against_table(results: dict[str, Any]) -> str:
    """Before and after measured in the same rounds (``--against``): a markdown table."""
    s = summary(results)
    out = [
        "| Operation | DB | Before p50 ms | After p50 ms | Change | Before CPU us | "
        "After CPU us | CPU change | Allowed | Result |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for row in s["rows"]:
        if "change_p50" not in row:
            continue
        allowed = SLOWER_ALLOWED.get(row["op"], SLOWER_DEFAULT)
        b, a = row["before"], row["modelbook"]
        ok = row["change_p50"] <= allowed
        out.append(
            f"| {row['title']} | {DB_TITLE[row['db']]} | {fmt_ms(b['p50'])} | {fmt_ms(a['p50'])} "
            f"| {_pct(row['change_p50'])} | {b.get('cpu_us', '-')} | {a.get('cpu_us', '-')} "
            f"| {_pct(row.get('change_cpu'))} | ≤ +{allowed * 100:.0f}% "
            f"| {'within' if ok else '**slower**'} |"
        )
    by = {(x["db"], x["system"]): x for x in results.get("concurrency", [])}
    for db in DBS:
        a, b = by.get((db, "modelbook")), by.get((db, "before"))
        if not a or not b:
            continue
        ta = c.median(r["throughput"] for r in a["rounds"])
        tb = c.median(r["throughput"] for r in b["rounds"])
        change = tb / ta - 1
        out.append(
            f"| 8 writers, one model: registrations/s | {DB_TITLE[db]} | {tb:.0f} | {ta:.0f} "
            f"| {_pct(change)} | - | - | - | ≤ +{SLOWER_DEFAULT * 100:.0f}% "
            f"| {'within' if change <= SLOWER_DEFAULT else '**slower**'} |"
        )
    if results.get("ingest") and results.get("ingest_before"):
        ta = c.median(r["modelbook_s"] for r in results["ingest"]["rounds"])
        tb = c.median(r["modelbook_s"] for r in results["ingest_before"]["rounds"])
        change = ta / tb - 1
        out.append(
            f"| {results['ingest']['size_mb']} MiB ingest: seconds | SQLite | {tb:.3f} "
            f"| {ta:.3f} | {_pct(change)} | - | - | - | ≤ +{SLOWER_DEFAULT * 100:.0f}% "
            f"| {'within' if change <= SLOWER_DEFAULT else '**slower**'} |"
        )
    return "\n".join(out)


def compare(before: dict[str, Any], after: dict[str, Any]) -> str:
    """A markdown table of every figure with a target, before and after."""
    b, a = summary(before), summary(after)
    out = [
        "| Figure | DB | Versions | Before | Before: ratio | After | After: ratio | Target |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    old = {(r["db"], r["size"], r["op"]): r for r in b["rows"]}
    for row in a["rows"]:
        prev = old.get((row["db"], row["size"], row["op"]))
        if "target" not in row or prev is None or "ratio_p50" not in prev:
            continue
        out.append(
            f"| {row['title']} (p50 ms) | {DB_TITLE[row['db']]} | {fmt_size(row['size'])} "
            f"| {fmt_ms(prev['modelbook']['p50'])} | {_ratio(prev['ratio_p50'])} "
            f"| {fmt_ms(row['modelbook']['p50'])} | {_ratio(row['ratio_p50'])} "
            f"| ≥ {row['target']:g}x |"
        )
    conc_before = {x["db"]: x for x in b["concurrency"]}
    for x in a["concurrency"]:
        prev = conc_before.get(x["db"])
        if prev is None or "ratio" not in prev or "ratio" not in x:
            continue
        out.append(
            f"| 8 writers: registrations/s (p99 ms) | {DB_TITLE[x['db']]} | - "
            f"| {prev['modelbook']['throughput']:.0f} ({prev['modelbook']['p99']:.0f}) "
            f"| {_ratio(prev['ratio'])} "
            f"| {x['modelbook']['throughput']:.0f} ({x['modelbook']['p99']:.0f}) "
            f"| {_ratio(x['ratio'])} | ≥ 5x, p99 < 50 ms |"
        )
    if b["ingest"] and a["ingest"]:
        out.append(
            f"| 1 GiB ingest: seconds (÷ floor) | SQLite | - | {b['ingest']['modelbook_s']:.2f} "
            f"| {b['ingest']['ratio']:.2f}x | {a['ingest']['modelbook_s']:.2f} "
            f"| {a['ingest']['ratio']:.2f}x | ≤ 1.25x |"
        )
    return "\n".join(out)


def print_table(results: dict[str, Any]) -> None:
    s = results["summary"]
    print()
    print(f"{'operation':<34}{'db':<11}{'size':>6} {'mb p50':>9} {'mlf p50':>9} {'ratio':>8}  ")
    for row in s["rows"]:
        mb, ml = row.get("modelbook", {}), row.get("mlflow", {})
        print(
            f"{OPS[row['op']].title:<34}{row['db']:<11}{fmt_size(row['size']):>6} "
            f"{fmt_ms(mb.get('p50')):>9} {fmt_ms(ml.get('p50')):>9} "
            f"{_ratio(row.get('ratio_p50')):>8}  {verdict(row.get('met'))}"
        )
    for x in s["scale"]:
        print(
            f"scale {x['op']} {x['db']} {fmt_size(x['size'])}: p95 {fmt_ms(x['p95'])} vs "
            f"{fmt_ms(x['p95_10k'])} at 10k = {x['ratio']}x  {verdict(x['met'])}"
        )
    for e in s["concurrency"]:
        mb, ml = e.get("modelbook", {}), e.get("mlflow", {})
        print(
            f"concurrent {e['db']}: modelbook {mb.get('throughput')}/s p99 {mb.get('p99')} ms "
            f"errors {mb.get('errors')}; MLflow {ml.get('throughput')}/s p99 {ml.get('p99')} ms "
            f"errors {ml.get('errors')}; ratio {e.get('ratio')}  {verdict(e.get('met'))}"
        )
    if s["ingest"]:
        g = s["ingest"]
        print(
            f"ingest {g['size_mb']} MB: modelbook {g['modelbook_s']} s, floor {g['floor_s']} s "
            f"= {g['ratio']}x  {verdict(g['met'])}"
        )
    for x in s.get("writers", []):
        print(
            f"writers {x['db']} {x['kind']} {x['layout']}: {x['throughput']}/s "
            f"({x.get('vs_single', 0)}x one writer) p50 {x['p50']} p99 {x['p99']} ms "
            f"errors {x['errors']} wrong {x['wrong']}"
        )
    for x in s.get("audit", []):
        print(
            f"audit verify {x['db']}: {x['events']:,} events in {x['seconds']} s = "
            f"{x['events_per_s']:,}/s  {verdict(x['met'])}"
        )
    print()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="10k versions, fewer rounds (default)")
    g.add_argument("--full", action="store_true", help="10k, 100k and 1M versions")
    p.add_argument("--only", help=f"comma-separated parts: {','.join(GROUPS)}")
    p.add_argument("--db", choices=DBS, action="append", help="only this database (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep databases and files afterwards")
    p.add_argument("--budget-min", type=float, default=25.0, help="skip 1M versions after this")
    p.add_argument(
        "--against",
        metavar="DIR",
        help="instead of MLflow, measure modelbook as of the checkout DIR (its own "
        "bench/mb_side.py and src/) in the same rounds; prints before and after",
    )
    p.add_argument("--rounds", type=int, help="rounds per figure (default: the mode's)")
    p.add_argument(
        "--verify-events",
        type=int,
        metavar="N",
        help="events in the audit log that verify reads (default 1,000,000)",
    )
    md = p.add_mutually_exclusive_group()
    md.add_argument("--markdown", action="store_true", help="write BENCHMARKS.md (--full does)")
    md.add_argument("--no-markdown", action="store_true", help="leave BENCHMARKS.md alone")
    p.add_argument("--report", metavar="FILE", help="rebuild BENCHMARKS.md and the plot from FILE")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="print a markdown table of the targeted figures of two results files",
    )
    args = p.parse_args(argv)

    if args.compare:
        before, after = (json.loads(Path(f).read_text()) for f in args.compare)
        print(compare(before, after))
        return 0

    if args.report:
        results = json.loads(Path(args.report).read_text())
        if results.get("versus") == "before":
            print(against_table(results))
            return 0
        write_outputs(results, True)
        print_table(results)
        return 0

    mode = MODES["full" if args.full else "quick"]
    if args.verify_events:
        mode = replace(mode, verify_events=args.verify_events)
    if args.rounds:
        mode = replace(mode, rounds=args.rounds, conc_rounds=args.rounds)
    before_dir = Path(args.against).resolve() if args.against else None
    groups = set(GROUPS)
    if args.only:
        groups = {x.strip() for x in args.only.split(",") if x.strip()}
        unknown = groups - set(GROUPS)
        if unknown:
            p.error(
                f"unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(GROUPS)}"
            )
    dbs = list(dict.fromkeys(args.db or DBS))
    skipped = []
    if "postgresql" in dbs and not pg_reachable():
        log(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}: measuring SQLite only")
        dbs.remove("postgresql")
        skipped.append("PostgreSQL (not reachable)")
    write_md = args.markdown or (mode.name == "full" and not args.no_markdown)
    if before_dir is not None:
        # The earlier checkout's harness knows only the operations it had.
        groups &= {"register", "resolve", "read", "tag", "alias", "search", "concurrent", "ingest"}
        write_md = False
        if not (before_dir / "bench" / "mb_side.py").exists():
            p.error(f"{before_dir} has no bench/mb_side.py")

    install_s = 0.0 if before_dir is not None else ensure_mlflow_venv()
    bench = Bench(mode, groups, dbs, args.keep, before_dir)
    bench.budget_s = args.budget_min * 60
    bench.skipped += skipped
    machine_info = machine()
    log(f"--{mode.name}: {', '.join(sorted(groups))} on {', '.join(dbs)}")
    ok = False
    try:
        bench.run()
        ok = True
    finally:
        bench.databases.drop_all()
        if not args.keep and ok:
            shutil.rmtree(bench.run_dir, ignore_errors=True)
    results = {
        "run": {
            "id": bench.run_id,
            "started": datetime.fromtimestamp(bench.started, UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "duration_s": round(bench.elapsed(), 1),
            "mlflow_install_s": round(install_s, 1),
            "phases_s": bench.phases,
            "groups": sorted(groups),
            "dbs": dbs,
            "skipped": bench.skipped,
        },
        "mode": asdict(mode),
        "config": {
            "models": c.N_MODELS,
            "artifact_bytes": c.ARTIFACT_BYTES,
            "writers": mode.writers,
            "per_writer": mode.per_writer,
            "conc_rounds": mode.conc_rounds,
        },
        "machine": machine_info,
        "versions": bench.versions,
        "seeding": bench.seeding,
        "figures": bench.figures,
        "concurrency": bench.concurrency,
        "ingest": bench.ingest,
        "writers": bench.writers,
        "audit": bench.audit,
        "ingest_before": bench.ingest_before,
        "versus": "before" if before_dir else "mlflow",
        "before": None if before_dir is None else _checkout(before_dir),
        "load": bench.load.summary(),
    }
    write_outputs(results, write_md)
    if before_dir is not None:
        print(against_table(results))
    else:
        print_table(results)
    log(f"done in {bench.elapsed() / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
