"""The CLI of loading: predict, smoke and scan."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

from .flavor_models import Chatty, Evil, NativeOutput, Raises, WrongOutput
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
    assert run.code == 9 and "FAILED" in run.out
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


def test_output_written_below_python_goes_to_stderr(
    cli: CLI,  # noqa: F811
    home: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """predict --json prints one JSON document, even when the model's C code writes to
    file descriptor 1 (``write(1, ...)``, buffered ``printf``) while it loads and predicts.
    Run as a process of its own: only there are descriptor 1 and C's buffers real."""
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(NativeOutput()))
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(tmp_path / "in.csv", index=False)
    run = cli(
        "register", "native", tmp_path / "model.pkl", "--owner", "o",
        "--sample", tmp_path / "in.csv", "--no-capture",
    )  # fmt: skip
    assert run.code == 0, run
    env = {
        # Without PYTHONUNBUFFERED C's stdout buffers, as it does for a user: the
        # buffered printf must not reach stdout when the buffer is flushed at exit.
        **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        "MODELBOOK_HOME": str(home),
        "MODELBOOK_USER": "carol",
        # The model's class is imported from the tests, as the smoke test's worker does.
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    for as_json in (True, False):
        # The model writes from its own __setstate__, which loading refuses unless allowed.
        args = ["predict", "native/1", "--input", str(tmp_path / "in.csv"), "--allow-unsafe"]
        done = subprocess.run(
            [sys.executable, "-m", "modelbook.cli", *args, *(["--json"] if as_json else [])],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done
        if as_json:
            assert json.loads(done.stdout)["outputs"] == [1.0, 2.0], done.stdout
        else:
            assert done.stdout.splitlines() == ["1.0", "2.0"], done.stdout
        for noise in ("while loading", "while predicting", "printf noise"):
            assert noise not in done.stdout and noise in done.stderr, (noise, done)
    # The smoke test's worker keeps it out of the result as well.
    run = cli("smoke", "native/1", "--json", "--allow-unsafe")
    assert run.code == 0 and json.loads(run.out)["passed"], run


def test_a_failed_smoke_test_exits_9_not_1(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    """1 is a bug of modelbook's; a model that fails its smoke test is a check that failed."""
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(WrongOutput()))
    pd.DataFrame({"x": [1.0, 2.0, 3.0]}).to_csv(tmp_path / "in.csv", index=False)
    run = cli(
        "register", "wrong", tmp_path / "model.pkl", "--owner", "o",
        "--sample", tmp_path / "in.csv", "--no-capture",
    )  # fmt: skip
    assert run.code == 0, run
    run = cli("smoke", "wrong/1")
    assert run.code == 9 and "FAILED" in run.out and "output row(s)" in run.out, run
    run = cli("smoke", "wrong/1", "--json")
    assert run.code == 9 and not json.loads(run.out)["passed"], run
