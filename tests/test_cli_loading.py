"""The CLI of loading: predict, smoke and scan."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import joblib
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from .flavor_models import Chatty, Evil, Raises
from .test_cli import CLI, cli, home  # noqa: F401 - fixtures


def test_predict_smoke_and_scan(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    joblib.dump(model, tmp_path / "iris.joblib")
    X.to_csv(tmp_path / "inputs.csv", index=False)
    run = cli(
        "register",
        "iris",
        tmp_path / "iris.joblib",
        "--owner",
        "o",
        "--sample",
        tmp_path / "inputs.csv",
        "--no-capture",
    )
    assert run.code == 0, run
    run = cli("predict", "iris/1", "--input", tmp_path / "inputs.csv", "--json")
    assert run.code == 0, run
    got = json.loads(run.out)
    assert got["flavor"] == "sklearn" and got["outputs"] == model.predict(X).tolist()
    X.drop(columns=["petal width (cm)"]).to_csv(tmp_path / "bad.csv", index=False)
    run = cli("predict", "iris/1", "--input", tmp_path / "bad.csv")
    assert run.code == 6 and "petal width (cm)" in run.err
    run = cli("smoke", "iris/1", "--json")
    assert run.code == 0 and json.loads(run.out)["passed"], run
    run = cli("scan", "iris/1")
    assert run.code == 0 and "suspicious" in run.out


def test_a_dangerous_pickle_exits_11(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    marker = tmp_path / "PWNED"
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(Evil(str(marker))))
    pd.DataFrame({"a": [1.0]}).to_csv(tmp_path / "in.csv", index=False)
    assert cli("register", "evil", tmp_path / "m.pkl", "--owner", "o", "--no-capture").code == 0
    run = cli("predict", "evil/1", "--input", tmp_path / "in.csv")
    assert run.code == 11 and "posix.system" in run.err
    run = cli("scan", "evil/1", "--json")
    assert run.code == 11 and json.loads(run.out)["verdict"] == "dangerous"
    run = cli("smoke", "evil/1")
    assert run.code == 1 and "FAILED" in run.out
    assert not marker.exists()


def test_what_a_model_prints_goes_to_stderr(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    """predict --json prints one JSON document, whatever the model prints meanwhile."""
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Chatty()))
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(tmp_path / "in.csv", index=False)
    run = cli(
        "register", "chatty", tmp_path / "model.pkl", "--owner", "o",
        "--sample", tmp_path / "in.csv", "--no-capture",
    )  # fmt: skip
    assert run.code == 0, run
    run = cli("predict", "chatty/1", "--input", tmp_path / "in.csv", "--json")
    assert run.code == 0, run
    assert json.loads(run.out)["outputs"] == [1.0, 2.0]
    assert "predicting 2 rows" in run.err


def test_a_model_that_raises_is_named_not_reported_as_a_bug(
    cli: CLI,  # noqa: F811
    tmp_path: Path,
) -> None:
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Raises()))
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(tmp_path / "in.csv", index=False)
    run = cli(
        "register", "raises", tmp_path / "model.pkl", "--owner", "o",
        "--sample", tmp_path / "in.csv", "--no-capture",
    )  # fmt: skip
    assert run.code == 0, run
    run = cli("predict", "raises/1", "--input", tmp_path / "in.csv")
    assert run.code == 6, run
    assert "the model of models:/raises/1 raised" in run.err and "unexpected" not in run.err
