"""The audit log's canonical encoding is RFC 8785, byte for byte.

``audit.canonical`` writes most documents with orjson and leaves floats, keys
outside ASCII and other types to the ``rfc8785`` package; whatever it is given,
its bytes (or its error) must be the reference's.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from modelbook import audit

SAFE = 2**53 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-SAFE - 5, max_value=SAFE + 5)
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.text(alphabet=st.characters(max_codepoint=0x7F))
)
keys = st.text() | st.text(alphabet=st.characters(min_codepoint=0xD000, max_codepoint=0x1F700))
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=25,
)


def reference(doc: Any) -> bytes | type[BaseException]:
    try:
        return rfc8785.dumps(doc)
    except Exception as exc:  # noqa: BLE001 - the reference's error is the expected outcome
        return type(exc)


def ours(doc: Any) -> bytes | type[BaseException]:
    try:
        return audit.canonical(doc)
    except Exception as exc:  # noqa: BLE001 - compared with the reference's
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, documents, max_size=6))
def test_every_document_encodes_as_the_reference_does(doc: dict[str, Any]) -> None:
    assert ours(doc) == reference(doc)


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    "doc",
    [
        {"a": 1.0, "b": -0.0, "c": 1e16, "d": 1e21, "e": 5e-324, "f": 0.1 + 0.2},
        {"z": 1, "a": {"\u00e9": 1, "e": 2}},
        {"\U0001f600": 1, "\ufb33": 2},
        {"s": '\x00\x08\x09\x0a\x0c\x0d\x1f\x7f"\\/\u2028\u2029\ufeff'},
        {"n": SAFE, "m": -SAFE},
        {"n": SAFE + 1},
        {"x": math.nan},
        {"x": math.inf},
        {"s": "\ud800"},
        {"": [math.inf], "\ud800": None},
        {"e": Colour.RED, "l": Level.HIGH},
        {"t": (1, [2, (3,)])},
        {"o": object()},
        {1: "not a string key"},
    ],
)
def test_edge_cases_encode_as_the_reference_does(doc: dict[Any, Any]) -> None:
    assert ours(doc) == reference(doc)


def test_an_event_encodes_without_the_reference_and_the_same() -> None:
    """The fast path is taken for what events hold (no float, ASCII keys)."""
    event = {
        "chain": "model:m",
        "seq": 7,
        "at": 1_764_480_000_000_000,
        "actor": "ann",
        "action": "version.tag",
        "model": "m",
        "version": 3,
        "subject": "models:/m/3",
        "before": {"team": "ranking"},
        "after": {"team": "ranking", "note": "r\u00e9vis\u00e9"},
        "reason": None,
    }
    assert audit._prepared(event) == event
    assert audit.canonical(event) == rfc8785.dumps(event)
