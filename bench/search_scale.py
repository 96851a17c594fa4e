"""Search latency over generated registries of 10k, 100k and 1M versions, against MLflow.

    .venv/bin/python bench/search_scale.py                  # 10k, 100k, 1M; both databases
    .venv/bin/python bench/search_scale.py --sizes 10000 --db sqlite --calls 20

For each database and size a fresh registry is loaded by ``gen_metadata.load`` (and,
at the ``--mlflow-sizes``, a fresh MLflow registry with the same models, versions,
tags and run ids, by ``search_scale_mlflow.py`` in ``bench/.venv-mlflow``); then each
search shape runs ``--calls`` calls per round, modelbook and MLflow alternating
round by round. Shapes go through ``Registry.search(query)`` where the checkout has
it, else through ``Registry.search_versions`` for the shapes it can express. Every
modelbook call starts with the in-process cache of parsed versions emptied
(untimed), so each call reads and parses its answer: the cost of a search that was
not just made. Where ``Registry.search`` takes ``fields``, the same call is timed again
with ``fields="summary"`` (no record read, no cache). Writes
``bench/results/<timestamp>-search-scale[-LABEL].json`` and prints a markdown table
of p50 and p95, MLflow's ratio, and growth from 10k.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import common as c  # noqa: E402
import gen_metadata as gen  # noqa: E402
import modelbook  # noqa: E402
import run  # noqa: E402
from catalogue import REGIONS, TASKS, Catalogue  # noqa: E402
from modelbook import Registry  # noqa: E402

PAGE = 100


@dataclass(frozen=True)
class Shape:
    key: str
    title: str
    # (query, order_by) of call k for Registry.search; None: not in the language.
    query: Callable[[Catalogue, int], tuple[str, str | None]]
    # Keyword arguments of Registry.search_versions for call k; None: not expressible.
    keywords: Callable[[Catalogue, int], dict[str, Any]] | None
    # MLflow's filter string for call k; None: MLflow cannot express it.
    mlflow: Callable[[Catalogue, int], str] | None


def _model(cat: Catalogue, k: int) -> str:
    return cat.models[c.pick(k, "scale-model", len(cat.models))].name


def _big_model(cat: Catalogue, k: int) -> str:
    """One of the ten models with the most versions."""
    biggest = sorted(range(len(cat.models)), key=lambda i: -cat.counts[i])[:10]
    return cat.models[biggest[c.pick(k, "scale-big", len(biggest))]].name


def _region(k: int) -> str:
    return REGIONS[k % len(REGIONS)][0]


def _run_id(cat: Catalogue, k: int) -> str:
    return str(cat.version(c.pick(k, "scale-run", cat.versions)).metadata["run_id"])


def _snapshot(cat: Catalogue, k: int) -> str:
    spec = cat.version(c.pick(k, "scale-snapshot", cat.versions))
    return str(spec.metadata["data"][0]["snapshot"])


def _prefix(k: int) -> str:
    task = TASKS[k % len(TASKS)]
    return f"{task}-"


SHAPES = (
    Shape(
        "one_tag",
        "one tag (`tags.region = R`, 4 values, 5-50%)",
        lambda cat, k: (f"tags.region = '{_region(k)}'", None),
        lambda cat, k: {"tags": {"region": _region(k)}},
        lambda cat, k: f"tags.region = '{_region(k)}'",
    ),
    Shape(
        "name_tag",
        "name and tag (`name = M and tags.region = 'eu'`)",
        lambda cat, k: (f"name = '{_model(cat, k)}' and tags.region = 'eu'", None),
        lambda cat, k: {"model": _model(cat, k), "tags": {"region": "eu"}},
        lambda cat, k: f"name = '{_model(cat, k)}' AND tags.region = 'eu'",
    ),
    Shape(
        "name_rare_tag",
        "name and a rare tag (`name = M and tags.experimental = 'true'`, M of the 10 biggest)",
        lambda cat, k: (f"name = '{_big_model(cat, k)}' and tags.experimental = 'true'", None),
        lambda cat, k: {"model": _big_model(cat, k), "tags": {"experimental": "true"}},
        lambda cat, k: f"name = '{_big_model(cat, k)}' AND tags.experimental = 'true'",
    ),
    Shape(
        "metric_order",
        "metric threshold, ordered (`metrics.auc@test >= 0.9`, by it desc)",
        lambda cat, k: ("metrics.auc@test >= 0.9", "metrics.auc@test desc"),
        lambda cat, k: {"metrics": [("auc@test", ">=", 0.9)]},
        None,
    ),
    Shape(
        "or_tags",
        "`or` of two tags (`tags.region = 'latam' or tags.experimental = 'true'`)",
        lambda cat, k: ("tags.region = 'latam' or tags.experimental = 'true'", None),
        None,
        None,
    ),
    Shape(
        "lineage_run",
        "lineage: run id (`run.id = X`, one version)",
        lambda cat, k: (f"run.id = '{_run_id(cat, k)}'", None),
        None,
        lambda cat, k: f"run_id = '{_run_id(cat, k)}'",
    ),
    Shape(
        "lineage_snapshot",
        "lineage: data snapshot (`data.snapshot = D`, a day's versions)",
        lambda cat, k: (f"data.snapshot = '{_snapshot(cat, k)}'", None),
        None,
        None,
    ),
    Shape(
        "like_prefix",
        "`like` prefix on the name (`name like 'fraud-%'`)",
        lambda cat, k: (f"name like '{_prefix(k)}%'", None),
        None,
        lambda cat, k: f"name LIKE '{_prefix(k)}%'",
    ),
)


class MlflowSide:
    """The MLflow worker (``search_scale_mlflow.py``), spoken to with JSON lines."""

    def __init__(self, log_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELBOOK_")}
        env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true", PYTHONUNBUFFERED="1")
        self._log = open(log_path, "a")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [str(run.mlflow_python()), str(BENCH / "search_scale_mlflow.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            env=env,
        )

    def call(self, cmd: str, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, "args": args}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or '{"ok": false, "error": "died"}')
        if not reply["ok"]:
            raise RuntimeError(f"mlflow {cmd}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        try:
            self.call("close")
        finally:
            self.proc.wait(timeout=30)
            self._log.close()


def _measure_mb(
    reg: Registry, cat: Catalogue, shape: Shape, ks: range, warm: int = 2
) -> dict[str, Any] | None:
    calls: list[Callable[[], Any]]
    summaries: list[Callable[[], Any]] | None = None
    if hasattr(reg, "search"):
        search = reg.search  # type: ignore[attr-defined]
        queries = [shape.query(cat, k) for k in range(ks.start - warm, ks.stop)]
        calls = [
            lambda q=q, o=o: search(q, order_by=o, limit=PAGE)  # type: ignore[misc]
            for q, o in queries
        ]
        if "fields" in inspect.signature(search).parameters:
            summaries = [
                lambda q=q, o=o: search(q, order_by=o, limit=PAGE, fields="summary")  # type: ignore[misc]
                for q, o in queries
            ]
        via = "Registry.search"
    elif shape.keywords is not None:
        keywords = [shape.keywords(cat, k) for k in range(ks.start - warm, ks.stop)]
        calls = [lambda kw=kw: reg.search_versions(**kw, limit=PAGE) for kw in keywords]
        via = "Registry.search_versions"
    else:
        return None
    for call in calls[:warm] + (summaries or [])[:warm]:
        call()
    ms, cpu_ms, warm_ms, summary_ms, rows = [], [], [], [], []
    clock, cpu = time.perf_counter_ns, time.process_time_ns
    for i, call in enumerate(calls[warm:], start=warm):
        # Untimed: an empty cache of parsed versions, so the call reads its answer,
        # and a full collection of what the harness left (the cache just dropped,
        # the page before), so the call's time is not a pass over the harness's
        # garbage. The call's own collections still count.
        reg.ctx.cache = type(reg.ctx.cache)()
        gc.collect()
        t0, c0 = clock(), cpu()
        page = call()
        t1, c1 = clock(), cpu()
        # The same call again: its versions now come from the process's cache.
        call()
        t2 = clock()
        ms.append(round((t1 - t0) / 1e6, 4))
        cpu_ms.append(round((c1 - c0) / 1e6, 4))
        warm_ms.append(round((t2 - t1) / 1e6, 4))
        rows.append(len(page.items))
        if summaries is not None:
            # Summaries read no record and use no cache: the same call, as a listing.
            gc.collect()
            t3 = clock()
            summary = summaries[i]()
            summary_ms.append(round((clock() - t3) / 1e6, 4))
            assert len(summary.items) == len(page.items)
    out = {"ms": ms, "cpu_ms": cpu_ms, "warm_ms": warm_ms, "rows": rows, "via": via}
    if summaries is not None:
        out["summary_ms"] = summary_ms
    return out


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(c.percentile(samples, 50), 4),
        "p95": round(c.percentile(samples, 95), 4),
        "n": len(samples),
    }


def bench_size(
    db: str,
    size: int,
    args: argparse.Namespace,
    databases: run.Databases,
    run_dir: Path,
    with_mlflow: bool,
) -> dict[str, Any]:
    cat = Catalogue(size, args.seed)
    out: dict[str, Any] = {"db": db, "versions": size, "models": len(cat.models), "shapes": {}}
    mb = databases.fresh("modelbook", db, f"scale{size}")
    ml = databases.fresh("mlflow", db, f"scale{size}") if with_mlflow else None
    side = MlflowSide(run_dir / f"mlflow-{db}-{size}.log") if ml else None
    try:
        t0 = time.perf_counter()
        with Registry(mb.uri, blob_uri=mb.blob_dir, actor="bench") as reg:
            out["load"] = gen.load(reg, mb.uri, cat, run_dir / "work", log=run.log)
            out["checked"] = gen.check(reg, cat, 50)
        run.log(f"  modelbook loaded in {time.perf_counter() - t0:.0f} s: {out['load']}")
        if side is not None and ml is not None:
            side.call("open", uri=ml.uri, raw_kind=ml.raw_kind, raw_target=ml.raw_target)
            out["mlflow_load"] = side.call("load", versions=size, seed=args.seed)
            run.log(f"  MLflow loaded: {out['mlflow_load']}")
        with Registry(mb.uri, blob_uri=mb.blob_dir, actor="bench") as reg:
            samples: dict[str, dict[str, list[float]]] = {
                s.key: {"modelbook": [], "mlflow": []} for s in args.selected
            }
            rows: dict[str, dict[str, list[int]]] = {
                s.key: {"modelbook": [], "mlflow": []} for s in args.selected
            }
            via: dict[str, str] = {}
            for r in range(args.rounds):
                for shape in args.selected:
                    ks = range(1000 + r * args.calls, 1000 + (r + 1) * args.calls)
                    order = ("modelbook", "mlflow") if r % 2 == 0 else ("mlflow", "modelbook")
                    for system in order:
                        res: dict[str, Any] | None
                        if system == "modelbook":
                            res = _measure_mb(reg, cat, shape, ks)
                            if res is not None:
                                via[shape.key] = res["via"]
                        elif side is not None and shape.mlflow is not None:
                            mlflow_filter = shape.mlflow
                            res = side.call("measure", filters=[mlflow_filter(cat, k) for k in ks])
                        else:
                            res = None
                        if res is not None:
                            samples[shape.key][system] += res["ms"]
                            rows[shape.key][system] += res["rows"]
                            for extra in ("cpu_ms", "warm_ms", "summary_ms"):
                                if extra in res:
                                    samples[shape.key].setdefault(extra, []).extend(res[extra])
                run.log(f"  {db} {size:,} round {r + 1}/{args.rounds} done")
        for shape in args.selected:
            entry: dict[str, Any] = {"via": via.get(shape.key)}
            for system in ("modelbook", "mlflow"):
                if samples[shape.key][system]:
                    entry[system] = _summary(samples[shape.key][system])
                    entry[system]["rows_mean"] = round(
                        sum(rows[shape.key][system]) / len(rows[shape.key][system]), 1
                    )
            for extra in ("cpu_ms", "warm_ms", "summary_ms"):
                if samples[shape.key].get(extra):
                    entry[extra] = _summary(samples[shape.key][extra])
            out["shapes"][shape.key] = entry
    finally:
        if side is not None:
            side.close()
        databases.drop(mb)
        if ml is not None:
            databases.drop(ml)
    return out


def table(results: dict[str, Any]) -> str:
    """Markdown: per shape, database and size, modelbook's p50 and p95 cold (and its CPU
    p50, p50 cached, and p50 and p95 of summaries), MLflow's, the ratios, and p95
    against the smallest size's."""
    lines = [
        "| Search | DB | Versions | Rows | Cold p50 | Cold p95 | CPU p50 | Cached p50 "
        "| Summary p50 | Summary p95 | MLflow p50 | MLflow p95 | Ratio p50 | Ratio p95 "
        "| Ratio cached p50 | Ratio summary p50 | Ratio summary p95 | p95 ÷ p95 at smallest |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    smallest = min(f["versions"] for f in results["figures"])
    base = {
        (f["db"], key): e["modelbook"]["p95"]
        for f in results["figures"]
        if f["versions"] == smallest
        for key, e in f["shapes"].items()
        if "modelbook" in e
    }
    order = {s.key: n for n, s in enumerate(SHAPES)}
    titles = {s.key: s.title.split(" (")[0] for s in SHAPES}
    for fig in results["figures"]:
        for key in sorted(fig["shapes"], key=lambda k: order.get(k, 99)):
            e = fig["shapes"][key]
            mb, ml = e.get("modelbook"), e.get("mlflow")
            if mb is None:
                continue
            warm, cpu, summ = e.get("warm_ms"), e.get("cpu_ms"), e.get("summary_ms")
            b = base.get((fig["db"], key))

            def n(x: float | None) -> str:
                return "-" if x is None else f"{x:.3g}"

            cells = [
                titles.get(key, key),
                "SQLite" if fig["db"] == "sqlite" else "PostgreSQL",
                f"{fig['versions']:,}",
                f"{mb['rows_mean']:g}",
                n(mb["p50"]),
                n(mb["p95"]),
                n(cpu["p50"] if cpu else None),
                n(warm["p50"] if warm else None),
                n(summ["p50"] if summ else None),
                n(summ["p95"] if summ else None),
                n(ml["p50"] if ml else None),
                n(ml["p95"] if ml else None),
                f"{ml['p50'] / mb['p50']:.1f}x" if ml else "-",
                f"{ml['p95'] / mb['p95']:.1f}x" if ml else "-",
                f"{ml['p50'] / warm['p50']:.1f}x" if ml and warm else "-",
                f"{ml['p50'] / summ['p50']:.1f}x" if ml and summ else "-",
                f"{ml['p95'] / summ['p95']:.1f}x" if ml and summ else "-",
                f"{mb['p95'] / b:.2f}x" if b and fig["versions"] != smallest else "-",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--mlflow-sizes", default="10000,100000")
    p.add_argument("--db", default="sqlite,postgresql")
    p.add_argument("--calls", type=int, default=30, help="calls per shape per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", default="")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    p.add_argument("--shapes", default="", help="comma-separated shape keys (default: all)")
    args = p.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    wanted = set(args.shapes.split(",")) - {""}
    unknown = wanted - {s.key for s in SHAPES}
    if unknown:
        p.error(f"unknown shapes {sorted(unknown)}; known: {[s.key for s in SHAPES]}")
    args.selected = tuple(s for s in SHAPES if not wanted or s.key in wanted)
    mlflow_sizes = {int(x) for x in args.mlflow_sizes.split(",") if x}
    if mlflow_sizes:
        run.ensure_mlflow_venv()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = run.WORK / f"{run_id}-scale"
    run_dir.mkdir(parents=True, exist_ok=True)
    databases = run.Databases(run_dir, run_id.lower(), args.keep)
    load = run.LoadSampler()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH
    ).stdout.strip()
    results: dict[str, Any] = {
        "run": {
            "id": run_id,
            "commit": commit,
            "modelbook": modelbook.__version__,
            "python": platform.python_version(),
            "seed": args.seed,
            "calls": args.calls,
            "rounds": args.rounds,
        },
        "figures": [],
    }
    started = time.time()
    try:
        for db in args.db.split(","):
            for size in sizes:
                run.log(f"{db}: {size:,} versions")
                fig = bench_size(db, size, args, databases, run_dir, size in mlflow_sizes)
                results["figures"].append(fig)
    finally:
        databases.drop_all()
        results["run"]["load"] = load.summary()
        results["run"]["minutes"] = round((time.time() - started) / 60, 1)
        name = f"{run_id}-search-scale{'-' + args.label if args.label else ''}.json"
        run.RESULTS.mkdir(exist_ok=True)
        (run.RESULTS / name).write_text(json.dumps(results, indent=1) + "\n")
        run.log(f"results: bench/results/{name}")
    print(table(results))


if __name__ == "__main__":
    main()
