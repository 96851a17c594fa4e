from pathlib import Path

from modelbook import Registry


def test_register_and_resolve(registry: Registry, model_file: Path) -> None:
    v = registry.register("smoke", [model_file], owners="alice", metrics={"auc": 0.9})
    assert v.number == 1 and v.semver == "1.0.0"
    registry.set_alias("smoke", "champion", 1, reason="first release")
    assert registry.resolve("models:/smoke@champion").number == 1


def test_s3_blobs(
    db_uri: str, s3_blobs: tuple[str, dict[str, object]], model_file: Path, tmp_path: Path
) -> None:
    url, opts = s3_blobs
    reg = Registry(db_uri, blob_uri=url, blob_options=opts)
    v = reg.register("s3model", [model_file], owners="alice")
    out = reg.download(v.uri, tmp_path / "out")
    assert (out / "model.bin").read_bytes() == model_file.read_bytes()
    assert reg.verify().ok
