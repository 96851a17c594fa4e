"""Python package names and versions, compared as pip compares them (pure).

A recorded environment may name a package as its distribution spells it
(``scikit_learn``, ``Scikit-Learn``) and give a version as a person writes it
(``1.4``); the serving process reports ``scikit-learn`` at ``1.4.0``. Those
are the same package at the same version: names are compared in their
PEP 503 normal form, versions as PEP 440 versions (``packaging.version``).
A version that is not PEP 440 (a local build string) is compared as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """The PEP 503 normal form of a package name: ``Scikit_Learn`` -> ``scikit-learn``."""
    return _SEPARATORS.sub("-", name).lower()


@cache
def _parsed(version: str) -> object:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version)
    except InvalidVersion:
        return version.strip()


def same_version(a: str | None, b: str | None) -> bool:
    """Whether two versions are equal under PEP 440 (``1.4`` == ``1.4.0``); None equals
    only None."""
    if a is None or b is None:
        return a is b
    return a == b or _parsed(a) == _parsed(b)


def by_canonical_name(packages: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``{canonical name: (name as given, version)}``; the first spelling of a name wins."""
    found: dict[str, tuple[str, str]] = {}
    for name, version in packages.items():
        found.setdefault(canonical_name(name), (name, version))
    return found
