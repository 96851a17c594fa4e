"""What every service shares: the context, the version cache and row lookups."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Connection

from .. import uris, validation
from ..domain import Version
from ..errors import IntegrityError, InvalidInput, NotFound
from ..lazy import lazy
from ..store import models as model_rows
from ..store import version_records
from ..store import versions as version_rows
from ..store.engine import Database

if TYPE_CHECKING:
    from ..blobs import BlobStore

T = TypeVar("T")
# Parsed versions kept in memory per Registry (a few KB each).
VERSION_CACHE_SIZE = 16_384


def now_us() -> int:
    """The wall clock in integer microseconds since the epoch."""
    return time.time_ns() // 1000


# Versions kept per entry, one per state of its mutable columns: an alias that
# moves back and forth (a swap, a rollback) finds each state already built.
VARIANTS = 4


class _Entry:
    """What the cache holds for one version: its frozen identity, and the versions
    built for the states of its mutable columns seen last (oldest first)."""

    __slots__ = ("frozen", "latest", "variants")

    def __init__(self, frozen: tuple[Any, ...], mutable: tuple[Any, ...], version: Version):
        self.frozen = frozen
        self.variants: dict[tuple[Any, ...], Version] = {mutable: version}
        self.latest = version


class VersionCache:
    """Parsed versions by model name and number, reused only while the row is the one
    they were built from.

    An entry is checked against the row by identity (the stored record itself,
    the semver, who registered the version and when, so a restored or replaced
    database never gets another version's manifest) and by every mutable column
    (tags, stage, aliases, deprecation). When a mutable column changed, the
    cached version is copied with the row's columns, validated: an alias moved
    or a tag set does not make every read of the model parse its versions
    anew. The last few states of each version's mutable columns are kept, so
    an alias swapped back and forth costs no copy at all. Versions are
    read-only all the way down, so sharing is safe.
    """

    def __init__(self, size: int = VERSION_CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def version(self, model: str, row: Any) -> Version:
        """The version ``row`` (as :func:`store.versions.find` reads it) of ``model`` holds."""
        key = (model, row.number)
        frozen = (row.doc, row.semver, row.created_at, row.created_by)
        mutable = (row.tags, row.stage, row.aliases, row.deprecated_at)
        entry = self._items.get(key)
        if entry is not None and entry.frozen == frozen:
            found = entry.variants.get(mutable)
            if found is not None:
                # A hit is every cached read: no context manager for the race with eviction.
                try:  # noqa: SIM105
                    self._items.move_to_end(key)
                except KeyError:
                    pass
                return found
            version = version_records.with_row_changes(entry.latest, row)
        else:
            version = version_records.version_from_row(model, row)
        self._put(key, frozen, mutable, version)
        return version

    def registered(self, version: Version, *, doc: str, tags: str, created_at: int) -> None:
        """Keep ``version``, just committed with its row's ``doc`` and ``tags`` texts and
        ``created_at`` (integer microseconds): the next read of it, such as the next
        registration's comparison with its parent, need not parse it. No alias points
        at a new version and it is not deprecated."""
        frozen = (doc, version.semver, created_at, version.created_by)
        mutable = (tags, version.stage, None, None)
        self._put((version.model, version.number), frozen, mutable, version)

    def _put(
        self,
        key: tuple[str, int],
        frozen: tuple[Any, ...],
        mutable: tuple[Any, ...],
        version: Version,
    ) -> None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry.frozen != frozen:
                self._items[key] = _Entry(frozen, mutable, version)
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
                return
            # Readers look variants up without the lock: a dict's get is atomic.
            entry.variants[mutable] = version
            entry.latest = version
            while len(entry.variants) > VARIANTS:
                del entry.variants[next(iter(entry.variants))]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class Context:
    """The parts a service works with; built once per Registry.

    ``open_blobs`` makes the blob store when a service first needs it: reads of
    metadata never load the storage libraries.
    """

    db: Database
    open_blobs: Callable[[], BlobStore]
    clock: Callable[[], int] = now_us
    cache: VersionCache = field(default_factory=VersionCache)

    @lazy
    def blobs(self) -> BlobStore:
        return self.open_blobs()


def readable(parse: Callable[[Any], T], rows: Iterable[Any]) -> tuple[list[T], tuple[str, ...]]:
    """Parsed rows, and what a damaged row said: one bad row never hides the others."""
    items: list[T] = []
    unreadable: list[str] = []
    for row in rows:
        try:
            items.append(parse(row))
        except IntegrityError as exc:
            unreadable.append(exc.message)
    return items, tuple(unreadable)


def model_row(conn: Connection, name: str, *, lock: bool = False) -> Any:
    row = model_rows.find(conn, name, lock=lock)
    if row is None:
        raise NotFound(f"model {name!r} not found")
    return row


def version_row(
    conn: Connection, ref: uris.ModelRef, *, lock: bool = False, with_model: bool = False
) -> Any:
    """The row of the version a reference names; ``lock`` takes the model's and its row locks
    (see :func:`store.versions.find` for ``with_model``)."""
    if ref.kind == "model":
        raise InvalidInput(f"{ref} names a model, not a version: add /NUMBER or @ALIAS")
    row = version_rows.find(conn, ref.name, ref.kind, ref.value, lock=lock, with_model=with_model)
    if row is None:
        if model_rows.find(conn, ref.name) is None:
            raise NotFound(f"model {ref.name!r} not found")
        if ref.kind == "latest":
            raise NotFound(f"model {ref.name!r} has no versions yet")
        raise NotFound(f"{'alias' if ref.kind == 'alias' else 'version'} {ref} not found")
    return row


def version_ref(name: str, version: int | str) -> uris.ModelRef:
    """A reference to one version of ``name`` by number (int or digits) or semver."""
    if isinstance(version, bool):
        raise InvalidInput(f"invalid version {version!r}")
    if isinstance(version, int):
        return uris.ModelRef(name, "number", str(validation.version_number(version)))
    ref = uris.parse(f"models:/{name}/{version}")
    if ref.kind not in ("number", "semver"):
        raise InvalidInput(f"invalid version {version!r}: give a number or MAJOR.MINOR.PATCH")
    return ref
