"""New small blobs made durable off the caller's thread.

Making a new blob durable means waiting on the disk twice: the fsync of its
temporary file, then, once it is renamed into place, the fsync of its folder.
A registration has other work meanwhile (comparing the version with its
parent, writing its rows), and only the commit of its transaction has to
wait for its blobs: a version's row never refers to a blob that is not
durable. So :meth:`modelbook.blobs.BlobStore.store` writes a small file's
bytes on the caller's thread and leaves the waits and the rename to a worker
thread; :meth:`Stored.durable` is where the caller waits for them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .errors import Unavailable

# Worker threads for the waits: each spends its time blocked in fsync.
WORKERS = 4

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


@dataclass(frozen=True)
class Stored:
    """A blob being stored: ``sha256`` (hex) and ``size`` (bytes) of its content, the
    file it came from as errors show it (``source``), and the work still making it
    durable (``landing``; None when it already is)."""

    sha256: str
    size: int
    source: str
    landing: Future[None] | None = None

    def durable(self) -> None:
        """Return once the blob is durable in the store.

        Raises:
            Unavailable: it could not be made durable (disk full, I/O error),
                naming the file and the cause; the blob is then not stored.
        """
        if self.landing is None:
            return
        try:
            self.landing.result()
        except OSError as exc:
            raise Unavailable(f"cannot store {self.source}: {exc}") from exc


def submit(fn: Callable[..., None], *args: Any) -> Future[None]:
    """Run ``fn(*args)`` on a worker thread of this process; the future says when it ends.

    During interpreter shutdown, when no new thread may start, it runs here
    and now instead.
    """
    global _pool
    pool = _pool
    if pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="modelbook-blobs")
            pool = _pool
    try:
        return pool.submit(fn, *args)
    except RuntimeError:
        done: Future[None] = Future()
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiter, as a worker would
            done.set_exception(exc)
        else:
            done.set_result(None)
        return done


def _after_fork_in_child() -> None:
    # The parent's worker threads do not exist in a forked child, and its lock
    # may have been held by one of them at the fork.
    global _pool, _lock
    _lock = threading.Lock()
    _pool = None


os.register_at_fork(after_in_child=_after_fork_in_child)
