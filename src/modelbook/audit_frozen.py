"""A version's frozen fields against what its ``version.register`` event records.

The event records the semver, the sha256 of the manifest's JSON (with its file
count and bytes), who registered the version and when, and the sha256 of its whole
document (see :data:`modelbook.audit_chain_state.FROZEN_FIELDS`). The version's
row holds the same semver (and its three numbers, by which ``models:/NAME/1.2.0``
is found), ``created_by`` and ``created_at``; its files are listed twice, in its
document (``versions.doc``, what a read of the version returns) and in the
``artifacts`` table (what searches by sha256 and garbage collection read). Each is
compared with the log: a file list swapped in SQL, in either place, is named with
what differs. The rest of the document (metrics, lineage, contract, training,
environment: what gates and reports read) is compared by its sha256 alone, which
the ``versions_frozen`` trigger keeps from changing after the insert: a document
that no longer hashes to it was rewritten outside modelbook.

The comparison gets each list as JSON text written by the database and the
document as stored, and a version whose two lists are the same text hashing to the
logged sha256, and whose document hashes to the logged one, costs two hashes
(:func:`agrees`); the others are parsed and described (:func:`problems`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .audit_live import changed, json_value
from .audit_names import shown

#: A manifest entry as compared: (path, size, sha256).
_Entry = tuple[Any, Any, Any]
#: How many files a sentence names before it counts the rest.
_NAMED = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def manifest_sha256(artifacts: Sequence[Any]) -> str:
    """The sha256 a registration event records of the version's files: of their JSON
    (each ``{"path", "sha256", "size"}``, in the manifest's order), compact with
    sorted keys and text unescaped."""
    text = json.dumps(artifacts, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def doc_sha256(doc: str) -> str:
    """The sha256 a registration event records of the version's stored document
    (``versions.doc``, as UTF-8)."""
    return hashlib.sha256(doc.encode()).hexdigest()


def agrees(frozen: Sequence[Any], row: Sequence[Any]) -> bool:
    """Whether a version's row (:data:`modelbook.audit_live.Live.versions` from its
    semver on) agrees with what its registration recorded, the fast way."""
    semver, major, minor, patch, created_by, created_at, doc_files, table_files, doc = row
    logged_semver, sha, _, _, logged_by, logged_at, logged_doc = frozen
    return (
        (logged_semver is None or semver == logged_semver)
        and semver == f"{major}.{minor}.{patch}"
        and (logged_by is None or created_by == logged_by)
        and (logged_at is None or created_at == logged_at)
        and type(doc_files) is str
        and doc_files == table_files
        and hashlib.sha256(doc_files.encode()).hexdigest() == sha
        and (
            logged_doc is None
            or (type(doc) is str and hashlib.sha256(doc.encode()).hexdigest() == logged_doc)
        )
    )


def problems(frozen: Sequence[Any], event: int, row: Sequence[Any]) -> list[str]:
    """Each frozen field of a version's row that the log says otherwise, one sentence
    each, to follow the version's URI."""
    semver, major, minor, patch, created_by, created_at, doc_files, table_files, doc = row
    logged_semver, _, _, _, logged_by, logged_at, logged_doc = frozen
    found = []
    if logged_semver is not None and semver != logged_semver:
        found.append(changed("", "the semver", semver, logged_semver, event))
    if semver != f"{major}.{minor}.{patch}":
        found.append(
            f": its semver is {shown(semver)} but its row's numbers read "
            f"{major}.{minor}.{patch} (by which its semver is looked up); they were changed "
            "outside modelbook"
        )
    if logged_by is not None and created_by != logged_by:
        found.append(changed("", "created_by", created_by, logged_by, event))
    if logged_at is not None and created_at != logged_at:
        found.append(changed("", "created_at", created_at, logged_at, event, shown_when))
    found += _file_problems(frozen, event, doc_files, table_files)
    if logged_doc is not None and not (type(doc) is str and doc_sha256(doc) == logged_doc):
        now = f"hashes to sha256 {doc_sha256(doc)}" if type(doc) is str else "cannot be read"
        found.append(
            f": its frozen record (metrics, lineage, contract, training, environment and "
            f"the rest of what registration froze) is not the one it was registered with: "
            f"its document (versions.doc) {now}, not the sha256 {logged_doc} that the audit "
            f"log records (event {event}); it was changed outside modelbook"
        )
    return found


def _file_problems(
    frozen: Sequence[Any], event: int, doc_files: Any, table_files: Any
) -> list[str]:
    sha, files, size = frozen[1], frozen[2], frozen[3]
    if sha is None:
        return []
    manifest = (
        f"{_count(files, 'file')} of {shown(size)} bytes whose manifest hashes to sha256 {sha}"
    )
    doc, table = _entries(doc_files), _entries(table_files)
    doc_ok = doc is not None and manifest_sha256(_listed(doc)) == sha
    table_ok = table is not None and (
        manifest_sha256(_listed(sorted(table, key=_path))) == sha
        or (doc is not None and manifest_sha256(_listed(_in_order_of(table, doc))) == sha)
        or (doc_ok and sorted(table, key=repr) == sorted(doc or (), key=repr))
    )
    found = []
    for where, entries, ok, other, other_ok in (
        ("document (versions.doc)", doc, doc_ok, table, table_ok),
        ("artifacts table rows", table, table_ok, doc, doc_ok),
    ):
        if ok:
            continue
        if entries is None:
            found.append(
                f": the files its {where} list cannot be read, where the audit log records "
                f"{manifest} (event {event}); they were changed outside modelbook"
            )
        elif other_ok and other is not None:
            found.append(
                f": its files in its {where} differ from the audit log's: "
                f"{_differences(entries, other)} (the audit log records {manifest}, event "
                f"{event}); they were changed outside modelbook"
            )
        else:
            found.append(
                f": its files in its {where} are {_named(entries)}, not the {manifest} that "
                f"the audit log records (event {event}); they were changed outside modelbook"
            )
    return found


def _entries(text: Any) -> list[_Entry] | None:
    """A file list's (path, size, sha256) entries; None unless it is a list of objects
    of exactly those keys."""
    value = json_value(text) if isinstance(text, str) else None
    if type(value) is not list:
        return None
    out = []
    for item in value:
        if type(item) is not dict or item.keys() != {"path", "size", "sha256"}:
            return None
        out.append((item["path"], item["size"], item["sha256"]))
    return out


def _listed(entries: Sequence[_Entry]) -> list[dict[str, Any]]:
    return [{"path": p, "size": n, "sha256": h} for p, n, h in entries]


def _path(entry: _Entry) -> str:
    return str(entry[0])


def _in_order_of(entries: Sequence[_Entry], order: Sequence[_Entry]) -> list[_Entry]:
    """``entries`` in the order ``order`` lists their paths (the others after, by path)."""
    position = {str(e[0]): k for k, e in enumerate(order)}
    return sorted(entries, key=lambda e: (position.get(str(e[0]), len(position)), str(e[0])))


def _differences(entries: Sequence[_Entry], logged: Sequence[_Entry]) -> str:
    """What ``entries`` has that ``logged`` (a list matching the log) has otherwise."""
    mine = {str(e[0]): e for e in entries}
    theirs = {str(e[0]): e for e in logged}
    parts = []
    for path in sorted(mine.keys() | theirs.keys()):
        now, then = mine.get(path), theirs.get(path)
        if now == then:
            continue
        if then is None:
            parts.append(f"{_file(now)} is not in the log's manifest")
        elif now is None:
            parts.append(f"{_file(then)} of the log's manifest is missing")
        else:
            parts.append(f"{_file(now)} where the log's manifest has {_file(then, path=False)}")
    if not parts:
        return "the files are listed in another order"
    more = len(parts) - _NAMED
    return "; ".join(parts[:_NAMED]) + (f"; and {more} more" if more > 0 else "")


def _named(entries: Sequence[_Entry]) -> str:
    if not entries:
        return "none"
    more = len(entries) - _NAMED
    return ", ".join(_file(e) for e in entries[:_NAMED]) + (f" and {more} more" if more > 0 else "")


def _file(entry: _Entry | None, *, path: bool = True) -> str:
    assert entry is not None
    p, n, h = entry
    what = f"{shown(n)} bytes, sha256 {shown(h)}"
    return f"{shown(p)} ({what})" if path else what


def _count(n: Any, noun: str) -> str:
    return f"1 {noun}" if n == 1 else f"{shown(n)} {noun}s"


def shown_when(value: Any) -> str:
    """A time in microseconds as an ISO 8601 instant (and the number when it is none)."""
    if type(value) is int:
        try:
            return (_EPOCH + timedelta(microseconds=value)).isoformat()
        except (OverflowError, OSError, ValueError):
            pass
    return shown(value)


__all__ = ["agrees", "doc_sha256", "manifest_sha256", "problems", "shown_when"]
