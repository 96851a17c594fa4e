"""Streaming large files into a local blob store: direct and buffered writes.

Files bigger than ``SMALL`` are copied in ``STREAM_CHUNK`` pieces, hashed while
written; from ``DIRECT_MIN`` on with direct I/O where the file system takes it.
Every mode must store the same bytes under the same hash, and a failed write
must leave neither a temporary file nor a blob behind.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import random
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from modelbook import Unavailable, blobs_local, direct_io
from modelbook.blobs import DIRECT_MIN, SMALL, STREAM_CHUNK, BlobStore
from modelbook.blobs_temp import TEMP_DIR, TEMP_MARKER

MiB = 1024 * 1024
BOUNDARY_SIZES = [
    SMALL + 1,
    DIRECT_MIN - 1,
    DIRECT_MIN,
    DIRECT_MIN + 1,
    3 * STREAM_CHUNK + 4095,  # three aligned chunks and an unaligned tail
    40 * MiB,
]


def pattern(size: int, seed: int = 0) -> bytes:
    return random.Random(seed * 1_000_003 + size).randbytes(size)


def source(tmp_path: Path, size: int, seed: int = 0) -> tuple[Path, bytes]:
    data = pattern(size, seed)
    path = tmp_path / f"src-{size}-{seed}.bin"
    path.write_bytes(data)
    return path, data


def stored_files(root: Path, sub: str) -> list[Path]:
    folder = root / sub
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def temporaries(root: Path) -> list[Path]:
    """Everything in the store's temporary folder except its marker."""
    return [p for p in stored_files(root, TEMP_DIR) if p.name != TEMP_MARKER]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def is_direct(fd: int) -> bool:
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & direct_io.O_DIRECT)


def direct_io_works(folder: Path) -> bool:
    """Whether a page-aligned direct write succeeds in ``folder``."""
    if not direct_io.O_DIRECT:
        return False
    probe = folder / ".direct-probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | direct_io.O_DIRECT)
        with mmap.mmap(-1, 4096) as buf:
            return os.write(fd, buf) == 4096
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink()


class Writes:
    """Wraps ``os.writev``: records each call's size and whether the fd was direct."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        fault: Callable[[int, int, bool], int | None] | None = None,
    ) -> None:
        self.calls: list[tuple[int, bool]] = []
        self._real = os.writev
        self._fault = fault
        monkeypatch.setattr(direct_io.os, "writev", self)

    def __call__(self, fd: int, buffers: Sequence[memoryview]) -> int:
        n = sum(len(b) for b in buffers)
        direct = is_direct(fd)
        self.calls.append((n, direct))
        if self._fault is not None:
            result = self._fault(len(self.calls), n, direct)
            if result is not None:
                return result
        return self._real(fd, buffers)

    @property
    def direct_bytes(self) -> int:
        return sum(n for n, d in self.calls if d)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    path = tmp_path / "blobs"
    path.mkdir()
    return path


def put(store_dir: Path, src: Path) -> tuple[str, int, list[int]]:
    seen: list[int] = []
    sha, size = BlobStore(str(store_dir)).put_file(src, progress=seen.append)
    return sha, size, seen


def assert_stored(store_dir: Path, sha: str, size: int, data: bytes) -> None:
    assert sha == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    store = BlobStore(str(store_dir))
    assert store.check(sha, size) is None
    assert store.read_verified(sha, size) == data
    assert temporaries(store_dir) == []
    assert [p.name for p in stored_files(store_dir, "sha256")] == [sha]


@pytest.mark.parametrize("size", BOUNDARY_SIZES, ids=lambda n: f"{n}B")
def test_round_trip_around_the_boundaries(
    size: int, tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored blob hashes like hashlib, reads back byte for byte; progress adds up
    to the size; direct I/O is used exactly from DIRECT_MIN on, and never for a tail
    that is not a multiple of the block size."""
    src, data = source(tmp_path, size)
    writes = Writes(monkeypatch)
    sha, stored, seen = put(store_dir, src)
    monkeypatch.undo()
    assert_stored(store_dir, sha, stored, data)
    assert sum(seen) == size
    assert all(0 < n <= STREAM_CHUNK for n in seen)
    assert sum(n for n, _ in writes.calls) == size
    if size < DIRECT_MIN or not direct_io_works(store_dir):
        assert writes.direct_bytes == 0
    else:
        assert writes.direct_bytes == size - size % direct_io.DIRECT_ALIGN
        assert all(n % direct_io.DIRECT_ALIGN == 0 for n, d in writes.calls if d)


def test_without_direct_io_the_same_blob_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A platform without O_DIRECT writes buffered and stores the identical blob."""
    size = 3 * STREAM_CHUNK + 4095
    src, data = source(tmp_path, size)
    first, second = tmp_path / "direct", tmp_path / "buffered"
    sha, stored, _ = put(first, src)
    monkeypatch.setattr(blobs_local, "O_DIRECT", 0)
    writes = Writes(monkeypatch)
    sha2, stored2, seen = put(second, src)
    monkeypatch.undo()
    assert (sha2, stored2) == (sha, stored)
    assert writes.calls and writes.direct_bytes == 0
    assert sum(seen) == size
    assert_stored(first, sha, stored, data)
    assert_stored(second, sha2, stored2, data)


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no tmpfs at /dev/shm")
def test_tmpfs_folder_stores_the_same_blob(tmp_path: Path) -> None:
    """On tmpfs (which refuses O_DIRECT on older kernels) the result is the same."""
    size = DIRECT_MIN + 1
    src, data = source(tmp_path, size)
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="modelbook-test-") as shm:
        sha, stored, seen = put(Path(shm), src)
        assert sum(seen) == size
        assert_stored(Path(shm), sha, stored, data)


def test_file_system_refusing_direct_io_at_open(
    tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If turning on O_DIRECT fails with EINVAL the file is written buffered."""
    real = fcntl.fcntl

    def refusing(fd: int, cmd: int, arg: int = 0) -> int:
        if cmd == fcntl.F_SETFL and arg & direct_io.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, cmd, arg)

    monkeypatch.setattr(direct_io.fcntl, "fcntl", refusing)
    size = DIRECT_MIN + 4096
    src, data = source(tmp_path, size)
    writes = Writes(monkeypatch)
    sha, stored, _ = put(store_dir, src)
    monkeypatch.undo()
    assert writes.direct_bytes == 0
    assert_stored(store_dir, sha, stored, data)


def test_first_direct_write_refused_falls_back_to_buffered(
    tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A direct write failing with EINVAL is retried buffered, and the rest follows."""
    size = 2 * STREAM_CHUNK + 100
    src, data = source(tmp_path, size)

    def einval_when_direct(_call: int, _n: int, direct: bool) -> int | None:
        if direct:
            raise OSError(errno.EINVAL, "Invalid argument")
        return None

    writes = Writes(monkeypatch, einval_when_direct)
    sha, stored, seen = put(store_dir, src)
    monkeypatch.undo()
    assert sum(seen) == size
    assert sum(n for n, d in writes.calls if not d) == size
    assert len([1 for _, d in writes.calls if d]) <= 1
    assert_stored(store_dir, sha, stored, data)


@pytest.mark.parametrize(
    ("size", "limit"),
    [(10 * MiB, MiB + 7), (DIRECT_MIN + 8 * MiB, 3 * MiB), (DIRECT_MIN + 8 * MiB, MiB + 7)],
    ids=["buffered", "direct", "direct-unaligned"],
)
def test_partial_writes_are_continued(
    size: int, limit: int, tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that takes at most ``limit`` bytes is resumed until the chunk is written.
    Aligned pieces stay direct; an unaligned one is refused by direct I/O (EINVAL) and
    the rest of the file is written buffered."""
    src, data = source(tmp_path, size)
    real = os.writev
    calls: list[tuple[int, bool]] = []

    def short(fd: int, buffers: Sequence[memoryview]) -> int:
        with buffers[0][:limit] as part:
            calls.append((len(part), is_direct(fd)))
            return real(fd, [part])

    monkeypatch.setattr(direct_io.os, "writev", short)
    sha, stored, seen = put(store_dir, src)
    monkeypatch.undo()
    assert sum(seen) == size
    assert len(calls) >= size // limit
    direct = [n for n, d in calls if d]
    if size >= DIRECT_MIN and limit % direct_io.DIRECT_ALIGN == 0 and direct_io_works(store_dir):
        assert sum(direct) == size
    else:
        assert len(direct) <= 1  # at most the one refused attempt
    assert_stored(store_dir, sha, stored, data)


@pytest.fixture
def fd_count() -> Iterator[None]:
    before = open_fds()
    yield
    assert open_fds() == before, "a file descriptor was left open"


@pytest.mark.parametrize("size", [10 * MiB, 40 * MiB], ids=["buffered", "direct"])
@pytest.mark.usefixtures("fd_count")
def test_full_disk_on_the_second_chunk_leaves_nothing(
    size: int, tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC on the second chunk: Unavailable naming the cause, no temporary file,
    no blob, no open file; the same file is stored afterwards."""
    src, data = source(tmp_path, size)
    chunks: list[int] = []

    def enospc_on_second_chunk(_call: int, n: int, _direct: bool) -> int | None:
        chunks.append(n)
        if len(chunks) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return None

    Writes(monkeypatch, enospc_on_second_chunk)
    with pytest.raises(Unavailable, match="No space left on device"):
        put(store_dir, src)
    monkeypatch.undo()
    assert temporaries(store_dir) == []
    assert stored_files(store_dir, "sha256") == []
    sha, stored, _ = put(store_dir, src)
    assert_stored(store_dir, sha, stored, data)


@pytest.mark.usefixtures("fd_count")
def test_a_write_of_nothing_is_a_short_write(
    tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that makes no progress is reported as ENOSPC, not retried forever."""
    src, _ = source(tmp_path, DIRECT_MIN)
    Writes(monkeypatch, lambda call, _n, _d: 0 if call == 2 else None)
    with pytest.raises(Unavailable, match="short write"):
        put(store_dir, src)
    monkeypatch.undo()
    assert temporaries(store_dir) == []
    assert stored_files(store_dir, "sha256") == []


def test_a_damaged_large_blob_is_healed_by_storing_it_again(
    tmp_path: Path, store_dir: Path
) -> None:
    """An existing blob of the same hash is replaced by the fresh copy, not trusted."""
    src, data = source(tmp_path, DIRECT_MIN + 12345)
    sha, stored, _ = put(store_dir, src)
    blob = Path(BlobStore(str(store_dir)).path(sha))
    with open(blob, "r+b") as f:
        f.seek(DIRECT_MIN // 2)
        f.write(b"\xff\x00\xff")
    assert BlobStore(str(store_dir)).check(sha, stored) is not None
    assert put(store_dir, src)[:2] == (sha, stored)
    assert_stored(store_dir, sha, stored, data)
