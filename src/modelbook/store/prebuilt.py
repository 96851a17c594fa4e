"""Hot statements run on the driver's cursor, observable as SQLAlchemy's own.

For a one-row indexed lookup or a one-row insert, SQLAlchemy's execution
layer costs several times the statement itself (about 60 us against 15 us
on SQLite), so the statements every read and write runs skip it. What
SQLAlchemy would do around a statement still happens:

- when anything listens to ``before_cursor_execute``, ``after_cursor_execute``
  or ``handle_error`` (a tracer, a statement counter), a real execution
  context is made for the compiled statement, exactly as SQLAlchemy makes it
  (``execution_ctx_cls._init_compiled``), and the events fire with it in
  SQLAlchemy's order: ``before_cursor_execute`` (whose ``retval=True``
  listeners may replace the statement and its parameters, to add a comment,
  say), the execution, ``after_cursor_execute``; an error goes through
  ``handle_error``. With no listener no context is made, which is what
  keeps a lookup cheap;
- a driver error is wrapped in the same SQLAlchemy exception class, and a
  lost connection is invalidated, by SQLAlchemy's own error handling.

Values are always bound parameters, never spliced into the SQL text.
"""

from __future__ import annotations

import contextlib
import operator
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection


class _Compiled(NamedTuple):
    compiled: Any  # SQLCompiler
    sql: str
    # The bound values in positional order from a mapping of bind names, or None (named).
    order: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None
    fixed: dict[str, Any]  # values compiled into the statement (a LIMIT, say)


def _positional(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of ``names``, in that order, from a mapping (always a tuple)."""
    if not names:
        return lambda _values: ()
    if len(names) == 1:
        name = names[0]
        return lambda values: (values[name],)
    return operator.itemgetter(*names)


def _observed(conn: Connection) -> bool:
    """Whether anything listens to the events a statement fires.

    SQLAlchemy's own flags come first: asking a listener collection whether
    it is empty walks the engine's chain of dispatchers, which costs more
    than the flag, and as much as a tenth of a one-row lookup.
    """
    if conn._has_events or conn.engine._has_events:
        dispatch = conn.dispatch
        if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
            return True
    dialect = conn.dialect
    return bool(dialect._has_events and dialect.dispatch.handle_error)


class Prebuilt:
    """A hot statement, compiled once per dialect and run on the driver's cursor.

    ``stmt``: a SQLAlchemy Core statement whose binds and result columns are
    plain (no type processing); ``keys``: for an INSERT or UPDATE, the columns
    the caller's values set. Parameters are mappings from bind name to value.
    Driver errors surface as SQLAlchemy's ``DBAPIError`` subclasses, as from
    ``Connection.execute``.
    """

    def __init__(self, stmt: Any, keys: tuple[str, ...] | None = None) -> None:
        self.stmt = stmt
        self.keys = keys
        self._compiled: dict[str, _Compiled] = {}
        self._rows: dict[str, Callable[..., Any]] = {}

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first row the statement returns (a named tuple), or None."""
        return self._execute(conn, [params], fetch=1)

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row the statement returns, as named tuples."""
        return self._execute(conn, [params], fetch=-1)  # type: ignore[no-any-return]

    def tuples(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row the statement returns, as the driver's plain tuples (in the order of
        the statement's columns): for scans of many rows, where a named tuple per row
        costs as much as reading it."""
        return self._execute(conn, [params], fetch=-2)  # type: ignore[no-any-return]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Run the statement once, returning nothing."""
        self._execute(conn, [params], fetch=0)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per mapping in ``rows`` (``executemany``); none: no-op."""
        if rows:
            self._execute(conn, rows, fetch=0)

    def _compile(self, dialect: Any) -> _Compiled:
        keys = None if self.keys is None else list(self.keys)
        compiled = self.stmt.compile(dialect=dialect, column_keys=keys)
        order = _positional(tuple(compiled.positiontup or ())) if compiled.positional else None
        fixed = {k: v for k, v in compiled.params.items() if v is not None}
        entry = _Compiled(compiled, compiled.string, order, fixed)
        self._compiled[dialect.name] = entry
        return entry

    def _execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]], fetch: int) -> Any:
        """Run the statement; ``fetch`` rows back: 0 none, 1 the first (or None), -1 all,
        -2 all as plain tuples."""
        # Every read and write runs this: attribute lookups, calls and
        # temporary objects are kept few.
        dialect = conn.dialect
        entry = self._compiled.get(dialect.name) or self._compile(dialect)
        _, sql, order, fixed = entry
        values: Sequence[Mapping[str, Any]] = [{**fixed, **r} for r in rows] if fixed else rows
        bound: Sequence[Any] = [order(v) for v in values] if order is not None else values
        many = len(bound) > 1
        args: Any = bound if many else bound[0]
        if _observed(conn):
            return self._traced(conn, entry, values, args, many, fetch)
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            if many:
                cursor.executemany(sql, args)
                return None
            cursor.execute(sql, args)
            return self._fetch(dialect.name, cursor, fetch) if fetch else None
        except (dialect.loaded_dbapi.Error, KeyboardInterrupt, SystemExit) as e:
            # Wrapped as SQLAlchemy wraps it; a lost or interrupted connection,
            # whose state is unknown, is invalidated.
            conn._handle_dbapi_exception(e, sql, args, cursor, None)
        finally:
            # Best effort, as suppress() would do, without a context manager per statement.
            try:  # noqa: SIM105
                cursor.close()
            except Exception:  # noqa: BLE001
                pass

    def _traced(
        self,
        conn: Connection,
        entry: _Compiled,
        values: Sequence[Mapping[str, Any]],
        args: Any,
        many: bool,
        fetch: int,
    ) -> Any:
        """Run the statement the way SQLAlchemy runs it, with an execution context.

        The context's ``pre_exec`` and ``post_exec`` are not called: they
        prepare and follow up SQLAlchemy's own result object, which is not
        made here (and ``post_exec`` would sync a psycopg pipeline after
        every statement).
        """
        dialect = conn.dialect
        context: Any = None
        cursor: Any = None
        sql: str = entry.sql
        try:
            context = dialect.execution_ctx_cls._init_compiled(
                dialect,
                conn,
                conn.connection,
                conn.get_execution_options(),
                entry.compiled,
                list(values),
                self.stmt,
                None,
            )
            cursor = context.cursor
            sql, args = _before(conn, cursor, sql, args, context, many)
            if many:
                cursor.executemany(sql, args)
            else:
                cursor.execute(sql, args)
            conn.dispatch.after_cursor_execute(conn, cursor, sql, args, context, many)
            return None if many or not fetch else self._fetch(dialect.name, cursor, fetch)
        except BaseException as e:  # noqa: BLE001 - handled and re-raised as by SQLAlchemy
            # handle_error sees every failure, a listener's own included; driver
            # errors are wrapped, other errors re-raised as they are.
            conn._handle_dbapi_exception(e, sql, args, cursor, context)
        finally:
            if cursor is not None:
                with contextlib.suppress(Exception):
                    cursor.close()

    def _fetch(self, name: str, cursor: Any, fetch: int) -> Any:
        if fetch == 1:
            one = cursor.fetchone()
            if one is None:
                return None
            return (self._rows.get(name) or self._row_type(name, cursor))(*one)
        found: Sequence[Any] = cursor.fetchall()
        if not found or fetch == -2:
            return found
        make = self._rows.get(name) or self._row_type(name, cursor)
        return [make(*r) for r in found]

    def _row_type(self, name: str, cursor: Any) -> Callable[..., Any]:
        """The named tuple of this statement's rows on dialect ``name``, made once."""
        make = self._rows[name] = namedtuple("Row", tuple(d[0] for d in cursor.description))
        return make


def _before(
    conn: Connection, cursor: Any, sql: str, args: Any, context: Any, many: bool
) -> tuple[str, Any]:
    """Fire ``before_cursor_execute``; listeners with ``retval=True`` may
    replace the statement and its parameters, as in SQLAlchemy."""
    for fn in conn.dispatch.before_cursor_execute:
        sql, args = fn(conn, cursor, sql, args, context, many)
    return sql, args


def run_driver_sql(conn: Connection, sql: str) -> None:
    """Run ``sql`` (no parameters, no result) on the driver's cursor.

    Used for statements SQLAlchemy must not issue itself, such as the
    ``BEGIN`` and ``COMMIT`` queued in a psycopg pipeline. Fires the cursor
    events with a real execution context (``_init_statement``, as for
    ``exec_driver_sql``) when anything listens; errors are wrapped and lost
    connections invalidated as by SQLAlchemy.
    """
    if _observed(conn):
        _run_traced(conn, sql)
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(sql)
    except (conn.dialect.loaded_dbapi.Error, KeyboardInterrupt, SystemExit) as e:
        conn._handle_dbapi_exception(e, sql, (), cursor, None)
    finally:
        with contextlib.suppress(Exception):
            cursor.close()


def _run_traced(conn: Connection, sql: str) -> None:
    dialect = conn.dialect
    cursor: Any = None
    context: Any = None
    args: Any = ()
    try:
        context = dialect.execution_ctx_cls._init_statement(
            dialect, conn, conn.connection, conn.get_execution_options(), sql, []
        )
        cursor = context.cursor
        args = context.parameters[0]
        sql, args = _before(conn, cursor, sql, args, context, False)
        if args:
            cursor.execute(sql, args)
        else:
            cursor.execute(sql)
        conn.dispatch.after_cursor_execute(conn, cursor, sql, args, context, False)
    except BaseException as e:  # noqa: BLE001 - handled and re-raised as by SQLAlchemy
        conn._handle_dbapi_exception(e, sql, args, cursor, context)
    finally:
        if cursor is not None:
            with contextlib.suppress(Exception):
                cursor.close()
