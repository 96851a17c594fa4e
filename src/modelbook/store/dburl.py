"""Database URLs as they may be shown: never with a password.

A password can sit in the user-info part (``user:pw@host``) or in the query
string (``?password=pw``, also ``sslpassword``). SQLAlchemy's
``URL.render_as_string(hide_password=True)`` masks the first; the query
parameters are masked here. :func:`scrub` removes a known secret from any
other text, such as a driver's error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import URL

MASK = "***"
# Connection parameters whose value is a secret (libpq names).
SECRET_PARAMS = ("password", "sslpassword")
# Stands in for a masked query value while SQLAlchemy renders the URL, which
# would otherwise percent-encode the mask itself.
_PLACEHOLDER = "MODELBOOKMASKEDVALUE"
# What may carry a credential in text that is no URL: user-info (``user:pw@``, or
# ``user:pw`` alone), key=value pairs, percent-encoding (of anything), and the words
# used for passwords and keys.
_MAYBE_SECRET = re.compile(r"[@=%:]|pass|pwd|secret|token|key", re.IGNORECASE)
# The host and database of a URL as SQLAlchemy's parser takes them apart, as written
# (SQLAlchemy's own values are percent-decoded): an '@' in either is no '%40' given
# on purpose but one that ended no user-info.
_HOST_AND_DATABASE = re.compile(
    r"[\w+]+://(?:[^:/]*(?::[^@]*)?@)?"
    r"(?P<host>(?:\[[^/?]+\]|[^/:?]+)?(?::[^/?]*)?)?(?:/(?P<database>[^?]*))?"
)
MAX_PORT = 65535


def redact(uri: str | URL) -> str:
    """``uri`` as it may be printed: every password replaced by ``***``.

    ``uri``: a database URI string or a SQLAlchemy ``URL``. A string that is
    not a valid URL cannot be taken apart reliably, so it is shown only when
    nothing in it could be a credential (no ``@``, ``=``, ``%`` and no word
    such as ``pass`` or ``secret``); otherwise only that it was not shown.
    Never raises.
    """
    try:
        url = sa.make_url(uri)
    except (exc.ArgumentError, ValueError, TypeError):
        text = str(uri)
        if _MAYBE_SECRET.search(text):
            return "<not shown: it could not be read as a URI and may hold a password>"
        return text
    if unclear(uri, url) is not None:
        return "<not shown: its user name and password cannot be told apart from the rest>"
    masked = {k: _PLACEHOLDER for k in _secret_keys(url)}
    if masked:
        url = url.update_query_dict(masked)
    return url.render_as_string(hide_password=True).replace(_PLACEHOLDER, MASK)


def unclear(uri: str | URL, url: URL) -> str | None:
    """Why ``url``, read from ``uri``, cannot be shown with only its password hidden,
    or None. The parser took a password for something else: a port that is no port
    (``user:99999/db``: a port is 1 to 65535), or a host or database holding an
    '@' that ended no user-info, where a user name or password holds an unencoded
    '/' or '@' (``us/er:pw@host/db``, ``user:p@ss@host/db``). A SQLite database is a
    file path, in which '@' is only a character."""
    if url.port is not None and not 0 < url.port <= MAX_PORT:
        return "its port is not a number from 1 to 65535, so it may be a password"
    if url.get_backend_name() == "sqlite":
        return None
    written = _HOST_AND_DATABASE.match(uri) if isinstance(uri, str) else None
    host, database = (
        (written.group("host"), written.group("database")) if written else (url.host, None)
    )
    if "@" in (host or "") or "@" in (database or ""):
        return (
            "an '@' in it ends no user name or password; percent-encode the "
            "'@', '/', ':', '?' and '#' they hold (%40, %2F, %3A, %3F, %23)"
        )
    return None


def secrets_of(url: URL) -> tuple[str, ...]:
    """The secrets ``url`` carries, raw and percent-encoded, longest first."""
    found: list[str] = []
    if url.password:
        found.append(str(url.password))
    for key in _secret_keys(url):
        value = url.query.get(key)
        if isinstance(value, str):
            found.append(value)
        elif value is not None:
            found.extend(value)
    forms = {
        form
        for s in found
        if s
        for form in (s, quote(s, safe=""), quote(s, safe=" +"), quote_plus(s))
    }
    return tuple(sorted(forms, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def without_secrets(url: URL) -> tuple[URL, dict[str, str]]:
    """``url`` without its secret query parameters, and those parameters.

    The parameters are then given to the driver as connect arguments, so the
    engine's own URL (shown by ``repr(engine)`` and in SQLAlchemy's logs)
    holds no secret beyond the user-info password, which SQLAlchemy masks.
    """
    taken: dict[str, str] = {}
    for key in _secret_keys(url):
        value = url.query[key]
        # The driver's parameter names are lower-case (libpq's ``password``).
        taken[key.lower()] = value if isinstance(value, str) else value[-1]
    if taken:
        url = url.difference_update_query(_secret_keys(url))
    return url, taken


def _secret_keys(url: URL) -> list[str]:
    """The query keys of ``url`` that hold a secret, in any letter case."""
    return [k for k in url.query if k.lower() in SECRET_PARAMS]
