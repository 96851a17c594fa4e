"""What a storage driver's error means to a caller of the blob store.

fsspec drivers raise their own exceptions: ``OSError`` and its kin for most
things (refused connections, timeouts, name resolution, permissions), but
also ``botocore``'s ``EndpointConnectionError`` and ``NoCredentialsError``,
``ftplib.error_perm`` for a refused login, ``NotImplementedError`` (with no
message) from a protocol that cannot write, such as ``https``. At the blob
store's boundary each becomes one of modelbook's errors, naming the store
(:func:`modelbook.blobs_url.redact`) and the cause with every secret of the
URL scrubbed from the driver's text:

- an operation the protocol does not implement: :class:`InvalidInput` (a
  store of that protocol cannot hold a registry's files);
- a request the driver refused as malformed before sending it (an invalid
  bucket name), or a URL it cannot parse (a ``ValueError`` raised within a
  driver's code: a password holding an unencoded '/' read as a port):
  :class:`InvalidInput`;
- anything else from the operating system or a driver (unreachable, timed
  out, refused, credentials missing or rejected, disk full):
  :class:`Unavailable`.

A built-in exception that is neither an ``OSError`` nor a
``NotImplementedError`` (a ``TypeError``, or a ``ValueError`` that no driver's
code raised), is a bug and passes unchanged.

A store whose protocol can read files by URL but can neither list a folder
nor remove a file (``http``, ``https``) is refused, before anything is asked
of it, by whatever must list or remove blobs (:meth:`StoreErrors.require_writable`).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator

from .blobs_url import protocol_of, redact, secrets_of
from .errors import InvalidInput, ModelbookError, Unavailable
from .store.dburl import scrub

# Modules whose exception classes are modelbook's own or Python's built-ins:
# an exception of any other module within the boundary comes from a driver.
_NOT_DRIVERS = ("builtins", "modelbook")
# Protocols fsspec reads through but cannot list reliably (a web page's links) nor
# write or remove in (NotImplementedError).
READ_ONLY_PROTOCOLS = frozenset({"http", "https"})


class StoreErrors:
    """The error boundary of one blob store URL."""

    def __init__(self, url: str) -> None:
        self.shown = redact(url)
        self.protocol = protocol_of(url)
        self._secrets = secrets_of(url)

    def text(self, exc: BaseException) -> str:
        """The message of ``exc`` on one line, every secret of the URL hidden."""
        # A driver's message may run over lines ("Parameter validation failed:\n...").
        return scrub(" ".join(str(exc).split()), self._secrets)

    def hide(self, text: str) -> str:
        """``text`` (a bucket or path taken from the URL) with every secret of the URL hidden."""
        return scrub(text, self._secrets)

    def cause(self, exc: BaseException) -> str:
        """``exc`` as one clause: its type (unless a built-in OSError says enough) and text."""
        text = self.text(exc)
        if isinstance(exc, OSError) and type(exc).__module__ == "builtins" and text:
            return text
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    def error(self, exc: BaseException, doing: str) -> ModelbookError | None:
        """The modelbook error for a driver's ``exc`` raised while ``doing``, or None when
        ``exc`` is no storage error (a bug). ``doing`` is a clause in which ``{store}``
        stands for the store: ``"store model.bin in {store}"``."""
        if isinstance(exc, ModelbookError):
            return None
        what = self._what(doing)
        if isinstance(exc, NotImplementedError):
            return self._read_only(what)
        driver = type(exc).__module__.split(".")[0] not in _NOT_DRIVERS
        if driver and (isinstance(exc, ValueError) or "Validation" in type(exc).__name__):
            return InvalidInput(f"cannot {what}: the request is invalid: {self.cause(exc)}")
        if isinstance(exc, ValueError) and _raised_by_driver(exc):
            # Python's own ValueError, from a driver that could not parse the URL
            # (a port that is not a number) or some other argument it was given.
            return InvalidInput(f"cannot {what}: the URL or request is invalid: {self.cause(exc)}")
        if isinstance(exc, OSError) or driver:
            return Unavailable(f"cannot {what}: {self.cause(exc)}")
        return None

    def require_writable(self, doing: str) -> None:
        """Raise InvalidInput when the store's protocol can neither list nor remove
        files (:data:`READ_ONLY_PROTOCOLS`); ``doing`` as for :meth:`error`."""
        if self.protocol in READ_ONLY_PROTOCOLS:
            raise self._read_only(self._what(doing))

    def _what(self, doing: str) -> str:
        # Not str.format: a file name in ``doing`` may hold braces.
        return doing.replace("{store}", f"blob store {self.shown}")

    def _read_only(self, what: str) -> InvalidInput:
        return InvalidInput(
            f"cannot {what}: the {self.protocol!r} protocol is read-only or unsupported "
            "as a blob store",
            hint="use a local folder or an object store (s3://, gs://, az://)",
        )

    @contextlib.contextmanager
    def translated(self, doing: str) -> Iterator[None]:
        """Raise the modelbook error of any storage error inside (see :meth:`error`),
        chained to the driver's, which ``--traceback`` shows."""
        try:
            yield
        except Exception as exc:
            error = self.error(exc, doing)
            if error is None:
                raise
            if self._secrets and _shows_any(exc, self._secrets):
                # The driver quoted a secret of the URL: its exception is left out of
                # the chain (the error names its type and its scrubbed text).
                raise error from None
            raise error from exc


def _raised_by_driver(exc: BaseException) -> bool:
    """Whether the stack of ``exc`` runs through a driver's code: a module that is
    neither modelbook's nor Python's own."""
    tb = exc.__traceback__
    while tb is not None:
        top = str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0]
        if top != "modelbook" and top not in sys.stdlib_module_names:
            return True
        tb = tb.tb_next
    return False


def _shows_any(exc: BaseException, secrets: tuple[str, ...]) -> bool:
    """Whether the stack of ``exc`` (its chain included) shows any of ``secrets``."""
    shown = "".join(traceback.format_exception(exc))
    return any(secret in shown for secret in secrets)
