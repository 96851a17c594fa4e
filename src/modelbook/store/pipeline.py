"""Pipelined PostgreSQL writes (psycopg 3), all in this module, behind one switch.

A write transaction is an explicit ``BEGIN`` ... ``COMMIT`` sent in pipeline
mode on a connection in autocommit (so the driver adds no ``BEGIN`` of its
own, which it would wait for). A statement whose result is not needed is
queued and sent with the next one that is, and the last of them with
``COMMIT``: a tag write or an alias move waits on two round trips instead of
seven or eight. An error of a queued statement surfaces at the next result
or at the commit, and the whole transaction is rolled back.

Statements run through SQLAlchemy inside such a write need their result at
once (SQLAlchemy reads the cursor's description right after executing), so
the execution context of an engine with pipelining syncs the pipeline after
each of them; statements run by ``Prebuilt`` fetch their rows themselves,
which makes psycopg sync when, and only when, a result is wanted.

The switch: ``Database(uri, pipeline=False)`` or ``MODELBOOK_PG_PIPELINE=0``
turns pipelining off; writes are then ordinary transactions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import URL

from .prebuilt import run_driver_sql

_OPTION = "modelbook_pipeline"
IDLE = 0  # psycopg.pq.TransactionStatus.IDLE


def available(url: URL) -> bool:
    """Whether ``url``'s driver can pipeline: PostgreSQL through psycopg 3."""
    return url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg"


def install(engine: Engine) -> None:
    """Make statements that SQLAlchemy runs inside a pipelined write of
    ``engine`` wait for their own result (see the module's docstring)."""
    dialect: Any = engine.dialect
    base = dialect.execution_ctx_cls
    if getattr(base, "_modelbook_syncs", False):
        return

    class _SyncingContext(base):  # type: ignore[misc, valid-type]
        _modelbook_syncs = True

        def post_exec(self) -> None:
            pipeline = self.execution_options.get(_OPTION)
            if pipeline is not None:
                pipeline.sync()
            super().post_exec()

    dialect.execution_ctx_cls = _SyncingContext


@contextlib.contextmanager
def write(conn: Connection) -> Iterator[Connection]:
    """One pipelined write transaction on ``conn``, a connection in autocommit of an
    engine on which :func:`install` was called. Commits when the body returns;
    rolls back and re-raises when it raises. A driver error at the commit is
    raised as SQLAlchemy's ``DBAPIError``, after the connection is invalidated
    if it was lost.
    """
    raw: Any = conn.connection.driver_connection
    with conn.begin():
        try:
            with raw.pipeline() as pipeline:
                conn.execution_options(**{_OPTION: pipeline})
                run_driver_sql(conn, "BEGIN")
                yield conn
                run_driver_sql(conn, "COMMIT")
        except raw.Error as e:
            # Raised by the pipeline's closing sync: the error of a queued
            # statement, or of the COMMIT itself.
            conn._handle_dbapi_exception(e, "COMMIT", (), None, None)
        finally:
            conn.execution_options(**{_OPTION: None})
            # Not committed (an error above): end the explicit transaction.
            if not raw.closed and raw.info.transaction_status != IDLE:
                with contextlib.suppress(raw.Error, exc.SQLAlchemyError):
                    run_driver_sql(conn, "ROLLBACK")
