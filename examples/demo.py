"""End-to-end tour of modelbook on the embedded registry (SQLite and a folder).

Trains a scikit-learn classifier on the breast-cancer data set that
scikit-learn ships and registers it as version 1 with metrics (global and by
slice), lineage and environment; retrains it as version 2. Each version is
promoted through the default policy's gates, approved by a reviewer and
deployed to ``production`` by a deployer. When version 2's online metric
drops, one call rolls ``production`` back to the last known-good version with
a reason code and an incident note. The tour ends with the audit trail and its
verification, then resolves ``models:/NAME@production``, downloads the
verified files, loads the model and predicts.

The registry lives in ``$MODELBOOK_HOME`` when set, else in ``./.modelbook-demo``
(recreated on every run so the tour always starts from an empty registry).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from modelbook import Registry, Version
from modelbook.capture import code as capture_code

MODEL = "breast_cancer_classifier"
SEED = 42
console = Console(soft_wrap=True)


def registry_home() -> Path:
    if os.environ.get("MODELBOOK_HOME"):
        return Path(os.environ["MODELBOOK_HOME"])
    home = Path.cwd() / ".modelbook-demo"
    shutil.rmtree(home, ignore_errors=True)
    return home


def load_data() -> tuple[np.ndarray, np.ndarray, list[str], str]:
    data = load_breast_cancer()
    digest = hashlib.sha256(data.data.tobytes() + data.target.tobytes()).hexdigest()
    return data.data, data.target, list(data.feature_names), digest


def evaluate(model: object, x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> dict[str, float]:
    """Global metrics on the test split, and AUC by tumour-size slice."""
    proba = model.predict_proba(x)[:, 1]  # type: ignore[attr-defined]
    metrics = {
        "accuracy@test": accuracy_score(y, proba > 0.5),
        "auc@test": roc_auc_score(y, proba),
    }
    cut = float(np.median(radius))
    for name, mask in (("small", radius <= cut), ("large", radius > cut)):
        if len(set(y[mask])) == 2:
            metrics[f"auc@test{{tumour_size={name}}}"] = roc_auc_score(y[mask], proba[mask])
    return {k: round(float(v), 4) for k, v in metrics.items()}


def package(model: object, features: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    (folder / "features.json").write_text(json.dumps(features, indent=2))
    return folder


def show(version: Version) -> None:
    table = Table(title=f"{version.uri}  (semver {version.semver}, stage {version.stage})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for m in version.metrics:
        table.add_row(m.key, f"{m.value:.4f}")
    console.print(table)
    for a in version.artifacts:
        console.print(f"  {a.path:<16} {a.size:>8} bytes  sha256 {a.sha256[:16]}…")
    change = version.classification
    if change is not None and change.bump is not None:
        # The semver comes from evidence: the contract diff and the predictions on
        # the parent's stored sample.
        console.print(
            f"  semver {version.semver}: {change.bump.value.upper()} change from "
            f"{change.parent}: {'; '.join(change.reasons)}"
        )


def main() -> int:
    home = registry_home()
    registry = Registry(home=home, actor="demo-trainer")
    console.rule(f"modelbook demo — registry at {home}")

    x, y, features, data_hash = load_data()
    snapshot = f"sklearn-breast-cancer@{data_hash[:12]}"
    radius_col = features.index("mean radius")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y
    )
    work = Path(tempfile.mkdtemp(prefix="modelbook-demo-"))

    # Version 1: a shallow decision tree as the baseline.
    start = time.perf_counter()
    v1_model = DecisionTreeClassifier(max_depth=2, random_state=SEED)
    v1_model.fit(x_train, y_train)
    # The training code is this script: its repository and commit are the lineage.
    code = capture_code(Path(__file__).resolve().parent)
    v1 = registry.register(
        MODEL,
        package(v1_model, features, work / "v1"),
        code=code,
        owners=["ml-platform@example.com"],
        task="binary-classification",
        risk_tier="medium",
        description="Flags malignant tumours from 30 cell-nucleus measurements.",
        metrics=evaluate(v1_model, x_test, y_test, x_test[:, radius_col]),
        params={"estimator": "DecisionTreeClassifier", "max_depth": 2},
        seed=SEED,
        duration_seconds=round(time.perf_counter() - start, 3),
        data=[snapshot],
        features="breast_cancer_nuclei@1",
        run_id="demo-run-1",
        # The first rows of the test set: the input signature is inferred from them,
        # and smoke tests and rollback drills predict on them.
        sample=x_test[:100],
        tags={"framework": "scikit-learn", "region": "global"},
        change_summary="First release: decision-tree baseline.",
        caveats=["Trained on 569 samples from one clinic; not validated on other populations."],
    )
    console.print(f"[green]registered[/] {v1.uri}")
    show(v1)

    # Version 2: a scaled logistic regression, with version 1 as its parent.
    start = time.perf_counter()
    v2_model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    v2_model.fit(x_train, y_train)
    v2 = registry.register(
        MODEL,
        package(v2_model, features, work / "v2"),
        code=code,
        metrics=evaluate(v2_model, x_test, y_test, x_test[:, radius_col]),
        params={"estimator": "LogisticRegression", "C": 1.0, "max_iter": 1000},
        seed=SEED,
        duration_seconds=round(time.perf_counter() - start, 3),
        data=[snapshot],
        features="breast_cancer_nuclei@1",
        run_id="demo-run-2",
        sample=x_test[:100],
        parents=[v1.uri],
        tags={"framework": "scikit-learn", "region": "global"},
        change_summary="Logistic regression on scaled features; same data snapshot.",
    )
    console.print(f"[green]registered[/] {v2.uri}")
    show(v2)

    # Roles: whoever created the registry is its first admin; it grants the others.
    registry.grant_role("dr-reviewer", "reviewer")
    registry.grant_role("ops-deployer", "deployer")

    # Release flow: objective checks run on promotion, a reviewer approves,
    # a deployer points production at the version. Nothing is rebuilt.
    for version in (v1, v2):
        promoted = registry.promote(version.uri, auto=True, comment="CI: checks passed")
        for outcome in promoted.outcomes:
            for r in outcome.results:
                mark = "pass" if r.passed else ("FAIL" if r.required else "advisory")
                console.print(f"  gate {outcome.target_stage:<9} {r.check:<16} {mark}: {r.message}")
        approved = registry.approve(
            version.uri, comment="Reviewed metrics by slice and caveats.", actor="dr-reviewer"
        )
        console.print(f"approved {version.uri}: stage {approved.version.stage}")
        auc = version.metric("auc", "test")
        registry.deploy(version.uri, reason=f"test AUC {auc}", actor="ops-deployer")
        console.print(f"[green]deployed[/] {version.uri} to production")
        if version is v1:
            registry.mark_healthy(
                v1.uri, signal="a week at baseline error rate", actor="ops-deployer"
            )

    # Rollback drill in quiet hours: proves the target is ready, moves nothing.
    drill = registry.drill(MODEL, actor="ops-deployer")
    console.print(
        f"drill: production would roll back to version {drill.to_version} "
        f"({'ready' if drill.ready else 'NOT ready'}): {'; '.join(drill.checks)}"
    )

    # Monitoring sees a drop: one call rolls production back, with a reason code.
    registry.observe(v2.uri, "recall@online", 0.81, source="monitoring", actor="ops-deployer")
    rollback = registry.rollback(
        MODEL,
        reason_code="kpi_drop",
        note="Online recall fell from 0.94 to 0.81 after the v2 rollout.",
        actor="ops-deployer",
    )
    console.print(
        f"[yellow]rolled back[/] production {rollback.from_version} -> {rollback.to_version}: "
        f"{rollback.why}"
    )
    for event in reversed(registry.alias_history(MODEL, "production")):
        console.print(
            f"  @production {event.from_version or '-'} -> {event.to_version} "
            f"by {event.actor}: {event.reason}"
        )

    # The audit trail answers who, what, when and why, and proves it was not edited.
    for event in reversed(registry.events(model=MODEL, limit=12).items):
        console.print(
            f"  {event.at:%H:%M:%S} {event.actor:<13} {event.action:<17} {event.subject}"
            + (f"  ({event.reason})" if event.reason else ""),
            markup=False,
        )
    audit = registry.verify_audit()
    console.print(f"audit: {audit.events} events, chains intact: {audit.ok}; head {audit.head}")

    uri = f"models:/{MODEL}@production"
    resolved = registry.resolve(uri)
    console.print(f"resolved {uri} -> {resolved.model}/{resolved.number}")

    dest = registry.download(uri, work / "serving")
    console.print(f"downloaded the verified files of {uri} to {dest}")
    # Loading scans the pickle first and checks inputs against the signature.
    predictions = registry.load(uri).predict(x_test)
    accuracy = accuracy_score(y_test, predictions)
    console.print(
        f"loaded {uri}: predicts {int(predictions.sum())} malignant of {len(predictions)} "
        f"(accuracy {accuracy:.3f})"
    )
    smoke = registry.smoke(uri)
    console.print(
        f"smoke test in a fresh process: {'passed' if smoke.passed else 'FAILED'} "
        f"({smoke.rows} rows, load {smoke.load_ms or 0:.0f} ms, "
        f"predict {smoke.predict_ms or 0:.1f} ms)"
    )

    report = registry.verify()
    console.print(f"verify: {report.files} files, {'OK' if report.ok else 'PROBLEMS'}")
    registry.close()
    shutil.rmtree(work, ignore_errors=True)
    ok = report.ok and audit.ok and smoke.passed and resolved.number == v1.number
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
