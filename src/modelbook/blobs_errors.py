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
  bucket name): :class:`InvalidInput`;
- anything else from the operating system or a driver (unreachable, timed
  out, refused, credentials missing or rejected, disk full):
  :class:`Unavailable`.

A built-in exception that is neither an ``OSError`` nor a
``NotImplementedError`` (a ``TypeError``, say) is a bug and passes unchanged.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator

from .blobs_url import protocol_of, redact, secrets_of
from .errors import InvalidInput, ModelbookError, Unavailable
from .store.dburl import scrub

# Modules whose exception classes are modelbook's own or Python's built-ins:
# an exception of any other module within the boundary comes from a driver.
_NOT_DRIVERS = ("builtins", "modelbook")


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
        # Not str.format: a file name in ``doing`` may hold braces.
        what = doing.replace("{store}", f"blob store {self.shown}")
        if isinstance(exc, NotImplementedError):
            return InvalidInput(
                f"cannot {what}: the {self.protocol!r} protocol is read-only or unsupported "
                "as a blob store",
                hint="use a local folder or an object store (s3://, gs://, az://)",
            )
        driver = type(exc).__module__.split(".")[0] not in _NOT_DRIVERS
        if driver and (isinstance(exc, ValueError) or "Validation" in type(exc).__name__):
            return InvalidInput(f"cannot {what}: the request is invalid: {self.cause(exc)}")
        if isinstance(exc, OSError) or driver:
            return Unavailable(f"cannot {what}: {self.cause(exc)}")
        return None

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


def _shows_any(exc: BaseException, secrets: tuple[str, ...]) -> bool:
    """Whether the stack of ``exc`` (its chain included) shows any of ``secrets``."""
    shown = "".join(traceback.format_exception(exc))
    return any(secret in shown for secret in secrets)
