"""``modelbook register --flavor``: the CLI declares a flavor as the Python API does."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd

from modelbook import Registry
from modelbook.contract import as_signature

from .flavor_models import Echo
from .test_cli import CLI, cli, home  # noqa: F401 - fixtures


def _files(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "model.bin"  # no suffix a flavor claims: only a declaration loads it
    model.write_bytes(pickle.dumps(Echo()))
    sample = tmp_path / "in.csv"
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(sample, index=False)
    return model, sample


def test_a_declared_flavor_is_stored_and_used(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
) -> None:
    model, sample = _files(tmp_path)
    base = ("--uri", db_uri, "--blob-uri", tmp_path / "blobs")
    run = cli(*base, "register", "m", model, "--owner", "o", "--no-capture",
              "--sample", sample, "--flavor", "pickle", "--json")  # fmt: skip
    assert run.code == 0, run
    assert run.json()["contract"]["runtime"]["flavor"] == "pickle"
    run = cli(*base, "predict", "m/1", "--input", sample, "--json")
    assert run.code == 0, run
    assert run.json()["flavor"] == "pickle" and run.json()["outputs"] == [1.0, 2.0]


def test_an_unknown_flavor_or_one_without_a_contract_writes_nothing(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
) -> None:
    model, sample = _files(tmp_path)
    base = ("--uri", db_uri, "--blob-uri", tmp_path / "blobs")
    run = cli(*base, "register", "m", model, "--owner", "o", "--sample", sample,
              "--flavor", "onx")  # fmt: skip
    assert run.code == 6
    assert "unknown flavor 'onx'" in run.err and "did you mean 'onnx'" in run.err
    run = cli(*base, "register", "m", model, "--owner", "o", "--flavor", "pickle")
    assert run.code == 6 and "give a signature or a sample" in run.err
    reg = Registry(db_uri, blob_uri=str(tmp_path / "blobs"))
    try:
        assert reg.models().items == []
    finally:
        reg.close()
    assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))


def test_the_python_api_stores_the_same_flavor(registry: Registry, tmp_path: Path) -> None:
    model, sample = _files(tmp_path)
    v = registry.register(
        "m", [model], owners="o", sample=sample, flavor="pickle", capture_environment=False
    )
    sig = as_signature(v.contract)
    assert sig is not None and sig.runtime.flavor == "pickle"


def test_training_hardware_and_duration_from_the_cli(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
) -> None:
    model, _ = _files(tmp_path)
    base = ("--uri", db_uri, "--blob-uri", tmp_path / "blobs")
    run = cli(*base, "register", "m", model, "--owner", "o", "--no-capture",
              "--hardware", "8x A100", "--duration-seconds", "3600.5", "--json")  # fmt: skip
    training = run.json()["training"]
    assert training["hardware"] == "8x A100" and training["duration_seconds"] == 3600.5
