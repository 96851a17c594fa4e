"""Scanning pickle-based artifacts for code that runs on load, before anything unpickles them.

Unpickling runs whatever the file tells it to import and call, so a pickle,
a joblib file (compressed or not) or any other file a flavor unpickles is
scanned first with ``picklescan``, which lists the globals the stream
imports without executing it and rates each one:

- **dangerous**: it can run code or touch the system (``os.system``,
  ``builtins.eval``, ``subprocess.Popen`` ...): the load is refused;
- **suspicious**: not on the scanner's known-safe list (every scikit-learn
  class is); recorded, not refused;
- **innocuous**: known safe (NumPy arrays and dtypes ...).

A file that looks like a pickle but cannot be scanned (an unknown
compression) is refused too: what cannot be read cannot be cleared.

The scanner lists globals; it stops where joblib stored a NumPy array's raw
bytes inside the stream, and it cannot see what a stream *does* with what it
builds (call an object, set attributes of a class). So every stream it does
not call dangerous is also read to its end under the rules loading applies
(:mod:`modelbook.unpickling`, :mod:`modelbook.unpickle_guard`: the
scikit-learn rule, then the ``pickle`` flavor's; every global and every call
checked before it runs; what is built is discarded, so a scan holds the model
in memory once and takes about as long as a load): what both rules refuse
makes the file dangerous, and a stream that cannot be read to its end makes
it unscannable.

Loading pickles at all is switched off with ``MODELBOOK_ALLOW_PICKLE=0``
(also ``false``, ``no``, ``off``); the default allows them after a clean scan.
The scanner is imported only when a pickle is scanned.
"""

from __future__ import annotations

import bz2
import io
import logging
import lzma
import os
import zlib
from collections.abc import Iterable
from datetime import datetime
from importlib import metadata
from typing import Any, Literal

from .domain import Frozen
from .errors import InvalidInput, UnsafeArtifact

ALLOW_PICKLE_ENV = "MODELBOOK_ALLOW_PICKLE"
_FALSE = ("0", "false", "no", "off")
_TRUE = ("1", "true", "yes", "on")

Verdict = Literal["clean", "suspicious", "dangerous", "unscannable"]
# Worst last: a report's verdict is the worst of its files'.
_ORDER: tuple[Verdict, ...] = ("clean", "suspicious", "dangerous", "unscannable")

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".dill")
# The compressions joblib writes, by magic bytes, and how to undo them.
_COMPRESSED = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
)


def pickles_allowed() -> bool:
    """Whether ``MODELBOOK_ALLOW_PICKLE`` allows loading pickles (default: yes).

    Raises InvalidInput when the variable holds something other than 1/0,
    true/false, yes/no or on/off.
    """
    raw = os.environ.get(ALLOW_PICKLE_ENV, "1").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise InvalidInput(f"{ALLOW_PICKLE_ENV}={raw!r}: use 1 or 0 (true/false, yes/no, on/off)")


def require_pickles_allowed(paths: Iterable[str]) -> None:
    """Raise UnsafeArtifact naming ``paths`` when pickles are switched off."""
    if not pickles_allowed():
        raise UnsafeArtifact(
            f"loading pickles is turned off ({ALLOW_PICKLE_ENV}=0): "
            f"{', '.join(paths)} would be unpickled; serve an ONNX (or other non-pickle) "
            "model, or allow pickles"
        )


def _is_pickle_stream(head: bytes) -> bool:
    # Protocol 2 and later open with PROTO; protocols 0 and 1 with a mark, a list
    # or dict, or a global.
    return (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5) or head[:1] in (
        b"(",
        b"]",
        b"}",
        b"c",
    )


def _is_zlib(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0


def is_pickled(path: str, head: bytes) -> bool:
    """Whether the artifact at ``path`` starting with ``head`` is a pickle (maybe compressed)."""
    if path.lower().endswith(PICKLE_SUFFIXES):
        return True
    return _is_pickle_stream(head)


# A model's arrays compress a few times over, rarely tens; a stream that grows by
# more than this is a decompression bomb aimed at the process that scans it.
MAX_EXPANSION = 200


def _decompress(data: bytes) -> bytes | None:
    """The pickle inside a joblib-compressed file; the data itself if not compressed;
    None when it is compressed in a way that cannot be undone here. Raises
    ValueError when it would grow past :data:`MAX_EXPANSION` times its size."""
    limit = MAX_EXPANSION * len(data) + (1 << 20)
    if _is_zlib(data[:2]):
        return _bounded(zlib.decompressobj(), data, limit)
    for magic, kind in _COMPRESSED:
        if data.startswith(magic):
            if kind == "gzip":
                return _bounded(zlib.decompressobj(wbits=31), data, limit)
            if kind == "bz2":
                return _bounded(bz2.BZ2Decompressor(), data, limit)
            if kind in ("xz", "lzma"):
                return _bounded(lzma.LZMADecompressor(), data, limit)
            return None
    return data


def _bounded(decompressor: Any, data: bytes, limit: int) -> bytes:
    """What ``decompressor`` makes of ``data``, refused past ``limit`` bytes."""
    out = decompressor.decompress(data, limit + 1)
    if len(out) <= limit and hasattr(decompressor, "flush"):
        out += decompressor.flush()
    if len(out) > limit:
        raise ValueError(
            f"it decompresses to more than {MAX_EXPANSION} times its size "
            "(a decompression bomb, or not a model)"
        )
    return bytes(out)


class FileScan(Frozen):
    """The scan of one artifact.

    Attributes:
        path: the artifact's path in the version.
        verdict: ``clean``, ``suspicious``, ``dangerous`` or ``unscannable``.
        dangerous: the globals rated dangerous, as ``module.name``.
        suspicious: the globals the scanner does not know to be safe.
        complete: False when the scanner stopped before the end of the stream
            (joblib interleaves raw array bytes with the pickle) and it could
            not be read to its end otherwise (then the verdict is
            ``unscannable``).
        checked: the stream was read to its end under the scikit-learn rule,
            past where the scanner stopped.
        error: why the file could not be scanned, for ``unscannable``.
    """

    path: str
    verdict: Verdict
    dangerous: tuple[str, ...] = ()
    suspicious: tuple[str, ...] = ()
    complete: bool = True
    checked: bool = False
    error: str | None = None


class ScanReport(Frozen):
    """The scan of every pickle-based artifact of a version.

    ``verdict`` is the worst of the files' (``clean`` when there are none).
    """

    scanner: str
    files: tuple[FileScan, ...] = ()

    @property
    def verdict(self) -> Verdict:
        worst = max((_ORDER.index(f.verdict) for f in self.files), default=0)
        return _ORDER[worst]

    @property
    def unsafe(self) -> bool:
        """Whether loading would be refused: a dangerous or unscannable file."""
        return self.verdict in ("dangerous", "unscannable")

    def summary(self) -> str:
        """One line: the verdict and what was found, for messages and evidence."""
        if not self.files:
            return "no pickle-based artifacts"
        parts = []
        for f in self.files:
            if f.verdict == "dangerous":
                parts.append(f"{f.path}: imports {', '.join(f.dangerous)}")
            elif f.verdict == "unscannable":
                parts.append(f"{f.path}: cannot be scanned ({f.error})")
            elif f.checked:
                parts.append(f"{f.path}: read to its end past a NumPy array, every global allowed")
        found = "; ".join(parts)
        return f"{self.verdict} ({len(self.files)} file(s) scanned)" + (
            f": {found}" if found else ""
        )


class ScanRecord(Frozen):
    """A scan as recorded on a version (annotation ``scan``, event ``version.scan``).

    Attributes:
        scanner, verdict, files: the :class:`ScanReport`.
        allowed_unsafe: an unsafe file was loaded anyway, as the actor asked.
        purpose: ``load``, ``smoke``, ``scan`` or ``classify`` (semver classification):
            what the scan was for.
        actor, at: who scanned, and when.
    """

    scanner: str
    verdict: Verdict
    files: tuple[FileScan, ...]
    allowed_unsafe: bool = False
    purpose: str
    actor: str
    at: datetime


def scanner_name() -> str:
    """``picklescan X.Y.Z``; raises InvalidInput when the scanner is not installed."""
    try:
        return f"picklescan {metadata.version('picklescan')}"
    except metadata.PackageNotFoundError:
        raise InvalidInput(
            "scanning pickles needs picklescan: pip install 'modelbook[loaders]'"
        ) from None


def scan_file(path: str, data: bytes) -> FileScan:
    """Scan one artifact's bytes; nothing in them is executed.

    Raises InvalidInput when picklescan is not installed.
    """
    scanner_name()
    from picklescan.scanner import SafetyLevel, scan_bytes, scan_pickle_bytes

    # The findings are reported by modelbook; the scanner's own log lines would repeat them.
    logging.getLogger("picklescan").setLevel(logging.CRITICAL)
    try:
        if data.startswith(b"PK\x03\x04"):  # a zip archive of pickles (TorchScript, PyTorch)
            result = scan_bytes(io.BytesIO(data), path, os.path.splitext(path)[1])
        else:
            plain = _decompress(data)
            if plain is None:
                return FileScan(path=path, verdict="unscannable", error="unknown compression")
            if not _is_pickle_stream(plain[:2]):
                return FileScan(path=path, verdict="unscannable", error="not a pickle stream")
            result = scan_pickle_bytes(io.BytesIO(plain), path)
    except (OSError, ValueError, EOFError, MemoryError, zlib.error, lzma.LZMAError) as exc:
        return FileScan(path=path, verdict="unscannable", error=str(exc)[:300])
    from . import unpickling

    # What the scanner only suspects is judged by the rule loading applies: a
    # function where a class is expected is dangerous (``numpy.savetxt`` writes files).
    dangerous = sorted(
        {
            f"{g.module}.{g.name}"
            for g in result.globals
            if g.safety == SafetyLevel.Dangerous
            or (
                g.safety == SafetyLevel.Suspicious
                and unpickling.pickle_name_refused(g.module, g.name)
            )
        }
    )
    suspicious = sorted(
        {f"{g.module}.{g.name}" for g in result.globals if g.safety == SafetyLevel.Suspicious}
        - set(dangerous)
    )
    verdict: Verdict = "dangerous" if dangerous else "suspicious" if suspicious else "clean"
    found = FileScan(
        path=path, verdict=verdict, dangerous=tuple(dangerous), suspicious=tuple(suspicious)
    )
    if dangerous or data.startswith(b"PK\x03\x04"):
        # torch.load unpickles an archive's pickles with a rule of its own.
        return found
    return _read_to_the_end(found, data, stopped=bool(result.scan_err))


def _read_to_the_end(found: FileScan, data: bytes, *, stopped: bool) -> FileScan:
    """The scan completed by reading the stream to its end under the rules loading
    applies (see the module); ``stopped``: the scanner stopped before its end."""
    from . import unpickling

    name = found.path.rsplit("/", 1)[-1]
    try:
        refused = unpickling.census(name, data)
    # A malformed stream can make unpickling raise almost anything; each means the
    # same here: it was not read to its end.
    except (Exception, RecursionError) as exc:  # noqa: BLE001
        return found.model_copy(
            update={
                "verdict": "unscannable",
                "complete": False,
                "error": (
                    ("the scanner stopped at a NumPy array and the rest" if stopped else "it")
                    + f" could not be read: {type(exc).__name__}: {exc}"
                )[:300],
            }
        )
    if refused is not None:
        return found.model_copy(
            update={"verdict": "dangerous", "dangerous": (refused,), "checked": stopped}
        )
    return found.model_copy(update={"checked": stopped})


def scan(files: Iterable[tuple[str, bytes]]) -> ScanReport:
    """Scan the pickle-based files among ``(path, bytes)`` pairs; others are skipped."""
    scanned = tuple(scan_file(p, d) for p, d in files if is_pickled(p, d[:2]))
    return ScanReport(scanner=scanner_name() if scanned else "none needed", files=scanned)


def refuse_if_unsafe(report: ScanReport, what: str, *, allow_unsafe: bool) -> None:
    """Raise UnsafeArtifact for an unsafe report unless ``allow_unsafe``."""
    if report.unsafe and not allow_unsafe:
        raise UnsafeArtifact(
            f"{what} refused: {report.summary()}; do not load it, or, if you trust its "
            "source, pass allow_unsafe=True (--allow-unsafe), which is recorded"
        )
