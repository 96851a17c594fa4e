"""Environment drift: the pure comparison, its setting, Registry.env_check and
load(check_environment=True) on SQLite and PostgreSQL, and ``modelbook env-check``."""

from __future__ import annotations

import json
import platform
import warnings
from pathlib import Path
from typing import Any

import joblib
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from modelbook import Environment, EnvironmentDrift, InvalidInput, Registry, capture, drift

from .test_cli import CLI, cli, home  # noqa: F401 - fixtures

PY = platform.python_version()
SKLEARN = capture.frameworks()["scikit-learn"]


def env(**kw: Any) -> Environment:
    return Environment.model_validate(kw)


# the pure comparison -----------------------------------------------------------------------


def test_same_environment_has_no_differences() -> None:
    e = env(python="3.11.4", platform="linux-x86_64", frameworks={"numpy": "1.26.0"})
    report = drift.compare("models:/m/1", e, e)
    assert report.differences == () and not report.drifted
    assert "matches" in report.summary()
    assert report.unchecked == ("installed packages (sha256)", "image digest")


def test_python_minor_blocks_and_patch_is_advisory() -> None:
    rec = env(python="3.10.4")
    minor = drift.compare("u", rec, env(python="3.11.4"))
    assert minor.differences == (drift.Difference("python", "3.10.4", "3.11.4", True),)
    assert minor.drifted
    patch = drift.compare("u", rec, env(python="3.10.9"))
    assert patch.differences == (drift.Difference("python", "3.10.4", "3.10.9", False),)
    assert not patch.drifted
    assert "(advisory)" in patch.differences[0].line()


def test_frameworks_changed_or_missing_block_and_new_ones_do_not_count() -> None:
    rec = env(frameworks={"scikit-learn": "1.3.0", "xgboost": "2.0.0", "numpy": "1.26.0"})
    now = env(frameworks={"scikit-learn": "1.5.1", "numpy": "1.26.0", "torch": "2.3.0"})
    report = drift.compare("u", rec, now)
    assert report.differences == (
        drift.Difference("scikit-learn", "1.3.0", "1.5.1", True),
        drift.Difference("xgboost", "2.0.0", None, True),
    )
    assert report.differences[1].line() == "xgboost: recorded 2.0.0, now not installed"


def test_platform_packages_and_image_are_advisory() -> None:
    rec = env(platform="linux-x86_64", packages_sha256="a" * 64, image_digest="sha256:1")
    now = env(platform="darwin-arm64", packages_sha256="b" * 64, image_digest=None)
    report = drift.compare("u", rec, now)
    assert [d.what for d in report.differences] == [
        "platform",
        "installed packages (sha256)",
        "image digest",
    ]
    assert not report.drifted


def test_nothing_recorded_checks_nothing() -> None:
    report = drift.compare("u", env(), env(python="3.11.4", frameworks={"numpy": "2.0"}))
    assert report.differences == () and report.checked == ()
    assert "python" in report.unchecked and "frameworks" in report.unchecked


@pytest.mark.parametrize(
    ("raw", "mode"),
    [(None, "warn"), ("warn", "warn"), (" Refuse ", "refuse"), ("ignore", "ignore")],
)
def test_mode_setting(raw: str | None, mode: str) -> None:
    assert drift.mode_from({} if raw is None else {drift.ENV_DRIFT_ENV: raw}) == mode


def test_bad_mode_setting_is_refused() -> None:
    with pytest.raises(InvalidInput, match="MODELBOOK_ENV_DRIFT='strict': use warn"):
        drift.mode_from({drift.ENV_DRIFT_ENV: "strict"})


def test_refuse_only_under_refuse_and_only_when_blocking() -> None:
    drifted = drift.compare("u", env(python="3.9.1"), env(python="3.11.4"), "refuse")
    with pytest.raises(EnvironmentDrift, match=r"python: recorded 3\.9\.1, now 3\.11\.4") as err:
        drift.refuse_if_drifted(drifted)
    assert err.value.exit_code == 12
    drift.refuse_if_drifted(drift.compare("u", env(python="3.9.1"), env(python="3.11.4"), "warn"))
    advisory = drift.compare("u", env(platform="x"), env(platform="y"), "refuse")
    drift.refuse_if_drifted(advisory)


# through the registry ------------------------------------------------------------------------


def _iris(registry: Registry, tmp_path: Path, **environment: Any) -> str:
    X, y = load_iris(return_X_y=True, as_frame=True)
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path / "iris.joblib")
    v = registry.register(
        "iris",
        [tmp_path / "iris.joblib"],
        owners="o",
        capture_environment=False,
        environment=environment or None,
    )
    return v.uri


def test_env_check_lists_what_differs(registry: Registry, tmp_path: Path) -> None:
    uri = _iris(registry, tmp_path, python="3.8.0", frameworks={"scikit-learn": "0.24.2"})
    report = registry.env_check(uri)
    assert report.uri == uri and report.mode == "warn"
    assert report.differences == (
        drift.Difference("python", "3.8.0", PY, True),
        drift.Difference("scikit-learn", "0.24.2", SKLEARN, True),
    )


def test_load_checks_the_environment_by_mode(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = _iris(registry, tmp_path, python="3.8.0", frameworks={"scikit-learn": "0.24.2"})
    events_before = len(registry.events(model="iris").items)

    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "refuse")
    with pytest.raises(EnvironmentDrift, match=r"scikit-learn: recorded 0\.24\.2"):
        registry.load(uri, check_environment=True)
    # Refused before anything was fetched or scanned: nothing recorded.
    assert len(registry.events(model="iris").items) == events_before

    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "warn")
    with pytest.warns(drift.EnvironmentDriftWarning, match=r"python: recorded 3\.8\.0"):
        p = registry.load(uri, check_environment=True)
    assert p.environment is not None and p.environment.drifted

    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error", drift.EnvironmentDriftWarning)
        p = registry.load(uri, check_environment=True)
    assert p.environment is not None and p.environment.mode == "ignore"

    # Without check_environment nothing is compared, whatever the setting.
    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "refuse")
    assert registry.load(uri).environment is None


def test_matching_environment_loads_under_refuse(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = _iris(registry, tmp_path, python=PY, frameworks={"scikit-learn": SKLEARN})
    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "refuse")
    p = registry.load(uri, check_environment=True)
    assert p.environment is not None and p.environment.differences == ()


def test_bad_setting_refuses_the_load(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = _iris(registry, tmp_path, python="3.8.0")
    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "loud")
    with pytest.raises(InvalidInput, match="use warn, refuse or ignore"):
        registry.load(uri, check_environment=True)


# the command line ----------------------------------------------------------------------------


def _register_cli(cli: CLI, tmp_path: Path, python: str) -> None:  # noqa: F811
    X, y = load_iris(return_X_y=True, as_frame=True)
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), tmp_path / "iris.joblib")
    run = cli("register", "iris", tmp_path / "iris.joblib", "--owner", "o", "--no-capture")
    assert run.code == 0, run
    with Registry() as reg:
        reg.register(
            "iris",
            [tmp_path / "iris.joblib"],
            capture_environment=False,
            environment={"python": python, "frameworks": {"scikit-learn": SKLEARN}},
        )


def test_env_check_cli_exit_codes(
    cli: CLI,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _register_cli(cli, tmp_path, "2.7.18")
    run = cli("env-check", "iris/1")
    assert run.code == 0 and "not recorded, not checked: python" in run.out
    run = cli("env-check", "iris/2", "--json")
    got = json.loads(run.out)
    assert run.code == 0 and got["drifted"] and got["mode"] == "warn"
    assert got["differences"][0] == {
        "what": "python",
        "recorded": "2.7.18",
        "current": PY,
        "blocking": True,
    }
    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "refuse")
    run = cli("env-check", "iris/2")
    assert run.code == 12 and "python: recorded 2.7.18" in run.out
    assert "MODELBOOK_ENV_DRIFT=refuse" in run.err
    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "ignore")
    assert cli("env-check", "iris/2").code == 0
    monkeypatch.setenv(drift.ENV_DRIFT_ENV, "nope")
    assert cli("env-check", "iris/2").code == 6
    monkeypatch.delenv(drift.ENV_DRIFT_ENV)
    assert cli("env-check", "iris/9").code == 3
