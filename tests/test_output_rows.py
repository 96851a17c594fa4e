"""One output row per input row: a model that returns another count breaks its output
contract, in the smoke test, in load's predictor and in ``modelbook predict``
(SQLite and PostgreSQL)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelbook import Registry, infer_signature
from modelbook.flavors import output_problems

from .flavor_models import DropsARow
from .test_cli import CLI, cli, home  # noqa: F401 - fixtures

X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.2, 0.3]})


def _register(reg: Registry, tmp_path: Path, with_outputs: bool) -> str:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(DropsARow()))
    sig = infer_signature(X, np.array([1.0, 2.0, 3.0, 4.0]) if with_outputs else None)
    v = reg.register(
        "m", [tmp_path / "m.pkl"], owners="o", signature=sig, sample=X, capture_environment=False
    )
    return v.uri


def test_the_rule() -> None:
    assert output_problems(None, np.zeros(4), 4) == ()
    assert output_problems(None, np.zeros(3), 4) == (
        "4 input row(s) gave 3 output row(s): one per row expected",
    )
    assert output_problems(None, 1.5, 4) == (
        "4 input row(s) gave 1 output row(s): one per row expected",
    )
    assert output_problems(None, 1.5, 1) == () and output_problems(None, np.zeros(3)) == ()


@pytest.mark.parametrize("with_outputs", [True, False], ids=["outputs", "no-outputs"])
def test_a_smoke_test_fails_naming_the_counts(
    registry: Registry, tmp_path: Path, with_outputs: bool
) -> None:
    uri = _register(registry, tmp_path, with_outputs)
    result = registry.smoke(uri, timeout_s=60)
    assert not result.passed
    assert "4 input row(s) gave 3 output row(s)" in result.message, result.message
    assert registry.annotations(uri).smoke_tests[-1] == result


def test_the_loaded_predictor_and_predict_say_it(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
) -> None:
    blobs = tmp_path / "blobs"
    reg = Registry(db_uri, blob_uri=str(blobs))
    try:
        uri = _register(reg, tmp_path, True)
        predictor = reg.load(uri)
        out = predictor.predict(X)
        assert predictor.output_problems(out) == (
            "4 input row(s) gave 3 output row(s): one per row expected",
        )
        assert predictor.output_problems(out, rows=3) == ()
    finally:
        reg.close()
    X.to_csv(tmp_path / "in.csv", index=False)
    run = cli("--uri", db_uri, "--blob-uri", blobs, "predict", uri, "--input", tmp_path / "in.csv")
    assert run.code == 0 and "4 input row(s) gave 3 output row(s)" in run.err, run
