"""Signatures as pure values: inference from every kind of input, the JSON form, the
contract diff's rules, a sample's conformance, and the sample's Parquet round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.datasets import load_breast_cancer

from modelbook import InvalidInput, Signature, diff_contracts, infer_signature
from modelbook import sample as samples
from modelbook.contract import FieldSpec, Schema, as_signature, conformance, parse_signature
from tests.flavor_models import cancer_classifier


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    data = load_breast_cancer(as_frame=True)
    return data.data, data.target


def fields(sig_or_schema: Signature | Schema) -> list[tuple[str, str, tuple[int, ...], bool]]:
    schema = sig_or_schema.inputs if isinstance(sig_or_schema, Signature) else sig_or_schema
    return [(f.name, f.dtype, f.shape, f.nullable) for f in schema.fields]


# inference ----------------------------------------------------------------------------


def test_a_real_dataframe_and_model(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    X, y = cancer
    model = cancer_classifier(X, y)
    sig = infer_signature(X, model.predict(X), model=model)
    assert sig.inputs.kind == "dataframe" and len(sig.inputs.fields) == 30
    assert fields(sig)[0] == ("mean radius", "float64", (-1,), False)
    assert sig.outputs is not None and sig.outputs.kind == "ndarray"
    assert fields(sig.outputs) == [("array", "int64", (-1,), False)]
    import sklearn

    assert sig.runtime.framework == "scikit-learn"
    assert sig.runtime.framework_version == sklearn.__version__
    proba = infer_signature(X, model.predict_proba(X)).outputs
    assert proba is not None and fields(proba) == [("array", "float64", (-1, 2), False)]


def test_dataframe_dtypes_and_nullability() -> None:
    df = pd.DataFrame(
        {
            "age": [31, 45, 28],
            "income": [1.5, np.nan, 2.0],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "flag": [True, False, True],
            "city": ["Oslo", None, "Rome"],
            "grade": pd.Categorical(["a", "b", "a"]),
            "when": pd.to_datetime(["2026-01-01", "2026-02-01", None]),
            "small": np.array([1, 2, 3], dtype=np.int32),
        }
    )
    assert fields(infer_signature(df)) == [
        ("age", "int64", (-1,), False),
        ("income", "float64", (-1,), True),
        ("n", "int64", (-1,), True),
        ("flag", "bool", (-1,), False),
        ("city", "string", (-1,), True),
        ("grade", "category", (-1,), False),
        ("when", "datetime", (-1,), True),
        ("small", "int32", (-1,), False),
    ]


def test_series_arrays_records_and_scalars() -> None:
    assert fields(infer_signature(pd.Series([1.0, None], name="score"))) == [
        ("score", "float64", (-1,), True)
    ]
    assert infer_signature(pd.Series(["a"])).inputs.kind == "series"
    assert fields(infer_signature(np.zeros((4, 2, 3), dtype=np.float32))) == [
        ("array", "float32", (-1, 2, 3), False)
    ]
    assert fields(infer_signature(np.array([1.0, np.nan]))) == [("array", "float64", (-1,), True)]
    assert fields(infer_signature(np.array(["a", None], dtype=object))) == [
        ("array", "string", (-1,), True)
    ]
    records = [
        {"user": "u1", "clicks": 3, "ctr": 0.1, "tags": [1, 2]},
        {"user": "u2", "clicks": 2.5, "tags": [3, 4]},
        {"user": None, "clicks": 1, "ctr": 0.3, "tags": None},
    ]
    assert fields(infer_signature(records)) == [
        ("user", "string", (-1,), True),
        ("clicks", "float64", (-1,), False),
        ("ctr", "float64", (-1,), True),  # missing from a row: nullable
        ("tags", "int64", (-1, 2), True),
    ]
    assert infer_signature(records).inputs.kind == "records"
    for value, dtype, null in (
        (3, "int64", False),
        (2.5, "float64", False),
        (float("nan"), "float64", True),
        ("text", "string", False),
        (True, "bool", False),
        (np.float32(1.5), "float32", False),
        (np.array(7), "int64", False),
    ):
        sig = infer_signature(value)
        assert sig.inputs.kind == "scalar" and fields(sig) == [("value", dtype, (), null)], value


def test_runtime_given_or_read_from_the_installed_package() -> None:
    sig = infer_signature([{"a": 1}], framework="numpy")
    assert sig.runtime.framework == "numpy" and sig.runtime.framework_version == np.__version__
    sig = infer_signature([{"a": 1}], framework="scikit-learn", framework_version="1.4.2")
    assert sig.runtime.framework_version == "1.4.2"
    assert infer_signature([{"a": 1}]).runtime.framework is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "the list is empty"),
        ([{}], "the rows hold no keys"),
        ([1, 2], "row 0 is an int"),
        ([{1: "a"}], "key of type int"),
        (np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]), "structured array"),
        (pd.DataFrame(), "no columns"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "column 'a' appears twice"),
        (pd.DataFrame({"a\x00": [1]}), "NUL"),
        (pd.DataFrame({"x" * 600: [1]}), "the limit is 512"),
        ({"a": 1}, "cannot infer a signature of inputs of type dict"),
        (None, "cannot infer a signature of inputs of type NoneType"),
        ([{"a": 2**70}], "field 'a': the integer 1180591620717411303424 does not fit in 64 bits"),
        ([{"a": [1, 2**64]}], "field 'a': the integer 18446744073709551616 does not fit"),
        ([{"a": 2**63}, {"a": -1}], "field 'a': mixes negative integers and integers above"),
        (2**70, "field 'value': the integer 1180591620717411303424"),
        (-(2**63) - 1, "field 'value': the integer -9223372036854775809 does not fit"),
        (np.array([2**64, 1], dtype=object), "field 'array': the integer 18446744073709551616"),
        (pd.DataFrame({"big": [2**64, 1]}), "field 'big': the integer 18446744073709551616"),
        ([{"a": 10**400}], r"the integer of 1329 bits"),
    ],
)
def test_what_cannot_be_described_is_a_clear_error(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        infer_signature(value)


def test_integers_are_int64_or_uint64_as_numpy_reads_them() -> None:
    assert fields(infer_signature([{"a": 2**63 - 1}, {"a": -(2**63)}])) == [
        ("a", "int64", (-1,), False)
    ]
    assert fields(infer_signature([{"a": 2**64 - 1}, {"a": 0}])) == [("a", "uint64", (-1,), False)]
    rows = [{"a": 2**64 - 1}, {"a": 0}]
    schema = infer_signature(rows).inputs
    assert samples.decode(samples.encode(rows, schema)) == rows  # stored as uint64, unchanged
    assert fields(infer_signature([{"a": 2**63}, {"a": 1.5}])) == [("a", "float64", (-1,), False)]
    assert fields(infer_signature(2**63)) == [("value", "uint64", (), False)]


def test_a_masked_array_is_the_array_it_masks() -> None:
    plain = infer_signature(np.ma.array([1, 2]))
    assert plain == infer_signature(np.array([1, 2]))
    assert fields(plain) == [("array", "int64", (-1,), False)]
    masked = infer_signature(np.ma.array([[1.0, 2.0], [3.0, 4.0]], mask=[[0, 1], [0, 0]]))
    assert masked.inputs.kind == "ndarray"
    assert fields(masked) == [("array", "float64", (-1, 2), True)]
    assert fields(infer_signature(np.ma.masked_array(5, mask=True))) == [
        ("value", "int64", (), True)
    ]
    assert conformance(infer_signature(np.array([1.5])).inputs, np.ma.array([2.5])) == ()


# the value and its JSON -------------------------------------------------------------------


def test_a_signature_is_read_only_and_round_trips_through_json(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    sig = infer_signature(cancer[0], cancer[1])
    with pytest.raises(ValidationError):
        sig.inputs.fields[0].name = "x"  # type: ignore[misc]
    assert isinstance(sig.inputs.fields, tuple)
    assert parse_signature(sig.to_json()) == sig
    assert parse_signature(json.loads(sig.to_json())) == sig
    assert as_signature(sig.model_dump(mode="json")) == sig
    assert as_signature({"inputs": [{"n": "x"}]}) is None  # a free-form contract of old
    assert as_signature(None) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "not valid JSON"),
        ([1], "must be a Signature or its JSON object"),
        ({"inputs": {"kind": "dataframe", "fields": []}}, "at least one field"),
        ({"inputs": {"kind": "table", "fields": []}}, "inputs.kind"),
        (
            {"inputs": {"kind": "dataframe", "fields": [{"name": "a", "dtype": "int"}]}},
            r"inputs\.fields\[0\] 'a'\.dtype",
        ),
        (
            {"inputs": {"kind": "records", "fields": [{"name": "a", "dtype": "bool"}] * 2}},
            "named twice",
        ),
        ({"inputs": {"kind": "scalar", "fields": [{"name": "a", "dtype": "bool"}]}, "x": 1}, "x"),
        (
            {"inputs": {"kind": "ndarray", "fields": [{"name": "a", "dtype": "int8",
                                                        "shape": [-1, 10**30]}]}},
            r"inputs\.fields\[0\] 'a': shape \[-1, 1000000000000000000000000000000\]: a size is "
            r"at most 2\*\*63-1",
        ),
        (
            {"inputs": {"kind": "ndarray", "fields": [{"name": "a", "dtype": "int8",
                                                        "shape": [-1, 3, 2**63]}]}},
            r"a size is at most 2\*\*63-1",
        ),
        (
            {"inputs": {"kind": "ndarray", "fields": [{"name": "a", "dtype": "int8",
                                                        "shape": [-1, -7]}]}},
            r"dimensions are -1 \(any\) or sizes",
        ),
    ],
)  # fmt: skip
def test_a_bad_signature_names_the_field(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_signature(value)


def test_the_largest_size_numpy_allows_is_a_size() -> None:
    doc = {"inputs": {"kind": "ndarray", "fields": [{"name": "a", "dtype": "int8",
                                                      "shape": [-1, 2**63 - 1]}]}}  # fmt: skip
    assert parse_signature(doc).inputs.fields[0].shape == (-1, 2**63 - 1)


# the diff --------------------------------------------------------------------------------


def sig(*specs: tuple[str, str] | FieldSpec, outputs: Schema | None = None, **rt: str) -> Signature:
    built = [
        s if isinstance(s, FieldSpec) else FieldSpec(name=s[0], dtype=s[1])  # type: ignore[arg-type]
        for s in specs
    ]
    return Signature(
        inputs=Schema(kind="dataframe", fields=tuple(built)),
        outputs=outputs,
        runtime=rt,  # type: ignore[arg-type]
    )


def changes(old: Signature, new: Signature) -> list[tuple[str, str, bool]]:
    return [(c.field, c.change, c.compatible) for c in diff_contracts(old, new).changes]


def test_the_same_contract_has_no_changes(cancer: tuple[pd.DataFrame, pd.Series]) -> None:
    d = diff_contracts(infer_signature(cancer[0]), infer_signature(cancer[0].copy()))
    assert not d.changed and d.compatible


def test_a_renamed_column_of_real_data_looks_renamed(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    X = cancer[0]
    d = diff_contracts(infer_signature(X), infer_signature(X.rename(columns={"mean radius": "r"})))
    assert [(c.field, c.change, c.before and c.before.name) for c in d.changes] == [
        ("r", "renamed", "mean radius")
    ]
    assert not d.compatible and d.incompatible == d.changes


def test_diff_rules_for_inputs() -> None:
    base = sig(("a", "int32"), ("b", "string"))
    assert changes(base, sig(("a", "int32"))) == [("b", "removed", False)]
    nullable = FieldSpec(name="c", dtype="float64", nullable=True)
    assert changes(base, sig(("a", "int32"), ("b", "string"), nullable)) == [("c", "added", True)]
    assert changes(base, sig(("a", "int32"), ("b", "string"), ("c", "float64"))) == [
        ("c", "added", False)
    ]
    assert changes(base, sig(("a", "int64"), ("b", "string"))) == [("a", "dtype", True)]
    assert changes(base, sig(("a", "float64"), ("b", "string"))) == [("a", "dtype", True)]
    assert changes(base, sig(("a", "int8"), ("b", "string"))) == [("a", "dtype", False)]
    assert changes(base, sig(("a", "int32"), ("b", "int64"))) == [("b", "dtype", False)]
    opt = FieldSpec(name="a", dtype="int32", nullable=True)
    assert changes(base, sig(opt, ("b", "string"))) == [("a", "nullable", True)]
    assert changes(sig(opt, ("b", "string")), base) == [("a", "nullable", False)]
    wide = FieldSpec(name="a", dtype="int32", shape=(-1, 3))
    assert changes(base, sig(wide, ("b", "string"))) == [("a", "shape", False)]
    anysize = FieldSpec(name="a", dtype="int32", shape=(-1, -1))
    assert changes(sig(wide, ("b", "string")), sig(anysize, ("b", "string"))) == [
        ("a", "shape", True)
    ]
    as_array = Signature(inputs=Schema(kind="ndarray", fields=base.inputs.fields))
    assert changes(base, as_array) == [("ndarray", "kind", False)]


def test_diff_rules_for_outputs_and_runtime() -> None:
    out = Schema(kind="ndarray", fields=(FieldSpec(name="array", dtype="int64"),))
    out2 = Schema(kind="ndarray", fields=(FieldSpec(name="array", dtype="float64"),))
    assert changes(sig(("a", "bool"), outputs=out), sig(("a", "bool"), outputs=out2)) == [
        ("array", "dtype", False)
    ]
    assert changes(sig(("a", "bool")), sig(("a", "bool"), outputs=out)) == [("*", "added", True)]
    assert changes(sig(("a", "bool"), outputs=out), sig(("a", "bool"))) == [("*", "removed", False)]
    old = sig(("a", "bool"), framework="scikit-learn", framework_version="1.4")
    assert changes(old, sig(("a", "bool"), framework="scikit-learn", framework_version="1.5")) == [
        ("framework_version", "runtime", True)
    ]
    assert changes(old, sig(("a", "bool"), framework="xgboost")) == [
        ("framework", "runtime", False)
    ]


# conformance -------------------------------------------------------------------------


def test_a_sample_conforms_or_each_problem_is_named(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    X = cancer[0]
    inputs = infer_signature(X).inputs
    assert conformance(inputs, X.head(10)) == ()
    assert conformance(inputs, X.head(3).to_dict("records")) == ()  # records are tables too
    broken = X.head(5).drop(columns=["mean area"]).assign(extra=1)
    broken["mean radius"] = broken["mean radius"].astype(str)
    broken.loc[0, "mean texture"] = np.nan
    problems = conformance(inputs, broken)
    assert problems == (
        "missing column(s) mean area",
        "column(s) not in the signature: extra",
        "mean radius: dtype string, the signature says float64",
        "mean texture: has missing values; the signature says not nullable",
    )
    assert "the sample is an ndarray" in conformance(inputs, X.to_numpy())[0]
    # Integers are valid where floats are expected (what CSV gives for whole numbers).
    assert conformance(inputs, X.head(2).round().astype("int64")) == ()


# the stored sample ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pd.DataFrame(
            {
                "n": pd.array([1, None], dtype="Int64"),
                "s": ["x", None],
                "c": pd.Categorical(["u", "v"]),
                "t": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                "i32": np.array([1, 2], dtype=np.int32),
            }
        ),
        pd.Series([0.5, 1.5], name="score"),
        np.arange(24, dtype=np.float32).reshape(4, 2, 3),
        np.array([1, 2, 3], dtype=np.uint8),
        [{"a": 1, "b": "x"}, {"a": 2, "b": None}],
        3.5,
    ],
    ids=["dataframe", "series", "tensor", "vector", "records", "scalar"],
)
def test_every_kind_of_sample_round_trips_with_its_dtypes(value: Any) -> None:
    schema = infer_signature(value).inputs
    back = samples.decode(samples.encode(value, schema))
    assert infer_signature(back).inputs == schema
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value, check_dtype=True)
    elif isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and (back == value).all()
    else:
        assert back.equals(value) if isinstance(value, pd.Series) else back == value


def test_sample_files_are_read_or_refused_by_name(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": range(150), "b": ["x"] * 150})
    frame.to_csv(tmp_path / "s.csv", index=False)
    frame.to_parquet(tmp_path / "s.parquet")
    np.save(tmp_path / "s.npy", np.ones((150, 3)))
    assert len(samples.read_file(tmp_path / "s.csv", 100)) == 101  # one more tells a cut
    assert list(samples.read_file(tmp_path / "s.parquet", 10).columns) == ["a", "b"]
    assert samples.read_file(tmp_path / "s.npy", 100).shape == (101, 3)
    (tmp_path / "s.txt").write_text("x")
    with pytest.raises(InvalidInput, match=r"unsupported file type '\.txt'"):
        samples.read_file(tmp_path / "s.txt")
    with pytest.raises(InvalidInput, match="no such file"):
        samples.read_file(tmp_path / "gone.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidInput, match=r"sample .*bad\.parquet cannot be read"):
        samples.read_file(tmp_path / "bad.parquet")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidInput, match=r"obj\.npy holds an object array \(Python objects"):
        samples.read_file(tmp_path / "obj.npy")  # never unpickled
    for rows in (0, -1, True, 10**9):
        with pytest.raises(InvalidInput, match="sample rows"):
            samples.check_rows(rows)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,a,b\n1,2,3\n", "column 'a' is named twice in the header"),
        ("x,a,b,a\n1,2,3,4\n", "column 'a' is named twice in the header"),
        (",,,\n1,2,3,4\n", "column 1 has no name in the header"),
        (",a,b\n0,1,2\n", r"column 1 has no name .*to_csv\(index=False\)"),
        ("a, ,b\n1,2,3\n", "column 2 has no name in the header"),
        ("a;b;c;d\n1;2;3;4\n", "one column, named 'a;b;c;d': the file looks separated by semi"),
        ("a\tb\n1\t2\n", "looks separated by tabs"),
        ("a|b\n1|2\n", "looks separated by vertical bars"),
        ("a,b\n1,2,3\n4,5,6\n", r"line 2 has 3 value\(s\) and the header names 2 column"),
        ("a,b\n1,2\n4,5,6\n", r"line 3 has 3 value\(s\) and the header names 2 column"),
        ("a,b,c,d\n1,2,3\n", r"line 2 has 3 value\(s\) and the header names 4 column"),
        ('a,b\n"x,y",2\n3\n', r"line 3 has 1 value\(s\)"),
        ("", "cannot be read"),
    ],
)  # fmt: skip
def test_a_csv_sample_is_read_strictly(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "s.csv").write_text(text)
    with pytest.raises(InvalidInput, match=message):
        samples.read_file(tmp_path / "s.csv")


def test_a_separator_hint_names_the_columns_the_signature_expects(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("a;b\n1;2\n")
    expected = infer_signature(pd.DataFrame({"a": [1], "b": [2], "c": [3]})).inputs
    with pytest.raises(InvalidInput, match=r"'a;b'; the signature has 3 column\(s\)"):
        samples.read_file(tmp_path / "s.csv", schema=expected)
    # A signature that names the one column: the name is meant, and read as it is.
    own = infer_signature(pd.DataFrame({"a;b": ["1;2"]})).inputs
    frame = samples.read_file(tmp_path / "s.csv", schema=own)
    assert list(frame.columns) == ["a;b"] and conformance(own, frame) == ()


def test_a_strict_csv_reads_what_pandas_wrote(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b c": ["x", None], "0": [0.5, 1.5]})
    frame.to_csv(tmp_path / "s.csv", index=False)
    back = samples.read_file(tmp_path / "s.csv")
    assert list(back.columns) == ["a", "b c", "0"] and len(back) == 2
    (tmp_path / "missing.csv").write_text("a,b\n1,\n")  # how pandas writes a missing value
    assert samples.read_file(tmp_path / "missing.csv")["b"].isna().all()
    (tmp_path / "short.csv").write_text("a,b\n1\n")  # a short row says nothing of b
    with pytest.raises(InvalidInput, match=r"line 2 has 1 value\(s\)"):
        samples.read_file(tmp_path / "short.csv")


def test_a_npy_sample_must_be_numpy_rows(tmp_path: Path) -> None:
    np.save(tmp_path / "one.npy", np.float64(3.0))
    with pytest.raises(
        InvalidInput, match=r"one\.npy holds one value \(an array of 0 dimensions\)"
    ):
        samples.read_file(tmp_path / "one.npy")
    scalar = infer_signature(3.0).inputs
    assert samples.read_file(tmp_path / "one.npy", schema=scalar) == 3.0  # a scalar model's input
    (tmp_path / "text.npy").write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInput, match=r"text\.npy is not a NumPy \.npy file") as err:
        samples.read_file(tmp_path / "text.npy")
    assert "pickle" not in str(err.value)
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(InvalidInput, match=r"not a NumPy \.npy file"):
        samples.read_file(tmp_path / "empty.npy")
    np.save(tmp_path / "rows.npy", np.arange(6).reshape(3, 2))
    assert samples.read_file(tmp_path / "rows.npy").shape == (3, 2)


@pytest.mark.parametrize(
    "tz", ["UTC", "Europe/Paris", "America/New_York", "UTC+01:00", "+01:00", "UTC-05:30"]
)
def test_a_time_zone_a_column_can_be_read_in_is_accepted(tz: str) -> None:
    doc = {
        "inputs": {"kind": "dataframe", "fields": [{"name": "t", "dtype": "datetime", "tz": tz}]}
    }
    assert parse_signature(doc).inputs.fields[0].tz == tz
    times = pd.Series(pd.to_datetime(["2024-01-01 10:00"])).dt.tz_localize(tz)
    assert infer_signature(pd.DataFrame({"t": times})).inputs.fields[0].tz in (tz, "UTC" + tz)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "utc", "Europe", "../etc/passwd", "UTC+25:00", "Z"])
def test_a_time_zone_that_does_not_exist_is_refused_naming_the_field(tz: str) -> None:
    fields = [{"name": "x", "dtype": "float64"}, {"name": "t", "dtype": "datetime", "tz": tz}]
    doc = {"inputs": {"kind": "dataframe", "fields": fields}}
    with pytest.raises(InvalidInput, match=r"inputs\.fields\[1\] 't': tz .* is not a time zone"):
        parse_signature(doc)
    with pytest.raises(ValidationError, match="is not a time zone"):
        FieldSpec(name="t", dtype="datetime", tz=tz)


def test_time_zone_objects_are_named_as_their_key() -> None:
    import datetime as dt
    import zoneinfo

    paris = dt.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert infer_signature([{"t": paris}]).inputs.fields[0].tz == "Europe/Paris"
    offset = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30)))
    assert infer_signature(offset).inputs.fields[0].tz == "UTC-05:30"
