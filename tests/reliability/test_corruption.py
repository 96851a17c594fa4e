"""Corruption: damage stored blobs behind the registry's back.

Each fault gets its own version so that every refusal is seen on its own:
bytes flipped (small and streamed large blob), truncated, grown, deleted, and a
corrupt blob shared by two versions (content is stored once).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelbook import IntegrityError, Registry
from modelbook.cli import main

from .helpers import Figures

FAULTS = {
    "flip.bin": ("corrupt", 3000),
    "trunc.bin": ("corrupt", 5000),
    "gone.bin": ("missing", 7000),
    "bigflip.bin": ("corrupt", 2_500_000),
    "grown.bin": ("corrupt", 4000),
}


def damage(path: Path, name: str) -> None:
    if name == "flip.bin":
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF
        data[-1] ^= 0x01
        path.write_bytes(bytes(data))
    elif name == "bigflip.bin":
        with open(path, "r+b") as f:
            f.seek(1_250_000)
            byte = f.read(1)
            f.seek(1_250_000)
            f.write(bytes([byte[0] ^ 0x10]))
    elif name == "trunc.bin":
        with open(path, "r+b") as f:
            f.truncate(2500)
    elif name == "grown.bin":
        with open(path, "ab") as f:
            f.write(b"\0")
    elif name == "gone.bin":
        path.unlink()


def run_cli(*args: str) -> int:
    """The exit status the ``modelbook`` command would end with."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0  # the console script ends with sys.exit(main()), i.e. status 0


@pytest.fixture
def damaged(registry: Registry, tmp_path: Path) -> dict[str, object]:
    """A registry with one version per fault, a shared corrupt blob, and intact versions."""
    src = tmp_path / "src"
    src.mkdir()
    contents = {name: os.urandom(size) for name, (_, size) in FAULTS.items()}
    contents["ok.bin"] = os.urandom(6000)
    contents["ok2.bin"] = os.urandom(1_500_000)
    for name, data in contents.items():
        (src / name).write_bytes(data)
    (src / "same-as-flip.bin").write_bytes(contents["flip.bin"])
    numbers = {}
    for name in FAULTS:
        numbers[name] = registry.register("m", [src / name], owners="qa").number
    shared = registry.register("m", [src / "ok.bin", src / "same-as-flip.bin"]).number
    intact = registry.register("m", [src / "ok.bin", src / "ok2.bin"]).number
    registry.register("other", [src / "ok.bin"], owners="qa")
    assert registry.verify().ok
    for name in FAULTS:
        sha = registry.get_version(f"m/{numbers[name]}").artifacts[0].sha256
        damage(Path(registry.blobs.path(sha)), name)
    return {
        "numbers": numbers,
        "shared": shared,
        "intact": intact,
        "contents": contents,
        "src": src,
    }


def test_verify_names_each_damaged_file(
    registry: Registry, damaged: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    numbers: dict[str, int] = damaged["numbers"]  # type: ignore[assignment]
    expected = {("m", numbers[n], n, kind) for n, (kind, _) in FAULTS.items()}
    expected.add(("m", damaged["shared"], "same-as-flip.bin", "corrupt"))
    for report in (registry.verify(), registry.verify("m")):
        assert not report.ok
        got = {(p.model, p.version, p.path, p.kind) for p in report.problems}
        assert got == expected
        for p in report.problems:
            stored = {a.path: a.sha256 for a in registry.get_version(f"m/{p.version}").artifacts}
            assert p.sha256 == stored[p.path]
    assert registry.verify("other").ok  # the damage is named where it is, not elsewhere

    run_cli("--uri", registry.uri, "--blob-uri", registry.blobs.url, "verify")
    err = capsys.readouterr().err
    for model, number, path, kind in expected:
        assert f"{kind}: models:/{model}/{number} {path}" in err


def test_cli_verify_exits_non_zero_on_damage(
    registry: Registry, damaged: dict[str, object]
) -> None:
    assert run_cli("--uri", registry.uri, "--blob-uri", registry.blobs.url, "verify") == 7


def test_reads_refuse_damaged_files(
    registry: Registry, damaged: dict[str, object], tmp_path: Path, figures: Figures
) -> None:
    numbers: dict[str, int] = damaged["numbers"]  # type: ignore[assignment]
    contents: dict[str, bytes] = damaged["contents"]  # type: ignore[assignment]
    refused = 0
    for name, number in numbers.items():
        uri = f"models:/m/{number}"
        dest = tmp_path / f"dl-{name}"
        with pytest.raises(IntegrityError):
            registry.download(uri, dest)
        assert not dest.exists() or not [p for p in dest.rglob("*") if p.is_file()], (
            f"{name}: left {list(dest.rglob('*'))}"
        )
        with pytest.raises(IntegrityError):
            registry.read_artifact(uri, name)
        refused += 2

        # A good copy already at the destination is not replaced by damaged bytes.
        dest.mkdir(exist_ok=True)
        (dest / name).write_bytes(contents[name])
        with pytest.raises(IntegrityError):
            registry.download(uri, dest, overwrite=True)
        assert (dest / name).read_bytes() == contents[name]
        assert [p.name for p in dest.iterdir()] == [name]

        cli_dest = tmp_path / f"cli-{name}"
        assert (
            run_cli(
                "--uri",
                registry.uri,
                "--blob-uri",
                registry.blobs.url,
                "download",
                uri,
                str(cli_dest),
            )
            == 7
        )
        assert not cli_dest.exists() or not any(cli_dest.iterdir())
        refused += 1

    # A version with one intact and one damaged file: the intact one still reads.
    shared = f"models:/m/{damaged['shared']}"
    assert registry.read_artifact(shared, "ok.bin") == contents["ok.bin"]
    with pytest.raises(IntegrityError):
        registry.read_artifact(shared, "same-as-flip.bin")
    dest = tmp_path / "dl-shared"
    with pytest.raises(IntegrityError):
        registry.download(shared, dest)
    assert not (dest / "same-as-flip.bin").exists()
    assert not [p for p in dest.rglob("*") if p.name.endswith(".part")]

    # Intact versions download whole and verified.
    dest = tmp_path / "dl-intact"
    registry.download(f"models:/m/{damaged['intact']}", dest)
    assert (dest / "ok.bin").read_bytes() == contents["ok.bin"]
    assert (dest / "ok2.bin").read_bytes() == contents["ok2.bin"]
    registry.download("models:/other/1", tmp_path / "dl-other")
    figures["faults"] = [*sorted(FAULTS), "shared corrupt blob"]
    figures["refusals"] = refused + 2


def test_registering_the_good_file_again_gives_an_intact_version(
    registry: Registry, damaged: dict[str, object]
) -> None:
    """After verify reported damage, registering the original file again must give a
    version whose files read back intact, not one that silently reuses the damaged blob."""
    src: Path = damaged["src"]  # type: ignore[assignment]
    bad = []
    for name in FAULTS:
        v = registry.register("again", [src / name], owners="qa")
        try:
            registry.read_artifact(v.uri, name)
        except IntegrityError:
            bad.append(name)
    assert not bad, f"new versions reuse the damaged blobs of {bad}"
    assert registry.verify("again").ok


def test_corruption_on_object_store(
    tmp_path: Path, s3_blobs: tuple[str, dict[str, object]]
) -> None:
    """The same refusals with blobs on S3-compatible storage."""
    url, options = s3_blobs
    reg = Registry(f"sqlite:///{tmp_path / 'r.db'}", blob_uri=url, blob_options=options)
    try:
        files = {n: os.urandom(s) for n, s in (("flip.bin", 3000), ("gone.bin", 2000))}
        files["ok.bin"] = os.urandom(1000)
        numbers = {}
        for name, data in files.items():
            (tmp_path / name).write_bytes(data)
            numbers[name] = reg.register("s3m", [tmp_path / name], owners="qa").number
        fs = reg.blobs.fs
        flip = reg.blobs.path(reg.get_version(f"s3m/{numbers['flip.bin']}").artifacts[0].sha256)
        data = bytearray(fs.cat_file(flip))
        data[10] ^= 0xFF
        fs.pipe_file(flip, bytes(data))
        fs.rm_file(
            reg.blobs.path(reg.get_version(f"s3m/{numbers['gone.bin']}").artifacts[0].sha256)
        )

        report = reg.verify()
        assert {(p.path, p.kind) for p in report.problems} == {
            ("flip.bin", "corrupt"),
            ("gone.bin", "missing"),
        }
        for name in ("flip.bin", "gone.bin"):
            dest = tmp_path / f"dl-{name}"
            with pytest.raises(IntegrityError):
                reg.download(f"s3m/{numbers[name]}", dest)
            assert not dest.exists() or not any(dest.iterdir())
        out = reg.download(f"s3m/{numbers['ok.bin']}", tmp_path / "dl-ok")
        assert (out / "ok.bin").read_bytes() == files["ok.bin"]
    finally:
        reg.close()
