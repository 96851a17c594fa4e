"""Contract pins: an alias held to one semver MAJOR (pure rules, no I/O).

A pin says "this alias serves major N": a move of the alias to a version of
another MAJOR is an incompatible contract change for whoever calls it, so it
is refused unless the caller overrides it explicitly, with a reason. Every
path that moves an alias (``alias set``, ``alias swap``, deploy, rollback)
goes through :func:`modelbook.services.aliases.move`, which calls
:func:`check_move`; there is no second copy of the rule.

A pin outlives ``alias rm``: it is a promise to the alias's callers, and an
alias removed for a while (taken out of service in an incident) comes back
to the same callers, so it must come back within the same MAJOR. A pin whose
alias does not exist is listed with ``version`` None (``alias pins``,
``alias list``) and removed only by ``alias unpin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from . import semver
from .errors import InvalidInput, shown

#: The largest MAJOR a pin may name (a semver MAJOR is stored as text; this
#: keeps a typo such as 10000000000 from reaching the database's integer).
MAX_MAJOR = 1_000_000


def valid_major(value: object) -> int:
    """``value`` as a pin's MAJOR: an int in ``[0, MAX_MAJOR]``; else InvalidInput."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"--major must be a whole number, got {shown(value)}")
    if value < 0 or value > MAX_MAJOR:
        raise InvalidInput(f"--major must be between 0 and {MAX_MAJOR}, got {shown(value)}")
    return value


def major_of(version_semver: str) -> int:
    """The MAJOR of a stored semver ``"M.m.p"``."""
    return semver.parse(version_semver)[0]


class AliasPin(BaseModel):
    """One pin of a model's alias (``Registry.alias_pins``).

    Attributes:
        model, alias: whose pin.
        major: the semver MAJOR the alias is held to.
        version: the version number the alias points at; None when the alias
            does not exist (removed with ``alias rm``; the pin is kept).
        pinned_at, pinned_by: when and by whom the pin was last set (``alias
            pin``, or an override that moved it to a new MAJOR).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    alias: str
    major: int
    version: int | None
    pinned_at: datetime
    pinned_by: str


@dataclass(frozen=True)
class Override:
    """An allowed move across a pin: the pin's MAJOR before, the target's after."""

    alias: str
    pinned: int
    to_major: int
    to_semver: str
    reason: str


def check_move(
    name: str,
    alias: str,
    pinned: int | None,
    to_number: int,
    to_semver: str,
    override: str | None,
) -> Override | None:
    """Whether ``alias`` (pinned to MAJOR ``pinned``, or None) may move to a version.

    Returns None when the move stays inside the pin (or there is no pin), an
    :class:`Override` when it crosses the pin and ``override`` (the reason of
    an explicit ``allow_major``) allows it. Raises InvalidInput, naming the
    pin and the way out, when it crosses without an override.
    """
    if pinned is None:
        return None
    to_major = major_of(to_semver)
    if to_major == pinned:
        return None
    if override is None:
        raise InvalidInput(
            f"models:/{name}@{alias} is pinned to major {pinned}; version {to_number} "
            f"({to_semver}) is major {to_major}, an incompatible contract: move it with "
            f"--allow-major --reason TEXT (allow_major=True) to override the pin (recorded), "
            f"or `modelbook alias unpin {name} {alias}`"
        )
    return Override(
        alias=alias, pinned=pinned, to_major=to_major, to_semver=to_semver, reason=override
    )


def check_pin(name: str, alias: str, major: int, current_semver: str | None) -> None:
    """Refuse a pin the alias already breaks: it must point at a version of ``major``."""
    if current_semver is None:
        return
    have = major_of(current_semver)
    if have != major:
        raise InvalidInput(
            f"models:/{name}@{alias} points at {current_semver} (major {have}): pin it to "
            f"--major {have}, or move it to a version of major {major} first"
        )
