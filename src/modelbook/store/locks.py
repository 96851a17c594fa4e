"""Lock files beside a SQLite database: one queues writers, one guards migration.

Both are filelock's ``flock`` locks with a timeout; a lock not had in time
fails with ``Unavailable`` naming the lock file and the timeout.

Why writers take a lock file at all: SQLite's own busy handler makes a waiting
writer sleep and retry on a growing schedule (1, 2, 5, 10 ... 100 ms), so
under many writers a write can wait hundreds of milliseconds after the lock
was freed. Writers that queue on a lock file first find SQLite's lock free.

filelock never blocks in the kernel: a waiter retries a non-blocking ``flock``
every poll interval, so a freed lock stays untaken for at most
:data:`WRITER_POLL_S` (1 ms). A waiting writer costs one system call and a few
microseconds of CPU per poll. The writer lock uses filelock's descriptor lock
(``lock_descriptor``, filelock 3.30 and later) on a file kept open per
process: ``FileLock`` opens, locks, truncates and closes its file and tracks
forks on every acquisition, about 60 us of CPU, a fifth of a SQLite tag
write; the descriptor lock costs one system call. Both contend on the same
``flock``, so either works against the other. With an older filelock the
writer lock is a ``FileLock``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Unavailable

if TYPE_CHECKING:
    import filelock

# filelock is imported when a lock is first taken, not with this module: it
# loads asyncio and more, and a command that only reads takes no lock.

# How often a waiting writer retries the lock file, in seconds: the most a
# freed lock stays untaken.
WRITER_POLL_S = 0.001
# Migration is rare and slow; its waiters need not be prompt.
MIGRATION_POLL_S = 0.01


@functools.cache
def descriptor_lock() -> tuple[Callable[..., bool], Callable[[int], None]] | None:
    """filelock's ``lock_descriptor`` and ``unlock_descriptor``, or None before 3.30."""
    try:
        from filelock import lock_descriptor, unlock_descriptor
    except ImportError:  # filelock before 3.30
        return None
    return lock_descriptor, unlock_descriptor


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
        self._pid = os.getpid()
        self._threads = threading.Lock()
        # Guards the descriptor: close() leaves one in use to the write using it.
        self._state = threading.Lock()
        self._fd: int | None = None
        self._in_use: int | None = None
        self._file_lock: filelock.FileLock | None = None
        # When this process last let go of the lock, and whether it had to
        # wait for it then (a sign that other writers are queueing).
        self._released_at = 0.0
        self._contended = False
        # The thread writing now (its ident), and whether the lock was taken for a fork.
        self._writer: int | None = None
        self._held_for_fork = False
        _LOCKS.add(self)

    def _for_this_process(self) -> threading.Lock:
        # A forked child inherits the parent's thread lock in whatever state
        # the parent's other threads left it, and the parent's descriptor,
        # whose flock it would share: it makes its own.
        if self._pid != os.getpid():
            self._threads = threading.Lock()
            self._state = threading.Lock()
            self._in_use = None
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
            self._fd = None
            self._file_lock = None
            self._writer, self._held_for_fork = None, False
            self._pid = os.getpid()
        return self._threads

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock for the body of the ``with``.

        Raises ``Unavailable`` when it is not had within the timeout, naming
        the lock file, or when the lock file cannot be made.
        """
        threads = self._for_this_process()
        deadline = time.monotonic() + self.timeout_s
        if not threads.acquire(timeout=self.timeout_s):
            raise self._timed_out("another thread of this process")
        self._writer = threading.get_ident()
        try:
            native = descriptor_lock()
            _hook_forks()
            if native is None:
                left = max(deadline - time.monotonic(), 0.0)
                with _acquired(self._path_lock(), left, WRITER_POLL_S, self._timed_out):
                    yield
                return
            lock_descriptor, unlock_descriptor = native
            with self._state:
                fd = self._in_use = self._descriptor()
            try:
                if self._contended:
                    # Waiters poll; one that slept through the moment this process
                    # let go would lose again and again to a writer that comes
                    # straight back. Under contention, give them one poll interval.
                    pause = self._released_at + WRITER_POLL_S - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                self._contended = False
                while not lock_descriptor(fd, blocking=False):
                    self._contended = True
                    if time.monotonic() >= deadline:
                        raise self._timed_out()
                    time.sleep(WRITER_POLL_S)
                try:
                    yield
                finally:
                    unlock_descriptor(fd)
                    self._released_at = time.monotonic()
            finally:
                with self._state:
                    self._in_use = None
                    if self._fd != fd:
                        # close() came while the lock was used: the file is closed now.
                        with contextlib.suppress(OSError):
                            os.close(fd)
        finally:
            self._writer = None
            threads.release()

    def _before_fork(self) -> None:
        """Wait (at most the busy timeout) for this process's write to end, and keep
        the next one from starting until the fork is made.

        SQLite keeps the locks of a process's connections in the process's own
        memory: a child forked during a write inherits a record of a write lock
        that no connection of the child will ever release, and every write it
        makes then waits out the busy timeout. A thread that forks inside its
        own write cannot wait for it.
        """
        if self._pid != os.getpid() or self._writer == threading.get_ident():
            return
        self._held_for_fork = self._threads.acquire(timeout=self.timeout_s)

    def _after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._threads.release()

    def close(self) -> None:
        """Close the lock file (when a write holds it, as that write ends); the next
        :meth:`hold` opens it again. In a forked child it closes the copy of the
        parent's descriptor, which leaves the parent's lock alone."""
        self._for_this_process()
        with self._state:
            fd, self._fd = self._fd, None
            if fd is not None and fd != self._in_use:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _descriptor(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise _cannot_make(self.path, e) from e
        return self._fd

    def _path_lock(self) -> filelock.FileLock:
        if self._file_lock is None:
            import filelock

            self._file_lock = filelock.FileLock(str(self.path), thread_local=False)
        return self._file_lock

    def _timed_out(self, holder: str = "another process") -> Unavailable:
        return Unavailable(
            f"the registry database stayed busy: {holder} held the write lock "
            f"{self.path} for longer than the busy timeout of {self.timeout_s:g} s"
        )


# Every writer lock of the process, for the fork hooks below.
_LOCKS: weakref.WeakSet[WriterLock] = weakref.WeakSet()


def _before_fork() -> None:
    for lock in list(_LOCKS):
        lock._before_fork()


def _after_fork_in_parent() -> None:
    for lock in list(_LOCKS):
        lock._after_fork_in_parent()


_hooked = False


def _hook_forks() -> None:
    """Register the fork hooks once, after filelock registered its own: hooks run in the
    reverse order of registration, so the wait for a write comes before filelock's
    check, which refuses a second fork while a first one is between its hooks."""
    global _hooked
    if not _hooked and hasattr(os, "register_at_fork"):
        import filelock  # noqa: F401 - its hooks first, whatever version it is

        _hooked = True
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent)


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

    import filelock

    with _acquired(filelock.FileLock(str(path)), timeout_s, MIGRATION_POLL_S, timed_out):
        yield


@contextlib.contextmanager
def _acquired(
    lock: filelock.FileLock,
    timeout_s: float,
    poll_s: float,
    timed_out: Callable[[], Unavailable],
) -> Iterator[None]:
    import filelock

    try:
        lock.acquire(timeout=timeout_s, poll_interval=poll_s)
    except filelock.Timeout:
        raise timed_out() from None
    except OSError as e:
        raise _cannot_make(Path(lock.lock_file), e) from e
    try:
        yield
    finally:
        lock.release()


def _cannot_make(path: Path, e: OSError) -> Unavailable:
    return Unavailable(
        f"cannot make the lock file {path}: {e.strerror or e}; the folder {path.parent} "
        f"must be writable for this user"
    )
