"""A version's validated metadata before it is committed, and the helpers that build it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..domain import Metric
from ..errors import InvalidInput
from . import contracts
from .classify import CompareOptions


def invalid(exc: ValidationError) -> InvalidInput:
    """The first error pydantic found, as InvalidInput naming the field."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return InvalidInput(f"invalid {where or 'value'}: {message}")


def merge(base: Any, given: Any, cls: type[Any]) -> Any:
    """Explicit fields win over captured ones."""
    if given is None:
        return base
    if isinstance(given, cls):
        return cls.model_validate(given.model_dump())
    if isinstance(given, Mapping):
        try:
            return cls.model_validate({**base.model_dump(), **given})
        except ValidationError as exc:
            raise invalid(exc) from None
    raise InvalidInput(f"expected {cls.__name__} or a mapping, got {type(given).__name__}")


@dataclass(frozen=True)
class Draft:
    """A version's validated metadata, ready to commit once its blobs are stored."""

    name: str
    new_model: dict[str, Any] | None
    risk_tier: str | None
    explicit_semver: str | None
    parents: tuple[tuple[str, int], ...]
    tags: dict[str, str]
    params: dict[str, str]
    metrics: tuple[Metric, ...]
    lineage: tuple[tuple[str, str, str], ...]
    doc: dict[str, Any]
    # The validated values ``doc`` was dumped from: the returned Version is built
    # from them, not by validating the dump again.
    record: dict[str, Any]
    contract: contracts.Prepared
    comparing: CompareOptions
    # The model's row and its latest version's row as the draft was prepared (None:
    # no such model then): the new version is compared with what they hold unless
    # a version was registered since.
    seen: tuple[Any, Any] | None = None
