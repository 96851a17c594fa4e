"""Local files in and out of the registry: what a registration reads, what a download writes.

Each rule below is written once, here, and applied by every front end:

- :func:`collect` turns the files and folders a user names into manifest
  entries. Symbolic links are followed, to files and to folders alike (model
  folders such as Hugging Face snapshots are made of them); a link that leads
  back into a folder it is inside of (a loop), a dangling link, and anything
  that is not a regular file or a folder (FIFO, socket, device), or that cannot
  be read, is refused by name. Nothing is skipped silently.
- :func:`check_manifest_paths` (in :mod:`modelbook.manifest_paths`) is the shape
  of a manifest path, for paths read from disk and for manifests sent by remote
  clients alike.
- :func:`open_source` opens a file to be stored once, without blocking, and
  :meth:`Source.check_unchanged` refuses it if it changed while it was read.

:func:`modelbook.downloads.place` writes a version's files under a folder,
all or nothing.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .errors import InvalidInput, ModelbookError, Unavailable
from .manifest_paths import MAX_NAME_BYTES, MAX_PATH_CHARS, check_manifest_paths, check_sha256

Progress = Callable[[int], None]

# Opening a file for reading may fail for these reasons because of the path
# itself: the user can fix them. Any other failure is the machine's.
PATH_ERRNOS = frozenset(
    {
        errno.ENOENT,
        errno.EACCES,
        errno.EPERM,
        errno.ELOOP,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENXIO,
        errno.ENODEV,
        errno.ENAMETOOLONG,
        errno.EROFS,
        errno.EEXIST,
    }
)


def noop(_: int) -> None:
    return None


def show(path: str | os.PathLike[str]) -> str:
    """A path quoted for a one-line message: control characters are escaped."""
    return repr(os.fspath(path))


def kind_of(mode: int) -> str:
    """What a file of ``mode`` (``st_mode``) is, in words: ``"a FIFO (named pipe)"``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "a special file"


# collecting what a user names -----------------------------------------------------------


def _stat_entry(path: Path, what: str) -> os.stat_result:
    """stat of ``path`` following symbolic links; only a regular file or a folder passes."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            raise InvalidInput(
                f"{what} {show(path)} is a symbolic link to {show(target)}, which does not exist"
            ) from None
        raise InvalidInput(f"{what} {show(path)} does not exist") from None
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.errno == errno.ELOOP:
            why = "it is a loop of symbolic links that never reaches a file"
        raise InvalidInput(f"{what} {show(path)} cannot be read: {why}") from None
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        return st
    raise InvalidInput(
        f"{what} {show(path)} is {kind_of(st.st_mode)}, not a regular file or folder; "
        "move it out of the way or name the files to register"
    )


def _check_readable(path: Path, what: str) -> None:
    if not os.access(path, os.R_OK):
        raise InvalidInput(f"{what} {show(path)} is not readable")


def _walk(
    folder: Path,
    st: os.stat_result,
    prefix: str,
    on_path: dict[tuple[int, int], Path],
    out: list[tuple[str, Path]],
) -> None:
    """Add every file under ``folder`` to ``out``; ``on_path`` holds the folders above it."""
    key = (st.st_dev, st.st_ino)
    if key in on_path:
        raise InvalidInput(
            f"artifact folder {show(folder)} is a loop: it leads back to {show(on_path[key])}, "
            "a folder it is inside of; remove the link or name the files to register"
        )
    try:
        with os.scandir(folder) as entries:
            names = sorted(entry.name for entry in entries)
    except OSError as exc:
        raise InvalidInput(
            f"artifact folder {show(folder)} cannot be read: {exc.strerror or exc}"
        ) from None
    on_path[key] = folder
    for name in names:
        path = folder / name
        entry = _stat_entry(path, "artifact entry")
        if stat.S_ISDIR(entry.st_mode):
            _walk(path, entry, f"{prefix}{name}/", on_path, out)
        else:
            _check_readable(path, "artifact file")
            out.append((f"{prefix}{name}", path))
    del on_path[key]


def _folder_name(path: Path) -> str:
    # The name as given, not as resolved: a link named ``model`` to a snapshot
    # folder stores its files under ``model/``.
    name = Path(os.path.abspath(path)).name
    if not name:
        raise InvalidInput(
            f"artifact folder {show(path)} has no name to store its files under: "
            "name it alone, or name a folder inside it"
        )
    return name


def collect(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
) -> list[tuple[str, Path]]:
    """The files a user names, as sorted (manifest path, local file) pairs.

    ``paths`` is one path or a sequence of them. One folder: its files, with
    paths relative to it. Several paths: each file under its own name, each
    folder's files under the folder's name (``model/weights.bin``).

    Symbolic links are followed wherever they are, to files and to folders. A
    folder is refused if it leads back to a folder it is inside of (a loop), as
    is a dangling link, an entry that is neither a regular file nor a folder
    (FIFO, socket, device), and a file or folder that cannot be read: nothing
    is skipped. Empty folders inside are allowed but add nothing.

    Raises:
        InvalidInput: naming the entry: no paths, a missing path, any refused
            entry above, a folder holding no files, or manifest paths that
            :func:`check_manifest_paths` refuses.
    """
    many = [paths] if isinstance(paths, str | os.PathLike) else paths
    try:
        given = [Path(p) for p in many]
    except TypeError:
        raise InvalidInput("artifact paths must be file or folder paths") from None
    if not given:
        raise InvalidInput("no artifact paths given: name at least one file or directory")
    tops = [(src, _stat_entry(src, "artifact path")) for src in given]
    single_folder = len(tops) == 1 and stat.S_ISDIR(tops[0][1].st_mode)
    out: list[tuple[str, Path]] = []
    for src, st in tops:
        if stat.S_ISDIR(st.st_mode):
            prefix = "" if single_folder else f"{_folder_name(src)}/"
            found: list[tuple[str, Path]] = []
            _walk(src, st, prefix, {}, found)
            if not found:
                raise InvalidInput(f"artifact directory {show(src)} contains no files")
            out.extend(found)
        else:
            _check_readable(src, "artifact file")
            out.append((src.name, src))
    check_manifest_paths(rel for rel, _ in out)
    return sorted(out)


# reading a file exactly once ------------------------------------------------------------


def open_regular(
    path: str | os.PathLike[str], what: str, error: type[ModelbookError]
) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading and return (descriptor, its ``fstat``); it must be a regular file.

    The file is opened with ``O_NONBLOCK``, so that a FIFO without a writer (or a
    path swapped for one) cannot hang the caller; the type is checked on the
    open descriptor, not on the name, and blocking mode is then restored. The
    caller closes the descriptor.

    Raises:
        error: ``what`` and the path, when it is not a regular file.
        OSError: when it cannot be opened; the caller knows what that means.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{what} {show(path)} is {kind_of(st.st_mode)}, not a regular file")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_text(path: str | os.PathLike[str], what: str, max_chars: int) -> str:
    """The UTF-8 text of a small regular file given on the command line (a policy, a
    signature), read once through :func:`open_regular`: a FIFO or a device is
    refused, never waited on.

    ``max_chars`` is the limit of the text the file holds (``limits``); at most
    four bytes a character are read, and more is refused here instead of being
    read into memory. Raises InvalidInput naming ``what`` and the path: not a
    regular file, unreadable, too large, not UTF-8.
    """
    try:
        fd, _ = open_regular(path, what, InvalidInput)
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} {show(path)}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(4 * max_chars + 1)
    too_long = f"the limit is {max_chars:,} characters"
    if len(data) > 4 * max_chars:
        # Even four-byte characters would be too many.
        raise InvalidInput(
            f"{what} {show(path)} is larger than {4 * max_chars:,} bytes; {too_long}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{what} {show(path)}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    if len(text) > max_chars:
        raise InvalidInput(f"{what} {show(path)} holds {len(text):,} characters; {too_long}")
    return text


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    # Any write moves mtime and ctime, and appending or truncating moves the size.
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


class Source:
    """A regular file being stored: one open descriptor and what it looked like when opened.

    Everything stored is read from ``fd``; :meth:`check_unchanged` then proves
    that the bytes read are the file's content at one moment, not a mix of two.
    """

    def __init__(self, path: Path, fd: int, opened: os.stat_result) -> None:
        self.path = path
        self.fd = fd
        self.opened = opened

    @property
    def size(self) -> int:
        """Size in bytes when the file was opened."""
        return self.opened.st_size

    def chunks(self, chunk_size: int) -> Iterator[bytes]:
        """The file's bytes from its start, in pieces of at most ``chunk_size`` bytes.

        Reading stops one piece past the size the file had when opened, so that
        a file that keeps growing is not read forever (and is then refused by
        :meth:`check_unchanged`).
        """
        os.lseek(self.fd, 0, os.SEEK_SET)
        total = 0
        while total <= self.size:
            data = os.read(self.fd, chunk_size)
            if not data:
                return
            total += len(data)
            yield data

    def changed(self) -> InvalidInput:
        """The error for a file that changed while it was read."""
        return InvalidInput(
            f"file {show(self.path)} changed while it was being stored; nothing was "
            "registered: register it again once nothing is writing to it"
        )

    def check_unchanged(self, read: int) -> None:
        """Refuse the file unless ``read`` bytes were its whole, unchanged content.

        Compares size, mtime and ctime (nanoseconds) from ``fstat`` on the open
        descriptor now with those at open. A change that leaves all three equal
        (a same-size rewrite within one tick of the file system's clock) cannot
        be seen this way.

        Raises:
            InvalidInput: the file changed while it was being read.
            OSError: ``fstat`` failed.
        """
        if read != self.size or _identity(os.fstat(self.fd)) != _identity(self.opened):
            raise self.changed()


@contextlib.contextmanager
def open_source(path: str | os.PathLike[str]) -> Iterator[Source]:
    """Open a file to be stored, once, and close it afterwards.

    Raises:
        InvalidInput: the path does not exist, cannot be read, or is not a
            regular file (a FIFO is refused at once, without waiting for a writer).
        Unavailable: the system refused to open it for another reason (EIO, EMFILE).
    """
    try:
        fd, st = open_regular(path, "artifact file", InvalidInput)
    except FileNotFoundError:
        raise InvalidInput(f"artifact file {show(path)} does not exist") from None
    except OSError as exc:
        kind = InvalidInput if exc.errno in PATH_ERRNOS else Unavailable
        raise kind(f"artifact file {show(path)} cannot be read: {exc.strerror or exc}") from None
    try:
        yield Source(Path(path), fd, st)
    finally:
        os.close(fd)


__all__ = [
    "MAX_NAME_BYTES",
    "MAX_PATH_CHARS",
    "PATH_ERRNOS",
    "Progress",
    "Source",
    "check_manifest_paths",
    "check_sha256",
    "collect",
    "kind_of",
    "noop",
    "open_regular",
    "open_source",
    "read_text",
    "show",
]
