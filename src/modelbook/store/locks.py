"""Lock files beside a SQLite database: one queues writers, one guards migration.

Both are ``filelock.FileLock`` (``flock`` on Unix) with a timeout; a lock not
had in time fails with ``Unavailable`` naming the lock file and the timeout.

Why writers take a lock file at all: SQLite's own busy handler makes a waiting
writer sleep and retry on a growing schedule (1, 2, 5, 10 ... 100 ms), so
under many writers a write can wait hundreds of milliseconds after the lock
was freed. Writers that queue on a lock file first find SQLite's lock free.
``FileLock`` polls a non-blocking ``flock`` every ``poll_interval`` seconds
rather than blocking in the kernel, so a freed lock is taken within
:data:`WRITER_POLL_S`; at one poll per millisecond a waiting writer costs
about one system call and a few microseconds of CPU per millisecond.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

from ..errors import Unavailable

# How often a waiting writer retries the lock file, in seconds: the most a
# freed lock stays untaken.
WRITER_POLL_S = 0.001
# Migration is rare and slow; its waiters need not be prompt.
MIGRATION_POLL_S = 0.01


class WriterLock:
    """Serialises the writers of one SQLite file, across threads and processes.

    ``path``: the lock file (made if missing, never deleted); ``timeout_s``:
    how long :meth:`hold` waits in all, in seconds. Threads of one process
    queue on a ``threading.Lock`` first, which wakes the next one at once;
    the lock file then queues processes.
    """

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._pid = -1
        self._threads = threading.Lock()
        self._file: filelock.FileLock | None = None

    def _for_this_process(self) -> tuple[threading.Lock, filelock.FileLock]:
        # A forked child inherits the parent's lock objects in whatever state
        # the parent's other threads left them, and FileLock refuses to be
        # used across fork: the child makes its own.
        if self._pid != os.getpid() or self._file is None:
            self._threads = threading.Lock()
            self._file = filelock.FileLock(str(self.path), thread_local=False)
            self._pid = os.getpid()
        return self._threads, self._file

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the body of the ``with``.

        Raises ``Unavailable`` when it is not had within the timeout, naming
        the lock file, or when the lock file cannot be made.
        """
        threads, file = self._for_this_process()
        deadline = time.monotonic() + self.timeout_s
        if not threads.acquire(timeout=self.timeout_s):
            raise self._timed_out("another thread of this process")
        try:
            left = max(deadline - time.monotonic(), 0.0)
            with _acquired(file, left, WRITER_POLL_S, lambda: self._timed_out()):
                yield
        finally:
            threads.release()

    def _timed_out(self, holder: str = "another process") -> Unavailable:
        return Unavailable(
            f"the registry database stayed busy: {holder} held the write lock "
            f"{self.path} for longer than the busy timeout of {self.timeout_s:g} s"
        )


@contextlib.contextmanager
def migration_lock(path: Path, timeout_s: float) -> Iterator[None]:
    """Hold the lock file ``path`` while the schema is upgraded.

    Raises ``Unavailable`` when another process keeps it for more than
    ``timeout_s`` seconds, or when the lock file cannot be made.
    """

    def timed_out() -> Unavailable:
        return Unavailable(
            f"the schema of the registry database is being upgraded by another process: "
            f"the lock {path} was not free within the busy timeout of {timeout_s:g} s"
        )

    with _acquired(filelock.FileLock(str(path)), timeout_s, MIGRATION_POLL_S, timed_out):
        yield


@contextlib.contextmanager
def _acquired(
    lock: filelock.FileLock,
    timeout_s: float,
    poll_s: float,
    timed_out: Callable[[], Unavailable],
) -> Iterator[None]:
    try:
        lock.acquire(timeout=timeout_s, poll_interval=poll_s)
    except filelock.Timeout:
        raise timed_out() from None
    except OSError as e:
        raise Unavailable(
            f"cannot make the lock file {lock.lock_file}: {e.strerror or e}; the folder "
            f"{Path(lock.lock_file).parent} must be writable for this user"
        ) from e
    try:
        yield
    finally:
        lock.release()
