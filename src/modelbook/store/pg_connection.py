"""PostgreSQL connections: libpq parameters from the settings, and liveness
checks by the socket instead of a round trip (psycopg 3)."""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine

from . import pipeline as pipelined
from .settings import Settings


def connect_args(url: URL, settings: Settings) -> dict[str, Any]:
    """libpq parameters for the settings, leaving those the URL gives alone.

    The timeouts go in ``options`` ahead of the URL's own, so a
    ``-c statement_timeout=...`` in the URL wins.
    """
    given = url.query
    ours: dict[str, Any] = {"connect_timeout": settings.connect_timeout_s}
    if settings.keepalives_idle_s > 0:
        ours.update(
            keepalives=1,
            keepalives_idle=settings.keepalives_idle_s,
            keepalives_interval=settings.keepalives_interval_s,
            keepalives_count=settings.keepalives_count,
        )
    else:
        ours["keepalives"] = 0
    args = {k: v for k, v in ours.items() if k not in given}
    timeouts = (
        f"-c statement_timeout={settings.statement_timeout_ms} "
        f"-c lock_timeout={settings.busy_timeout_ms}"
    )
    own = given.get("options")
    own_text = own if isinstance(own, str) else " ".join(own or ())
    args["options"] = f"{timeouts} {own_text}".strip()
    return args


def socket_alive(dbapi_conn: Any) -> bool:
    """Whether a psycopg connection that is idle is still open, without a round trip.

    An idle connection has nothing to read unless the server has closed it
    or sent its termination notice, so a zero-timeout poll of the socket
    finds killed backends and restarted servers for free.
    """
    if dbapi_conn.closed or dbapi_conn.broken:
        return False
    try:
        fd = dbapi_conn.fileno()
    except dbapi_conn.Error:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    return not poller.poll(0)


def idle_and_alive(conn: Connection) -> bool:
    """Whether a kept psycopg connection can begin a write: open, and in no transaction."""
    raw: Any = conn.connection.dbapi_connection
    return socket_alive(raw) and raw.info.transaction_status == pipelined.IDLE


def check_sockets_on_checkout(engine: Engine) -> None:
    """Make ``engine``'s pool refuse a connection whose socket the server has closed."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # The pool's usual liveness check is a round trip on every checkout.
        if not socket_alive(dbapi_conn):
            raise exc.DisconnectionError("the server closed the connection")
