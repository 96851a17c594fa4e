"""What a registration reads and what a download writes (modelbook.files).

collect: symbolic links are followed to files and folders alike; loops, dangling
links, FIFOs, sockets and unreadable entries are refused by name, never skipped.
check_manifest_paths: the shape of manifest paths, including one path being a
folder of another. place: downloads are all or nothing.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelbook
from modelbook.blobs import BlobStore
from modelbook.downloads import STAGING_PREFIX, place
from modelbook.errors import IntegrityError, InvalidInput, ModelbookError, Unavailable
from modelbook.files import check_manifest_paths, collect

NOBODY = 65534


def one_line(exc: pytest.ExceptionInfo[ModelbookError]) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root``: file contents, None for folders and other entries."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel] = p.read_bytes() if p.is_file() and not p.is_symlink() else None
    return out


def run_unprivileged(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that cannot read what only its owner may.

    As root (which ignores permission bits) the child drops to uid/gid 65534
    after importing modelbook, so a chmod 000 really denies it; otherwise it
    runs as the current user, for whom the chmod already denies.
    """
    src = str(Path(modelbook.__file__).parent.parent)
    prelude = (
        "import os, sys, tempfile\n"
        "import modelbook.files, modelbook.blobs, modelbook.downloads, modelbook.errors\n"
        # A store made first loads fsspec's modules while the interpreter's own
        # files (which may be readable by their owner only) can still be read.
        "modelbook.blobs.BlobStore(tempfile.mkdtemp())\n"
        "if os.geteuid() == 0:\n"
        f"    os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})\n"
    )
    env = {**os.environ, "PYTHONPATH": src}
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user may enter (pytest's own temporary folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="modelbook-files-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


# collect --------------------------------------------------------------------------------


def write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_one_folder_gives_paths_relative_to_it(tmp_path: Path) -> None:
    write(tmp_path / "m" / "model.bin")
    write(tmp_path / "m" / "meta" / "config.json")
    (tmp_path / "m" / "empty").mkdir()
    got = collect(tmp_path / "m")
    assert got == [
        ("meta/config.json", tmp_path / "m" / "meta" / "config.json"),
        ("model.bin", tmp_path / "m" / "model.bin"),
    ]


def test_several_paths_keep_names_and_folder_names(tmp_path: Path) -> None:
    a = write(tmp_path / "a.bin")
    write(tmp_path / "tok" / "vocab.txt")
    got = collect([a, tmp_path / "tok"])
    assert [rel for rel, _ in got] == ["a.bin", "tok/vocab.txt"]


def test_a_symlinked_folder_is_followed_and_stored(tmp_path: Path) -> None:
    """A Hugging Face style snapshot: folders and files that are links into a blob folder."""
    blobs = tmp_path / "blobs"
    write(blobs / "w1", b"weights")
    write(blobs / "sub" / "c", b"config")
    snap = tmp_path / "snapshot"
    snap.mkdir()
    (snap / "model.bin").symlink_to(blobs / "w1")
    (snap / "extra").symlink_to(blobs / "sub", target_is_directory=True)
    got = collect(snap)
    assert [(rel, p.read_bytes()) for rel, p in got] == [
        ("extra/c", b"config"),
        ("model.bin", b"weights"),
    ]


def test_a_symlink_to_a_folder_named_with_others_keeps_the_link_name(tmp_path: Path) -> None:
    write(tmp_path / "snapshots" / "abc123" / "w.bin")
    (tmp_path / "model").symlink_to(tmp_path / "snapshots" / "abc123")
    other = write(tmp_path / "readme.txt")
    assert [rel for rel, _ in collect([tmp_path / "model", other])] == [
        "model/w.bin",
        "readme.txt",
    ]


def test_the_same_folder_reached_twice_without_a_loop_is_fine(tmp_path: Path) -> None:
    write(tmp_path / "shared" / "s.bin")
    m = tmp_path / "m"
    m.mkdir()
    (m / "one").symlink_to(tmp_path / "shared")
    (m / "two").symlink_to(tmp_path / "shared")
    assert [rel for rel, _ in collect(m)] == ["one/s.bin", "two/s.bin"]


def test_a_loop_is_refused_naming_it(tmp_path: Path) -> None:
    m = tmp_path / "m"
    write(m / "a" / "w.bin")
    (m / "a" / "back").symlink_to(m)
    with pytest.raises(InvalidInput, match="is a loop: it leads back to") as exc:
        collect(m)
    assert one_line(exc).startswith(f"artifact folder {str(m / 'a' / 'back')!r} is a loop")
    assert one_line(exc).endswith(
        f"leads back to {str(m)!r}, a folder it is inside of; "
        "remove the link or name the files to register"
    )


def test_a_link_to_itself_is_refused_naming_it(tmp_path: Path) -> None:
    m = tmp_path / "m"
    write(m / "w.bin")
    (m / "self").symlink_to(m / "self")
    with pytest.raises(InvalidInput, match="cannot be read") as exc:
        collect(m)
    assert str(m / "self") in one_line(exc)


def test_a_dangling_link_is_refused_naming_it(tmp_path: Path) -> None:
    m = tmp_path / "m"
    write(m / "w.bin")
    (m / "gone.bin").symlink_to(tmp_path / "nowhere")
    with pytest.raises(InvalidInput, match="does not exist") as exc:
        collect(m)
    assert str(m / "gone.bin") in one_line(exc) and "nowhere" in one_line(exc)


@pytest.mark.timeout(20)
def test_a_fifo_inside_a_folder_is_refused_naming_it(tmp_path: Path) -> None:
    m = tmp_path / "m"
    write(m / "w.bin")
    os.mkfifo(m / "pipe")
    with pytest.raises(InvalidInput, match="FIFO") as exc:
        collect(m)
    assert str(m / "pipe") in one_line(exc)


@pytest.mark.timeout(20)
def test_a_fifo_given_by_name_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InvalidInput, match="not a regular file"):
        collect([tmp_path / "pipe"])


def test_a_socket_is_refused_naming_it(open_dir: Path) -> None:
    # Under /tmp: a socket's path must stay short.
    m = open_dir / "m"
    write(m / "w.bin")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(m / "sock"))
        with pytest.raises(InvalidInput, match="socket") as exc:
            collect(m)
    assert str(m / "sock") in one_line(exc)


def test_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    m = tmp_path / "m"
    write(m / "w.bin")
    (m / "null").symlink_to("/dev/null")
    with pytest.raises(InvalidInput, match="character device"):
        collect(m)


def test_an_unreadable_subfolder_is_refused_naming_it(open_dir: Path) -> None:
    """Proven by a process that really cannot read it (uid 65534 when run as root)."""
    m = open_dir / "m"
    write(m / "w.bin")
    write(m / "private" / "secret.bin")
    for p in [m, m / "w.bin"]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (m / "private").chmod(0o000)
    result = run_unprivileged(
        "try:\n"
        f"    modelbook.files.collect({str(m)!r})\n"
        "except modelbook.errors.InvalidInput as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "cannot be read" in result.stdout
    assert str(m / "private") in result.stdout


def test_an_unreadable_file_is_refused_naming_it(open_dir: Path) -> None:
    m = open_dir / "m"
    write(m / "w.bin")
    write(m / "secret.bin").chmod(0o000)
    result = run_unprivileged(
        "try:\n"
        f"    modelbook.files.collect({str(m)!r})\n"
        "except modelbook.errors.InvalidInput as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "not readable" in result.stdout and str(m / "secret.bin") in result.stdout


def test_a_file_and_a_folder_of_the_same_name_are_refused(tmp_path: Path) -> None:
    """``model`` (a file) and ``model/w.bin`` cannot both be written out."""
    write(tmp_path / "a" / "model")
    write(tmp_path / "b" / "model" / "w.bin")
    with pytest.raises(InvalidInput, match="needs a folder") as exc:
        collect([tmp_path / "a" / "model", tmp_path / "b" / "model"])
    assert "'model'" in one_line(exc) and "'model/w.bin'" in one_line(exc)


def test_two_files_of_one_name_are_refused(tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "model.bin")
    b = write(tmp_path / "b" / "model.bin")
    with pytest.raises(InvalidInput, match=r"both be stored as 'model\.bin'"):
        collect([a, b])


def test_folders_without_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "e" / "sub" / "deeper").mkdir(parents=True)
    with pytest.raises(InvalidInput, match="contains no files"):
        collect(tmp_path / "e")


def test_no_paths_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no artifact paths"):
        collect([])
    with pytest.raises(InvalidInput, match="does not exist") as exc:
        collect([tmp_path / "missing.bin"])
    assert "missing.bin" in one_line(exc)


def test_a_file_name_with_a_backslash_is_refused(tmp_path: Path) -> None:
    m = tmp_path / "m"
    write(m / "a\\b.bin")
    with pytest.raises(InvalidInput, match="backslash"):
        collect(m)


# check_manifest_paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paths", "phrase"),
    [
        ([""], "empty"),
        (["/etc/passwd"], "absolute"),
        (["a/../../x"], "'..'"),
        (["../x"], "'..'"),
        (["./x"], "'.'"),
        (["a//b"], "empty name"),
        (["a/"], "empty name"),
        (["a\\b"], "backslash"),
        (["a\x00b"], "NUL"),
        (["x" * 1025], "1025 characters"),
        (["é" * 128 + "/ok"], "255 bytes"),
        (["bad\udcff"], "UTF-8"),
        (["a", "a"], "both be stored as 'a'"),
        (["model", "model/w.bin"], "needs a folder"),
        (["a/b/c/d.bin", "a/b"], "needs a folder"),
        ([3], "must be text"),
    ],
)
def test_manifest_paths_refused(paths: list[str], phrase: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(phrase)) as exc:
        check_manifest_paths(paths)
    one_line(exc)


def test_manifest_paths_accepted() -> None:
    check_manifest_paths(["model.bin", "model.bin.idx", "modelx/a", "a/b/c", "é" * 127, "x" * 255])
    check_manifest_paths([])


# place ----------------------------------------------------------------------------------

FILES = {
    "model.bin": os.urandom(3000),
    "meta/config.json": b'{"k": 1}',
    "meta/deep/vocab.txt": b"a b c",
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    blobs = BlobStore(str(tmp_path / "blobs"))
    for rel, data in FILES.items():
        blobs.put_file(write(tmp_path / "src" / rel, data))
    return blobs


def items(files: dict[str, bytes] = FILES) -> list[tuple[str, str, int]]:
    return [(rel, sha(data), len(data)) for rel, data in files.items()]


def downloaded(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_place_into_a_new_folder(store: BlobStore, tmp_path: Path) -> None:
    seen: list[int] = []
    dest = tmp_path / "new" / "deeper" / "out"
    got = place(dest, items(), store.copy_to, progress=seen.append)
    assert got == dest.resolve()
    assert downloaded(dest) == FILES
    assert sum(seen) == sum(map(len, FILES.values()))
    assert not [p for p in dest.iterdir() if p.name.startswith(STAGING_PREFIX)]


def test_place_into_an_empty_folder(store: BlobStore, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    place(dest, items(), store.copy_to)
    assert downloaded(dest) == FILES


def test_a_folder_that_holds_files_is_refused(store: BlobStore, tmp_path: Path) -> None:
    """Two versions are never mixed silently."""
    dest = tmp_path / "out"
    write(dest / "model.bin", b"older version")
    write(dest / "notes.txt", b"mine")
    before = tree(dest)
    with pytest.raises(InvalidInput, match="not empty") as exc:
        place(dest, items(), store.copy_to)
    assert str(dest) in one_line(exc) and "--overwrite" in one_line(exc)
    assert tree(dest) == before


def test_overwrite_replaces_the_version_files_and_keeps_others(
    store: BlobStore, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    write(dest / "model.bin", b"older version")
    write(dest / "notes.txt", b"mine")
    place(dest, items(), store.copy_to, overwrite=True)
    assert downloaded(dest) == {**FILES, "notes.txt": b"mine"}


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_in_the_way_of_a_file_is_refused_and_nothing_is_left(
    store: BlobStore, tmp_path: Path, overwrite: bool
) -> None:
    dest = tmp_path / "out"
    (dest / "model.bin").mkdir(parents=True)
    if overwrite:
        write(dest / "meta" / "config.json", b"old")
    before = tree(dest)
    with pytest.raises(InvalidInput) as exc:
        place(dest, items(), store.copy_to, overwrite=overwrite)
    if overwrite:
        assert "is a folder, in the way" in one_line(exc)
        assert str(dest / "model.bin") in one_line(exc)
    assert tree(dest) == before


def test_a_file_in_the_way_of_a_folder_is_refused(store: BlobStore, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    write(dest / "meta", b"a file named like the folder")
    before = tree(dest)
    with pytest.raises(InvalidInput, match="in the way of the folder") as exc:
        place(dest, items(), store.copy_to, overwrite=True)
    assert str(dest / "meta") in one_line(exc)
    assert tree(dest) == before


def test_a_link_in_dest_is_not_written_through(store: BlobStore, tmp_path: Path) -> None:
    """A folder link inside dest would put files outside it: refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "meta").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidInput, match="symbolic link"):
        place(dest, items(), store.copy_to, overwrite=True)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in dest.iterdir()) == ["meta"]


def test_a_destination_that_is_a_file_is_refused(store: BlobStore, tmp_path: Path) -> None:
    dest = write(tmp_path / "out", b"a file")
    with pytest.raises(InvalidInput, match="not a folder") as exc:
        place(dest, items(), store.copy_to, overwrite=True)
    assert str(dest) in one_line(exc)
    assert dest.read_bytes() == b"a file"
    with pytest.raises(InvalidInput, match="cannot be used"):
        place(dest / "below", items(), store.copy_to)


def test_a_path_escaping_dest_is_refused(store: BlobStore, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    bad = [("../escaped.bin", sha(FILES["model.bin"]), len(FILES["model.bin"]))]
    with pytest.raises(InvalidInput, match=r"'\.\.'"):
        place(dest, bad, store.copy_to)
    assert not dest.exists() and not (tmp_path / "escaped.bin").exists()


def test_a_corrupt_blob_leaves_nothing_new(store: BlobStore, tmp_path: Path) -> None:
    Path(store.path(sha(FILES["meta/deep/vocab.txt"]))).write_bytes(b"tampered")
    fresh = tmp_path / "fresh" / "out"
    with pytest.raises(IntegrityError, match="corrupt"):
        place(fresh, items(), store.copy_to)
    assert not (tmp_path / "fresh").exists(), "folders made for the download are removed"
    dest = tmp_path / "out"
    write(dest / "model.bin", b"older version")
    before = tree(dest)
    with pytest.raises(IntegrityError):
        place(dest, items(), store.copy_to, overwrite=True)
    assert tree(dest) == before


def test_a_failure_while_moving_puts_everything_back(
    store: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third move fails: files already moved are taken back, replaced ones restored."""
    dest = tmp_path / "out"
    write(dest / "model.bin", b"older version")
    write(dest / "meta" / "config.json", b"older config")
    before = tree(dest)
    real = os.rename
    placed: list[str] = []

    def failing(src: str | Path, dst: str | Path) -> None:
        if Path(src).parent.name.startswith(STAGING_PREFIX) and Path(src).name.isdigit():
            placed.append(str(dst))
            if len(placed) == 3:
                raise OSError(errno.EIO, "Input/output error", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(Unavailable, match="Input/output error") as exc:
        place(dest, items(), store.copy_to, overwrite=True)
    monkeypatch.undo()
    one_line(exc)
    assert len(placed) == 3
    assert tree(dest) == before


def test_an_os_error_while_fetching_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    def disk_full(_sha: str, _size: int, target: Path, _progress: object) -> None:
        target.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    dest = tmp_path / "out"
    with pytest.raises(Unavailable, match="No space left") as exc:
        place(dest, items(), disk_full)
    one_line(exc)
    assert not dest.exists()


def test_an_interrupted_download_leaves_nothing(tmp_path: Path) -> None:
    def interrupted(_sha: str, _size: int, target: Path, _progress: object) -> None:
        target.write_bytes(b"partial")
        raise KeyboardInterrupt

    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(KeyboardInterrupt):
        place(dest, items(), interrupted)
    assert list(dest.iterdir()) == []


def test_a_malformed_stored_hash_is_an_integrity_error_before_anything(
    store: BlobStore, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    for bad in ["../../../etc/passwd", "A" * 64, "a" * 63, "a" * 64 + "\n"]:
        with pytest.raises(IntegrityError, match="not 64 lowercase"):
            place(dest, [("model.bin", bad, 1)], store.copy_to)
    assert not dest.exists()


def test_an_unwritable_destination_is_refused(open_dir: Path) -> None:
    """Checked by a process that really cannot write there (uid 65534 when run as root)."""
    store_root = open_dir / "blobs"
    blobs = BlobStore(str(store_root))
    blobs.put_file(write(open_dir / "src" / "model.bin", FILES["model.bin"]))
    for p in [store_root, *store_root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    locked = open_dir / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    result = run_unprivileged(
        "store = modelbook.blobs.BlobStore(" + repr(str(store_root)) + ")\n"
        "try:\n"
        "    modelbook.downloads.place("
        + repr(str(locked / "out"))
        + ", "
        + repr(items({"model.bin": FILES["model.bin"]}))
        + ", store.copy_to)\n"
        "except modelbook.errors.InvalidInput as exc:\n"
        "    print('refused:', exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: cannot write to download destination")
    assert list(locked.iterdir()) == []
