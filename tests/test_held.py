"""Kept connections and the writers' lock file, closed while another thread or a
forked child uses them."""

from __future__ import annotations

import functools
import gc
import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from modelbook import Registry
from modelbook.store.held import HeldConnections
from modelbook.store.locks import WriterLock

from .procs import wait_forked


def test_a_use_that_begins_as_another_thread_closes_gets_an_open_connection(
    registry: Registry,
) -> None:
    """close() takes the kept connections just as a thread's use of its own begins
    (between its checks and its use): the use gets an open connection, not a closed one,
    and the one close() took is closed."""
    db = registry.db
    closing: list[Connection] = []

    def usable(conn: Connection) -> bool:
        if not closing:  # another thread's close(), at this very moment
            closing.append(conn)
            held.close()
        return True

    held = HeldConnections(db._autocommit.connect, usable)
    first, borrowed = held.get()
    held.done(first, borrowed)
    conn, borrowed = held.get()
    try:
        assert conn is not closing[0]
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        held.done(conn, borrowed)
    assert closing[0].closed
    # The next use keeps working on the new kept connection.
    again, borrowed = held.get()
    assert again is conn and not borrowed
    held.done(again, borrowed)
    held.close()
    assert conn.closed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_closes_the_writer_lock_without_waiting_for_the_parent(
    tmp_path: Path,
) -> None:
    """A child forked while another thread of the parent held the lock's state closes
    its copy of the lock file and takes the lock for itself, without hanging."""
    lock = WriterLock(tmp_path / "writers.lock", 5)
    with lock.hold():
        pass
    with lock._state:  # as another thread of the parent would hold it at the fork
        pid = os.fork()
        if pid == 0:  # the child: exit code 0 when it closed and took the lock
            code = 1
            try:
                lock.close()
                with lock.hold():
                    code = 0
            finally:
                os._exit(code)
    assert wait_forked(pid, 30) == 0
    with lock.hold():
        pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_writes_can_write(
    tmp_path: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite keeps a process's locks in its memory: a child forked in the middle of
    another thread's write would inherit a write lock nobody releases and wait out the
    busy timeout on every write. The fork waits for the write to end instead."""
    monkeypatch.setenv("MODELBOOK_BUSY_TIMEOUT_MS", "3000")
    reg = Registry(home=tmp_path / "reg", actor="tester")
    reg.register("m", [model_file], owners="o", capture_environment=False)
    inside, forking = threading.Event(), threading.Event()
    # Hooks registered later run first: this one lets the writer go on just as the
    # fork begins, while the forking thread keeps the interpreter.
    os.register_at_fork(before=forking.set)

    def write() -> None:
        with reg.db.write() as conn:
            conn.execute(sa.text("UPDATE models SET description = 'during the fork'"))
            inside.set()
            forking.wait(30)

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(30)
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 when its write went through
        code = 1
        try:
            reg.set_tags("models:/m/1", {"from": "child"})
            code = 0
        finally:
            os._exit(code)
    writer.join(30)
    assert wait_forked(pid, 30) == 0
    assert reg.get_version("models:/m/1").tags == {"from": "child"}
    assert reg.get_model("m").description == "during the fork"
    reg.close()


def _is_closed(raw: object) -> bool:
    """Whether a driver connection (sqlite3 or psycopg) is closed."""
    try:
        raw.cursor().execute("SELECT 1")  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - each driver raises its own error for a closed connection
        return True
    return False


def test_connections_in_use_as_the_registry_closes_are_closed_when_their_use_ends(
    registry: Registry, model_file: Path
) -> None:
    """close() while a thread reads, one connection kept and one borrowed (a read
    inside a read): when each use ends, its connection is closed, not returned to the
    pool close() disposed of, where it would stay open until garbage collection."""
    registry.register("m", [model_file], owners="o", capture_environment=False)
    raws: list[object] = []

    def inner(conn: Connection) -> None:
        raws.append(conn.connection.dbapi_connection)
        registry.close()  # as another thread would, while both are in use

    def outer(conn: Connection) -> None:
        raws.append(conn.connection.dbapi_connection)
        registry.db.reading(inner)

    collecting = gc.isenabled()
    gc.disable()  # a collection of the disposed pool would close them anyway
    try:
        registry.db.reading(outer)
        assert len(raws) == 2 and raws[0] is not raws[1]
        assert [_is_closed(raw) for raw in raws] == [True, True]
    finally:
        if collecting:
            gc.enable()
    # The registry opens new connections for its next use.
    assert registry.get_version("models:/m/1").number == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_a_thread_builds_a_service_builds_its_own(
    tmp_path: Path,
) -> None:
    """A registry's services are built on first use. A child forked while another
    thread of the parent builds one (functools.cached_property on Python 3.11 holds a
    lock shared by every instance meanwhile, which the child inherits held) builds
    its own instead of waiting forever."""
    from modelbook.lazy import lazy

    building, release = threading.Event(), threading.Event()

    class Facade:
        @lazy
        def service(self) -> str:
            if threading.current_thread() is not threading.main_thread():
                building.set()
                release.wait(30)
            return f"built in {os.getpid()}"

    facade = Facade()
    builder = threading.Thread(target=lambda: facade.service)
    builder.start()
    assert building.wait(30)
    pid = os.fork()
    if pid == 0:  # the child: exit code 0 when it built the service itself
        code = 1
        try:
            code = 0 if facade.service == f"built in {os.getpid()}" else 2
        finally:
            os._exit(code)
    try:
        assert wait_forked(pid, 30) == 0
    finally:
        release.set()
        builder.join(30)
    assert facade.service == f"built in {os.getpid()}"
    assert not any(isinstance(v, functools.cached_property) for v in vars(Registry).values()), (
        "a service of the registry is a functools.cached_property"
    )
