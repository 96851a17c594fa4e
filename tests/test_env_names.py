"""Environment comparison by package identity: names in their PEP 503 form, versions
under PEP 440, and a version that recorded no environment never said to match
(drift, ``modelbook env-check``, ``predict --check-environment``, ``diff``)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelbook import Environment, Registry, capture, drift
from modelbook.contract import Runtime, Schema, Signature
from modelbook.contract_diff import diff_contracts
from modelbook.distributions import canonical_name, same_version

from .flavor_models import Echo
from .test_cli import CLI, cli, home  # noqa: F401 - fixtures

SKLEARN = capture.frameworks()["scikit-learn"]


def env(**kw: Any) -> Environment:
    return Environment.model_validate(kw)


def test_names_and_versions_are_compared_as_pip_does() -> None:
    assert canonical_name("Scikit_Learn") == canonical_name("scikit.learn") == "scikit-learn"
    assert same_version("1.4", "1.4.0") and same_version("2.0.0.0", "2")
    assert not same_version("1.4", "1.4.1") and not same_version("1.4", None)
    assert same_version("local-build", "local-build") and not same_version("a", "b")
    recorded = env(python="3.11", frameworks={"scikit_learn": "1.4", "NumPy": "2.0"})
    current = env(python="3.11.0", frameworks={"scikit-learn": "1.4.0", "numpy": "2.0.0"})
    report = drift.compare("models:/m/1", recorded, current)
    assert report.differences == () and report.status == "matches"
    moved = drift.compare(
        "models:/m/1", recorded, env(python="3.11.0", frameworks={"scikit-learn": "1.5.0"})
    )
    assert [(d.what, d.recorded, d.current, d.blocking) for d in moved.differences] == [
        ("NumPy", "2.0", None, True),
        ("scikit_learn", "1.4", "1.5.0", True),
    ]
    assert moved.status == "differs"


def test_nothing_recorded_is_not_a_match() -> None:
    report = drift.compare("models:/m/1", Environment(), capture.runtime())
    assert report.status == "not-recorded" and report.checked == ()
    assert "no environment recorded" in report.summary() and "matches" not in report.summary()


def _register(reg: Registry, tmp_path: Path, environment: Any, capture_env: bool) -> str:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(Echo()))
    v = reg.register(
        "m",
        [tmp_path / "m.pkl"],
        owners="o",
        sample=pd.DataFrame({"a": [1.0, 2.0]}),
        environment=environment,
        capture_environment=capture_env,
    )
    return v.uri


def test_env_check_of_a_version_without_an_environment(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
) -> None:
    reg = Registry(db_uri, blob_uri=str(tmp_path / "blobs"))
    try:
        uri = _register(reg, tmp_path, None, False)
        assert reg.env_check(uri).status == "not-recorded"
    finally:
        reg.close()
    base = ("--uri", db_uri, "--blob-uri", tmp_path / "blobs")
    run = cli(*base, "env-check", uri)
    assert run.code == 0 and "no environment recorded" in run.out and "matches" not in run.out
    assert cli(*base, "env-check", uri, "--json").json()["status"] == "not-recorded"


def test_a_framework_recorded_in_another_spelling_is_no_drift(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = Registry(db_uri, blob_uri=str(tmp_path / "blobs"))
    try:
        same = {"frameworks": {"Scikit_Learn": SKLEARN + ".0"}}
        uri = _register(reg, tmp_path, same, False)
        report = reg.env_check(uri)
        assert report.status == "matches" and report.differences == ()
        other = {"frameworks": {"scikit_learn": "0.1"}}
        old = reg.register(
            "m", [tmp_path / "m.pkl"], sample=pd.DataFrame({"a": [1.0]}),
            environment=other, capture_environment=False,
        )  # fmt: skip
        # diff lists packages the same way: another spelling of one version is no change
        respelled = reg.register(
            "m", [tmp_path / "m.pkl"], sample=pd.DataFrame({"a": [1.0]}),
            environment={"frameworks": {"scikit-learn": SKLEARN}}, capture_environment=False,
        )  # fmt: skip
        assert reg.diff(uri, respelled.uri).packages == ()
        changed = reg.diff(uri, old.uri).packages
        assert [(p.name, p.change, p.before, p.after) for p in changed] == [
            ("scikit_learn", "changed", SKLEARN + ".0", "0.1")
        ]
    finally:
        reg.close()
    base = ("--uri", db_uri, "--blob-uri", tmp_path / "blobs")
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(tmp_path / "in.csv", index=False)
    run = cli(*base, "predict", uri, "--input", tmp_path / "in.csv", "--check-environment")
    assert run.code == 0 and "warning" not in run.err, run
    run = cli(*base, "predict", old.uri, "--input", tmp_path / "in.csv", "--check-environment")
    assert (
        run.code == 0
        and f"warning: environment: scikit_learn: recorded 0.1, now {SKLEARN}" in run.err
    )
    monkeypatch.setenv("MODELBOOK_ENV_DRIFT", "refuse")
    run = cli(*base, "predict", old.uri, "--input", tmp_path / "in.csv", "--check-environment")
    assert run.code == 12 and "scikit_learn" in run.err and run.out == ""


def test_contract_runtime_names_the_same_framework_in_any_spelling() -> None:
    inputs = Schema.model_validate(
        {"kind": "dataframe", "fields": [{"name": "a", "dtype": "int64"}]}
    )
    a = Signature(inputs=inputs, runtime=Runtime(framework="scikit_learn", framework_version="1.4"))
    b = Signature(
        inputs=inputs, runtime=Runtime(framework="scikit-learn", framework_version="1.4.0")
    )
    assert diff_contracts(a, b).changes == ()
    c = Signature(inputs=inputs, runtime=Runtime(framework="torch", framework_version="1.4.0"))
    assert not diff_contracts(a, c).compatible
    assert json.loads(a.to_json())["runtime"]["framework"] == "scikit_learn"


def test_load_checking_the_environment_warns_that_none_was_recorded(
    registry: Registry, tmp_path: Path
) -> None:
    uri = _register(registry, tmp_path, None, False)
    with pytest.warns(drift.EnvironmentDriftWarning, match="no environment recorded"):
        predictor = registry.load(uri, check_environment=True)
    assert predictor.environment.status == "not-recorded"
