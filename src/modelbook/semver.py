"""The semantic version rule of a model's versions, written once.

The first version of a model is ``1.0.0``. Each next one bumps the part that
:func:`classify` picks from the evidence of what changed since its parent
(MAJOR for an incompatible contract change, MINOR for a compatible contract
change or changed predictions, PATCH for neither), applied to the model's
highest semver so that the newest version always carries the highest. The
number claims compatibility with the version whose semver it follows, so when
the parent is another version, the change since that one is classified too
and the larger bump wins (:func:`combine`). An explicit semver must be greater
than every earlier semver of the model and at least the computed one.
Versions are plain
``MAJOR.MINOR.PATCH`` (no pre-release or build part, see semver.org 2.0.0 §2),
each part at most :data:`modelbook.limits.MAX_NUMBER`, so that every semver
modelbook writes is one its URI parser accepts.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Sequence

import semver as _semver
from pydantic import BaseModel, ConfigDict

from .contract_diff import ContractDiff
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
    if not isinstance(value, str):
        raise _invalid(value)
    if type(value) is not str:
        # A subclass may hash or compare as it likes: not a key for the cache.
        return _parse_text(value)
    return _parse_cached(value)


def _parse_text(value: str) -> tuple[int, int, int]:
    if not _PLAIN.fullmatch(value):
        raise _invalid(value)
    v = _semver.Version.parse(value)
    return v.major, v.minor, v.patch


# A model's semvers are parsed again by every registration and alias move; the
# parts are plain integers, so the cached answer cannot be changed by a caller.
_parse_cached = functools.lru_cache(maxsize=4096)(_parse_text)


def _invalid(value: object) -> InvalidInput:
    return InvalidInput(
        f"invalid semver {value!r}: expected MAJOR.MINOR.PATCH, e.g. 1.4.0 "
        f"(numbers without leading zeros, each at most {MAX_NUMBER})"
    )


def text(parts: tuple[int, int, int]) -> str:
    return str(_semver.Version(*parts))


class Bump(enum.StrEnum):
    """Which part of the semver a new version bumps."""

    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"

    @property
    def rank(self) -> int:
        """0 for PATCH, 1 for MINOR, 2 for MAJOR: the larger bump claims less."""
        return _RANK[self]


_RANK = {Bump.PATCH: 0, Bump.MINOR: 1, Bump.MAJOR: 2}


def larger(a: Bump, b: Bump) -> Bump:
    """The larger of two bumps (MAJOR over MINOR over PATCH)."""
    return a if a.rank >= b.rank else b


def bumped(highest: str, bump: Bump) -> str:
    """``highest`` with one part bumped and the parts after it reset: 1.4.2 MINOR is 1.5.0."""
    return str(_bump(highest, bump))


def bumped_within(highest: str, bump: Bump) -> str | None:
    """:func:`bumped`, or None when a part would pass the largest a URI can name."""
    v = _bump(highest, bump)
    return str(v) if max(v.major, v.minor, v.patch) <= MAX_NUMBER else None


def _bump(highest: str, bump: Bump) -> _semver.Version:
    v = _semver.Version(*parse(highest))
    if bump is Bump.MAJOR:
        return v.bump_major()
    if bump is Bump.MINOR:
        return v.bump_minor()
    return v.bump_patch()


def next_semver(
    model: str,
    highest: str | None,
    explicit: str | None = None,
    bump: Bump = Bump.MINOR,
    why: str = "",
) -> str:
    """The semver of a model's next version.

    ``highest`` is the semver of the model's newest version (None when it has
    none). ``bump`` is the part the change calls for (see :func:`classify`)
    and ``why`` its reason, quoted when an explicit semver is refused.
    ``explicit`` is the semver the registrant asked for: it must be greater
    than ``highest`` and at least the computed one (a higher one is allowed,
    and recorded as such by the caller). Raises :class:`InvalidInput` when it
    is not, or when the bump would pass the largest part a URI can name.
    """
    computed = None if highest is None else bumped_within(highest, bump)
    if highest is not None and computed is None and explicit is None:
        if all(part == MAX_NUMBER for part in parse(highest)):
            raise InvalidInput(
                f"model {model!r} is at {highest}, the highest semver a URI can name: no "
                "version can follow it; register the next one under a new model name"
            )
        raise InvalidInput(
            f"model {model!r} is at {highest}: the next {bump.value.upper()} would "
            f"pass {MAX_NUMBER}; give an explicit semver with a higher part (--semver)"
        )
    if explicit is not None:
        wanted = _semver.Version(*parse(explicit))
        if highest is not None and wanted <= _semver.Version(*parse(highest)):
            raise InvalidInput(
                f"semver {explicit} must be greater than {highest}, "
                f"the highest semver of model {model!r}"
            )
        if computed is not None and wanted < _semver.Version.parse(computed):
            raise InvalidInput(
                f"semver {explicit} is less than {computed}: this is a "
                f"{bump.value.upper()} change{f' ({why})' if why else ''}; "
                f"give {computed} or higher, or leave out the semver"
            )
        return str(wanted)
    return computed or FIRST


class PredictionCheck(BaseModel):
    """Predictions of the parent and of the new version on the parent's stored sample.

    Attributes:
        compared: whether both models were loaded and called; when False,
            ``message`` says why and the classification fell back to the
            contract and the artifacts' hashes.
        rows: rows of the sample predicted on.
        changed: rows whose outputs differ beyond the tolerance.
        tolerance: the absolute and relative tolerance of numeric outputs.
        message: what was done, in one sentence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    compared: bool
    rows: int = 0
    changed: int = 0
    tolerance: float = 0.0
    message: str = ""


class Comparison(BaseModel):
    """The new version compared with one earlier version of its model.

    Attributes:
        version: the version compared with (``models:/NAME/N``).
        semver: that version's semver.
        bump: the part this comparison alone calls for.
        method: ``predictions`` (the contract and the predictions on that
            version's sample) or ``artifacts`` (the contract and the
            artifacts' hashes: no loader, no sample, the models could not
            both be called, or predictions were not compared).
        contract: every contract change from that version.
        predictions: the prediction comparison, when one was tried.
        artifacts_changed: artifact paths added, removed or changed.
        reasons: why ``bump``, one sentence each.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    semver: str | None = None
    bump: Bump
    method: str
    contract: ContractDiff = ContractDiff()
    predictions: PredictionCheck | None = None
    artifacts_changed: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()


class Classification(BaseModel):
    """The evidence behind a version's semver, stored with the version.

    The fields from ``parent`` to ``reasons`` (but ``bump``) are the
    comparison with the parent; ``highest`` is the comparison with the
    version holding the model's highest semver, the one the new semver
    follows, when that is not the parent. ``bump`` is the larger of the two.

    Attributes:
        parent: the version compared with (``models:/NAME/N``); None for a
            model's first version.
        bump: the part bumped: the larger of what the comparisons call for.
        computed: the semver that bump gives (the model's highest semver, bumped).
        explicit: the semver the registrant gave instead, when one was given.
        method: ``first`` (nothing to compare), ``predictions`` (the contract
            and the predictions on the parent's sample) or ``artifacts`` (the
            contract and the artifacts' hashes: no loader, no sample, the
            models could not both be called, or predictions were not compared).
        contract: every contract change from the parent (empty when none, or
            when neither version has a signature).
        predictions: the prediction comparison, when one was tried.
        artifacts_changed: artifact paths added, removed or changed.
        reasons: why the comparison with the parent calls for ``parent_bump``,
            one sentence each.
        parent_semver: the parent's semver (None for versions registered
            before it was recorded).
        parent_bump: the part the comparison with the parent alone calls for
            (None for a first version, and for versions registered before it
            was recorded: then ``bump``).
        highest: the comparison with the version holding the model's highest
            semver, when the parent is another version; None when the parent
            is that version.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    parent: str | None = None
    bump: Bump | None = None
    computed: str
    explicit: str | None = None
    method: str
    contract: ContractDiff = ContractDiff()
    predictions: PredictionCheck | None = None
    artifacts_changed: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    parent_semver: str | None = None
    parent_bump: Bump | None = None
    highest: Comparison | None = None

    def comparisons(self) -> tuple[tuple[str, Comparison], ...]:
        """Each comparison made, as ``("parent" | "highest", comparison)``."""
        found: list[tuple[str, Comparison]] = []
        bump = self.parent_bump or self.bump
        if self.parent is not None and bump is not None:
            found.append(
                (
                    "parent",
                    Comparison(
                        version=self.parent,
                        semver=self.parent_semver,
                        bump=bump,
                        method=self.method,
                        contract=self.contract,
                        predictions=self.predictions,
                        artifacts_changed=self.artifacts_changed,
                        reasons=self.reasons,
                    ),
                )
            )
        if self.highest is not None:
            found.append(("highest", self.highest))
        return tuple(found)

    def why(self) -> str:
        """The reasons for ``bump``, each comparison that calls for it named when
        there are two; quoted when an explicit semver below the computed one is refused."""
        made = self.comparisons()
        if len(made) == 1:
            return "; ".join(made[0][1].reasons)
        return "; ".join(
            f"against {c.version}{'' if c.semver is None else f' ({c.semver})'}: "
            + "; ".join(c.reasons)
            for _, c in made
            if c.bump == self.bump
        )


def combine(parent: Comparison | None, highest: Comparison | None) -> Bump | None:
    """The bump of a new version: the larger of what its comparisons call for.

    The new semver follows the model's highest one, so it claims compatibility
    with the version holding it: a change the parent does not see (the parent
    is an older version) must still be counted. None when nothing was compared
    (a model's first version).
    """
    bumps = [c.bump for c in (parent, highest) if c is not None]
    if not bumps:
        return None
    found = bumps[0]
    for b in bumps[1:]:
        found = larger(found, b)
    return found


def classify(
    contract: ContractDiff,
    predictions: PredictionCheck | None,
    artifacts_changed: Sequence[str],
) -> tuple[Bump, tuple[str, ...]]:
    """The part a new version bumps, and why (the versioning rules of
    docs/contracts-and-versions.md).

    - MAJOR: an incompatible contract change (a contract the parent had and
      the new version lacks is one);
    - MINOR: a compatible contract change; predictions that differ on the
      parent's sample; or, when predictions could not be compared, any
      changed artifact;
    - PATCH: the same contract, and predictions equal within the tolerance
      (or, without a comparison, the same artifacts).
    """
    if contract.incompatible:
        return Bump.MAJOR, tuple(f"incompatible: {c.detail}" for c in contract.incompatible)
    reasons = tuple(f"compatible: {c.detail}" for c in contract.changes)
    if predictions is not None and predictions.compared:
        if predictions.changed:
            reasons += (
                f"predictions changed on {predictions.changed} of {predictions.rows} sample rows",
            )
        else:
            same = f"predictions equal on all {predictions.rows} sample rows"
            return (Bump.MINOR, (*reasons, same)) if reasons else (Bump.PATCH, (same,))
    elif artifacts_changed:
        reasons += (
            "artifacts changed ("
            + ", ".join(artifacts_changed[:5])
            + (", ..." if len(artifacts_changed) > 5 else "")
            + ") and predictions were not compared",
        )
    if reasons:
        return Bump.MINOR, reasons
    return Bump.PATCH, ("the same contract and the same artifacts",)
