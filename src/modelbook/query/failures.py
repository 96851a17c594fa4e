"""How a parser failure reads: the column of the mistake, what was expected there in
words, and, where a value is missing, what its field takes. A mistake found while
the tree is built (an unknown field, a value of the wrong kind) is a
:class:`BuildError` until the parser turns it into InvalidQuery."""

from __future__ import annotations

import re
from typing import Any

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from ..errors import InvalidQuery
from .fields import CATALOG, Scope, valid_fields

#: Words of the language. The lexer reads none of them as a field (``FIELD`` in the
#: grammar), so one written where a field is expected is reported as a keyword.
KEYWORDS = frozenset(
    ("and", "or", "not", "in", "like", "is", "null", "true", "false", "asc", "desc")
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_BEFORE = re.compile(r"(?<![A-Za-z0-9_.])not\s*$", re.IGNORECASE)

_NAMES = {
    "COMPARE": "a comparison (= != < <= > >=)",
    "NOT": "'not'",
    "_IN": "'in'",
    "_LIKE": "'like'",
    "_IS": "'is'",
    "_NULL": "'null'",
    "_AND": "'and'",
    "_OR": "'or'",
    "FIELD": "a field",
    "STRING": "a quoted text",
    "NUMBER": "a number",
    "DATE": "a date",
    "TRUE": "true",
    "FALSE": "false",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "EQUAL": "'='",
    "SLICE_KEY": "a slice key",
    "SLICE_WORD": "a slice value",
    "DIRECTION": "asc or desc",
    "$END": "the end of the query",
}

KIND_EXPECTS = {
    "text": "a quoted text",
    "number": "a number",
    "date": "a date",
    "bool": "true or false",
    "semver": "a quoted semver",
}

_VALUES = {"STRING", "NUMBER", "DATE", "TRUE", "FALSE"}


def _kind_before(stack: list[Any]) -> str | None:
    """What the field just read takes as a value (``a number`` ...), from the parser's
    stack, when a value is what is missing."""
    for item in reversed(stack):
        children = getattr(item, "children", None)
        if getattr(item, "data", None) == "field" and children:
            spec = CATALOG.get(str(children[0]).partition("@")[0])
            if spec is None:
                head = str(children[0]).partition(".")[0]
                spec = CATALOG.get(head)
            return None if spec is None else KIND_EXPECTS[spec.kind]
    return None


def keyword_as_field(word: str, offset: int, scope: Scope) -> BuildError:
    """The mistake of a keyword written where a field is expected."""
    return BuildError(
        f"expected a field, found the keyword {word!r}: each condition begins with a "
        "field, which is not quoted and is never a keyword; valid fields: "
        f"{', '.join(valid_fields(scope))}",
        offset,
        ("a field",),
    )


def _keyword_for_field(text: str, offset: int, scope: Scope) -> InvalidQuery | None:
    """The error for a keyword where a field is expected: the keyword at ``offset``
    (``and = 1``), or the ``not`` just before it (``not = 1``: the ``not`` was read as
    negation and the field that must follow it is missing)."""
    word = _WORD.match(text, offset)
    at: int | None = None
    follows = "" if word is None else text[word.end() : word.end() + 1]
    if word is not None and word.group().lower() in KEYWORDS and not follows.isalnum():
        # A keyword alone: ``tags.and`` or ``and@x`` would be a field, not a keyword.
        at = None if follows and follows in "_.@" else offset
    if at is None and offset < len(text):
        before = _NOT_BEFORE.search(text, 0, offset)
        at = None if before is None else before.start()
    if at is None:
        return None
    error = keyword_as_field(_WORD.match(text, at).group(), at, scope)  # type: ignore[union-attr]
    return InvalidQuery(
        f"invalid query at column {at + 1}: {error.message}", column=at + 1, expected=error.expected
    )


_RUN_END = re.compile(r"[\s(),]")


def _unquoted(text: str, stack: list[Any], offset: int) -> InvalidQuery | None:
    """The error for a text value written without quotes that the lexer split into
    numbers (``semver = 1.0.0`` reads ``1.0`` then ``.0``): a semver or text field
    whose value, just read as a number or date, runs on into the failing token."""
    if not stack or getattr(stack[-1], "type", None) not in ("NUMBER", "DATE"):
        return None
    value = stack[-1]
    if int(value.end_pos or 0) != offset:
        return None
    field = next((i for i in reversed(stack) if getattr(i, "data", None) == "field"), None)
    if field is None or not field.children:
        return None
    name = str(field.children[0]).partition("@")[0]
    spec = CATALOG.get(name) or CATALOG.get(name.partition(".")[0])
    if spec is None or spec.kind not in ("semver", "text"):
        return None
    start = int(value.start_pos or 0)
    end = _RUN_END.search(text, start)
    written = text[start : end.start() if end else len(text)]
    what = "semantic versions, which are text" if spec.kind == "semver" else "text"
    return InvalidQuery(
        f"invalid query at column {start + 1}: {name} holds {what}: write the value in "
        f"quotes, '{written}'",
        column=start + 1,
        expected=("a quoted text",),
    )


def failure(text: str, exc: UnexpectedInput, scope: Scope = "version") -> InvalidQuery:
    expected: Any
    found: str
    offset: int
    if isinstance(exc, UnexpectedEOF):
        offset, found = len(text), "the end of the query"
        expected = exc.expected
    elif isinstance(exc, UnexpectedCharacters):
        offset = int(exc.pos_in_stream or 0)
        char = text[offset]
        found = repr(char)
        if char in "'\"":
            return InvalidQuery(
                f"invalid query at column {offset + 1}: a text opened with {char} is never "
                f"closed (write {char}{char} for a {char} inside it)",
                column=offset + 1,
                expected=(char,),
            )
        expected = exc.allowed or set()
    else:
        token = getattr(exc, "token", None)
        offset = int(getattr(token, "start_pos", 0) or 0)
        if token is None or token.type == "$END":
            offset, found = len(text), "the end of the query"
        else:
            found = repr(str(token))
        expected = getattr(exc, "expected", None) or set()
        interactive = getattr(exc, "interactive_parser", None)
        if interactive is not None and token is not None:
            unquoted = _unquoted(text, interactive.parser_state.value_stack, offset)
            if unquoted is not None:
                return unquoted
        if interactive is not None:
            # The parser's own state knows exactly what it accepts; the LALR table's
            # expected set also holds tokens of merged states.
            expected = interactive.accepts() or expected
            if set(expected) <= _VALUES:
                kind = _kind_before(interactive.parser_state.value_stack)
                expected = {kind} if kind is not None else expected
    if "FIELD" in expected:
        keyword = _keyword_for_field(text, offset, scope)
        if keyword is not None:
            return keyword
    names = tuple(sorted({_NAMES.get(e, e) for e in expected}))
    return InvalidQuery(
        f"invalid query at column {offset + 1}: expected {' or '.join(names) or 'nothing'}, "
        f"found {found}",
        column=offset + 1,
        expected=names,
    )


class BuildError(Exception):
    """Raised inside the parser's callbacks; turned into InvalidQuery with the text at hand."""

    def __init__(self, message: str, offset: int, expected: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message, self.offset, self.expected = message, offset, expected
