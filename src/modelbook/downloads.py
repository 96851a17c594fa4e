"""Downloads: a version's files written under a folder, all or nothing.

The destination must be missing or empty unless the caller overwrites; every
target is checked before any file is written; files are fetched and verified
in a staging folder inside the destination and moved into place only when all
are good; on any failure what was moved is taken back, replaced files are
restored and the folders the download made are removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .errors import IntegrityError, InvalidInput, ModelbookError, Unavailable
from .files import PATH_ERRNOS, Progress, check_manifest_paths, check_sha256, kind_of, noop, show

# fetch(sha256, size in bytes, target file, progress): writes one verified file.
Fetch = Callable[[str, int, Path, Progress], None]
STAGING_PREFIX = ".modelbook-download-"


# writing a version's files --------------------------------------------------------------


def _dest_error(root: Path, exc: OSError) -> ModelbookError:
    kind = InvalidInput if exc.errno in PATH_ERRNOS else Unavailable
    return kind(f"cannot download into {show(root)}: {exc}")


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _check_root(root: Path, overwrite: bool) -> None:
    st = _lstat(root)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidInput(
            f"download destination {show(root)} is {kind_of(st.st_mode)}, not a folder: "
            "name a new or empty folder"
        )
    if overwrite:
        return
    with os.scandir(root) as entries:
        if next(entries, None) is not None:
            raise InvalidInput(
                f"download destination {show(root)} is not empty: name a new or empty "
                "folder, or pass --overwrite to replace the files this version has there"
            )


def _check_targets(root: Path, paths: Sequence[str], overwrite: bool) -> list[Path]:
    """The target of every path, once none is in the way of another; nothing is written."""
    folders: dict[str, os.stat_result | None] = {}
    targets = []
    for rel in paths:
        names = rel.split("/")
        for depth in range(1, len(names)):
            folder = "/".join(names[:depth])
            if folder not in folders:
                folders[folder] = _lstat(root.joinpath(*names[:depth]))
            st = folders[folder]
            if st is None:
                break  # nothing exists below a missing folder
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidInput(
                    f"cannot download {rel!r}: {show(root.joinpath(*names[:depth]))} is "
                    f"{kind_of(st.st_mode)}, in the way of the folder it needs; move it away"
                )
        target = root.joinpath(*names)
        # Paths are relative with no '..' and no folder above a target is a link,
        # so this holds; it is checked because a mistake here writes outside dest.
        if os.path.commonpath([root, target]) != str(root):
            raise InvalidInput(f"artifact path {rel!r} escapes {show(root)}")
        st = _lstat(target)
        if st is not None:
            if stat.S_ISDIR(st.st_mode):
                raise InvalidInput(
                    f"cannot download {rel!r}: {show(target)} is a folder, in the way of "
                    "the file; move it away"
                )
            if not overwrite:
                raise InvalidInput(
                    f"cannot download {rel!r}: {show(target)} exists; pass --overwrite "
                    "to replace it"
                )
        targets.append(target)
    return targets


def _make_folders(folder: Path, made: list[Path]) -> None:
    """Create ``folder`` and missing parents, recording each one created in ``made``."""
    missing = []
    while _lstat(folder) is None:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        os.mkdir(path)
        made.append(path)


@dataclasses.dataclass
class _Move:
    target: Path
    backup: Path | None = None
    placed: bool = False


def _undo(moves: list[_Move]) -> bool:
    """Take back what a failed download moved; False if a replaced file could not be restored."""
    restored = True
    for move in reversed(moves):
        if move.placed:
            with contextlib.suppress(OSError):
                os.unlink(move.target)
        if move.backup is not None:
            try:
                os.rename(move.backup, move.target)
            except OSError:
                restored = False
    return restored


def place(
    dest: str | os.PathLike[str],
    items: Iterable[tuple[str, str, int]],
    fetch: Fetch,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Write files under the folder ``dest``, all or nothing; return ``dest`` resolved.

    ``items`` are (manifest path, sha256, size in bytes); ``fetch(sha256, size,
    target, progress)`` writes one file at ``target`` and raises unless its
    content is verified (``BlobStore.copy_to``); ``progress`` gets byte counts.

    ``dest`` must be missing or an empty folder, unless ``overwrite`` is true:
    then files this version has are replaced and other files are left alone.
    Every target is checked before anything is written: a file in the way of a
    folder, or a folder in the way of a file, is refused even with
    ``overwrite``. All files are fetched into a staging folder inside ``dest``
    and moved into place only once every one is verified. On any failure,
    nothing new is left: moved files are taken back, replaced files restored,
    created folders removed.

    Raises:
        InvalidInput: naming the folder or entry: ``dest`` is not a folder, is
            not empty (pass ``--overwrite``), something is in the way, a
            manifest path is malformed, or the folder cannot be written.
        IntegrityError: a stored sha256 is malformed, or ``fetch`` found a
            blob missing or corrupt.
        Unavailable: reading or writing failed (disk full, I/O error).
    """
    wanted = list(items)
    check_manifest_paths(rel for rel, _, _ in wanted)
    for _, sha256, size in wanted:
        check_sha256(sha256)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise IntegrityError(f"stored size {size!r} of blob {sha256} is not a byte count")
    report = progress or noop
    try:
        root = Path(dest).expanduser().resolve()
        _check_root(root, overwrite)
        targets = _check_targets(root, [rel for rel, _, _ in wanted], overwrite)
    except OSError as exc:
        raise InvalidInput(f"download destination {show(dest)} cannot be used: {exc}") from None
    except RuntimeError as exc:  # Path.resolve on a loop of links (Python 3.11)
        raise InvalidInput(f"download destination {show(dest)} cannot be used: {exc}") from None
    made: list[Path] = []
    moves: list[_Move] = []
    staging: Path | None = None
    done = False
    restored = True
    try:
        try:
            _make_folders(root, made)
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
        except OSError as exc:
            raise InvalidInput(
                f"cannot write to download destination {show(root)}: {exc}"
            ) from None
        try:
            for i, (rel, sha256, size) in enumerate(wanted):
                try:
                    fetch(sha256, size, staging / str(i), report)
                except IntegrityError as exc:
                    raise IntegrityError(f"artifact {rel!r}: {exc.message}") from None
            # Checked again: the folder may have changed while the files were fetched.
            _check_targets(root, [rel for rel, _, _ in wanted], overwrite)
            for i, target in enumerate(targets):
                _make_folders(target.parent, made)
                move = _Move(target)
                moves.append(move)
                if _lstat(target) is not None:
                    move.backup = staging / f"replaced-{i}"
                    os.rename(target, move.backup)
                os.rename(staging / str(i), target)
                move.placed = True
        except OSError as exc:
            raise _dest_error(root, exc) from None
        done = True
        return root
    finally:
        if not done:
            restored = _undo(moves)
        # A replaced file that could not be put back is kept in staging, not lost.
        if staging is not None and restored:
            shutil.rmtree(staging, ignore_errors=True)
        if not done:
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)


__all__ = ["STAGING_PREFIX", "Fetch", "place"]
