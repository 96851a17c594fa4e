"""Frames whose column labels are not text (0..n from a NumPy array) match their own
signature: a field is named by its label as text, and the model gets the frame's own
labels back (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from modelbook import Registry, infer_signature
from modelbook.contract import conformance

RNG = np.random.default_rng(0)
X = pd.DataFrame(RNG.random((20, 3)))  # columns 0, 1, 2


def test_a_frame_with_integer_labels_matches_its_signature() -> None:
    sig = infer_signature(X)
    assert sig.inputs.names == ("0", "1", "2")
    assert conformance(sig.inputs, X) == ()
    assert conformance(sig.inputs, X.rename(columns=str)) == ()
    series = pd.Series([1.0, 2.0], name=0)
    assert conformance(infer_signature(series).inputs, series) == ()
    assert conformance(sig.inputs, X.drop(columns=[1])) == ("missing column(s) 1",)


def test_load_predict_and_smoke_with_integer_labels(registry: Registry, tmp_path: Path) -> None:
    y = X[0] * 2 + X[2]
    model = LinearRegression().fit(X, y)
    joblib.dump(model, tmp_path / "m.joblib")
    sig = infer_signature(X, model.predict(X), model=model)
    v = registry.register(
        "m", [tmp_path / "m.joblib"], owners="o", signature=sig, sample=X, capture_environment=False
    )
    predictor = registry.load(v.uri)
    # the columns in another order are put back in the signature's order, by label
    out = predictor.predict(X[[2, 0, 1]])
    np.testing.assert_allclose(out, model.predict(X))
    assert predictor.output_problems(out) == ()
    smoke = registry.smoke(v.uri, timeout_s=120)
    assert smoke.passed, smoke.message
