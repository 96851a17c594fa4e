"""Model URIs: ``models:/name/7``, ``models:/name/1.2.0``, ``models:/name@alias``.

The scheme may be left out (``name/7``, ``name@production``), and
``models:/name/latest`` names the highest version number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from . import validation
from .errors import InvalidInput
from .limits import MAX_NUMBER

_URI = re.compile(r"(?:models:/)?(?P<name>[^/@]+)(?:/(?P<ref>[^/@]+)|@(?P<alias>[^/@]+))?")


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed model URI."""

    name: str
    kind: Literal["model", "number", "semver", "alias", "latest"]
    value: str = ""

    @property
    def number(self) -> int:
        return int(self.value)

    def __str__(self) -> str:
        if self.kind == "model":
            return f"models:/{self.name}"
        if self.kind == "alias":
            return f"models:/{self.name}@{self.value}"
        return f"models:/{self.name}/{self.value}"


def parse(uri: str) -> ModelRef:
    if not isinstance(uri, str):
        raise InvalidInput(f"a model URI must be text, got {type(uri).__name__}")
    m = _URI.fullmatch(uri.strip())
    if not m:
        raise InvalidInput(
            f"invalid model URI {uri!r}: expected models:/NAME/NUMBER, "
            "models:/NAME/MAJOR.MINOR.PATCH or models:/NAME@ALIAS"
        )
    name = validation.model_name(m["name"])
    if m["alias"] is not None:
        return ModelRef(name, "alias", validation.alias_name(m["alias"]))
    ref = m["ref"]
    if ref is None:
        return ModelRef(name, "model")
    if ref == "latest":
        return ModelRef(name, "latest", ref)
    if ref.isdigit() and ref.isascii():
        if ref.startswith("0") or len(ref) > len(str(MAX_NUMBER)) or int(ref) > MAX_NUMBER:
            raise InvalidInput(
                f"invalid version number {ref!r} in {uri!r}: numbers run from 1 to {MAX_NUMBER}"
            )
        return ModelRef(name, "number", ref)
    validation.parse_semver(ref)
    return ModelRef(name, "semver", ref)
