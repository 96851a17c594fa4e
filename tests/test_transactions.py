"""A write transaction is all or nothing, also when its statements are pipelined.

On PostgreSQL the statements of a write whose results are not needed are
queued and sent together with the next statement that returns rows, or with
the COMMIT; these tests pin down that a failure of a queued statement still
undoes the whole transaction and is reported as the usual error, and that a
statement in the middle of a write sees the rows queued before it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelbook import AlreadyExists, Registry
from modelbook.store import models as model_rows
from modelbook.store import schema as t
from modelbook.store.engine import Database, Prebuilt
from modelbook.store.held import MAX_HELD, MAX_HELD_WRITERS

from .procs import wait_forked

_EVENT = Prebuilt(
    t.events.insert(),
    ("chain", "seq", "at", "actor", "action", "model", "version", "canonical", "prev_hash", "hash"),
)


@pytest.fixture
def db(registry: Registry) -> Iterator[Database]:
    yield registry.db


def _count(db: Database, table: sa.Table) -> int:
    return int(
        db.reading(
            lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        )
    )


def _model(name: str) -> dict[str, object]:
    return {
        "name": name,
        "owners": '["o"]',
        "risk_tier": "low",
        "tags": "{}",
        "created_at": 1,
        "created_by": "tester",
        "last_number": 0,
        "semver_major": 0,
        "semver_minor": 0,
        "semver_patch": 0,
        "event_seq": 0,
        "event_hash": "0" * 64,
    }


_MODEL = Prebuilt(t.models.insert(), tuple(_model("x")))


def _event(conn: sa.Connection, k: int) -> None:
    _EVENT.run(
        conn,
        {
            "chain": "test",
            "seq": k,
            "at": k,
            "actor": "t",
            "action": "test",
            "model": None,
            "version": None,
            "canonical": "{}",
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
        },
    )


def test_a_failing_queued_statement_undoes_the_whole_transaction(db: Database) -> None:
    with db.write() as conn:
        _MODEL.run(conn, _model("taken"))
    models, events = _count(db, t.models), _count(db, t.events)

    with pytest.raises(AlreadyExists, match="already exists"), db.write() as conn:
        _event(conn, 1)
        _MODEL.run(conn, _model("fresh"))
        _MODEL.run(conn, _model("taken"))  # violates the unique name
        _event(conn, 2)

    assert (_count(db, t.models), _count(db, t.events)) == (models, events)
    # The connection went back to the pool in a usable state.
    with db.write() as conn:
        _MODEL.run(conn, _model("fresh"))
    assert _count(db, t.models) == models + 1


def test_an_error_in_the_caller_undoes_queued_statements(db: Database) -> None:
    events = _count(db, t.events)
    with pytest.raises(RuntimeError, match="caller failed"), db.write() as conn:
        _event(conn, 1)
        _event(conn, 2)
        raise RuntimeError("caller failed")
    assert _count(db, t.events) == events


def test_statements_in_a_write_see_the_rows_queued_before_them(db: Database) -> None:
    with db.write() as conn:
        _MODEL.run(conn, _model("queued"))
        # Through the lookup the registry uses (run on the driver's cursor) ...
        row = model_rows.find(conn, "queued", lock=True)
        assert row is not None and row.name == "queued"
        _MODEL.run(conn, _model("queued-2"))
        # ... and through a plain SQLAlchemy statement.
        names = conn.execute(sa.select(t.models.c.name).order_by(t.models.c.name)).scalars()
        assert {"queued", "queued-2"} <= set(names)
    assert _count(db, t.models) >= 2


def test_a_registration_after_a_failed_write_is_numbered_without_a_gap(
    registry: Registry, model_file: Path
) -> None:
    first = registry.register("m", [model_file], owners=["o"], capture_environment=False)
    with pytest.raises(AlreadyExists), registry.db.write() as conn:
        row = model_rows.find(conn, "m", lock=True)
        model_rows.set_event_head(
            conn,
            row.id,
            row.event_seq,
            row.event_hash,
            model_rows.numbered(row.last_number + 1, (1, 1, 0)),
        )
        _MODEL.run(conn, _model("m"))  # the name is taken: the whole write rolls back
    second = registry.register("m", [model_file], owners=["o"], capture_environment=False)
    assert (first.number, second.number) == (1, 2)


def test_a_write_interrupted_midway_leaves_nothing_and_the_next_write_succeeds(
    registry: Registry, model_file: Path, db: Database
) -> None:
    """This thread keeps its write connection between writes; one interrupted inside
    a transaction is in an unknown state, so it is given up, not used again."""
    registry.register("m", [model_file], owners=["o"], capture_environment=False)
    before = _count(db, t.models)
    with pytest.raises(KeyboardInterrupt), db.write() as conn:
        _MODEL.run(conn, _model("interrupted"))
        raise KeyboardInterrupt
    assert _count(db, t.models) == before
    registry.set_tags("models:/m/1", {"after": "interrupt"})
    assert registry.get_version("models:/m/1").tags["after"] == "interrupt"


def test_writes_of_one_thread_reuse_one_connection_until_an_error_leaves_it_in_doubt(
    registry: Registry, model_file: Path, db: Database
) -> None:
    registry.register("m", [model_file], owners=["o"], capture_environment=False)
    with db.write() as first:
        pass
    with db.write() as second:
        pass
    assert second is first
    # A failed statement is rolled back: the connection stays in use.
    with pytest.raises(AlreadyExists), db.write() as conn:
        _MODEL.run(conn, _model("m"))
    with db.write() as third:
        assert third is first
    with pytest.raises(KeyboardInterrupt), db.write():
        raise KeyboardInterrupt
    with db.write() as fourth:
        assert fourth is not first
        _MODEL.run(fourth, _model("after"))
    assert registry.get_model("after").name == "after"


def test_more_threads_than_keep_a_write_connection_all_write(
    registry: Registry, model_file: Path
) -> None:
    """Threads beyond those that keep a connection borrow one per write; every write of
    every thread lands, and one Registry serves them all."""
    threads = MAX_HELD_WRITERS + MAX_HELD + 2
    for _ in range(threads):
        registry.register("m", [model_file], owners=["o"], capture_environment=False)
    start = threading.Barrier(threads)

    def write(n: int) -> None:
        start.wait(timeout=60)
        for k in range(5):
            registry.set_tags(f"models:/m/{n}", {f"k{k}": str(n)})
            assert registry.get_version(f"models:/m/{n}").tags[f"k{k}"] == str(n)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, range(1, threads + 1)))
    for n in range(1, threads + 1):
        assert registry.get_version(f"models:/m/{n}").tags == {f"k{k}": str(n) for k in range(5)}


def test_a_write_inside_a_write_of_the_same_thread_leaves_both_whole(
    registry: Registry, model_file: Path, db: Database
) -> None:
    """The inner write does not use the outer one's connection: both commit."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers of one process take turns: a nested write waits")
    registry.register("m", [model_file], owners=["o"], capture_environment=False)
    with db.write() as outer:
        _MODEL.run(outer, _model("outer"))
        registry.set_tags("models:/m/1", {"inner": "yes"})
        _MODEL.run(outer, _model("outer-2"))
    assert registry.get_model("outer-2").name == "outer-2"
    assert registry.get_version("models:/m/1").tags == {"inner": "yes"}


def test_closing_the_registry_during_a_write_of_another_thread_lets_it_finish(
    registry: Registry, model_file: Path, db: Database
) -> None:
    registry.register("m", [model_file], owners=["o"], capture_environment=False)
    inside, closed = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def write() -> None:
        try:
            with db.write() as conn:
                _MODEL.run(conn, _model("during-close"))
                inside.set()
                assert closed.wait(60)
                _MODEL.run(conn, _model("during-close-2"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(60)
    registry.close()
    closed.set()
    writer.join(60)
    assert "error" not in outcome, outcome
    assert registry.get_model("during-close-2").name == "during-close-2"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_takes_a_connection_can_write(
    registry: Registry, model_file: Path, db: Database
) -> None:
    """A fork while another thread holds the lock of the kept connections (it is making
    one) leaves the child a lock of its own, and the pool's connections to the parent."""
    registry.register("m", [model_file], owners=["o"], capture_environment=False)
    with db._writers._lock, db._readers._lock:  # as a thread of the parent would
        pid = os.fork()
        if pid == 0:  # the child: exit code 0 when its write and read succeed
            code = 1
            try:
                registry.set_tags("models:/m/1", {"child": "wrote"})
                code = 0 if registry.get_version("models:/m/1").tags["child"] == "wrote" else 1
            finally:
                os._exit(code)
    assert wait_forked(pid, 60) == 0
    assert registry.get_version("models:/m/1").tags == {"child": "wrote"}
    registry.set_tags("models:/m/1", {"parent": "wrote"})
