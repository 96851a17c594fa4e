"""Arguments of the wrong type are refused with InvalidInput, never a foreign error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelbook import InvalidInput, Registry

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "owners not text": ({"owners": 5}, "owners"),
    "owner list of numbers": ({"owners": [5]}, "owners"),
    "duration not a number": ({"duration_seconds": "abc"}, "duration_seconds"),
    "contract not JSON": ({"contract": {"x": object()}}, "contract"),
    "tag value too many digits": ({"tags": {"k": 10**5000}}, "tag 'k'"),
    "run id not text": ({"run_id": 5}, "run_id"),
    "features not a reference": ({"features": 5}, "features"),
    "data snapshot not text": ({"data": [5]}, "data"),
    "caveats one string": ({"caveats": "abc"}, "caveats"),
    "code field of wrong type": ({"code": {"dirty": "maybe"}}, "dirty"),
    "tags not a mapping": ({"tags": ["a=b"]}, "mapping"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_register_refuses_wrong_types(registry: Registry, model_file: Path, case: str) -> None:
    kwargs, phrase = CASES[case]
    kwargs = {"owners": "alice", **kwargs}
    with pytest.raises(InvalidInput) as err:
        registry.register("typed", [model_file], **kwargs)
    assert phrase in str(err.value)
    assert "\n" not in str(err.value)
    assert registry.models().items == []


CALLS: dict[str, Callable[[Registry], object]] = {
    "alias reason not text": lambda r: r.set_alias("typed", "champion", 1, reason=5),  # type: ignore[arg-type]
    "alias version a float": lambda r: r.set_alias("typed", "champion", 1.5, reason="x"),  # type: ignore[arg-type]
    "expect not a number": lambda r: r.set_alias("typed", "champion", 1, reason="x", expect="1"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", sorted(CALLS))
def test_alias_calls_refuse_wrong_types(registry: Registry, model_file: Path, case: str) -> None:
    registry.register("typed", [model_file], owners="alice")
    with pytest.raises(InvalidInput):
        CALLS[case](registry)
    assert registry.aliases("typed") == []


TWO_PHASE: dict[str, tuple[Callable[[Registry], object], str]] = {
    "no artifacts at all": (lambda r: r.commit_version("typed", None, owners="o"), "NoneType"),  # type: ignore[arg-type]
    "a number of artifacts": (lambda r: r.commit_version("typed", 5, owners="o"), "int"),  # type: ignore[arg-type]
    "one path as text": (lambda r: r.commit_version("typed", "model.bin", owners="o"), "str"),  # type: ignore[arg-type]
    "one mapping, not a list": (
        lambda r: r.commit_version("typed", {"path": "m", "size": 1, "sha256": "a" * 64}),
        "dict",
    ),
    "an artifact as a tuple": (
        lambda r: r.commit_version("typed", [("model.bin", 3, "a" * 64)], owners="o"),  # type: ignore[list-item]
        "tuple",
    ),
    "a file to store that is no path": (lambda r: r.store_file(5, "x"), "must be a path"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", sorted(TWO_PHASE))
def test_the_two_phases_refuse_wrong_types(registry: Registry, case: str) -> None:
    """Each phase names what it needs; nothing is written."""
    call, phrase = TWO_PHASE[case]
    with pytest.raises(InvalidInput) as err:
        call(registry)
    assert phrase in str(err.value) and "\n" not in str(err.value)
    assert registry.models().items == []
