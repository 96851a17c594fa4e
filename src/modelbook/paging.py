"""Page tokens and page sizes of every listing.

A token is opaque to callers: the URL-safe base64 of ``scope|position``,
where ``scope`` names the listing (and its order) and ``position`` is the
key the next page starts after. Decoding checks the scope, so a token of one
listing is refused by another, and never parses nested data, so a crafted
token is :class:`InvalidInput`, whatever it holds.
"""

from __future__ import annotations

import base64
import binascii
import re

from .errors import InvalidInput, shown
from .limits import MAX_PAGE

_MAX_TOKEN = 512
_POSITION = re.compile(r"[1-9][0-9]{0,18}")
_MAX_POSITION = 2**63 - 1


def encode(scope: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}|{position}".encode()).decode().rstrip("=")


def decode(token: object, scope: str, most: int = _MAX_POSITION) -> int:
    """The position a token of listing ``scope`` continues after.

    ``most``: the largest position the listing has (a version number is at most
    ``MAX_NUMBER``); a larger one never reaches the database, which would refuse
    it on one engine and not the other. Raises :class:`InvalidInput` for a
    token that is malformed, too long, or made for another listing.
    """
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
        raise InvalidInput(f"invalid page token {shown(token, 80)}: pass back a next_page_token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidInput(f"invalid page token {token[:80]!r}: not a page token") from None
    got_scope, _, position = raw.rpartition("|")
    if got_scope != scope:
        raise InvalidInput(f"invalid page token {token[:80]!r}: it belongs to another listing")
    if not _POSITION.fullmatch(position) or int(position) > min(most, _MAX_POSITION):
        raise InvalidInput(f"invalid page token {token[:80]!r}: position out of range")
    return int(position)


def limit(value: object) -> int:
    """A page size from 1 to MAX_PAGE."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PAGE:
        raise InvalidInput(f"invalid limit {shown(value)}: choose 1 to {MAX_PAGE}")
    return value
