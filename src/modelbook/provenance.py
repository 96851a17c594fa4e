"""Parsing of the provenance a version records: content hashes (SHA-256), git
commit ids, container image digests, a lock file's path in its repository and a
feature set's ``NAME@VERSION``.

Pure functions, as in :mod:`modelbook.validation`: each returns a clean value or
raises :class:`InvalidInput` naming the field and what would be accepted.
"""

from __future__ import annotations

import re

from .errors import InvalidInput, shown
from .hashes import is_sha256


def sha256(value: object, what: str) -> str:
    """``value`` if it is a SHA-256 as hex (:func:`modelbook.hashes.is_sha256`); else
    InvalidInput naming ``what``."""
    if not is_sha256(value):
        raise InvalidInput(
            f"{what} is {shown(value, 80)}, not a SHA-256: give its 64 hex digits "
            "(e.g. from sha256sum)"
        )
    return value


# A git object id: SHA-1 (40 hex digits) or SHA-256 (64), the object formats git has.
#: A full git object id: 40 hex digits (SHA-1) or 64 (SHA-256), either case.
GIT_OID = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_HEX = re.compile(r"[0-9a-fA-F]+")
# A container image digest (OCI): ``sha256:`` and 64 hex digits or ``sha512:`` and 128,
# lower case, after an optional image reference and ``@`` (``registry/name@sha256:...``).
_IMAGE_DIGEST = re.compile(r"(?:[^\s@-][^\s@]*@)?(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")


def git_commit(value: object, what: str = "the code commit") -> str:
    """``value`` if it is a full git commit id: 40 hex digits (SHA-1) or 64 (a SHA-256
    repository), either case; else InvalidInput naming ``what`` and the value.

    An abbreviated id is refused: a version is frozen, and an abbreviation that is
    unique today can name two commits once the repository grows; lineage and impact
    match the id as stored, so it must be the one git prints in full.
    """
    if isinstance(value, str) and GIT_OID.fullmatch(value):
        return value
    if isinstance(value, str) and _HEX.fullmatch(value) and len(value) < 40:
        why = "an abbreviated id: give it in full, as `git rev-parse` prints it"
    else:
        why = "not a git commit id: give its 40 hex digits (64 in a SHA-256 repository)"
    raise InvalidInput(f"{what} is {shown(value, 80)}, {why}")


def image_digest(value: object, what: str = "the container image digest") -> str:
    """``value`` if it is a container image digest, ``sha256:`` and 64 lower-case hex
    digits (or ``sha512:`` and 128), alone or after the image and ``@``; else
    InvalidInput naming ``what`` and the value."""
    if isinstance(value, str) and _IMAGE_DIGEST.fullmatch(value):
        return value
    raise InvalidInput(
        f"{what} is {shown(value, 80)}, not an image digest: give sha256: and its 64 "
        "lower-case hex digits (or sha512: and 128), alone or as IMAGE@sha256:... "
        "(docker inspect --format '{{index .RepoDigests 0}}' IMAGE)"
    )


def repo_path(value: str) -> str:
    """A path inside a repository's checkout: relative, ``/``-separated, no ``..``."""
    parts = value.split("/")
    if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(
            f"invalid repository path {value!r} of the lock file: write it relative to "
            "the repository's root, with '/' and without '.', '..' or empty parts"
        )
    return value


def feature_set(text: str, what: str = "features") -> tuple[str, str | None]:
    """``NAME@VERSION`` (or ``NAME`` alone: its version not recorded) as name and version,
    read as ``impact features:...`` reads it: spaces around dropped, a name and a
    version on both sides of the ``@``."""
    name, at, version = text.strip().partition("@")
    name, version = name.strip(), version.strip()
    if not name or (at and not version):
        raise InvalidInput(
            f"invalid {what} {text!r}: write NAME@VERSION (or NAME alone, its version not recorded)"
        )
    return name, version or None
