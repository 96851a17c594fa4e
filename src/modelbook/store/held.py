"""Connections a thread keeps between transactions.

Checking a connection out of SQLAlchemy's pool and back in costs more than a
short transaction's statements (about 35 us on SQLite, against 8 us for the
BEGIN and COMMIT of an empty write), so each thread keeps one connection for
reads and one for writes. A few threads keep one of a kind (:data:`MAX_HELD`
for reads, :data:`MAX_HELD_WRITERS` for writes); the rest borrow one from the
pool per transaction, so a wide thread pool cannot use up the pool. A
connection is given up when its thread ends, after a fork (the parent's
sockets are never used or closed by the child), when it was invalidated (a
lost connection), when its state is unknown (an interrupted transaction), and
when the database is closed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable

from sqlalchemy import exc
from sqlalchemy.engine import Connection

# Threads that keep a connection for reads, and for writes (fewer: SQLite's
# writers of one process take turns anyway).
MAX_HELD = 4
MAX_HELD_WRITERS = 2


class HeldConnections:
    """Per-thread connections of one kind, made by ``connect`` when first needed.

    ``usable``: whether a kept connection may be used again as it is (for
    example, its socket is still open); one that is not is closed and replaced.
    ``limit``: how many threads keep one.
    """

    def __init__(
        self,
        connect: Callable[[], Connection],
        usable: Callable[[Connection], bool] = lambda _conn: True,
        limit: int = MAX_HELD,
    ) -> None:
        self._connect = connect
        self._usable = usable
        self._limit = limit
        self._lock = threading.Lock()
        self._held: dict[threading.Thread, Connection] = {}
        self._pid = os.getpid()
        # Connections inherited over fork belong to the parent: kept referenced
        # so that collecting them cannot close its sockets.
        self._orphans: list[Connection] = []

    def get(self) -> tuple[Connection, bool]:
        """This thread's connection, and whether it is borrowed (True: close it after
        use, for more threads than the limit want one)."""
        me = threading.current_thread()
        conn = self._held.get(me)
        if conn is not None and self._pid == os.getpid():
            if not conn.closed and not conn.invalidated and self._usable(conn):
                return conn, False
            self.forget(conn)
        with self._lock:
            if self._pid != os.getpid():
                self._orphans.extend(self._held.values())
                self._held = {}
                self._pid = os.getpid()
            for thread in [th for th in self._held if not th.is_alive()]:
                with contextlib.suppress(exc.SQLAlchemyError):
                    self._held.pop(thread).close()
            if len(self._held) < self._limit:
                conn = self._connect()
                self._held[me] = conn
                return conn, False
        return self._connect(), True

    def forget(self, conn: Connection) -> None:
        """Give up ``conn``: its state is unknown or it was lost; the next :meth:`get`
        of its thread makes a new one."""
        with self._lock:
            for thread, held in list(self._held.items()):
                if held is conn:
                    del self._held[thread]
        with contextlib.suppress(exc.SQLAlchemyError):
            conn.invalidate()
            conn.close()

    def close(self) -> None:
        """Close every kept connection (of this process; a parent's are left alone)."""
        with self._lock:
            held, self._held = self._held, {}
        if self._pid == os.getpid():
            for conn in held.values():
                with contextlib.suppress(exc.SQLAlchemyError):
                    conn.close()
