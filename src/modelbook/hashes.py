"""What counts as a recorded hash (pure).

A dataset's and a lock file's ``sha256`` are SHA-256 digests written as 64 hex
digits, either case. Registration refuses anything else
(:func:`modelbook.provenance.sha256`); the checklist, ``doctor``, the
``lineage_complete`` check, reports and bills of materials count only such a
value as a hash, so a version stored before registration checked it is judged
the same way by all of them.
"""

from __future__ import annotations

import re
from typing import TypeGuard

from .domain import Version

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def is_sha256(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a SHA-256 digest as hex: 64 hex digits, either case."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def data_hashed(version: Version) -> bool:
    """``version`` has at least one data snapshot, and every one has its SHA-256."""
    data = version.lineage.data
    return bool(data) and all(is_sha256(d.sha256) for d in data)


def lockfile_hashed(version: Version) -> bool:
    """``version`` recorded a lock file with its SHA-256."""
    lockfile = version.environment.lockfile
    return lockfile is not None and is_sha256(lockfile.sha256)
