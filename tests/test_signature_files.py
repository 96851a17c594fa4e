"""A signature given at registration (``--signature FILE``, ``signature=`` a dict or JSON
text) is validated in full: every wrong dtype, shape, type, duplicate or flavor is an
InvalidInput naming the field, and nothing is written (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from modelbook import InvalidInput, Registry

from .test_cli import CLI, cli, home  # noqa: F401 - fixtures


def _sig(*fields: dict[str, Any], kind: str = "dataframe", **extra: Any) -> dict[str, Any]:
    return {"inputs": {"kind": kind, "fields": list(fields)}, **extra}


BAD: list[tuple[str, dict[str, Any], str]] = [
    (
        "dtype",
        _sig({"name": "age", "dtype": "int"}),
        "inputs.fields[0] 'age'.dtype: Input should be",
    ),
    (
        "shape-rows",
        _sig({"name": "age", "dtype": "int64", "shape": [3]}),
        "field 'age': shape [3]: the first dimension is the rows",
    ),
    (
        "shape-negative",
        _sig({"name": "x", "dtype": "float64", "shape": [-1, -5]}),
        "shape [-1, -5]: dimensions are -1 (any) or sizes",
    ),
    (
        "shape-float",
        _sig({"name": "x", "dtype": "float64", "shape": [-1.0]}),
        "inputs.fields[0] 'x'.shape[0]: Input should be a valid integer",
    ),
    (
        "shape-text",
        _sig({"name": "x", "dtype": "float64", "shape": "-1"}),
        "inputs.fields[0] 'x'.shape: Input should be a valid array",
    ),
    (
        "scalar-shape",
        _sig({"name": "value", "dtype": "int64", "shape": [-1]}, kind="scalar"),
        "a scalar's shape is []",
    ),
    (
        "nullable-text",
        _sig({"name": "a", "dtype": "int64", "nullable": "yes"}),
        "inputs.fields[0] 'a'.nullable: Input should be a valid boolean",
    ),
    (
        "name-number",
        _sig({"name": 5, "dtype": "int64"}),
        "inputs.fields[0].name: Input should be a valid string",
    ),
    ("name-empty", _sig({"name": " ", "dtype": "int64"}), "inputs.fields[0] ' ': name is empty"),
    (
        "duplicate",
        _sig({"name": "a", "dtype": "int64"}, {"name": "a", "dtype": "float64"}),
        "field 'a' is named twice",
    ),
    ("kind", _sig({"name": "a", "dtype": "int64"}, kind="table"), "inputs.kind: Input should be"),
    (
        "unknown-key",
        _sig({"name": "a", "dtype": "int64", "type": "int64"}),
        "inputs.fields[0] 'a'.type: Extra inputs are not permitted",
    ),
    ("no-fields", _sig(), "a schema needs at least one field"),
    (
        "tz-not-datetime",
        _sig({"name": "a", "dtype": "int64", "tz": "UTC"}),
        "only a datetime field has a time zone",
    ),
    (
        "tz-unknown",
        _sig(
            {"name": "a", "dtype": "int64"},
            {"name": "t", "dtype": "datetime", "tz": "Mars/Olympus"},
        ),
        "inputs.fields[1] 't': tz 'Mars/Olympus' is not a time zone",
    ),
    (
        "tz-lowercase",
        _sig({"name": "t", "dtype": "datetime", "tz": "europe/paris"}),
        "inputs.fields[0] 't': tz 'europe/paris' is not a time zone",
    ),
    (
        "shape-huge",
        _sig({"name": "x", "dtype": "float64", "shape": [-1, 10**30]}, kind="ndarray"),
        "a size is at most 2**63-1",
    ),
    (
        "flavor",
        _sig({"name": "a", "dtype": "int64"}, runtime={"flavor": "onx"}),
        "runtime.flavor: unknown flavor 'onx'",
    ),
    (
        "outputs",
        _sig(
            {"name": "a", "dtype": "int64"},
            outputs={"kind": "ndarray", "fields": [{"name": "y", "dtype": "float"}]},
        ),
        "outputs.fields[0] 'y'.dtype",
    ),
]


def test_every_problem_is_named_at_once() -> None:
    from modelbook.contract import parse_signature

    with pytest.raises(InvalidInput) as err:
        parse_signature(
            _sig({"name": "a", "dtype": "int"}, {"name": "b", "dtype": "int64", "nullable": 1})
        )
    text = str(err.value)
    assert "inputs.fields[0] 'a'.dtype" in text and "inputs.fields[1] 'b'.nullable" in text


@pytest.mark.parametrize(
    ("doc", "message"), [(d, m) for _, d, m in BAD], ids=[i for i, _, _ in BAD]
)
def test_a_bad_signature_writes_nothing(
    registry: Registry, tmp_path: Path, doc: dict[str, Any], message: str
) -> None:
    (tmp_path / "m.bin").write_bytes(b"model")
    for given in (doc, json.dumps(doc)):
        with pytest.raises(InvalidInput) as err:
            registry.register(
                "m", [tmp_path / "m.bin"], owners="o", signature=given, capture_environment=False
            )
        assert message in str(err.value)
    assert registry.models().items == []


def test_a_bad_signature_file_exits_6_and_writes_nothing(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "m.bin").write_bytes(b"model")
    pd.DataFrame({"age": [1, 2]}).to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "sig.json").write_text(
        json.dumps(_sig({"name": "age", "dtype": "int64", "nullable": "no"}))
    )
    base = ("--uri", db_uri, "--blob-uri", tmp_path / "blobs")
    run = cli(*base, "register", "m", tmp_path / "m.bin", "--owner", "o", "--signature",
              tmp_path / "sig.json", "--sample", tmp_path / "in.csv")  # fmt: skip
    assert run.code == 6 and "inputs.fields[0] 'age'.nullable" in run.err, run
    reg = Registry(db_uri, blob_uri=str(tmp_path / "blobs"))
    try:
        assert reg.models().items == []
    finally:
        reg.close()
    good = _sig({"name": "age", "dtype": "int64"})
    (tmp_path / "sig.json").write_text(json.dumps(good))
    run = cli(*base, "register", "m", tmp_path / "m.bin", "--owner", "o", "--signature",
              tmp_path / "sig.json", "--sample", tmp_path / "in.csv", "--json")  # fmt: skip
    assert run.json()["contract"]["inputs"]["fields"][0]["name"] == "age"
