"""The shape of a manifest: the rules every artifact path and stored hash follow,
whether read from disk by :func:`modelbook.files.collect` or sent by a remote
client. Pure: no file system access."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Protocol, TypeGuard, TypeVar

from pydantic import AfterValidator, Field

from .errors import IntegrityError, InvalidInput


class _Named(Protocol):
    @property
    def path(self) -> str: ...


_N = TypeVar("_N", bound=_Named)

# A manifest path is at most this many characters, and each of its names at
# most this many UTF-8 bytes (the longest file name common file systems take,
# so that every registered path can be downloaded again).
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_sha256(value: object) -> str:
    """Return ``value`` if it is a sha256 as stored: exactly 64 lowercase hex characters.

    Every path built from a stored hash goes through this first, so a tampered
    record cannot name a file outside the blob store.

    Raises:
        IntegrityError: anything else (a stored hash is never user input).
    """
    if not _is_sha256(value):
        raise IntegrityError(
            f"stored sha256 {_shown(value)} is not 64 lowercase hexadecimal characters; "
            "the registry's records may have been altered"
        )
    return value


def given_sha256(value: object, path: str) -> str:
    """Return ``value`` if it is a sha256 as a caller gives one for artifact ``path``
    (phase two of a registration): 64 lowercase hex characters, as ``store_file``
    returns it.

    Raises:
        InvalidInput: anything else, naming the artifact.
    """
    if not _is_sha256(value):
        raise InvalidInput(
            f"artifact {path!r}: sha256 {_shown(value)} is not 64 lowercase hexadecimal "
            "characters (give the one store_file returned)"
        )
    return value


def _is_sha256(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def _shown(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _check_manifest_path(path: object) -> str:
    if not isinstance(path, str):
        raise InvalidInput(f"an artifact path must be text, got {type(path).__name__}")
    shown = repr(path) if len(path) <= 200 else repr(path[:197] + "...")
    problem = None
    if not path:
        problem = "it is empty"
    elif "\x00" in path:
        problem = "it contains a NUL character"
    elif len(path) > MAX_PATH_CHARS:
        problem = f"it is {len(path)} characters long; the limit is {MAX_PATH_CHARS}"
    elif "\\" in path:
        problem = "it contains a backslash; separate folders with '/'"
    elif path.startswith("/"):
        problem = "it is absolute; artifact paths are relative to the version's folder"
    else:
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            problem = "it is not valid UTF-8 (a file name with undecodable bytes)"
    if problem is None:
        for name in path.split("/"):
            if not name:
                problem = "it has an empty name (a doubled or trailing '/')"
            elif name in (".", ".."):
                problem = f"it has a {name!r} component"
            elif len(name.encode("utf-8")) > MAX_NAME_BYTES:
                problem = f"it has a name longer than {MAX_NAME_BYTES} bytes"
            if problem is not None:
                break
    if problem is not None:
        raise InvalidInput(f"invalid artifact path {shown}: {problem}")
    return path


def manifest_path(path: str) -> str:
    """Return ``path`` if it follows the shape rule of one manifest path (see
    :func:`check_manifest_paths`): the validator of
    :attr:`modelbook.domain.Artifact.path`, so no version read from the registry
    names a file outside its own folder.

    Raises:
        ValueError: naming the path and what is wrong with it (pydantic reports it
            as a validation error of the field).
    """
    try:
        return _check_manifest_path(path)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


# The common manifest path, matched by pydantic's own (Rust) validator without a call
# into Python: names of printable ASCII but '/' and backslash, 1-255 characters,
# neither '.' nor '..' (the three branches), at most MAX_PATH_CHARS in all. The full
# rule accepts all of these; any other path goes through it and gets its message.
_CHAR = r"[ -.0-\[\]-~]"
_NOT_DOT = r"[ -\-0-\[\]-~]"
_NAME = rf"(?:\.\.{_CHAR}{{1,253}}|\.{_NOT_DOT}{_CHAR}{{0,253}}|{_NOT_DOT}{_CHAR}{{0,254}})"
_PLAIN_PATH = Annotated[str, Field(pattern=rf"^{_NAME}(?:/{_NAME})*$", max_length=MAX_PATH_CHARS)]

#: A sha256 as stored, as a pydantic type: :func:`check_sha256`'s rule, checked without Python.
Sha256 = Annotated[str, Field(pattern=rf"^{_SHA256.pattern}$")]

#: A manifest path as a pydantic type: the plain path checked without Python, else
#: :func:`manifest_path`.
ManifestPath = Annotated[
    _PLAIN_PATH | Annotated[str, AfterValidator(manifest_path)],
    Field(union_mode="left_to_right"),
]


def check_manifest_paths(paths: Iterable[str]) -> None:
    """Refuse a set of manifest paths that could not be written out as one folder tree.

    ``paths`` are relative POSIX paths such as ``"weights/model.bin"``. Pure: no
    file system access.

    Raises:
        InvalidInput: naming the first offending path when one is not text, is
            empty, absolute, longer than 1024 characters, holds a NUL, a
            backslash, invalid UTF-8, an empty, ``.`` or ``..`` name, or a name
            over 255 bytes; when two paths are equal; or when one path is a
            folder of another (``model`` and ``model/w.bin``), since one name
            cannot be both a file and a folder.
    """
    listed = list(paths)
    for path in listed:
        _check_manifest_path(path)
    _check_one_tree(listed)


def _check_one_tree(paths: list[str]) -> None:
    """Refuse paths (each of the right shape) that two files would share, or where one
    file's path is another's folder."""
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise InvalidInput(f"two artifacts would both be stored as {path!r}")
        seen.add(path)
    for path in sorted(seen):
        cut = path.find("/")
        while cut != -1:
            if path[:cut] in seen:
                raise InvalidInput(
                    f"artifact {path[:cut]!r} is a file, but artifact {path!r} needs a folder "
                    "of that name: rename one of them"
                )
            cut = path.find("/", cut + 1)


def one_tree(artifacts: tuple[_N, ...]) -> tuple[_N, ...]:
    """Return ``artifacts`` if their paths, each already of the right shape, can be
    written out as one folder tree (see :func:`check_manifest_paths`): the validator of
    :attr:`modelbook.domain.Version.artifacts`, so no version read from the registry
    names one file twice or a file as another's folder.

    Raises:
        ValueError: naming the paths (pydantic reports it as a validation error).
    """
    if len(artifacts) > 1:
        try:
            _check_one_tree([a.path for a in artifacts])
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
    return artifacts


def check_stored_paths(paths: Iterable[str], version: str) -> None:
    """Refuse the stored manifest of ``version`` (its URI, ``models:/m/3``) when a
    registration could not have written it: :func:`check_manifest_paths`' rule, applied
    to paths read back from the registry before any file is written under them.

    Raises:
        IntegrityError: naming the version and the first offending stored path (a
            stored path is never user input: the record was damaged or edited).
    """
    try:
        check_manifest_paths(paths)
    except InvalidInput as exc:
        raise IntegrityError(
            f"{version}: its stored manifest is not one a registration writes "
            f"({exc.message}); the registry's records may have been altered"
        ) from None
