"""Start-up time of the ``modelbook`` command: wall time of ``modelbook resolve``.

Creates a SQLite registry in a temporary folder (one model, one version, the
alias ``champion``) through the command line itself, then runs
``modelbook resolve models:/m@champion`` repeatedly and prints the median,
minimum and 90th percentile wall time, and the median CPU time (user and
system), which other jobs on the machine disturb much less than wall time. The
first runs are warm-up (compiled bytecode, page cache) and are not counted.

``--importtime`` adds one run under ``python -X importtime`` and prints the
import time of each package (its modules' own time, summed), largest first:
what the command spends before it does any work.

    .venv/bin/python bench/cli_startup.py [--runs 21] [--importtime] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

TARGET_MS = 200.0
URI = "models:/m@champion"


def _env(home: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would have every run compile modelbook's modules
    # from source again: the warm-up runs are what write their bytecode.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MODELBOOK_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(MODELBOOK_HOME=str(home), MODELBOOK_USER="bench")
    return env


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def seed(exe: Path, home: Path) -> dict[str, str]:
    """A registry with model ``m``, version 1 and ``champion`` pointing at it."""
    env = _env(home)
    artifact = home.parent / "model.bin"
    artifact.write_bytes(os.urandom(4096))
    _run([str(exe), "register", "m", str(artifact), "--owner", "bench", "--no-capture"], env)
    _run([str(exe), "alias", "set", "m", "champion", "1", "--reason", "bench"], env)
    return env


def timed_runs(
    cmd: list[str], env: dict[str, str], runs: int, warmup: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) milliseconds of ``runs`` runs, after ``warmup``.

    CPU time is reported too because it hardly moves when other jobs share the
    machine, while wall time includes every wait for a core.
    """
    walls, cpus = [], []
    for i in range(warmup + runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        _run(cmd, env)
        wall = (time.perf_counter() - start) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i >= warmup:
            walls.append(wall)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpus.append(cpu * 1000)
    return walls, cpus


def _group(module: str) -> str:
    """The package an import is charged to: the top level, or modelbook's own modules."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "modelbook" else parts[0]


def import_breakdown(cmd: list[str], env: dict[str, str]) -> list[tuple[str, float]]:
    """Milliseconds of import per package in one run, largest first."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    per: dict[str, float] = defaultdict(float)
    for row in done.stderr.splitlines():
        if not row.startswith("import time:") or "self [us]" in row:
            continue
        self_us, _, name = row.removeprefix("import time:").split("|")
        per[_group(name.strip())] += int(self_us) / 1000
    return sorted(per.items(), key=lambda kv: -kv[1])


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": statistics.median(ordered),
        "min_ms": ordered[0],
        "p90_ms": ordered[max(0, round(0.9 * len(ordered)) - 1)],
        "runs": len(ordered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="counted runs (default 21)")
    parser.add_argument("--warmup", type=int, default=3, help="uncounted first runs (default 3)")
    parser.add_argument(
        "--exe",
        type=Path,
        default=Path(sys.executable).parent / "modelbook",
        help="the modelbook command (default: the one beside this Python)",
    )
    parser.add_argument("--importtime", action="store_true", help="print imports per package")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mb-cli-startup-") as tmp:
        env = seed(args.exe, Path(tmp) / "home")
        resolve = [str(args.exe), "resolve", URI]
        walls, cpus = timed_runs(resolve, env, args.runs, args.warmup)
        wall, cpu = summary(walls), summary(cpus)
        # The floor: starting the interpreter and importing nothing.
        floor = summary(timed_runs([sys.executable, "-c", "pass"], env, args.runs, 1)[0])
        imports = dict(import_breakdown(resolve, env)) if args.importtime else None
    load = os.getloadavg()[0]
    result = {
        "command": f"modelbook resolve {URI}",
        "resolve": wall,
        "resolve_cpu": cpu,
        "python": floor,
        "load_average": load,
        "imports_ms": imports,
    }

    if args.json:
        print(json.dumps(result, indent=2))
        return
    verdict = "met" if wall["median_ms"] < TARGET_MS else "missed"
    print(f"{result['command']}: {wall['runs']:.0f} runs")
    print(
        f"  median {wall['median_ms']:.0f} ms, min {wall['min_ms']:.0f} ms, "
        f"p90 {wall['p90_ms']:.0f} ms (target < {TARGET_MS:.0f} ms: {verdict})"
    )
    print(f"  CPU (user + system): median {cpu['median_ms']:.0f} ms")
    print(f"  python -c pass: median {floor['median_ms']:.0f} ms; load average {load:.1f}")
    if imports is not None:
        total = sum(imports.values())
        print(f"  imports, one run under -X importtime: {total:.0f} ms")
        for package, ms in list(imports.items())[:15]:
            print(f"    {ms:7.1f} ms  {package}")


if __name__ == "__main__":
    main()
