"""Time of ``Registry.load`` and ``Registry.scan`` of a scikit-learn random forest.

Fits ``RandomForestClassifier(trees)`` on scikit-learn's breast cancer set,
registers its joblib file in a SQLite registry in a temporary folder, then
loads and scans the version ``--calls`` times each and prints the medians in
milliseconds. ``--src`` runs another checkout's code (its ``src`` folder put
first on the path), so that two commits can be measured alternately on the
same machine:

    .venv/bin/python bench/load_scan.py [--trees 200] [--calls 7] [--src DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", type=int, default=200)
    p.add_argument("--calls", type=int, default=7)
    p.add_argument("--src", type=Path, help="a checkout whose src/ is measured")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.src is not None:
        sys.path.insert(0, str(args.src / "src"))

    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from modelbook import Registry

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(args.trees, random_state=0).fit(X, y)
    folder = Path(tempfile.mkdtemp(prefix="mb-load-"))
    path = folder / "model.joblib"
    joblib.dump(model, path)
    registry = Registry(f"sqlite:///{folder / 'r.db'}", blob_uri=str(folder / "b"), actor="b")
    uri = registry.register("rf", [path], owners="o", capture_environment=False).uri
    figures: dict[str, float] = {"file_mb": round(path.stat().st_size / 1e6, 3)}
    for name, call in (("load", registry.load), ("scan", registry.scan)):
        times = []
        for _ in range(args.calls):
            start = time.perf_counter()
            call(uri)
            times.append(time.perf_counter() - start)
        figures[f"{name}_p50_ms"] = round(statistics.median(times) * 1000, 1)
    registry.close()
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
