"""Blob store URLs as they may be shown: never with a secret.

A blob store URL (an fsspec URL, chained parts joined by ``::``) can carry a
secret in its user-info (``s3://KEY:SECRET@bucket``, ``ftp://u:pw@host``, a
token given as the user name alone: ``https://ghp_TOKEN@host/p``, a password
holding an unencoded ``/``, ``?`` or ``#``: ``s3://KEY:SE/C?RET@bucket``), or
in a named parameter of its query string, its fragment (``#token=...``) or a
path segment (matrix parameters: ``/p;token=...``): a signed URL's ``sig``,
``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``, an
``access_key``, ``token``, ``pw``, ``code``, ``bearer``, ``jwt``, ``hmac`` or
``sas`` parameter. :func:`redact` is the one form in which a blob store URL is
printed, put in an error, a log line or an event: the whole user-info and the
value of every such parameter replaced by ``***``, as database URLs are shown
(:func:`modelbook.store.dburl.redact`). :func:`secrets_of` gives the hidden
values, so that a driver's own message, which may quote the URL, can be
scrubbed of them.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from .store.dburl import MASK

# Parameters whose value is a secret, by a part of their name (any case):
# signatures of signed URLs (sig, X-Amz-Signature, X-Goog-Signature), their
# credentials and session tokens, access keys, passwords (pass, pwd, pw),
# authorization codes (code, auth_code), bearer tokens and JWTs, HMACs, Azure SAS
# tokens.
_SECRET_PARAM = re.compile(
    r"sig|token|secret|pass|pw|key|credential|auth|session|code|bearer|jwt|hmac|sas", re.I
)
# What joins the parts of a chained URL: '::', but not inside an IPv6 host's brackets.
_CHAIN = re.compile(r"::(?![^\[\]]*\])")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# What separates parameters in a query or fragment (``;`` is an older form of ``&``),
# and the parts of a path, whose ``;name=value`` parts are (matrix) parameters.
_QUERY_SEPARATOR = re.compile(r"([&;])")
_PATH_SEPARATOR = re.compile(r"([;/])")
# A user name shorter than this is scrubbed from a driver's text only as part of
# the whole user-info: alone, replacing it would garble every word that holds it
# ("u"). A token given as the user name is far longer.
_MIN_SCRUBBED_USER = 4
# Where a driver may cut user-info it took for a host, a port or a path.
_USERINFO_PARTS = re.compile(r"[/?#:]")
# What ends a URL's authority, and what a driver may take for its end.
_AUTHORITY_END = re.compile(r"[/?#]")
# The start of user-info with a password, ``user:``: the user holds no '/', '?', '#'
# (a path, query or fragment), no '[' or ']' (an IPv6 host: ``[::1]:8443``), no '@'.
_USER_AND_COLON = re.compile(r"[^/?#\[\]:@]*:")
# A host and port: a name (or an IPv6 address in brackets), then ':' and the port.
_HOST_PORT = re.compile(r"(?:\[[^\]]*\]|[^:\[\]]*)(?::(?P<port>.*))?")
# Protocols whose authority is a bucket or container name, which has no port:
# ``s3://KEY:1234/bucket`` holds a key and a secret, never a host and a port.
_NO_PORT = frozenset({"s3", "s3a", "s3n", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"})
_NO_PORT |= {"memory"}
_MAX_PORT = 65535
# Protocols in which a user name given alone is often a token (``https://TOKEN@host``);
# in others (``ssh://git@host``, ``sftp://deploy@host``) it names an account.
_TOKEN_AS_USER = frozenset({"http", "https", "git+http", "git+https"})


def redact(
    url: str, *, account_names: bool = False, drop: bool = False, strict_params: bool = False
) -> str:
    """``url`` as it may be printed: its user-info and secret parameter values as ``***``.

    ``account_names``: a user name given alone (no password) is shown, but in
    ``http`` and ``https``, where a token is often given as the user name; what a
    code repository's or a data snapshot's URL may hold (``ssh://git@host/org/repo``).
    ``drop``: the hidden user-info is left out with its ``@`` rather than shown as
    ``***`` (a URL that still works, without its credentials).
    ``strict_params``: only a parameter named as a secret (:func:`is_secret_name`)
    is hidden, not every name that holds a secret's part (``partition_key``,
    ``codec``). A local path (no ``scheme://``) is returned as given. Never raises.
    """
    parts = _CHAIN.split(str(url))
    return "::".join(
        _redact_part(p, account_names=account_names, drop=drop, strict=strict_params) for p in parts
    )


def secrets_of(url: str) -> tuple[str, ...]:
    """The secrets ``url`` carries, as written, decoded and percent-encoded, longest first."""
    found: list[str] = []
    for part in _CHAIN.split(str(url)):
        pieces = _pieces(part)
        if pieces is None:
            continue
        _, userinfo, _, rest, query, fragment = pieces
        if userinfo:
            user, _, password = userinfo.partition(":")
            found.extend((userinfo, password))
            # A driver that read a secret's '/', '?', '#' or ':' as the end of the host,
            # the path or the port quotes the parts.
            found.extend(p for p in _USERINFO_PARTS.split(userinfo) if len(p) >= _MIN_SCRUBBED_USER)
            if len(user) >= _MIN_SCRUBBED_USER:
                found.append(user)
        found.extend(_secret_values(rest, path=True))
        found.extend(_secret_values(query or ""))
        found.extend(_secret_values(fragment or ""))
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
    last = _CHAIN.split(str(url))[-1]
    match = _SCHEME.match(last)
    return match.group(0)[:-3].lower() if match else "file"


def _pieces(part: str) -> tuple[str, str | None, str, str, str | None, str | None] | None:
    """``part`` as (scheme and ``://``, user-info or None, what follows it (``@``, or
    nothing for an authority that is no host), host and path, query or None, fragment
    or None), or None when it is no ``scheme://`` URL. Query and fragment come
    without their ``?`` and ``#``."""
    match = _SCHEME.match(part)
    if match is None:
        return None
    head, rest = match.group(0), part[match.end() :]
    scheme = head[:-3].lower()
    userinfo: str | None = None
    at = ""
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    if "@" in authority:
        # The host holds no '@': a password's unencoded '@' is part of the user-info.
        userinfo, at = authority.rpartition("@")[0], "@"
    else:
        userinfo = _userinfo_past_authority(rest, scheme)
        if userinfo is not None:
            at = "@"
        elif not _is_host(authority, scheme):
            # ``user:password`` with no '@' and nothing after it that could be a
            # host: what it holds is not shown.
            userinfo = authority
    if userinfo is not None:
        rest = rest[len(userinfo) + len(at) :]
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    return head, userinfo, at, rest, query if question else None, fragment if hash_ else None


def _userinfo_past_authority(rest: str, scheme: str) -> str | None:
    """The user-info of ``rest`` (what follows ``scheme://``) that holds an unencoded
    '/', '?' or '#', so the authority seems to end before its '@'; None when the first
    '@' past the authority ends no user-info (a path's ``models@v1``, a query's
    ``q=a@b``).

    Such user-info is a user then ':' and a password that is not a port
    (``s3://KEY:SE/CRET@bucket``: AWS secret keys hold '/'; ``s3://KEY:1234/5678@b``:
    a bucket has no port), or a user name alone with a '?' or '#' and no '/', '='
    or '&' (``s3://us#er@bucket``). It ends at the first '@', unless the name after
    it holds another: then at the last '@' before the host's end, which keeps a
    path's '@' shown (``s3://KEY:SE/C@bucket/models@v1``) and hides a password's.
    """
    first = rest.find("@")
    if first < 0:
        return None
    before = rest[:first]
    user = _USER_AND_COLON.match(before)
    if user is not None:
        if _is_port(before[user.end() :], scheme):
            return None
    elif "/" in before or "=" in before or "&" in before or not _AUTHORITY_END.search(before):
        return None
    host_end = _AUTHORITY_END.search(rest, first + 1)
    end = rest.rfind("@", first + 1, host_end.start() if host_end else len(rest))
    return rest[: end if end > first else first]


def _is_port(text: str, scheme: str) -> bool:
    """Whether ``text``, what follows ``name:`` up to an '@', begins with a port
    ending the authority: digits up to 65535 then '/', '?' or '#'."""
    if scheme in _NO_PORT:
        return False
    digits = re.match(r"[0-9]*", text)
    port = digits.group(0) if digits else ""
    after = text[len(port) :]
    return bool(after) and after[0] in "/?#" and (not port or int(port) <= _MAX_PORT)


def _is_host(authority: str, scheme: str) -> bool:
    """Whether ``authority`` (holding no '@') is a host with an optional port; a
    port is digits up to 65535, and there is none in a bucket's protocol."""
    match = _HOST_PORT.fullmatch(authority)
    if match is None:
        return False
    port = match.group("port")
    if port is None:
        return True
    if scheme in _NO_PORT:
        return False
    return port == "" or (port.isdigit() and len(port) <= 5 and int(port) <= _MAX_PORT)


def _is_account(userinfo: str, at: str, head: str) -> bool:
    """Whether ``userinfo`` is a user name alone, before an ``@``, in a protocol where
    it names an account rather than holding a token."""
    return bool(at) and ":" not in userinfo and head[:-3].lower() not in _TOKEN_AS_USER


# Parameter names that are a secret, whole (any case, '-' read as '_'), and the
# endings of such names: for URLs a user gives, where a name that merely holds
# "key" or "code" (partition_key, codec) is not one.
_SECRET_NAMES = frozenset(
    {
        "token", "access_token", "private_token", "password", "passwd", "pass", "pwd", "pw",
        "secret", "client_secret", "sig", "signature", "x_amz_signature",
        "x_amz_credential", "x_amz_security_token", "x_goog_signature",
        "x_goog_credential", "jwt", "bearer", "hmac", "api_key", "apikey", "access_key",
        "secret_key", "private_key", "account_key", "sas", "credential", "credentials",
    }
)  # fmt: skip
_SECRET_ENDINGS = ("_token", "_secret", "_password", "_passwd", "_signature", "_credential")


def is_secret_name(name: str) -> bool:
    """Whether a URL parameter named ``name`` holds a secret, by its whole name."""
    key = unquote_plus(name).strip().lower().replace("-", "_")
    return key in _SECRET_NAMES or key.endswith(_SECRET_ENDINGS)


def _tokens(text: str, *, path: bool, strict: bool = False) -> list[tuple[str, bool]]:
    """``text`` (a path, or a query or fragment) cut at its separators, each piece with
    whether it is a parameter (``name=value``) that holds a secret; the pieces, joined,
    are ``text``. In a path only what follows a ``;`` is a parameter."""
    pieces = (_PATH_SEPARATOR if path else _QUERY_SEPARATOR).split(text)
    tokens: list[tuple[str, bool]] = []
    after = ""
    for i, piece in enumerate(pieces):
        if i % 2:
            after = piece
            tokens.append((piece, False))
            continue
        key, eq, _ = piece.partition("=")
        param = bool(eq) and (not path or after == ";")
        secret = is_secret_name(key) if strict else bool(_SECRET_PARAM.search(unquote_plus(key)))
        tokens.append((piece, param and secret))
    return tokens


def _secret_values(text: str, *, path: bool = False) -> list[str]:
    """The values of the secret parameters of ``text``, as written."""
    return [piece.partition("=")[2] for piece, secret in _tokens(text, path=path) if secret]


def _masked(text: str, *, path: bool = False, strict: bool = False) -> str:
    """``text`` with the value of each secret parameter as ``***``."""
    return "".join(
        f"{piece.partition('=')[0]}={MASK}" if secret else piece
        for piece, secret in _tokens(text, path=path, strict=strict)
    )


def _redact_part(part: str, *, account_names: bool, drop: bool, strict: bool = False) -> str:
    pieces = _pieces(part)
    if pieces is None:
        return part
    head, userinfo, at, rest, query, fragment = pieces
    shown = head
    if userinfo is not None and account_names and _is_account(userinfo, at, head):
        shown += userinfo + at
    elif userinfo is not None and not drop:
        shown += MASK + at
    shown += _masked(rest, path=True, strict=strict)
    if query is not None:
        shown += "?" + _masked(query, strict=strict)
    if fragment is not None:
        shown += "#" + _masked(fragment, strict=strict)
    return shown
