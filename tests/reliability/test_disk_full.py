"""Disk full: registration into a small, size-limited blob folder.

The folder is a real 2 MiB tmpfs that the test mounts (the tests run as root,
also in CI). Where mounting is not permitted (or ``MODELBOOK_TEST_NO_MOUNT=1``),
the fixture falls back to an fsspec file system with a 2 MiB quota that raises
``OSError(ENOSPC)``; the figure ``mechanism`` of each run says which one ran.
Neither way is ever skipped.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from modelbook import Registry, Unavailable

from .helpers import Figures, check_invariants, table_counts, tmp_files

SIZE = 2 * 1024 * 1024


class QuotaFileSystem(MemoryFileSystem):
    """In-memory files with a byte quota: writing past it raises ENOSPC."""

    protocol = "mbquota"
    store: dict[str, Any] = {}  # a store of its own, not MemoryFileSystem's
    pseudo_dirs = [""]
    quota = SIZE

    def used(self) -> int:
        return sum(len(f.getbuffer()) for f in self.store.values())

    def _room(self, n: int) -> None:
        if self.used() + n > self.quota:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def put_file(self, lpath: str, rpath: str, **kwargs: Any) -> None:
        self._room(os.path.getsize(lpath))
        super().put_file(lpath, rpath, **kwargs)

    def pipe_file(self, path: str, value: bytes, **kwargs: Any) -> None:
        self._room(len(value))
        super().pipe_file(path, value, **kwargs)


fsspec.register_implementation("mbquota", QuotaFileSystem, clobber=True)


@dataclass
class SmallDisk:
    mechanism: str  # "tmpfs" or "fsspec quota"
    blob_uri: str
    mount: Path | None

    def free(self) -> int:
        if self.mount is not None:
            st = os.statvfs(self.mount)
            return st.f_bavail * st.f_frsize
        return QuotaFileSystem.quota - QuotaFileSystem().used()

    def fill(self, leave: int) -> None:
        """Take all but ``leave`` bytes with a file that is not the registry's."""
        n = self.free() - leave
        if self.mount is not None:
            fd = os.open(self.mount / "other-data", os.O_WRONLY | os.O_CREAT)
            try:
                os.write(fd, b"\0" * n)
            finally:
                os.close(fd)
        else:
            QuotaFileSystem().pipe_file(f"{self.blob_uri}-other-data", b"\0" * n)

    def release(self) -> None:
        if self.mount is not None:
            (self.mount / "other-data").unlink()
        else:
            QuotaFileSystem().rm_file(f"{self.blob_uri}-other-data")

    def temp_files(self) -> list[Any]:
        if self.mount is not None:
            return tmp_files(self.mount / "blobs")
        return []  # an object store takes a blob in one PUT: there is no temporary name


@pytest.fixture
def small_disk(tmp_path: Path, figures: Figures) -> Iterator[SmallDisk]:
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        if os.environ.get("MODELBOOK_TEST_NO_MOUNT"):  # exercise the fallback on purpose
            raise PermissionError("mounting disabled by MODELBOOK_TEST_NO_MOUNT")
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
            check=True,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        QuotaFileSystem.store.clear()
        figures["mechanism"] = "fsspec quota"
        yield SmallDisk("fsspec quota", f"mbquota://{tmp_path.name}/blobs", None)
        QuotaFileSystem.store.clear()
        return
    figures["mechanism"] = "tmpfs"
    try:
        yield SmallDisk("tmpfs", str(mount / "blobs"), mount)
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def file_of(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def test_too_big_a_file_fails_cleanly(
    db_uri: str, small_disk: SmallDisk, tmp_path: Path, figures: Figures
) -> None:
    """A file bigger than the disk: Unavailable naming the cause, nothing written, no
    temporary file; a registration that fits then takes number 1."""
    reg = Registry(db_uri, blob_uri=small_disk.blob_uri, actor="qa")
    try:
        empty = table_counts(reg)
        free = small_disk.free()
        big = file_of(tmp_path / "big.bin", 6 * 1024 * 1024)  # two chunks of the stream
        small = file_of(tmp_path / "small.bin", 100_000)
        refusals = 0
        for paths in ([big], [small, big]):
            with pytest.raises(Unavailable, match="No space left on device"):
                reg.register("big", paths, owners="qa")
            refusals += 1
            assert table_counts(reg) == empty
            assert small_disk.temp_files() == []
        # The one leftover allowed: the small blob stored before the big one failed.
        assert small_disk.free() >= free - 200_000

        v = reg.register("big", [small], owners="qa")
        assert v.number == 1
        check_invariants(reg)
    finally:
        reg.close()
    figures["refused_registrations"] = refusals


def test_full_disk_then_space_freed(
    db_uri: str, small_disk: SmallDisk, tmp_path: Path, figures: Figures
) -> None:
    """A nearly full disk refuses a small (in-memory) and a streamed blob cleanly; once
    other data is deleted the same registration succeeds, with no hole in the numbers."""
    reg = Registry(db_uri, blob_uri=small_disk.blob_uri, actor="qa")
    try:
        first = reg.register("m", [file_of(tmp_path / "first.bin", 4000)], owners="qa")
        small_disk.fill(leave=400_000)
        counts = table_counts(reg)
        small = file_of(tmp_path / "small.bin", 800_000)  # written whole: the small-blob path
        large = file_of(tmp_path / "large.bin", 5 * 1024 * 1024)  # streamed in 4 MiB chunks
        for f in (small, large):
            with pytest.raises(Unavailable, match="No space left on device"):
                reg.register("m", [f])
            assert table_counts(reg) == counts
            assert small_disk.temp_files() == []
        reg.set_alias("m", "champion", first.number, reason="metadata still writable")

        small_disk.release()
        assert reg.register("m", [small]).number == 2
        streamed = file_of(tmp_path / "streamed.bin", 1_100_000)
        assert reg.register("m", [streamed]).number == 3
        state = check_invariants(reg)
        assert state.numbers["m"] == [1, 2, 3]
    finally:
        reg.close()
    figures["refused_registrations"] = 2


def test_disk_filling_during_the_last_chunk_is_refused(
    db_uri: str, small_disk: SmallDisk, tmp_path: Path
) -> None:
    """A streamed file whose last chunk does not fit must fail like any other, not leave
    a version whose artifact is cut short."""
    if small_disk.mount is None:
        pytest.skip("short writes happen on a real file system, not on the fsspec fallback")
    reg = Registry(db_uri, blob_uri=small_disk.blob_uri, actor="qa")
    try:
        empty = table_counts(reg)
        f = file_of(tmp_path / "three.bin", 3 * 1024 * 1024)  # one 4 MiB chunk, 2 MiB disk
        try:
            v = reg.register("m", [f], owners="qa")
        except Unavailable:
            assert table_counts(reg) == empty
            return
        problems = [(p.path, p.kind, p.detail) for p in reg.verify().problems]
        raise AssertionError(f"{v.uri} was registered on a full disk; verify: {problems}")
    finally:
        reg.close()


def test_metadata_database_on_a_full_disk(tmp_path: Path, small_disk: SmallDisk) -> None:
    """SQLite itself on the full disk: Unavailable, nothing committed, usable after."""
    if small_disk.mount is None:
        pytest.skip("needs the tmpfs mount; the database cannot live on the fsspec fallback")
    uri = f"sqlite:///{small_disk.mount / 'registry.db'}"
    reg = Registry(uri, blob_uri=str(tmp_path / "blobs"), actor="qa")
    try:
        f = file_of(tmp_path / "m.bin", 1000)
        reg.register("m", [f], owners="qa")
        small_disk.fill(leave=0)
        counts = table_counts(reg)
        with pytest.raises(Unavailable, match="full"):
            for i in range(50):  # WAL pages already allocated may absorb a few commits
                reg.register("m", [f], tags={"pad": "x" * 500}, metrics={f"m{i}": 1.0})
                counts = table_counts(reg)
        assert table_counts(reg) == counts
        small_disk.release()
        v = reg.register("m", [f])
        assert v.number == counts["versions"] + 1
        check_invariants(reg)
    finally:
        reg.close()
