"""Page tokens of query listings: the (order value, version id) a page ends at.

A token is the URL-safe base64 of ``scope|value|id``; ``scope`` names the
listing and a digest of its query and order, so a token is refused by any
other listing or query. ``value`` is ``-`` (no value, or no order), an
integer, or a float in ``float.hex`` form (exact). Decoding never evaluates
what it reads, and takes only a value the listing's order can hold (none
without an order, an integer of the ordered field's range, a finite number
for a metric): a crafted token is :class:`InvalidInput`, whatever it holds,
and never reaches the database, so both databases answer it alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re

from ..errors import InvalidInput, shown
from ..limits import MAX_NUMBER
from .tree import Order

_MAX_TOKEN = 512
_ID = re.compile(r"[1-9][0-9]{0,18}")
_INT = re.compile(r"-?[0-9]{1,19}")
_HEX = re.compile(r"-?0x[01]\.[0-9a-f]{1,13}p[+-][0-9]{1,4}|-?0x0\.0p\+0")
_MAX_ID = 2**63 - 1
# The integer fields of --order-by and the largest magnitude a value of each may
# have: a version number is at most MAX_NUMBER, a time any 64-bit microsecond count.
_INTEGER_ORDERS = {"number": MAX_NUMBER, "created_at": _MAX_ID}


def scope_of(listing: str, *parts: str) -> str:
    """The scope of a listing's tokens: its name and a digest of its query and order."""
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{listing}:{digest[:16]}"


def encode(scope: str, value: int | float | None, last_id: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = value.hex()
    else:
        text = str(int(value))
    raw = f"{scope}|{text}|{last_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: object, scope: str, order: Order | None = None) -> tuple[int | float | None, int]:
    """The (order value, version id) a token of ``scope`` continues after.

    ``order``: the listing's order (None: newest first, its tokens carry no value).
    Raises InvalidInput for a malformed token, one whose value ``order`` cannot
    hold, or one of another listing or query.
    """
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
        raise InvalidInput(f"invalid page token {shown(token, 80)}: pass back a next_page_token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidInput(f"invalid page token {token[:80]!r}: not a page token") from None
    head, _, last = raw.rpartition("|")
    got_scope, _, text = head.rpartition("|")
    if got_scope != scope:
        raise InvalidInput(
            f"invalid page token {token[:80]!r}: it belongs to another listing or query"
        )
    if not _ID.fullmatch(last) or int(last) > _MAX_ID:
        raise InvalidInput(f"invalid page token {token[:80]!r}: position out of range")
    value: int | float | None
    if text == "-":
        value = None
    elif _INT.fullmatch(text) and abs(int(text)) <= _MAX_ID:
        value = int(text)
    elif _HEX.fullmatch(text):
        try:
            # An exponent past the float range overflows (0x1p+9999) rather than
            # giving inf; both are refused alike.
            value = float.fromhex(text)
        except OverflowError:
            value = math.inf
    else:
        raise InvalidInput(f"invalid page token {token[:80]!r}: not a page token")
    if not _holds(order, value):
        raise InvalidInput(f"invalid page token {token[:80]!r}: value out of range")
    return value, int(last)


def _holds(order: Order | None, value: int | float | None) -> bool:
    """Whether ``value`` can be the position of a listing in ``order``."""
    if order is None:
        return value is None
    most = _INTEGER_ORDERS.get(order.field.name)
    if most is not None:
        # Every version has a number and a registration time: never a missing value.
        return isinstance(value, int) and abs(value) <= most
    # A metric: a version without it sorts last, with no value.
    return value is None or math.isfinite(value)
