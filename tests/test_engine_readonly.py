"""A registry this user may read but not write: reads work, or say what must be writable.

Tests run as root, whom file permissions do not stop, so each scenario runs in a
child process that drops to the ``nobody`` user (after loading every module it
needs, since the interpreter's own files may be unreadable to ``nobody``). Run
as another user, the child keeps that user and the files are made read-only.

On PostgreSQL the same promise holds for a session that may not write (a
standby, or ``default_transaction_read_only``): reads work, writes fail saying so.
"""

from __future__ import annotations

import gc
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelbook import Registry, Unavailable

CHILD = r"""
import json, os, pwd, sys, tempfile
from pathlib import Path
from modelbook import ModelbookError, Registry

uri, blobs, out = sys.argv[1:]
# Run every operation once on a scratch registry first, so that every module is
# loaded while the interpreter's files are still readable.
scratch = Path(tempfile.mkdtemp())
(scratch / "f").write_bytes(b"x")
with Registry(f"sqlite:///{scratch}/r.db", blob_uri=str(scratch / "b")) as warm:
    warm.register("w", [scratch / "f"], owners="o", capture_environment=False)
    warm.models(); warm.get_version("models:/w/1"); warm.verify()
    warm.download("models:/w/1", str(scratch / "d"))
    warm.set_tags("models:/w/1", {"k": "v"})
    try:
        Registry(f"sqlite:///{scratch}/none.db", blob_uri=str(scratch / "b"), create=False)
    except ModelbookError:
        pass
if os.geteuid() == 0:
    nobody = pwd.getpwnam("nobody")
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)

result = {}
def attempt(name, fn):
    try:
        result[name] = ["ok", fn()]
    except ModelbookError as e:
        result[name] = [type(e).__name__, str(e)]

reg = None
def open_it():
    global reg
    reg = Registry(uri, blob_uri=blobs, create=False)
    return reg.db.read_only
attempt("open", open_it)
if reg is not None:
    attempt("models", lambda: [m.name for m in reg.models().items])
    attempt("show", lambda: reg.get_version("models:/m/1").number)
    attempt("download", lambda: (reg.download("models:/m/1", out), sorted(os.listdir(out)))[1])
    attempt("verify", lambda: reg.verify().ok)
    attempt("write", lambda: reg.set_tags("models:/m/1", {"k": "v"}) and None)
print(json.dumps(result))
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder ``nobody`` can reach (pytest's own temporary folders are private)."""
    path = Path(tempfile.mkdtemp(prefix="mb-ro-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _can_drop_privileges() -> bool:
    if os.geteuid() != 0:
        return True
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return False
    return True


pytestmark = pytest.mark.skipif(not _can_drop_privileges(), reason="no 'nobody' user")


def _registry(shared_dir: Path) -> tuple[str, Path]:
    home = shared_dir / "home"
    home.mkdir()
    uri = f"sqlite:///{home / 'registry.db'}"
    model = shared_dir / "model.bin"
    model.write_bytes(b"weights" * 100)
    with Registry(uri, blob_uri=str(home / "blobs")) as reg:
        reg.register("m", [model], owners="o", capture_environment=False)
    return uri, home


def _read_only(home: Path, *, folder_writable: bool = False) -> None:
    for path in [home, *home.rglob("*")]:
        if path.is_dir():
            path.chmod(0o777 if folder_writable and path == home else 0o555)
        else:
            path.chmod(0o444)


def _run_as_reader(uri: str, home: Path, shared_dir: Path) -> dict[str, list[object]]:
    out = shared_dir / "out"
    out.mkdir(exist_ok=True)
    out.chmod(0o777)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, uri, str(home / "blobs"), str(out / "d")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=shared_dir,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_registry_open_elsewhere_can_be_read_not_written(shared_dir: Path) -> None:
    """While a user who may write has the registry open (its -wal and -shm exist), a
    reader lists, shows, downloads and verifies; a write names what must be writable."""
    uri, home = _registry(shared_dir)
    holder = Registry(uri, blob_uri=str(home / "blobs"))
    try:
        holder.models()
        _read_only(home)
        result = _run_as_reader(uri, home, shared_dir)
    finally:
        for path in [home, *home.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        holder.close()
    assert result["open"] == ["ok", True]
    assert result["models"] == ["ok", ["m"]]
    assert result["show"] == ["ok", 1]
    assert result["download"] == ["ok", ["model.bin"]]
    assert result["verify"] == ["ok", True]
    kind, message = result["write"]
    assert kind == "Unavailable"
    assert "read-only for this user" in str(message)
    assert f"the file {home / 'registry.db'}" in str(message)
    assert f"the folder {home}" in str(message)


def test_a_closed_registry_in_a_read_only_folder_says_what_must_be_writable(
    shared_dir: Path,
) -> None:
    """No process has it open, so SQLite would have to create -wal and -shm, which a
    reader may not: the error names the folder that must be writable."""
    uri, home = _registry(shared_dir)
    _read_only(home)
    try:
        result = _run_as_reader(uri, home, shared_dir)
    finally:
        for path in [home, *home.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    kind, message = result["open"]
    assert kind == "Unavailable"
    assert f"the folder {home} must be writable" in str(message)
    assert "registry.db-wal" in str(message)


def test_a_read_only_file_in_a_writable_folder_is_read(shared_dir: Path) -> None:
    """The folder is writable, the database file is not: reads work (SQLite makes its
    -wal and -shm files), and a write names the file."""
    uri, home = _registry(shared_dir)
    _read_only(home, folder_writable=True)
    try:
        result = _run_as_reader(uri, home, shared_dir)
    finally:
        for path in [home, *home.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert result["models"] == ["ok", ["m"]]
    assert result["verify"] == ["ok", True]
    kind, message = result["write"]
    assert kind == "Unavailable"
    assert f"the file {home / 'registry.db'}" in str(message)
    assert "the folder" not in str(message)


def test_a_read_only_postgresql_session_reads_and_refuses_writes(
    db_uri: str, blob_dir: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PostgreSQL counterpart: a session whose transactions are read-only (as on
    a standby) reads, and a write fails with Unavailable saying the database
    accepts no writes, pipelined or not."""
    if not db_uri.startswith("postgresql"):
        pytest.skip("a read-only PostgreSQL session")
    with Registry(db_uri, blob_uri=str(blob_dir)) as reg:
        reg.register("m", [model_file], owners="o", capture_environment=False)
    read_only = db_uri + "%20-cdefault_transaction_read_only%3Don"
    for pipeline in ("1", "0"):
        monkeypatch.setenv("MODELBOOK_PG_PIPELINE", pipeline)
        with Registry(read_only, blob_uri=str(blob_dir), create=False) as reg:
            assert reg.db.pipelined is (pipeline == "1")
            assert [m.name for m in reg.models().items] == ["m"]
            assert reg.get_version("models:/m/1").number == 1
            with pytest.raises(Unavailable, match="accepts no writes"):
                reg.set_tags("models:/m/1", {"k": "v"})


@pytest.fixture
def read_only_mount(shared_dir: Path) -> Iterator[tuple[str, Path]]:
    """A registry seen through a read-only bind mount: (URI through the mount, mount)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount")
    _, home = _registry(shared_dir)
    view = shared_dir / "view"
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(home), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr!r}")
    try:
        remount = ["mount", "-o", "remount,ro,bind", str(view)]
        if subprocess.run(remount, capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield f"sqlite:///{view / 'registry.db'}", view
    finally:
        gc.collect()  # a registry that failed to open may still hold the file
        if subprocess.run(["umount", str(view)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(view)], check=True)


def test_a_read_only_mount_of_a_writable_file_system_is_not_trusted(
    read_only_mount: tuple[str, Path],
) -> None:
    """The same files may be written through another mount, so the registry is not
    opened as immutable; the error says the file system is mounted read-only."""
    uri, view = read_only_mount
    with pytest.raises(Unavailable) as err:
        Registry(uri, blob_uri=str(view / "blobs"), create=False)
    assert "mounted read-only" in str(err.value)
    assert "copy the registry" in str(err.value)


def test_a_file_system_no_one_can_write_is_read_as_immutable(
    read_only_mount: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a file system of a type that cannot be written (squashfs, say: here the
    read-only mount stands in for one), reads work without -wal and -shm files,
    and a write names the read-only file system."""
    from modelbook.store import sqlite_file

    monkeypatch.setattr(sqlite_file, "_unwritable_file_system", lambda path: True)
    uri, view = read_only_mount
    with Registry(uri, blob_uri=str(view / "blobs"), create=False) as reg:
        assert reg.db.read_only and reg.db.file is not None and reg.db.file.immutable
        assert [m.name for m in reg.models().items] == ["m"]
        assert reg.verify().ok
        with pytest.raises(Unavailable, match="mounted read-only"):
            reg.set_tags("models:/m/1", {"k": "v"})


def test_file_systems_no_one_can_write_are_told_by_type() -> None:
    from modelbook.store.sqlite_file import _unwritable_file_system

    mounts = (
        "/dev/vda / ext4 rw 0 0\n"
        "/dev/loop0 /snap/reg squashfs ro 0 0\n"
        "tmpfs /snap/reg/tmp tmpfs rw 0 0\n"
        "/dev/sr0 /media/my\\040disk iso9660 ro 0 0\n"
        "/dev/vdb /data ext4 ro 0 0\n"
    )
    assert _unwritable_file_system(Path("/snap/reg/registry.db"), mounts)
    assert _unwritable_file_system(Path("/media/my disk/registry.db"), mounts)
    assert not _unwritable_file_system(Path("/snap/reg/tmp/registry.db"), mounts)
    assert not _unwritable_file_system(Path("/snap/regx/registry.db"), mounts)
    assert not _unwritable_file_system(Path("/data/registry.db"), mounts)
