"""The quick-start demo runs end to end and leaves the registry it describes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from modelbook import Registry

ROOT = Path(__file__).resolve().parents[1]


def test_demo_flow(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "MODELBOOK_HOME": str(home), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "resolved models:/breast_cancer_classifier@production" in result.stdout

    registry = Registry(home=home)
    versions = registry.versions("breast_cancer_classifier").items
    assert [v.number for v in versions] == [2, 1]
    assert [v.semver for v in versions] == ["1.1.0", "1.0.0"]
    production = registry.resolve("models:/breast_cancer_classifier@production")
    assert production.number == 1, "the demo rolls production back to version 1"
    v2 = registry.get_version("models:/breast_cancer_classifier/2")
    assert v2.deprecated and v2.stage == "approved"
    assert production.stage == "deployed"
    assert v2.lineage.parents == ("breast_cancer_classifier/1",)
    change = v2.classification
    assert change is not None and change.method == "predictions", change
    assert change.predictions is not None and change.predictions.changed > 0
    assert "semver 1.1.0: MINOR change from models:/breast_cancer_classifier/1" in result.stdout
    assert production.lineage.data[0].snapshot.startswith("sklearn-breast-cancer@")
    assert production.environment.python and production.environment.packages_sha256
    assert "scikit-learn" in production.environment.frameworks
    slices = {m.key for m in production.metrics}
    assert {"auc@test", "auc@test{tumour_size=small}", "auc@test{tumour_size=large}"} <= slices
    assert v2.metric("auc", "test") > production.metric("auc", "test")  # type: ignore[operator]
    history = registry.alias_history("breast_cancer_classifier", "production")
    assert [(e.from_version, e.to_version) for e in history] == [(2, 1), (1, 2), (None, 1)]
    assert history[0].reason.startswith("rollback (kpi_drop)")
    assert registry.verify_audit().ok
    actions = [e.action for e in registry.events(model="breast_cancer_classifier").items]
    assert "version.rollback" in actions and "version.approve" in actions
    assert registry.verify().ok
    out = registry.download(production.uri, tmp_path / "dl")
    assert sorted(p.name for p in out.iterdir()) == ["_modelbook", "features.json", "model.joblib"]
    assert (out / "_modelbook" / "sample.parquet").is_file(), "the stored input sample"
    assert production.contract is not None, "a signature inferred from the sample"
    smoke = registry.annotations(production.uri).smoke_tests
    assert smoke and smoke[-1].passed, "the demo smoke-tests the version it serves"
