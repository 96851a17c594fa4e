"""pandas extension dtypes (nullable Int64, boolean, string, Float64, Arrow-backed,
sparse): read as the values they hold, nullable only when a value is missing, in
inference and in validation (registration, load, smoke; SQLite and PostgreSQL)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelbook import InvalidInput, Registry, infer_signature
from modelbook.contract import conformance

from .flavor_models import Echo

CASES: list[tuple[str, Any, Any, str]] = [
    ("Int8", [1, 2], [1, None], "int8"),
    ("Int64", [1, 2], [1, None], "int64"),
    ("UInt16", [1, 2], [1, None], "uint16"),
    ("Float32", [1.5, 2.0], [1.5, None], "float32"),
    ("Float64", [1.5, 2.0], [1.5, None], "float64"),
    ("boolean", [True, False], [True, None], "bool"),
    ("string", ["a", "b"], ["a", None], "string"),
    (pd.ArrowDtype(pa.int64()), [1, 2], [1, None], "int64"),
    (pd.ArrowDtype(pa.string()), ["a", "b"], ["a", None], "string"),
]


@pytest.mark.parametrize(("dtype", "full", "holed", "expected"), CASES, ids=str)
def test_inferred_as_the_values_they_hold(
    dtype: Any, full: list[Any], holed: list[Any], expected: str
) -> None:
    complete = pd.DataFrame({"c": pd.array(full, dtype=dtype)})
    field = infer_signature(complete).inputs.fields[0]
    assert (field.dtype, field.nullable) == (expected, False)
    missing = pd.DataFrame({"c": pd.array(holed, dtype=dtype)})
    field = infer_signature(missing).inputs.fields[0]
    assert (field.dtype, field.nullable) == (expected, True)
    # A plain column of the same values signs the same contract, and each matches it.
    plain = infer_signature(pd.DataFrame({"c": np.array(full)})).inputs
    assert conformance(plain, complete) == ()
    assert conformance(plain, missing) == (
        "c: has missing values; the signature says not nullable",
    )


def test_sparse_columns_are_their_stored_dtype() -> None:
    field = infer_signature(pd.DataFrame({"s": pd.arrays.SparseArray([1, 0, 0])})).inputs.fields[0]
    assert (field.dtype, field.nullable) == ("int64", False)


def test_registered_loaded_and_smoked_with_nullable_dtypes(
    registry: Registry, tmp_path: Path
) -> None:
    data = pd.DataFrame(
        {
            "x": pd.array([1.0, 2.0, 3.0], dtype="Float64"),
            "n": pd.array([1, 2, 3], dtype="Int64"),
            "b": pd.array([True, False, True], dtype="boolean"),
            "s": pd.array(["a", "b", "c"], dtype="string"),
        }
    )
    plain = pd.DataFrame({"x": [1.0, 2.0, 3.0], "n": [1, 2, 3], "b": [True, False, True],
                          "s": ["a", "b", "c"]})  # fmt: skip
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(Echo()))
    # a signature of plain columns, a sample of nullable ones without a missing value
    v = registry.register(
        "m", [tmp_path / "m.pkl"], owners="o", signature=infer_signature(plain),
        sample=data, capture_environment=False,
    )  # fmt: skip
    predictor = registry.load(v.uri)
    np.testing.assert_array_equal(np.asarray(predictor.predict(data), dtype=float), [1, 2, 3])
    holed = data.assign(n=pd.array([1, None, 3], dtype="Int64"))
    with pytest.raises(InvalidInput, match="n: has missing values"):
        predictor.predict(holed)
    smoke = registry.smoke(v.uri, timeout_s=120)
    assert smoke.passed, smoke.message
