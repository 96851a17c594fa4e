"""Environment drift: how the serving process differs from the one a version was
registered in (pure: the caller supplies both environments and the setting).

A version records its environment at registration (:mod:`modelbook.capture`):
Python, platform, the versions of common ML frameworks, a hash of every
installed distribution, the container image digest. :func:`compare` lists
what differs from the current one. A difference is **blocking** when it can
change what the model computes or whether it loads: another Python
``MAJOR.MINOR``, or a recorded framework at another version or no longer
installed. The rest is **advisory**: another Python patch release, platform,
installed-packages hash or image digest. Only recorded fields are compared;
fields the version did not record are named as not checked, and a version
that recorded none is reported as such (``status`` ``not-recorded``), never
as matching. Package names are compared in their PEP 503 form and versions
as PEP 440 versions (:mod:`modelbook.distributions`): ``scikit_learn 1.4``
is ``scikit-learn 1.4.0``.

What to do about drift is a setting, ``MODELBOOK_ENV_DRIFT``: ``warn`` (the
default), ``refuse`` (a load with blocking drift raises
:class:`~modelbook.errors.EnvironmentDrift`) or ``ignore``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .distributions import by_canonical_name, same_version
from .domain import Environment
from .errors import EnvironmentDrift, InvalidInput

ENV_DRIFT_ENV = "MODELBOOK_ENV_DRIFT"


class EnvironmentDriftWarning(UserWarning):
    """Issued by ``load(check_environment=True)`` under ``warn`` when the environment differs."""


Mode = Literal["warn", "refuse", "ignore"]
MODES: tuple[Mode, ...] = ("warn", "refuse", "ignore")
#: The outcome of a comparison: nothing recorded to compare with, the same, or not.
Status = Literal["not-recorded", "matches", "differs"]


@dataclass(frozen=True)
class Difference:
    """One field that differs: what, as recorded, as now (None: absent), and whether
    it blocks a load under ``refuse``."""

    what: str
    recorded: str | None
    current: str | None
    blocking: bool

    def line(self) -> str:
        now = "not installed" if self.current is None else self.current
        kind = "" if self.blocking else " (advisory)"
        return f"{self.what}: recorded {self.recorded}, now {now}{kind}"


@dataclass(frozen=True)
class DriftReport:
    """The comparison of a version's recorded environment with the current one.

    ``differences`` in a fixed order (Python, frameworks by name, platform,
    packages, image); ``unchecked`` names the fields the version did not
    record; ``mode`` is the setting the report was made under.
    """

    uri: str
    differences: tuple[Difference, ...] = ()
    unchecked: tuple[str, ...] = ()
    mode: Mode = "warn"
    checked: tuple[str, ...] = ()

    @property
    def blocking(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.blocking)

    @property
    def drifted(self) -> bool:
        """Whether any difference is blocking."""
        return bool(self.blocking)

    @property
    def status(self) -> Status:
        """``not-recorded`` when the version recorded no environment field (nothing was
        compared), else ``differs`` or ``matches``."""
        if not self.checked:
            return "not-recorded"
        return "differs" if self.differences else "matches"

    def summary(self) -> str:
        if self.status == "not-recorded":
            return (
                f"{self.uri}: no environment recorded (registered with --no-capture?): "
                "nothing to compare"
            )
        if not self.differences:
            return f"{self.uri}: the environment matches the recorded one"
        return f"{self.uri}: the environment differs from the recorded one: " + "; ".join(
            d.line() for d in self.differences
        )


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def compare(
    uri: str, recorded: Environment, current: Environment, mode: Mode = "warn"
) -> DriftReport:
    """What differs between ``recorded`` (the version's) and ``current``; see the module."""
    diffs: list[Difference] = []
    unchecked: list[str] = []
    checked: list[str] = []
    if recorded.python:
        checked.append("python")
        if not same_version(recorded.python, current.python):
            blocking = current.python is None or not same_version(
                _minor(recorded.python), _minor(current.python)
            )
            diffs.append(Difference("python", recorded.python, current.python, blocking))
    else:
        unchecked.append("python")
    now = by_canonical_name(current.frameworks)
    if recorded.frameworks:
        checked.append("frameworks")
    else:
        unchecked.append("frameworks")
    then = by_canonical_name(recorded.frameworks)
    for key in sorted(then):
        name, version = then[key]
        installed = now[key][1] if key in now else None
        if not same_version(version, installed):
            diffs.append(Difference(name, version, installed, True))
    advisory = (
        ("platform", recorded.platform, current.platform),
        ("installed packages (sha256)", recorded.packages_sha256, current.packages_sha256),
        ("image digest", recorded.image_digest, current.image_digest),
    )
    for what, was, is_ in advisory:
        if not was:
            unchecked.append(what)
            continue
        checked.append(what)
        if was != is_:
            diffs.append(Difference(what, was, is_, False))
    return DriftReport(uri, tuple(diffs), tuple(unchecked), mode, tuple(checked))


def mode_from(environ: Mapping[str, str] | None = None) -> Mode:
    """The ``MODELBOOK_ENV_DRIFT`` setting (default ``warn``); InvalidInput for another value."""
    raw = (os.environ if environ is None else environ).get(ENV_DRIFT_ENV, "warn")
    value = raw.strip().lower() or "warn"
    for mode in MODES:
        if value == mode:
            return mode
    raise InvalidInput(f"{ENV_DRIFT_ENV}={raw!r}: use warn, refuse or ignore")


def refuse_if_drifted(report: DriftReport) -> None:
    """Raise EnvironmentDrift when the report's mode is ``refuse`` and it has blocking drift."""
    if report.mode == "refuse" and report.drifted:
        raise EnvironmentDrift(
            f"{report.uri} was registered in another environment: "
            + "; ".join(d.line() for d in report.blocking)
            + f" ({ENV_DRIFT_ENV}=refuse; install the recorded versions, or set "
            f"{ENV_DRIFT_ENV}=warn to load it anyway)"
        )
