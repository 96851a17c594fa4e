"""Literals of a query as written, read into values of their field's kind.

A text, number, date, boolean or semver literal becomes the value a
:class:`~.tree.Compare` or :class:`~.tree.Member` holds; a literal that does
not suit its field raises :class:`.failures.BuildError` saying how to write
one that does.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from lark import Token

from ..limits import MAX_NUMBER
from .failures import KIND_EXPECTS, BuildError
from .fields import FieldSpec
from .tree import Field, Value


def unquote(token: Token) -> str:
    """The text of a quoted STRING token, its doubled quotes made single."""
    quote = token[0]
    return token[1:-1].replace(quote * 2, quote)


class Written:
    """A literal as written: its terminal, its text and where it starts."""

    def __init__(self, token: Token) -> None:
        self.type = str(token.type)
        self.text = str(token)
        self.offset = int(token.start_pos or 0)


# RFC 3339 (a profile of ISO 8601): a date, or a date and time of day to the minute,
# second or microsecond, with Z or a +HH:MM offset; T and Z may be lower case and, in
# a quoted date, a space may stand for T. No zone: UTC.
_ISO_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)
DATE_FORMS = (
    "YYYY-MM-DD, optionally followed by THH:MM, THH:MM:SS or THH:MM:SS.ffffff "
    "(1 to 6 digits) and Z or +HH:MM / -HH:MM (no zone: UTC), "
    "e.g. 2025-10-01 or 2025-10-01T12:00:00Z"
)


def _date(text: str, offset: int) -> datetime:
    if not _ISO_DATE.fullmatch(text):
        raise BuildError(
            f"{text!r} is not a date this language reads: write {DATE_FORMS}",
            offset,
            ("a date",),
        )
    try:
        value = datetime.fromisoformat(text.upper().replace(" ", "T"))
    except ValueError as exc:
        raise BuildError(
            f"{text!r} is not a date: {exc.args[0] if exc.args else 'out of range'}; "
            f"write {DATE_FORMS}",
            offset,
            ("a date",),
        ) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # Its offset takes it past year 1 or 9999: no date can be compared with it.
        raise BuildError(
            f"{text!r} is out of range: in UTC it falls before year 1 or after year 9999",
            offset,
        ) from None


_SEMVER_PART = re.compile(r"0|[1-9][0-9]*")


def _semver(text: str, offset: int) -> tuple[int, int, int]:
    parts = text.split(".")
    if len(parts) != 3 or not all(_SEMVER_PART.fullmatch(p) for p in parts):
        raise BuildError(
            f"{text!r} is not a semver: write MAJOR.MINOR.PATCH without leading zeros, "
            "e.g. '1.2.0'",
            offset,
        )
    # Registration holds each part to the same bound (modelbook.semver).
    if any(len(p) > len(str(MAX_NUMBER)) or int(p) > MAX_NUMBER for p in parts):
        raise BuildError(
            f"{text!r} is out of range: each part of a semver is at most {MAX_NUMBER}", offset
        )
    return int(parts[0]), int(parts[1]), int(parts[2])


# A parent is stored as NAME/N; written as a version URI it may carry this prefix,
# which no model name can hold (a name has no ':').
PARENT_PREFIX = "models:/"


def strip_literal(pattern: str, prefix: str) -> str:
    """``pattern`` without ``prefix`` when the pattern begins with it as literal text
    (each character as itself or escaped with ``\\``); else ``pattern`` unchanged.
    A wildcard where the prefix has a character leaves the pattern as written."""
    at = 0
    for char in prefix:
        if pattern.startswith(char, at) and char not in "%_\\":
            at += 1
        elif pattern.startswith("\\" + char, at):
            at += 2
        else:
            return pattern
    return pattern[at:]


def value_of(spec: FieldSpec, field: Field, lit: Written) -> Value:
    """The literal as a value of the field's kind (text, float, aware UTC datetime, bool,
    or a semver's three numbers); BuildError saying how to write it otherwise."""
    what = field.text
    if lit.type == "STRING":
        text = lit.text[1:-1].replace(lit.text[0] * 2, lit.text[0])
        if "\x00" in text:
            raise BuildError("a text may not hold NUL", lit.offset)
        if spec.kind == "text":
            if field.name == "parent":
                text = text.removeprefix(PARENT_PREFIX)
            return text
        if spec.kind == "date":
            return _date(text, lit.offset)
        if spec.kind == "semver":
            return _semver(text, lit.offset)
    elif lit.type == "NUMBER" and spec.kind == "number":
        number = float(lit.text)
        if not math.isfinite(number):
            raise BuildError(f"number {lit.text} is out of range", lit.offset)
        return number
    elif lit.type == "DATE" and spec.kind == "date":
        return _date(lit.text, lit.offset)
    elif lit.type in ("TRUE", "FALSE") and spec.kind == "bool":
        return lit.type == "TRUE"
    hint = {
        "text": f"{what} holds text: quote the value, e.g. '{lit.text.strip(chr(39))}'",
        "number": f"{what} holds numbers: write a number, e.g. 0.85",
        "date": f"{what} holds dates: write a date, e.g. 2025-10-01 or 2025-10-01T12:00:00Z",
        "bool": f"{what} is true or false",
        "semver": f"{what} holds semantic versions: write one in quotes, e.g. '1.2.0'",
    }[spec.kind]
    raise BuildError(hint, lit.offset, (KIND_EXPECTS[spec.kind],))
