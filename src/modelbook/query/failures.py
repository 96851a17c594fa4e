"""How a parser failure reads: the column of the mistake, what was expected there in
words, and, where a value is missing, what its field takes. A mistake found while
the tree is built (an unknown field, a value of the wrong kind) is a
:class:`BuildError` until the parser turns it into InvalidQuery."""

from __future__ import annotations

from typing import Any

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from ..errors import InvalidQuery
from .fields import CATALOG

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


def failure(text: str, exc: UnexpectedInput) -> InvalidQuery:
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
        if interactive is not None:
            # The parser's own state knows exactly what it accepts; the LALR table's
            # expected set also holds tokens of merged states.
            expected = interactive.accepts() or expected
            if set(expected) <= _VALUES:
                kind = _kind_before(interactive.parser_state.value_stack)
                expected = {kind} if kind is not None else expected
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
