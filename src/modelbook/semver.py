"""The semantic version rule of a model's versions, written once.

The first version of a model is ``1.0.0``; each next one bumps MINOR unless an
explicit semver is given, which must be greater than every earlier semver of
the model (the newest version always carries the highest). Versions are plain
``MAJOR.MINOR.PATCH`` (no pre-release or build part, see semver.org 2.0.0 §2),
each part at most :data:`modelbook.limits.MAX_NUMBER`, so that every semver
modelbook writes is one its URI parser accepts.
"""

from __future__ import annotations

import re

import semver as _semver

from .errors import InvalidInput
from .limits import MAX_NUMBER

_DIGITS = len(str(MAX_NUMBER))
_PLAIN = re.compile(
    rf"(0|[1-9][0-9]{{0,{_DIGITS - 1}}})(?:\.(0|[1-9][0-9]{{0,{_DIGITS - 1}}})){{2}}"
)

FIRST = "1.0.0"


def parse(value: object) -> tuple[int, int, int]:
    """``"1.4.0"`` as ``(1, 4, 0)``.

    Raises :class:`InvalidInput` for anything but three numbers without
    leading zeros, each at most ``MAX_NUMBER``.
    """
    if not isinstance(value, str) or not _PLAIN.fullmatch(value):
        raise InvalidInput(
            f"invalid semver {value!r}: expected MAJOR.MINOR.PATCH, e.g. 1.4.0 "
            f"(numbers without leading zeros, each at most {MAX_NUMBER})"
        )
    v = _semver.Version.parse(value)
    return v.major, v.minor, v.patch


def text(parts: tuple[int, int, int]) -> str:
    return str(_semver.Version(*parts))


def next_semver(model: str, highest: str | None, explicit: str | None = None) -> str:
    """The semver of a model's next version.

    ``highest`` is the semver of the model's newest version (None when it has
    none). ``explicit`` is the semver the registrant asked for. Raises
    :class:`InvalidInput` when ``explicit`` is not greater than ``highest``,
    or when bumping MINOR would pass the largest part a URI can name.
    """
    if explicit is not None:
        wanted = _semver.Version(*parse(explicit))
        if highest is not None and wanted <= _semver.Version(*parse(highest)):
            raise InvalidInput(
                f"semver {explicit} must be greater than {highest}, "
                f"the highest semver of model {model!r}"
            )
        return str(wanted)
    if highest is None:
        return FIRST
    bumped = _semver.Version(*parse(highest)).bump_minor()
    if bumped.minor > MAX_NUMBER:
        raise InvalidInput(
            f"model {model!r} is at {highest}: the next MINOR would pass {MAX_NUMBER}; "
            "give an explicit semver with a higher MAJOR (--semver)"
        )
    return str(bumped)
