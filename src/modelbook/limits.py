"""The one set of size limits and the one free-text rule, shared by every writer and parser.

Every free-text field a user can set is checked here before anything is
written, with the same limit on SQLite and PostgreSQL, so a value accepted by
one database is never refused by the other. The limits are documented in
``docs/concepts.md`` ("Limits").

Free text is stored exactly as written. It may not hold NUL (PostgreSQL text
cannot) or a lone surrogate (not UTF-8, so neither database nor JSON can carry
it); everything else, control characters included, is kept and escaped only
when shown on a terminal.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ValidationInfo

from .errors import InvalidInput

#: Names of models (and so the ``models:/NAME`` part of a URI).
MAX_NAME = 128
#: Alias names.
MAX_ALIAS = 64
#: Keys of tags, params, slices and metric names.
MAX_KEY = 128
#: Actors, owners, tasks: who and what, shown in every listing.
MAX_SHORT = 256
#: Indexed values (tags, params, lineage values, metric slices) and free text
#: inside a version's frozen record (commits, digests, paths, windows ...).
MAX_VALUE = 512
#: Slices of a metric, as the canonical ``k=v,k2=v2`` text.
MAX_SLICE = 256
#: Long text: descriptions, notes, reasons, comments, caveats, a contract as JSON.
MAX_TEXT = 65536
#: Artifact paths inside a version.
MAX_PATH = 1024
#: Version numbers and each part of a semver: what one writes, the other parses.
MAX_NUMBER = 999_999_999
#: Items on one page of a listing.
MAX_PAGE = 1000
#: A gate check's message and its hint, each (printed on every promote).
MAX_CHECK_MESSAGE = 4096
#: A gate check's evidence, as UTF-8 JSON bytes (stored with every evaluation).
MAX_CHECK_EVIDENCE = 65536
#: Operations one ``expr`` check may spend (see ``modelbook.checks.cel_cost``):
#: about a second of evaluation, so a gate never holds a write for long.
MAX_EXPR_COST = 25_000


def check_text(value: object, what: str, limit: int) -> str:
    """``value`` if it is storable free text of at most ``limit`` characters.

    Raises :class:`InvalidInput` naming ``what`` and the limit that applies.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidInput(f"{what} must not contain NUL characters")
    try:
        # ASCII text holds no surrogate: only other text needs the trial encoding.
        if not value.isascii():
            value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{what} is not valid UTF-8 text (it holds a lone surrogate, e.g. from an "
            "undecodable byte in a file name or environment variable)"
        ) from None
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; the limit is {limit}")
    return value


def _field_text(limit: int) -> AfterValidator:
    def check(value: str, info: ValidationInfo) -> str:
        # Every stored version's record is read through these checks, a dozen per
        # version: text that plainly passes (ASCII, no NUL, within the limit) returns
        # at once; anything else gets check_text's full rule and its message.
        if len(value) <= limit and value.isascii() and "\x00" not in value:
            return value
        try:
            return check_text(value, info.field_name or "value", limit)
        except InvalidInput as exc:
            # pydantic turns a ValueError into a validation error that names the field.
            raise ValueError(exc.message) from None

    return AfterValidator(check)


#: A free-text field of a frozen record (a commit, a digest, a path ...).
Value = Annotated[str, _field_text(MAX_VALUE)]
#: A who/what field (actor, owner, task).
Short = Annotated[str, _field_text(MAX_SHORT)]
#: A long free-text field (a note, a caveat, a description).
Text = Annotated[str, _field_text(MAX_TEXT)]
