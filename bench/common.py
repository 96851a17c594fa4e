"""Pieces shared by both sides of the benchmark (standard library only).

Both side scripts import this module: ``mb_side.py`` runs in the project's
virtual environment, ``mlflow_side.py`` in ``bench/.venv-mlflow``. Everything
that decides *what* is measured lives here, so that the two systems get the
same data, the same filters and the same sequence of targets.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

N_MODELS = 100
REGISTER_MODEL = "bench-register"
ALIAS_RESOLVED = "champion"
ALIAS_MOVED = "challenger"
OWNER = "bench"
ACTOR = "bench"
ARTIFACT_BYTES = 4096


# The data set ---------------------------------------------------------------------


def model_name(i: int) -> str:
    return f"bench-{i:03d}"


def _h(*parts: object) -> int:
    text = "/".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def version_tags(i: int, n: int) -> dict[str, str]:
    """Tags of version ``n`` of model ``i``.

    ``team`` is the same on every version of a model (a name-and-tag filter
    matches all versions of that model); ``dataset`` takes 10 values (a
    one-tag filter matches 10% of all versions); ``commit`` is unique.
    """
    return {
        "team": f"team-{i % 10}",
        "dataset": f"ds-{n % 10}",
        "commit": f"{_h('commit', i, n):016x}"[:12],
    }


def version_metrics(i: int, n: int) -> dict[str, float]:
    """``auc`` spread evenly over [0.5, 1.0): ``auc > 0.9`` matches 20% of versions."""
    auc = 0.5 + (_h("auc", i, n) % 10_000) / 20_000
    return {"auc": auc, "loss": round(1.0 - auc, 6)}


def source_uri(name: str, n: int) -> str:
    """Where the MLflow side says a version's files are (MLflow records only this)."""
    return f"file:///bench/artifacts/{name}/{n}"


def pick(k: int, salt: str, upper: int) -> int:
    """A deterministic pseudo-random integer in [0, upper) for call number ``k``."""
    return _h(salt, k) % upper


def tag_filter(k: int) -> tuple[str, str]:
    return "dataset", f"ds-{k % 10}"


def name_tag_filter(k: int) -> tuple[str, str, str]:
    i = pick(k, "name-tag", N_MODELS)
    return model_name(i), "team", f"team-{i % 10}"


def metric_filter(k: int) -> tuple[str, str, float]:
    return "auc", ">", 0.9


def alias_pair(i: int, per_model: int) -> tuple[int, int]:
    """The two versions the moved alias of model ``i`` alternates between."""
    a = 1 + pick(i, "alias-a", per_model)
    b = 1 + pick(i, "alias-b", per_model)
    if b == a:
        b = a % per_model + 1
    return a, b


def artifact_bytes(tag: str, k: int) -> bytes:
    """Distinct small artifact content for registration ``k``."""
    seed = hashlib.sha256(f"{tag}/{k}".encode()).digest()
    return (seed * (ARTIFACT_BYTES // len(seed) + 1))[:ARTIFACT_BYTES]


# Statistics -----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100) of unsorted values."""
    if not values:
        return math.nan
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(samples_ms),
        "p50": round(percentile(samples_ms, 50), 4),
        "p95": round(percentile(samples_ms, 95), 4),
        "p99": round(percentile(samples_ms, 99), 4),
        "mean": round(sum(samples_ms) / len(samples_ms), 4) if samples_ms else math.nan,
        "max": round(max(samples_ms), 4) if samples_ms else math.nan,
    }


def median(values: Iterable[float]) -> float:
    v = [x for x in values if x is not None and not math.isnan(x)]
    return percentile(v, 50) if v else math.nan


def timed(fn: Callable[[int], object], ks: Iterable[int]) -> list[float]:
    """Milliseconds of ``fn(k)`` for each ``k``."""
    out = []
    clock = time.perf_counter_ns
    for k in ks:
        t0 = clock()
        fn(k)
        out.append((clock() - t0) / 1e6)
    return out


def measure(
    fn: Callable[[int], object], k0: int, n: int, warm: int = 0, budget_s: float = 0
) -> dict[str, list[float]]:
    """Warm up with ``warm`` calls, then time ``n`` calls of ``fn(k)``.

    With a budget the round stops once it is spent, after at least 5 calls.
    """
    for k in range(k0 - warm, k0):
        fn(k)
    if budget_s:
        ms: list[float] = []
        deadline = time.perf_counter() + budget_s
        for k in range(k0, k0 + n):
            ms += timed(fn, [k])
            if len(ms) >= 5 and time.perf_counter() > deadline:
                break
    else:
        ms = timed(fn, range(k0, k0 + n))
    return {"ms": [round(x, 4) for x in ms]}


def measure_each(
    setup: Callable[[int], object], fn: Callable[[int], object], k0: int, n: int, warm: int = 0
) -> dict[str, list[float]]:
    """Like :func:`measure`, with an untimed ``setup(k)`` before every call ``fn(k)``
    (a rollback needs a fresh deployment to roll back from)."""
    ms = []
    clock = time.perf_counter_ns
    for k in range(k0 - warm, k0 + n):
        setup(k)
        t0 = clock()
        fn(k)
        if k >= k0:
            ms.append((clock() - t0) / 1e6)
    return {"ms": [round(x, 4) for x in ms]}


# Worker protocol ------------------------------------------------------------------


def serve(handler: object) -> None:
    """Answer JSON-line requests ``{"cmd": ..., "args": {...}}`` on stdin.

    Replies go to the original stdout; anything a library prints lands on
    stderr so it cannot corrupt the protocol.
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        cmd = req["cmd"]
        try:
            result = getattr(handler, cmd)(**req.get("args", {}))
            reply = {"ok": True, "result": result}
        except Exception as exc:  # noqa: BLE001 - reported to the orchestrator
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        proto.write(json.dumps(reply) + "\n")
        if cmd == "close":
            break


def writer_main(
    open_client: Callable[[], Any],
    register: Callable[[Any, str, int], int],
    warm: Callable[[Any], object] | None = None,
) -> None:
    """One concurrent writer process.

    Runs ``warm(client)`` if given (an untimed call that loads what the first
    write of a process loads), prints ``ready``, then for each ``go MODEL K0 N``
    line on stdin registers N versions of MODEL (calls K0..K0+N-1) and prints one
    JSON line with the latency of every successful call, the numbers it got, and
    its errors.
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    client = open_client()
    if warm is not None:
        warm(client)
    proto.write("ready\n")
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] != "go":
            break
        model, k0, n = parts[1], int(parts[2]), int(parts[3])
        lat: list[float] = []
        numbers: list[int] = []
        errors: dict[str, int] = {}
        t_start = time.time()
        for k in range(k0, k0 + n):
            t0 = time.perf_counter_ns()
            try:
                numbers.append(register(client, model, k))
            except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                kind = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                errors[kind] = errors.get(kind, 0) + 1
                continue
            lat.append((time.perf_counter_ns() - t0) / 1e6)
        t_end = time.time()
        proto.write(
            json.dumps(
                {
                    "lat_ms": [round(x, 3) for x in lat],
                    "numbers": numbers,
                    "errors": errors,
                    "t_start": t_start,
                    "t_end": t_end,
                }
            )
            + "\n"
        )


def run_writers(
    argv: list[str],
    n_writers: int,
    rounds: Sequence[tuple[str | Sequence[str], int]],
    cwd: str | None = None,
    k_base: int = 0,
) -> list[dict[str, Any]]:
    """Start ``n_writers`` processes of ``argv``; for each (model, per_writer) round
    release them at once and gather their reports. ``model`` is one name for every
    writer, or one name per writer; calls are numbered from ``k_base``."""
    import subprocess

    procs = [
        subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=cwd,
        )
        for _ in range(n_writers)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a writer process failed to start")
        out = []
        for r, (model, per_writer) in enumerate(rounds):
            names = [model] * n_writers if isinstance(model, str) else list(model)
            for w, p in enumerate(procs):
                assert p.stdin is not None
                k0 = k_base + (r * n_writers + w) * per_writer
                p.stdin.write(f"go {names[w]} {k0} {per_writer}\n")
                p.stdin.flush()
            reports = []
            for p in procs:
                assert p.stdout is not None
                reports.append(json.loads(p.stdout.readline()))
            for report, name in zip(reports, names, strict=True):
                report["model"] = name
            out.append(
                {
                    "model": model,
                    "reports": reports,
                }
            )
        return out
    finally:
        for p in procs:
            if p.stdin is not None:
                try:
                    p.stdin.write("stop\n")
                    p.stdin.close()
                except OSError:
                    pass
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def concurrency_stats(reports: Sequence[dict[str, Any]], stored: Sequence[int]) -> dict[str, Any]:
    """Throughput, latency, errors and numbering checks of one concurrent round."""
    lat = [x for r in reports for x in r["lat_ms"]]
    got = [n for r in reports for n in r["numbers"]]
    errors: dict[str, int] = {}
    for r in reports:
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    wall = max(r["t_end"] for r in reports) - min(r["t_start"] for r in reports)
    stored_set = set(stored)
    top = max(stored_set) if stored_set else 0
    return {
        "ok": len(got),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "wall_s": round(wall, 4),
        "throughput": round(len(got) / wall, 2) if wall > 0 else math.nan,
        "p50": round(percentile(lat, 50), 3),
        "p99": round(percentile(lat, 99), 3),
        "max": round(max(lat), 3) if lat else math.nan,
        "duplicates": len(got) - len(set(got)) + (len(stored) - len(stored_set)),
        "lost": len(set(got) - stored_set),
        "gaps": top - len(stored_set),
        "stored": len(stored_set),
    }


def writers_stats(
    reports: Sequence[dict[str, Any]], stored: Mapping[str, Sequence[int]] | None
) -> dict[str, Any]:
    """:func:`concurrency_stats` of writers on one or several models: throughput and
    latency over all of them, numbering checked model by model (``stored``: the numbers
    read back per model; None when the writes number nothing)."""
    out = concurrency_stats(reports, [])
    out.update(duplicates=0, lost=0, gaps=0, stored=0, models=len({r["model"] for r in reports}))
    for model, numbers in (stored or {}).items():
        mine = [r for r in reports if r["model"] == model]
        part = concurrency_stats(mine, numbers)
        for key in ("duplicates", "lost", "gaps", "stored"):
            out[key] += part[key]
    return out


# Direct database access for seeding and checks ----------------------------------


class RawDb:
    """A plain DB-API connection (sqlite3 or psycopg) in autocommit mode.

    Used only to replicate rows the public API wrote and to read numbering
    back after the concurrency test; never for a measured operation.
    """

    def __init__(self, kind: str, target: str) -> None:
        self.kind = kind
        if kind == "sqlite":
            import sqlite3

            self.conn: Any = sqlite3.connect(target, isolation_level=None, timeout=60)
        else:
            import psycopg

            self.conn = psycopg.connect(target, autocommit=True)

    def _sql(self, sql: str) -> str:
        return sql if self.kind == "sqlite" else sql.replace("?", "%s")

    def query(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), tuple(params))
        cols = [d[0] for d in cur.description]
        rows = [tuple(r) for r in cur.fetchall()]
        cur.close()
        return cols, rows

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.conn.cursor()
        cur.execute(self._sql(sql), tuple(params))
        cur.close()

    def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        collist = ", ".join(cols)
        if self.kind == "sqlite":
            marks = ", ".join("?" for _ in cols)
            self.conn.executemany(f"INSERT INTO {table} ({collist}) VALUES ({marks})", rows)
        else:
            with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({collist}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def analyze(self) -> None:
        """PostgreSQL only: what autovacuum does within a minute of a bulk load."""
        if self.kind == "postgresql":
            self.execute("ANALYZE")

    def close(self) -> None:
        self.conn.close()


def json_dumps_like(template: str, value: Any) -> str:
    """Serialise ``value`` the way ``template`` (a JSON text) was serialised."""
    for kw in (
        {"separators": (",", ":"), "sort_keys": True},
        {"sort_keys": True},
        {"separators": (",", ":")},
        {},
    ):
        if json.dumps(json.loads(template), **kw) == template:  # type: ignore[arg-type]
            return json.dumps(value, **kw)  # type: ignore[arg-type]
    raise ValueError(f"cannot reproduce the JSON layout of {template[:80]!r}")


def chunks(start: int, stop: int, size: int) -> Iterable[range]:
    for a in range(start, stop, size):
        yield range(a, min(a + size, stop))
