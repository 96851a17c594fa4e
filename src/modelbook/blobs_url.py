"""Blob store URLs as they may be shown: never with a secret.

A blob store URL (an fsspec URL, chained parts joined by ``::``) can carry a
secret in the user-info part (``s3://KEY:SECRET@bucket``, ``ftp://u:pw@host``)
or in its query string (a signed URL's ``sig``, ``X-Amz-Signature``,
``X-Amz-Credential``, ``X-Amz-Security-Token``, an ``access_key`` or
``token`` parameter). :func:`redact` is the one form in which a blob store URL
is printed, put in an error, a log line or an event: the password of the
user-info and the value of every such query parameter replaced by ``***``,
as database URLs are shown (:func:`modelbook.store.dburl.redact`).
:func:`secrets_of` gives the hidden values, so that a driver's own message,
which may quote the URL, can be scrubbed of them.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from .store.dburl import MASK

# Query parameters whose value is a secret, by a word in their name (any case):
# signatures of signed URLs (sig, X-Amz-Signature, X-Goog-Signature), their
# credentials and session tokens, access keys, passwords.
_SECRET_PARAM = re.compile(r"sig|token|secret|pass|pwd|key|credential|auth|session", re.I)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def redact(url: str) -> str:
    """``url`` as it may be printed: user-info passwords and secret query values as ``***``.

    A local path (no ``scheme://``) is returned as given. Never raises.
    """
    return "::".join(_redact_part(part) for part in str(url).split("::"))


def secrets_of(url: str) -> tuple[str, ...]:
    """The secrets ``url`` carries, as written, decoded and percent-encoded, longest first."""
    found: list[str] = []
    for part in str(url).split("::"):
        pieces = _pieces(part)
        if pieces is None:
            continue
        _, userinfo, _, query, _ = pieces
        if userinfo is not None and ":" in userinfo:
            found.append(userinfo.partition(":")[2])
        found.extend(value for _, value in _secret_params(query))
    forms = {
        form
        for s in found
        if s
        for form in (s, unquote(s), unquote_plus(s), quote(s, safe=""), quote_plus(s))
    }
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def protocol_of(url: str) -> str:
    """The protocol that stores the files of ``url``: the scheme of its last part
    (``s3`` for ``simplecache::s3://b/x``), ``file`` for a local path."""
    last = str(url).split("::")[-1]
    match = _SCHEME.match(last)
    return match.group(0)[:-3].lower() if match else "file"


def _pieces(part: str) -> tuple[str, str | None, str, str, str] | None:
    """``part`` as (scheme and ``://``, user-info or None, host and path, query, fragment),
    or None when it is no ``scheme://`` URL."""
    match = _SCHEME.match(part)
    if match is None:
        return None
    head, rest = match.group(0), part[match.end() :]
    rest, hash_, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    userinfo: str | None = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
    return head, userinfo, f"{authority}{slash}{path}", query, f"{hash_}{fragment}"


def _secret_params(query: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of ``query`` whose value is a secret, as written."""
    pairs = (item.partition("=") for item in query.split("&") if item)
    return [(k, v) for k, eq, v in pairs if eq and _SECRET_PARAM.search(unquote_plus(k))]


def _redact_part(part: str) -> str:
    pieces = _pieces(part)
    if pieces is None:
        return part
    head, userinfo, rest, query, fragment = pieces
    shown = head
    if userinfo is not None:
        user, colon, _ = userinfo.partition(":")
        shown += f"{user}:{MASK}@" if colon else f"{user}@"
    shown += rest
    if query:
        hidden = {k for k, _ in _secret_params(query)}
        items = []
        for item in query.split("&"):
            key, eq, _ = item.partition("=")
            items.append(f"{key}={MASK}" if eq and key in hidden else item)
        shown += "?" + "&".join(items)
    return shown + fragment
