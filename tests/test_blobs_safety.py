"""The blob store stores exactly what it read, trusts no stored hash, and deletes nothing of yours.

- A file that changes while it is stored is refused and nothing is stored, on
  the small, the large (streamed) and the object-store path.
- A FIFO, given or planted where a blob should be, is refused without waiting.
- A stored sha256 that is not 64 lowercase hex characters is an IntegrityError
  before any path is built from it.
- Temporaries live in a marked folder; only stale ones of the store's own name
  pattern are swept, by the first write of a process, never at open or by reads.
- A read-only blob folder can be checked and read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelbook
from modelbook import blobs_temp
from modelbook.blobs import DIRECT_MIN, SMALL, BlobStore
from modelbook.blobs_temp import TEMP_DIR, TEMP_MARKER, temp_name
from modelbook.errors import IntegrityError, InvalidInput, ModelbookError, Unavailable

MiB = 1024 * 1024
TWO_DAYS_AGO = time.time() - 2 * 24 * 3600
NOBODY = 65534


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def one_line(exc: pytest.ExceptionInfo[ModelbookError]) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


def write(path: Path, data: bytes, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def blobs_in(root: Path) -> list[str]:
    folder = root / "sha256"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def temporaries(root: Path) -> list[str]:
    folder = root / TEMP_DIR
    return (
        sorted(p.name for p in folder.iterdir() if p.name != TEMP_MARKER) if folder.exists() else []
    )


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime_ns) of every entry under ``root``, ``root`` included."""
    out = {}
    for p in [root, *sorted(root.rglob("*"))]:
        st = p.lstat()
        out[p.relative_to(root).as_posix()] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if this were a new process: no blob root has been swept yet."""
    monkeypatch.setattr(blobs_temp, "_swept", set())


# a file that changes while it is stored ------------------------------------------------


def assert_nothing_stored(root: Path) -> None:
    assert blobs_in(root) == []
    assert temporaries(root) == []


@pytest.mark.parametrize(
    "size", [1000, SMALL + 1, DIRECT_MIN + 4096], ids=["small", "large", "direct"]
)
def test_a_file_appended_to_while_stored_is_refused(
    size: int, tmp_path: Path, store_dir: Path
) -> None:
    src = write(tmp_path / "growing.bin", os.urandom(size), mtime=time.time() - 3600)
    calls: list[int] = []

    def append(n: int) -> None:
        calls.append(n)
        if len(calls) == 1:
            with open(src, "ab") as f:
                f.write(b"more")

    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(InvalidInput, match="changed while it was being stored") as exc:
        BlobStore(str(store_dir)).put_file(src, append)
    assert str(src) in one_line(exc) and "nothing was registered" in one_line(exc)
    assert len(os.listdir("/proc/self/fd")) == fds, "a file descriptor was left open"
    assert_nothing_stored(store_dir)


@pytest.mark.parametrize(
    "size", [1000, SMALL + 1, DIRECT_MIN + 4096], ids=["small", "large", "direct"]
)
def test_a_file_rewritten_in_place_while_stored_is_refused(
    size: int, tmp_path: Path, store_dir: Path
) -> None:
    """Same size, other bytes: the modification time gives it away."""
    src = write(tmp_path / "rewritten.bin", os.urandom(size), mtime=time.time() - 3600)
    done: list[bool] = []

    def rewrite(_: int) -> None:
        if not done:
            done.append(True)
            with open(src, "r+b") as f:
                f.seek(size - 10)
                f.write(b"\x00" * 10)

    with pytest.raises(InvalidInput, match="changed while it was being stored"):
        BlobStore(str(store_dir)).put_file(src, rewrite)
    assert_nothing_stored(store_dir)


def test_an_unchanged_file_is_stored_after_a_refusal(tmp_path: Path, store_dir: Path) -> None:
    data = os.urandom(SMALL + 5)
    src = write(tmp_path / "f.bin", data, mtime=time.time() - 3600)
    store = BlobStore(str(store_dir))
    with pytest.raises(InvalidInput):
        store.put_file(src, lambda _: os.utime(src))
    assert store.put_file(src) == (sha(data), len(data))
    assert store.check(sha(data), len(data)) is None


# FIFOs and other things that are not files --------------------------------------------


@pytest.mark.timeout(20)
def test_storing_a_fifo_is_refused_without_waiting(tmp_path: Path, store_dir: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "link.bin").symlink_to(fifo)
    store = BlobStore(str(store_dir))
    for path in [fifo, tmp_path / "link.bin"]:
        with pytest.raises(InvalidInput, match="FIFO") as exc:
            store.put_file(path)
        assert str(path) in one_line(exc)
    with pytest.raises(InvalidInput, match="character device"):
        store.put_file(Path("/dev/zero"))
    with pytest.raises(InvalidInput, match="does not exist"):
        store.put_file(tmp_path / "missing.bin")
    assert blobs_in(store_dir) == []


@pytest.mark.timeout(20)
def test_a_fifo_planted_at_a_blob_path_is_reported_not_waited_on(
    tmp_path: Path, store_dir: Path
) -> None:
    data = b"small blob"
    store = BlobStore(str(store_dir))
    digest, size = store.put_file(write(tmp_path / "f.bin", data))
    blob = Path(store.path(digest))
    blob.unlink()
    os.mkfifo(blob)
    assert "FIFO" in (store.check(digest, size) or "")
    with pytest.raises(IntegrityError, match="FIFO"):
        store.read_verified(digest, size)
    with pytest.raises(IntegrityError, match="FIFO"):
        store.copy_to(digest, size, tmp_path / "out" / "f.bin")
    assert not (tmp_path / "out" / "f.bin").exists()
    assert store.put_file(tmp_path / "f.bin") == (digest, size)
    assert store.check(digest, size) is None, "storing the file again heals it"


# stored hashes are checked before use --------------------------------------------------

BAD_HASHES = [
    "../../../../etc/passwd",
    "A" * 64,
    "a" * 63,
    "a" * 65,
    "a" * 64 + "\n",
    "g" * 64,
    "",
]


@pytest.mark.parametrize("bad", BAD_HASHES, ids=repr)
def test_a_malformed_stored_hash_is_an_integrity_error(
    bad: str, tmp_path: Path, store_dir: Path
) -> None:
    store = BlobStore(str(store_dir))
    for call in (
        lambda: store.path(bad),
        lambda: store.exists(bad),
        lambda: store.read_verified(bad, 1),
        lambda: store.copy_to(bad, 1, tmp_path / "out" / "x.bin"),
    ):
        with pytest.raises(IntegrityError, match="not 64 lowercase hexadecimal") as exc:
            call()
        one_line(exc)
    assert not (tmp_path / "out").exists()
    verdict = store.check(bad, 1)
    assert verdict is not None and "not 64 lowercase hexadecimal" in verdict


# temporaries ----------------------------------------------------------------------------


def stale_temporary(root: Path, name: str | None = None) -> Path:
    return write(root / TEMP_DIR / (name or temp_name()), b"partial", mtime=TWO_DAYS_AGO)


@pytest.mark.usefixtures("fresh_process")
def test_opening_and_reading_a_store_changes_nothing(tmp_path: Path) -> None:
    """A blob root that is a user's folder: their old tmp/ files survive; open and read
    create, remove and touch nothing, not even stale temporaries of the store's own."""
    root = tmp_path / "project"
    mine = [
        write(root / "tmp" / "notes.txt", b"mine", mtime=TWO_DAYS_AGO),
        write(root / "tmp" / uuid.uuid4().hex, b"mine too", mtime=TWO_DAYS_AGO),
    ]
    BlobStore(str(tmp_path / "absent"))
    assert not (tmp_path / "absent").exists(), "opening a store creates nothing"
    store = BlobStore(str(root))
    assert not (root / ".modelbook").exists()
    digest, size = store.put_file(write(tmp_path / "f.bin", b"content"))
    stale = stale_temporary(root)
    before = snapshot(root)
    reopened = BlobStore(str(root))
    assert reopened.check(digest, size) is None
    assert reopened.read_verified(digest, size) == b"content"
    assert reopened.exists(digest)
    reopened.copy_to(digest, size, tmp_path / "out.bin")
    assert snapshot(root) == before
    assert stale.exists() and all(p.exists() for p in mine)


@pytest.mark.usefixtures("fresh_process")
def test_the_first_write_sweeps_only_the_stores_own_stale_temporaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "blobs"
    store = BlobStore(str(root))
    store.put_file(write(tmp_path / "a.bin", b"a"))  # creates the marked folder
    assert (root / TEMP_DIR / TEMP_MARKER).is_file()
    user_file = write(tmp_path / "elsewhere.bin", b"user data", mtime=TWO_DAYS_AGO)
    stale = stale_temporary(root)
    recent = write(root / TEMP_DIR / temp_name(), b"a writer still at work")
    kept = [
        recent,
        stale_temporary(root, "notes.txt"),
        stale_temporary(root, "mb-xyz.part"),
        stale_temporary(root, temp_name() + ".bak"),
        write(root / "tmp" / temp_name(), b"a user's tmp/", mtime=TWO_DAYS_AGO),
    ]
    link = root / TEMP_DIR / temp_name()
    link.symlink_to(user_file)
    os.utime(link, (TWO_DAYS_AGO, TWO_DAYS_AGO), follow_symlinks=False)
    folder = root / TEMP_DIR / temp_name()
    folder.mkdir()
    os.utime(folder, (TWO_DAYS_AGO, TWO_DAYS_AGO))

    # Already swept by this "process": the next write does not look again.
    store.put_file(write(tmp_path / "b.bin", b"b"))
    assert stale.exists()

    monkeypatch.setattr(blobs_temp, "_swept", set())  # a new process
    store = BlobStore(str(root))
    assert stale.exists(), "not at open"
    store.put_file(write(tmp_path / "c.bin", b"c"))
    assert not stale.exists()
    assert all(p.exists() for p in kept)
    assert link.is_symlink() and user_file.read_bytes() == b"user data"
    assert folder.is_dir()
    assert (root / TEMP_DIR / TEMP_MARKER).is_file()


@pytest.mark.usefixtures("fresh_process")
def test_a_folder_without_the_marker_is_never_swept(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    stale = stale_temporary(root)  # the folder exists, made by someone else
    store = BlobStore(str(root))
    assert store.remove_stale_temporaries() == 0
    store.put_file(write(tmp_path / "a.bin", b"a"))
    assert stale.exists()
    assert not (root / TEMP_DIR / TEMP_MARKER).exists()


def test_remove_stale_temporaries_counts_what_it_removed(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = BlobStore(str(root))
    store.put_file(write(tmp_path / "a.bin", b"a"))
    for _ in range(3):
        stale_temporary(root)
    assert store.remove_stale_temporaries() == 3
    assert temporaries(root) == []
    assert BlobStore("s3://no-such-bucket/x").remove_stale_temporaries() == 0


# a read-only blob folder ----------------------------------------------------------------


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user may enter (pytest's own temporary folders are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="modelbook-blobs-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(0o755 if p.is_dir() else 0o644)
    shutil.rmtree(path)


@pytest.mark.usefixtures("fresh_process")
def test_a_read_only_blob_folder_can_be_checked_and_read(open_dir: Path) -> None:
    """Run by a process that cannot write the blob folder at all: as root the child
    drops to uid 65534 (the folder is root's, mode 0555), otherwise the current user
    is denied by the mode itself. Any create, remove or write there would fail and
    raise, so this proves that opening, checking, reading and copying out need no
    write access; the snapshot proves nothing changed (stale temporaries included).
    A write is then refused with a one-line Unavailable."""
    root = open_dir / "blobs"
    data = os.urandom(SMALL + 100)
    store = BlobStore(str(root))
    digest, size = store.put_file(write(open_dir / "src.bin", data))
    stale = stale_temporary(root)
    out = open_dir / "out"
    out.mkdir()
    if os.geteuid() == 0:
        os.chown(out, NOBODY, NOBODY)
    for p in [root, *root.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    write(open_dir / "new.bin", b"new content").chmod(0o644)
    before = snapshot(root)
    code = f"""
import os, sys
import modelbook.blobs, modelbook.errors
from pathlib import Path
# Made before the privileges are dropped: the interpreter's own files (fsspec's
# modules, imported as the store is made) may be readable by their owner only.
store = modelbook.blobs.BlobStore({str(root)!r})
if os.geteuid() == 0:
    os.setgroups([]); os.setgid({NOBODY}); os.setuid({NOBODY})
assert store.check({digest!r}, {size}) is None
assert store.exists({digest!r})
assert len(store.read_verified({digest!r}, {size})) == {size}
store.copy_to({digest!r}, {size}, Path({str(out / "copy.bin")!r}))
try:
    store.put_file(Path({str(open_dir / "new.bin")!r}))
except modelbook.errors.Unavailable as exc:
    print("write refused:", exc)
"""
    env = {**os.environ, "PYTHONPATH": str(Path(modelbook.__file__).parent.parent)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (out / "copy.bin").read_bytes() == data
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("write refused: cannot store")
    assert "new.bin" in lines[0] and "Permission denied" in lines[0]
    assert snapshot(root) == before
    assert stale.exists()


# object stores ---------------------------------------------------------------------------


@pytest.fixture
def s3_store(s3_blobs: tuple[str, dict[str, object]]) -> BlobStore:
    url, opts = s3_blobs
    # Parts of 5 MiB, so that a 12 MiB file goes up as a multipart upload.
    return BlobStore(url, **opts, default_block_size=5 * MiB)


def s3_objects(store: BlobStore) -> dict[str, bytes]:
    store.fs.invalidate_cache()
    return {
        p.rsplit("/", 1)[-1]: store.fs.cat_file(p)
        for p in store.fs.find(store.root.split("/", 1)[0])
    }


@pytest.mark.parametrize("size", [3 * MiB, 12 * MiB], ids=["one-put", "multipart"])
def test_a_file_that_changes_during_an_upload_is_refused(
    size: int, tmp_path: Path, s3_store: BlobStore
) -> None:
    """Nothing is committed: no object for either content, no upload left open."""
    src = write(tmp_path / "f.bin", os.urandom(size), mtime=time.time() - 3600)
    calls: list[int] = []

    def append(n: int) -> None:
        calls.append(n)
        if len(calls) == 1:
            with open(src, "ab") as f:
                f.write(b"more")

    with pytest.raises(InvalidInput, match="changed while it was being stored"):
        s3_store.put_file(src, append)
    assert s3_objects(s3_store) == {}
    bucket = s3_store.root.split("/", 1)[0]
    uploads = s3_store.fs.call_s3("list_multipart_uploads", Bucket=bucket)
    assert uploads.get("Uploads", []) == []
    data = src.read_bytes()
    seen: list[int] = []
    assert s3_store.put_file(src, seen.append) == (sha(data), len(data))
    assert sum(seen) == len(data)
    assert s3_objects(s3_store) == {sha(data): data}


@pytest.mark.parametrize("size", [3 * MiB, 12 * MiB], ids=["one-put", "multipart"])
def test_a_changing_file_never_overwrites_a_good_object(
    size: int, tmp_path: Path, s3_store: BlobStore
) -> None:
    """Hashed as A, then changed while uploading: the object stored for A stays A."""
    data = os.urandom(size)
    src = write(tmp_path / "f.bin", data, mtime=time.time() - 3600)
    digest, _ = s3_store.put_file(src)
    os.utime(src, (time.time() - 3600, time.time() - 3600))
    done: list[bool] = []

    def rewrite_tail(_: int) -> None:
        if not done:
            done.append(True)
            with open(src, "r+b") as f:
                f.seek(size - 10)
                f.write(b"\x00" * 10)

    with pytest.raises(InvalidInput, match="changed while it was being stored"):
        s3_store.put_file(src, rewrite_tail)
    assert s3_objects(s3_store) == {digest: data}
    assert s3_store.check(digest, size) is None


@pytest.fixture
def memory_store() -> Iterator[BlobStore]:
    """An fsspec store whose files commit whenever closed (no upload to abandon)."""
    store = BlobStore(f"memory://mb-{uuid.uuid4().hex}/blobs")
    yield store
    store.fs.rm(store.root, recursive=True)


def test_a_store_that_cannot_abandon_uploads_moves_verified_files_into_place(
    tmp_path: Path, memory_store: BlobStore
) -> None:
    data = os.urandom(5000)
    src = write(tmp_path / "f.bin", data, mtime=time.time() - 3600)

    def append(_: int) -> None:
        with open(src, "ab") as f:
            f.write(b"more")

    with pytest.raises(InvalidInput, match="changed while it was being stored"):
        memory_store.put_file(src, append)
    assert memory_store.fs.find(memory_store.root) == []
    src.write_bytes(data)
    assert memory_store.put_file(src) == (sha(data), len(data))
    assert memory_store.fs.find(memory_store.root) == [memory_store.path(sha(data))]
    assert memory_store.read_verified(sha(data), len(data)) == data


def test_an_unreachable_store_is_unavailable_naming_the_file(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.write_bytes(b"a file where the blob folder should be")
    with pytest.raises(Unavailable, match="cannot store") as exc:
        BlobStore(str(root)).put_file(write(tmp_path / "f.bin", b"x"))
    assert "f.bin" in one_line(exc)


def test_stale_files_in_the_marked_folder_are_only_regular_files(tmp_path: Path) -> None:
    """A FIFO of the temporary pattern is neither opened nor removed by a sweep."""
    root = tmp_path / "blobs"
    store = BlobStore(str(root))
    store.put_file(write(tmp_path / "a.bin", b"a"))
    fifo = root / TEMP_DIR / temp_name()
    os.mkfifo(fifo)
    os.utime(fifo, (TWO_DAYS_AGO, TWO_DAYS_AGO))
    assert store.remove_stale_temporaries() == 0
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
