"""Database trouble: the PostgreSQL server kills the registry's connection.

``pg_terminate_backend`` is what an operator, a failover or an idle-session
reaper does to a client. Three ways, each on every mutation:

- while the operation waits on a row lock held by someone else (the test finds the
  registry's backend by its ``application_name`` in ``pg_stat_activity``);
- at an exact point inside the operation's transaction (before a chosen statement,
  or just before COMMIT), from a SQLAlchemy event hook in the test process;
- while the registry's pooled connections sit idle between operations.

Each time the call either raises ``Unavailable`` (never a driver exception) or, for
idle connections, succeeds on a fresh connection; nothing partial is left; and the
same ``Registry`` object carries on.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from modelbook import Registry, Unavailable
from tests.conftest import PG_DB, pg_admin_conn, pg_uri

from .helpers import Figures, check_invariants, scale, table_counts

pytestmark = pytest.mark.postgres

Op = Callable[[Registry, int], Any]


def _register(reg: Registry, i: int) -> Any:
    f = Path(reg.blobs.url).parent / f"in-{i}.bin"
    f.write_bytes(f"file {i} {uuid.uuid4()}".encode())
    return reg.register("m", [f], tags={"i": str(i)}, capture_environment=False)


OPS: dict[str, Op] = {
    "register": _register,
    "alias move": lambda reg, i: reg.set_alias("m", "champion", 2 - i % 2, reason=f"move {i}"),
    "alias delete": lambda reg, i: reg.delete_alias("m", "staging", reason=f"drop {i}"),
    "tag": lambda reg, i: reg.set_tags("models:/m/1", {"note": f"n{i}"}),
}
# The statement before which the in-transaction kill lands, per operation.
MID_STATEMENT = {
    "register": "INSERT INTO events",  # version, artifacts, tags written; event not yet
    "alias move": "INSERT INTO events",  # alias row moved; its event (its history) not yet
    "alias delete": "INSERT INTO events",  # alias row deleted; its event not yet
    "tag": "INSERT INTO events",  # tag rows rewritten; event not yet
}


@pytest.fixture
def app_reg(pg_schema: str, tmp_path: Path) -> Iterator[tuple[Registry, str, str]]:
    """A registry whose connections carry their own application_name; model ``m`` with
    versions 1 and 2, ``champion`` -> 1 and ``staging`` -> 2."""
    app = f"mb_{uuid.uuid4().hex[:10]}"
    blobs = tmp_path / "blobs"
    reg = Registry(f"{pg_uri(pg_schema)}&application_name={app}", blob_uri=str(blobs))
    for i in (1, 2):
        f = tmp_path / f"v{i}.bin"
        f.write_bytes(f"version {i}".encode())
        reg.register("m", [f], owners="ops", capture_environment=False)
    reg.set_alias("m", "champion", 1, reason="setup")
    reg.set_alias("m", "staging", 2, reason="setup")
    yield reg, app, pg_schema
    reg.close()


def _reset(reg: Registry) -> None:
    """Put back what the operations consume: the staging alias."""
    if "staging" not in {a.name for a in reg.aliases("m")}:
        reg.set_alias("m", "staging", 2, reason="reset")


def _backends(app: str, *, waiting: bool = False) -> list[int]:
    sql = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
    if waiting:
        sql += " AND wait_event_type = 'Lock'"
    with pg_admin_conn() as conn:
        return [r[0] for r in conn.execute(sql, (PG_DB, app)).fetchall()]


def _terminate(pids: list[int]) -> None:
    """Terminate backends and wait until they are gone."""
    with pg_admin_conn() as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 20
        while conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
        ).fetchone()[0]:
            assert time.monotonic() < deadline, f"backends {pids} did not go away"
            time.sleep(0.01)


def _outcome(fn: Callable[[], Any]) -> BaseException | None:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - what escapes is the point of the test
        return exc
    return None


def _run_into(result: dict[str, BaseException | None], op: Op, reg: Registry, i: int) -> None:
    result["exc"] = _outcome(lambda: op(reg, i))


def _check_clean_failure(
    reg: Registry, exc: BaseException | None, before: dict[str, int], what: str
) -> None:
    assert isinstance(exc, Unavailable), f"{what}: expected Unavailable, got {exc!r}"
    assert "unavailable" in str(exc) or "failed" in str(exc), str(exc)
    assert table_counts(reg) == before, f"{what}: a killed operation wrote something"
    check_invariants(reg, read=False)


@pytest.mark.parametrize("op", sorted(OPS))
def test_killed_while_waiting_for_a_lock(
    op: str, app_reg: tuple[Registry, str, str], figures: Figures
) -> None:
    """Another session holds the model's row; the registry's backend, found by its
    application_name waiting on that lock, is terminated."""
    reg, app, schema = app_reg
    rounds = scale(2, 10)
    for i in range(rounds):
        _reset(reg)
        before = table_counts(reg)
        holder = pg_admin_conn()
        holder.autocommit = False
        try:
            holder.execute(f"SELECT id FROM {schema}.models WHERE name = 'm' FOR UPDATE")
            holder.execute(f"SELECT id FROM {schema}.versions FOR UPDATE")
            result: dict[str, BaseException | None] = {}
            worker = threading.Thread(target=_run_into, args=(result, OPS[op], reg, i))
            worker.start()
            deadline = time.monotonic() + 20
            while not (pids := _backends(app, waiting=True)):
                assert worker.is_alive(), f"{op} finished without waiting: {result}"
                assert time.monotonic() < deadline, f"{op} never waited on the lock"
                time.sleep(0.01)
            _terminate(pids)
        finally:
            holder.rollback()
            holder.close()
        worker.join(30)
        assert not worker.is_alive()
        _check_clean_failure(reg, result["exc"], before, op)
        OPS[op](reg, 100 + i)  # the same Registry object goes on
        _reset(reg)
    check_invariants(reg)
    figures["kills"] = rounds


class _Killer:
    """SQLAlchemy event hooks that terminate the write transaction's backend once."""

    def __init__(self, statement: str) -> None:
        self.statement = statement
        self.fired = False

    def kill_here(self, conn: Any, *_: Any) -> None:
        if self.fired or not conn.get_execution_options().get("modelbook_write"):
            return
        self.fired = True
        _terminate([conn.connection.driver_connection.info.backend_pid])

    def before_statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(self.statement):
            self.kill_here(conn)


@pytest.mark.parametrize("point", ["mid-statement", "before COMMIT"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_killed_inside_the_transaction(
    op: str, point: str, app_reg: tuple[Registry, str, str], figures: Figures
) -> None:
    """The backend dies at a chosen point of the operation's own transaction."""
    reg, _app, _schema = app_reg
    rounds = scale(2, 10)
    for i in range(rounds):
        _reset(reg)
        before = table_counts(reg)
        # A pipelined write sends its COMMIT as a statement, queued behind
        # the others; "before COMMIT" is the moment it is queued.
        killer = _Killer("COMMIT" if point == "before COMMIT" else MID_STATEMENT[op])
        hook = ("before_cursor_execute", killer.before_statement)
        event.listen(reg.db.engine, *hook)
        try:
            exc = _outcome(functools.partial(OPS[op], reg, i))
        finally:
            event.remove(reg.db.engine, *hook)
        assert killer.fired, f"the kill point {point} of {op} was never reached"
        _check_clean_failure(reg, exc, before, f"{op} {point}")
        OPS[op](reg, 100 + i)
        _reset(reg)
    check_invariants(reg)
    figures["kills"] = rounds


def test_idle_connections_killed_between_operations(
    app_reg: tuple[Registry, str, str], figures: Figures
) -> None:
    """Every connection is terminated while idle: the next calls succeed on fresh
    connections, without an error reaching the user (a pooled connection whose socket
    the server has closed is replaced on checkout; a read on this thread's dead
    connection is run again on a new one)."""
    reg, app, _schema = app_reg
    rounds = scale(3, 20)
    for i in range(rounds):
        reg.resolve("models:/m@staging")  # this thread now holds a reading connection
        pids = _backends(app)
        assert pids, "the registry keeps no connection"
        _terminate(pids)
        assert reg.resolve("models:/m@champion").number in (1, 2)
        assert reg.get_model("m").name == "m"
        for op in sorted(OPS):
            OPS[op](reg, i)
        _reset(reg)
        assert reg.resolve("models:/m@champion").number == 2 - i % 2
    state = check_invariants(reg)
    assert state.numbers["m"] == list(range(1, 3 + rounds))
    figures["kills"] = rounds
