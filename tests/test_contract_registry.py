"""Signatures and samples through the registry (SQLite and PostgreSQL), the CLI, and the
``schema`` gate check: stored as written, bad input refused with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from modelbook import InvalidInput, NotFound, Registry, Signature, infer_signature
from modelbook import sample as samples
from modelbook.contract import SAMPLE_PATH, as_signature
from modelbook.domain import thaw
from tests import test_checks, test_cli, test_cli_startup, test_release_flow
from tests.flavor_models import cancer_classifier
from tests.test_cli import CLI
from tests.test_release_flow import ADMIN, Flow, gate, policy, promote_ok, promote_refused

home = test_cli.home
cli = test_cli.cli
flow = test_release_flow.flow


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    data = load_breast_cancer(as_frame=True)
    return data.data, data.target


def stored_sample(reg: Registry, uri: str) -> object:
    v = reg.get_version(uri)
    (art,) = [a for a in v.artifacts if a.path == SAMPLE_PATH]
    return samples.decode(reg.blobs.read_verified(art.sha256, art.size))


def test_register_a_real_model_with_its_signature_and_sample(
    registry: Registry, model_file: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X, y = cancer
    model = cancer_classifier(X, y)
    sig = infer_signature(X, model.predict(X), model=model)
    v = registry.register("bc", [model_file], owners="o", signature=sig, sample=X)
    got = as_signature(v.contract)
    assert got is not None and got.inputs == sig.inputs and got.outputs == sig.outputs
    assert got.runtime.framework == "scikit-learn"
    assert got.sample is not None and (got.sample.rows, got.sample.truncated) == (100, True)
    assert [a.path for a in v.artifacts] == ["model.bin", SAMPLE_PATH]
    again = registry.get_version(v.uri)
    assert again.contract == v.contract and as_signature(again.contract) == got
    pd.testing.assert_frame_equal(stored_sample(registry, v.uri), X.head(100))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        again.contract["format"] = 2  # type: ignore[index]


def test_a_sample_alone_gives_the_signature_and_sample_rows_choose_the_cut(
    registry: Registry, model_file: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X = cancer[0]
    v = registry.register("bc", [model_file], owners="o", sample=X.head(20), sample_rows=50)
    sig = as_signature(v.contract)
    assert sig is not None and sig.inputs == infer_signature(X).inputs
    assert sig.sample is not None and (sig.sample.rows, sig.sample.truncated) == (20, False)
    arr = registry.register("arr", [model_file], owners="o", sample=X.to_numpy(), sample_rows=7)
    back = stored_sample(registry, arr.uri)
    assert isinstance(back, np.ndarray) and back.shape == (7, 30)


def test_a_signature_alone_as_json_and_a_copied_sample_note_is_dropped(
    registry: Registry, model_file: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    first = registry.register("bc", [model_file], owners="o", sample=cancer[0])
    text = json.dumps(thaw(first.contract))  # the signature of another version, with its sample
    v = registry.register("bc", [model_file], signature=text)
    sig = as_signature(v.contract)
    assert sig is not None and sig.sample is None and [a.path for a in v.artifacts] == ["model.bin"]


def test_the_two_phase_path_takes_a_signature_and_a_sample(
    registry: Registry, model_file: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    art = registry.store_file(model_file, "model.bin")
    sig = infer_signature(cancer[0])
    v = registry.commit_version(
        "bc", [art], owners="o", signature=sig.model_dump(mode="json"), sample=cancer[0]
    )
    assert [a.path for a in v.artifacts] == ["model.bin", SAMPLE_PATH]
    assert len(stored_sample(registry, v.uri)) == 100  # type: ignore[arg-type]


def test_a_free_form_contract_of_old_is_still_stored_and_read(
    registry: Registry, model_file: Path
) -> None:
    v = registry.register("m", [model_file], owners="o", contract={"inputs": [{"n": "x"}]})
    assert registry.get_version(v.uri).contract == {"inputs": ({"n": "x"},)}
    assert as_signature(v.contract) is None


def nothing_written(reg: Registry, name: str) -> None:
    with pytest.raises(NotFound):
        reg.get_model(name)
    assert reg.verify().versions == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample": "MISSING"}, "missing column(s) mean radius"),
        ({"sample": "STRING"}, "mean radius: dtype string, the signature says float64"),
        ({"sample": "NULLS"}, "mean texture: has missing values"),
        ({"sample": "ARRAY"}, "the sample is an ndarray"),
        ({"sample": Path("nowhere.csv")}, "no such file"),
        ({"sample": Path("sample.txt")}, "unsupported file type '.txt'"),
        ({"sample": [1, 2]}, "row 0 is an int"),
        ({"sample": "EMPTY"}, "the sample has no rows"),
        ({"signature": None, "sample": [{}]}, "the rows hold no keys"),
        ({"sample_rows": 0}, "sample rows must be"),
        ({"signature": "{", "sample": None}, "signature is not valid JSON"),
        ({"contract": {"a": 1}}, "not both"),
    ],
)
def test_bad_signatures_and_samples_are_refused_with_nothing_written(
    registry: Registry,
    model_file: Path,
    cancer: tuple[pd.DataFrame, pd.Series],
    kwargs: dict[str, object],
    message: str,
) -> None:
    X = cancer[0].head(10)
    given = {
        "MISSING": X.drop(columns=["mean radius"]),
        "STRING": X.assign(**{"mean radius": "big"}),
        "NULLS": X.assign(**{"mean texture": np.nan}),
        "ARRAY": X.to_numpy(),
        "EMPTY": X.head(0),
    }
    args: dict[str, object] = {"signature": infer_signature(cancer[0]), "sample": X, **kwargs}
    if isinstance(args["sample"], str):
        args["sample"] = given[args["sample"]]
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        registry.register("bc", [model_file], owners="o", **args)  # type: ignore[arg-type]
    nothing_written(registry, "bc")
    with pytest.raises(InvalidInput, match="not both"):
        registry.commit_version("bc", [], owners="o", contract={"a": 1}, sample=X)
    nothing_written(registry, "bc")


def test_a_file_of_the_user_at_the_sample_path_is_refused(
    registry: Registry, tmp_path: Path
) -> None:
    folder = tmp_path / "m"
    (folder / "_modelbook").mkdir(parents=True)
    (folder / "_modelbook" / "sample.parquet").write_bytes(b"mine")
    with pytest.raises(InvalidInput, match="where the input sample is stored"):
        registry.register("m", folder, owners="o", sample=[{"a": 1}])
    nothing_written(registry, "m")
    assert registry.register("m", folder, owners="o").artifacts[0].path == SAMPLE_PATH


# the schema check ---------------------------------------------------------------------------


def test_the_schema_gate_passes_with_a_signature_and_fails_without(
    flow: Flow, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    flow.reg.set_policy(policy(gate("low", "candidate", "schema")), actor=ADMIN)
    X = cancer[0]
    good = flow.add(signature=infer_signature(X), sample=X)
    result = promote_ok(flow, good.uri).results[0]
    assert "its 100-row sample conforms" in result.message
    ev = thaw(result.evidence)
    assert ev["sample"] == {"rows": 100, "checked": True, "problems": []}
    assert ev["inputs"]["kind"] == "dataframe" and len(ev["inputs"]["fields"]) == 30
    no_sample = flow.add(signature=infer_signature(X))
    assert "no sample stored" in promote_ok(flow, no_sample.uri).results[0].message
    bare = flow.add()
    assert "- schema: no contract registered on version 3" in promote_refused(flow, bare.uri)
    (record,) = [r for r in flow.reg.evidence(bare.uri) if r.check == "schema"]
    assert not record.passed and record.evidence == {"contract": None}


def test_the_schema_check_fails_a_sample_that_does_not_conform_or_cannot_be_read(
    cancer: tuple[pd.DataFrame, pd.Series],
) -> None:
    X = cancer[0].head(5)
    sig = infer_signature(X).model_dump(mode="json")
    sig["sample"] = {"rows": 5}
    version = test_checks.make_version(contract=sig)
    ctx = test_checks.make_ctx(sample=lambda v: X.drop(columns=["mean area"]))
    r = test_checks.run("schema", version, ctx)
    assert not r.passed and "missing column(s) mean area" in r.message
    assert thaw(r.evidence)["sample"]["problems"] == ["missing column(s) mean area"]

    def corrupt(v: object) -> object:
        raise InvalidInput("artifact blob ab is corrupt")

    r = test_checks.run("schema", version, test_checks.make_ctx(sample=corrupt))
    assert not r.passed and "cannot be read: artifact blob ab is corrupt" in r.message
    r = test_checks.run("schema", version, test_checks.make_ctx(sample=lambda v: None))
    assert not r.passed and "no such artifact" in r.message
    r = test_checks.run("schema", version, test_checks.make_ctx(sample=lambda v: X))
    assert r.passed and Signature.model_validate(sig).sample is not None


# the command line ---------------------------------------------------------------------------


def test_cli_register_with_a_sample_and_a_signature(
    cli: CLI, tmp_path: Path, model_file: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X = cancer[0]
    X.to_csv(tmp_path / "x.csv", index=False)
    X.to_parquet(tmp_path / "x.parquet")
    np.save(tmp_path / "x.npy", X.to_numpy())
    (tmp_path / "sig.json").write_text(infer_signature(X).to_json())

    run = cli("register", "bc", model_file, "--owner", "o", "--no-capture", "--sample",
              tmp_path / "x.csv")  # fmt: skip
    assert run.code == 0 and "sample cut to its first 100 rows" in run.err
    run = cli("register", "bc", model_file, "--no-capture", "--json",
              "--signature", tmp_path / "sig.json", "--sample", tmp_path / "x.parquet",
              "--sample-rows", "10")  # fmt: skip
    contract = run.json()["contract"]
    assert contract["format"] == 1 and contract["inputs"]["kind"] == "dataframe"
    assert contract["sample"] == {
        "path": SAMPLE_PATH, "format": "parquet", "rows": 10, "truncated": True
    }  # fmt: skip
    assert cli("register", "bc", model_file, "--signature", tmp_path / "sig.json").code == 0
    run = cli("register", "arr", model_file, "--owner", "o", "--sample", tmp_path / "x.npy")
    assert run.code == 0

    shown = cli("show", "models:/bc/2")
    assert "inputs (dataframe)" in shown.out and "mean radius" in shown.out
    assert "sample: 10 rows in _modelbook/sample.parquet (cut" in shown.out
    assert "contract: none" not in shown.out
    assert cli("show", "models:/bc/2", "--json").json()["contract"] == contract
    assert "sample" not in cli("show", "models:/bc/3").out.split("runtime")[-1]


def test_cli_refuses_bad_samples_and_signatures_before_anything_is_written(
    cli: CLI, home: Path, tmp_path: Path, model_file: Path, cancer: tuple[pd.DataFrame, pd.Series]
) -> None:
    X = cancer[0].head(5)
    X.drop(columns=["mean area"]).to_csv(tmp_path / "short.csv", index=False)
    (tmp_path / "sig.json").write_text(infer_signature(X).to_json())
    (tmp_path / "bad.json").write_text('{"inputs": 1}')
    (tmp_path / "s.xlsx").write_bytes(b"x")
    (tmp_path / "broken.parquet").write_bytes(b"x")
    for args, message in (
        (("--signature", tmp_path / "sig.json", "--sample", tmp_path / "short.csv"),
         "does not match the signature's inputs: missing column(s) mean area"),
        (("--signature", tmp_path / "bad.json"), "invalid signature: inputs"),
        (("--signature", tmp_path / "nope.json"), "signature file"),
        (("--sample", tmp_path / "s.xlsx"), "unsupported file type '.xlsx'"),
        (("--sample", tmp_path / "broken.parquet"), "broken.parquet cannot be read"),
    ):  # fmt: skip
        run = cli("register", "bc", model_file, "--owner", "o", *args)
        assert run.code == 6 and message in run.err, (args, run.err)
        assert not home.exists(), "no registry is created for bad input"


def test_the_cli_imports_pandas_only_when_a_sample_is_used(
    cli: CLI, home: Path, tmp_path: Path, model_file: Path
) -> None:
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    code, loaded = test_cli_startup._loaded(home, "show", "models:/ctr/1")
    assert code == 0 and not loaded & {"pandas", "pyarrow", "numpy"}
    pd.DataFrame({"a": [1, 2]}).to_csv(tmp_path / "s.csv", index=False)
    code, loaded = test_cli_startup._loaded(
        home, "register", "ctr", str(model_file), "--sample", str(tmp_path / "s.csv")
    )
    assert code == 0 and {"pandas", "pyarrow"} <= loaded


def test_every_field_of_a_contract_is_documented_in_cli_md(
    cli: CLI, tmp_path: Path, model_file: Path
) -> None:
    from tests.test_cli_docs import DOC, _keys

    pd.DataFrame({"a": [1.0], "b": ["x"]}).to_parquet(tmp_path / "s.parquet")
    run = cli("register", "m", model_file, "--owner", "o", "--sample", tmp_path / "s.parquet",
              "--json")  # fmt: skip
    contract = run.json()["contract"]
    section = DOC.read_text().split("### Contract", 1)[1].split("\n### ", 1)[0]
    for key in _keys(contract):
        assert f"`{key}`" in section, key


# strict samples and signatures ------------------------------------------------------------


def stored_blobs(blob_dir: Path) -> list[Path]:
    return [p for p in blob_dir.rglob("*") if p.is_file()]


def _write_sample(folder: Path, name: str) -> Path:
    """The sample files a careless export gives, each of which pandas or NumPy would read."""
    path = folder / name
    texts = {
        "dup.csv": "a,a,b\n1,2,3\n",
        "unnamed.csv": ",,,\n1,2,3,4\n",
        "index.csv": ",a,b\n0,1,2\n",
        "semicolon.csv": "a;b;c;d\n1;2;3;4\n",
        "tabs.csv": "a\tb\n1\t2\n",
        "long-row.csv": "a,b\n1,2,3\n",
        "short-row.csv": "a,b,c,d\n1,2,3\n",
        "text.npy": "a,b\n1,2\n",
    }
    if name in texts:
        path.write_text(texts[name])
    elif name == "scalar.npy":
        np.save(path, np.float64(3.0))
    return path


@pytest.mark.parametrize(
    ("file", "with_signature", "message"),
    [
        ("dup.csv", False, "column 'a' is named twice in the header"),
        ("unnamed.csv", False, "column 1 has no name in the header"),
        ("index.csv", False, r"to_csv\(index=False\)"),
        ("semicolon.csv", False, "the file looks separated by semicolons"),
        ("semicolon.csv", True, r"the signature has 4 column\(s\): the file looks separated"),
        ("tabs.csv", False, "the file looks separated by tabs"),
        ("long-row.csv", False, r"line 2 has 3 value\(s\) and the header names 2"),
        ("short-row.csv", False, r"line 2 has 3 value\(s\) and the header names 4"),
        ("scalar.npy", False, r"holds one value \(an array of 0 dimensions\)"),
        ("scalar.npy", True, r"holds one value \(an array of 0 dimensions\)"),
        ("text.npy", False, r"is not a NumPy \.npy file"),
    ],
)
def test_strict_sample_files_are_refused_with_nothing_written(
    registry: Registry,
    blob_dir: Path,
    tmp_path: Path,
    model_file: Path,
    file: str,
    with_signature: bool,
    message: str,
) -> None:
    sample = _write_sample(tmp_path, file)
    four = pd.DataFrame({c: [1.0] for c in "abcd"})
    signature = infer_signature(four) if with_signature else None
    with pytest.raises(InvalidInput, match=message):
        registry.register("m", [model_file], owners="o", sample=sample, signature=signature)
    nothing_written(registry, "m")
    assert stored_blobs(blob_dir) == []


def test_a_time_zone_that_does_not_exist_is_refused_when_the_signature_is_read(
    registry: Registry, blob_dir: Path, model_file: Path
) -> None:
    doc = {"inputs": {"kind": "dataframe", "fields": [
        {"name": "t", "dtype": "datetime", "tz": "Mars/Olympus"}]}}  # fmt: skip
    for given in (doc, json.dumps(doc)):
        with pytest.raises(InvalidInput, match=r"inputs\.fields\[0\] 't': tz 'Mars/Olympus'"):
            registry.register("m", [model_file], owners="o", signature=given)
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 10:00"])})
    with pytest.raises(InvalidInput, match="is not a time zone"):
        registry.register("m", [model_file], owners="o", signature=doc, sample=frame)
    nothing_written(registry, "m")
    assert stored_blobs(blob_dir) == []


def test_a_signature_too_long_to_store_says_what_to_do(
    registry: Registry, blob_dir: Path, model_file: Path
) -> None:
    wide = pd.DataFrame(np.ones((3, 1000)), columns=[f"feature_{i}" for i in range(1000)])
    with pytest.raises(InvalidInput) as err:
        registry.register("m", [model_file], owners="o", sample=wide)
    text = str(err.value)
    assert "the limit is 65,536, about 700 columns of a DataFrame (these inputs have 1000)" in text
    assert "give the sample as one array (a .npy file" in text
    nothing_written(registry, "m")
    assert stored_blobs(blob_dir) == []
    v = registry.register("m", [model_file], owners="o", sample=wide.to_numpy())  # the way out
    sig = as_signature(v.contract)
    assert sig is not None and sig.inputs.fields[0].shape == (-1, 1000)


def test_masked_arrays_and_wide_integers_as_samples(
    registry: Registry, blob_dir: Path, model_file: Path
) -> None:
    masked = np.ma.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], mask=[[0, 1], [0, 0], [0, 0]])
    v = registry.register("m", [model_file], owners="o", sample=masked, sample_rows=2)
    sig = as_signature(v.contract)
    assert sig is not None and sig.sample is not None and sig.sample.rows == 2
    assert [(f.dtype, f.shape, f.nullable) for f in sig.inputs.fields] == [
        ("float64", (-1, 2), True)
    ]
    back = stored_sample(registry, v.uri)
    assert isinstance(back, np.ndarray) and np.isnan(back[0, 1]) and back[1, 0] == 3.0
    with pytest.raises(InvalidInput, match="masked array of int64 with masked values"):
        registry.register("m", [model_file], sample=np.ma.array([1, 2], mask=[1, 0]))
    with pytest.raises(InvalidInput, match="field 'id': the integer 1180591620717411303424"):
        registry.register("m", [model_file], sample=[{"id": 2**70}])
    assert [x.number for x in registry.versions("m").items] == [1]
    big = registry.register("m", [model_file], sample=[{"id": 2**64 - 1}, {"id": 1}])
    assert big.contract["inputs"]["fields"][0]["dtype"] == "uint64"
    assert stored_sample(registry, big.uri) == [{"id": 2**64 - 1}, {"id": 1}]


def test_cli_refuses_the_reviewers_samples_before_anything_is_written(
    cli: CLI, home: Path, tmp_path: Path, model_file: Path
) -> None:
    for name, message in (
        ("dup.csv", "column 'a' is named twice"),
        ("semicolon.csv", "looks separated by semicolons"),
        ("unnamed.csv", "column 1 has no name"),
        ("scalar.npy", "holds one value"),
        ("text.npy", "is not a NumPy .npy file"),
    ):
        run = cli("register", "a", model_file, "--owner", "ml", "--sample",
                  _write_sample(tmp_path, name))  # fmt: skip
        assert run.code == 6 and message in run.err, (name, run.err)
        assert "pickled" not in run.err
        assert not home.exists(), "no registry is created for bad input"


def test_show_prints_the_time_zone_beside_the_dtype(
    cli: CLI, tmp_path: Path, model_file: Path
) -> None:
    times = pd.to_datetime(["2024-01-01 10:00", "2024-06-01 10:00"])
    frame = pd.DataFrame({"t": times.tz_localize("Europe/Paris"), "n": times})
    (tmp_path / "sig.json").write_text(infer_signature(frame).to_json())
    frame.to_csv(tmp_path / "s.csv", index=False)
    run = cli("register", "tz", model_file, "--owner", "o", "--no-capture",
              "--signature", tmp_path / "sig.json", "--sample", tmp_path / "s.csv")  # fmt: skip
    assert run.code == 0, run.err
    shown = cli("show", "models:/tz/1").out
    assert "datetime (tz Europe/Paris)" in shown
    row = next(line for line in shown.splitlines() if " n " in line)
    assert "datetime" in row and "tz" not in row  # naive: no zone to show
