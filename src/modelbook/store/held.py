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
    ``limit``: how many threads keep one (0: every use borrows).

    A use is between :meth:`get` and :meth:`done`. A thread that asks again
    before it is done (a write inside a write) borrows another connection, and
    :meth:`close` leaves a connection in use open until its use is done.
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
        self._pending = 0  # kept connections being made
        self._busy: set[int] = set()  # id() of kept connections in use
        self._closing: set[int] = set()  # ... to close when their use is done
        self._lent: set[int] = set()  # id() of borrowed connections in use
        self._pid = os.getpid()
        # Connections inherited over fork belong to the parent: kept referenced
        # so that collecting them cannot close its sockets.
        self._orphans: list[Connection] = []

    def _for_this_process(self) -> None:
        if self._pid == os.getpid():
            return
        # A forked child: the parent's lock may have been held by another of its
        # threads at the fork, and is never released here; its connections are
        # the parent's.
        self._lock = threading.Lock()
        self._orphans.extend(self._held.values())
        self._held, self._busy, self._closing, self._lent = {}, set(), set(), set()
        self._pending = 0
        self._pid = os.getpid()

    def get(self) -> tuple[Connection, bool]:
        """A connection for this thread's use, and whether it is borrowed (True: close
        it after use). Every call is followed by :meth:`done` when the use ends."""
        self._for_this_process()
        me = threading.current_thread()
        conn = self._held.get(me)
        if conn is not None:
            if id(conn) in self._busy:
                return self._lend(self._connect())
            if not conn.closed and not conn.invalidated and self._usable(conn):
                self._busy.add(id(conn))
                if self._held.get(me) is conn:
                    return conn, False
                # close() took the kept connections before this use began: it closes
                # this one, now or when this (abandoned) use is done.
                self.done(conn, False)
            else:
                self.forget(conn)
        gone: list[Connection] = []
        with self._lock:
            for thread in [th for th in self._held if not th.is_alive()]:
                gone.append(self._held.pop(thread))
            keep = len(self._held) + self._pending < self._limit
            if keep:
                self._pending += 1  # the slot is taken before the connection is made
        _close_all(gone)
        # Connected outside the lock: a connection can take long to make, and a
        # fork meanwhile must not leave the child a lock held for good.
        try:
            conn = self._connect()
        except BaseException:
            if keep:
                with self._lock:
                    self._pending -= 1
            raise
        if not keep:
            return self._lend(conn)
        with self._lock:
            self._pending -= 1
            self._held[me] = conn
            self._busy.add(id(conn))
        return conn, False

    def _lend(self, conn: Connection) -> tuple[Connection, bool]:
        with self._lock:
            self._lent.add(id(conn))
        return conn, True

    def done(self, conn: Connection, borrowed: bool) -> None:
        """End a use that :meth:`get` began: a borrowed connection is closed, a kept one
        stays for the thread's next use (or is closed, if :meth:`close` came meanwhile)."""
        with self._lock:
            (self._lent if borrowed else self._busy).discard(id(conn))
            closing = id(conn) in self._closing
            self._closing.discard(id(conn))
        if closing:
            _retire(conn)
        elif borrowed:
            _close_all([conn])

    def forget(self, conn: Connection) -> None:
        """Give up ``conn``: its state is unknown or it was lost; the next :meth:`get`
        of its thread makes a new one."""
        with self._lock:
            for thread, held in list(self._held.items()):
                if held is conn:
                    del self._held[thread]
            self._busy.discard(id(conn))
            self._lent.discard(id(conn))
            self._closing.discard(id(conn))
        with contextlib.suppress(exc.SQLAlchemyError):
            conn.invalidate()
            conn.close()

    def close(self) -> None:
        """Close every kept connection of this process (a parent's are left alone); one
        in use is closed when its use is done."""
        self._for_this_process()
        with self._lock:
            held, self._held = self._held, {}
            idle = [c for c in held.values() if id(c) not in self._busy]
            self._closing.update(id(c) for c in held.values() if id(c) in self._busy)
            self._closing.update(self._lent)
        _close_all(idle)


def _retire(conn: Connection) -> None:
    """Close ``conn`` for good, not back into its pool: the pool it came from may have
    been disposed of (``Engine.dispose``) while it was in use, and a connection
    returned to a disposed pool stays open until that pool is garbage collected."""
    with contextlib.suppress(exc.SQLAlchemyError):
        if not conn.closed and not conn.invalidated:
            conn.connection.detach()
        conn.close()


def _close_all(conns: list[Connection]) -> None:
    for conn in conns:
        with contextlib.suppress(exc.SQLAlchemyError):
            conn.close()
