"""``doctor``: which versions' entries miss checklist fields, worst first (pure).

The service scores every version it reads (:func:`modelbook.completeness.assess`)
and hands the scores here. :func:`diagnose` keeps the versions that miss at
least one field and orders them worst first: deployed versions that lack a
field the policy requires (``[doctor] required``), then by how many required
fields they lack, then by score, lowest first. :meth:`DoctorReport.check`
raises :class:`~modelbook.errors.IncompleteMetadata` (exit 13) when a deployed
version lacks a required field, and :class:`~modelbook.errors.IntegrityError`
(exit 7) when a version could not be read, so that ``modelbook doctor`` can gate CI.
"""

from __future__ import annotations

from collections.abc import Iterable

from .completeness import Completeness
from .domain import Frozen
from .errors import IncompleteMetadata, IntegrityError
from .lifecycle import DEPLOYED


class DoctorEntry(Frozen):
    """One version whose entry misses checklist fields.

    Attributes:
        uri: ``models:/NAME/NUMBER``.
        model, number, semver, stage, risk_tier: who it is.
        score: the share of checklist fields present, 0.0 to 1.0.
        present, total: fields present, and in the checklist.
        missing: every absent field, in checklist order.
        missing_required: the absent fields the policy requires.
        failing: deployed and missing a required field (what fails ``doctor``).
    """

    uri: str
    model: str
    number: int
    semver: str
    stage: str
    risk_tier: str
    score: float
    present: int
    total: int
    missing: tuple[str, ...]
    missing_required: tuple[str, ...]
    failing: bool


class DoctorReport(Frozen):
    """The outcome of one ``doctor`` run.

    Attributes:
        required: the fields the policy requires of a deployed version.
        checked: how many versions were scored.
        entries: the versions that miss fields, worst first.
        unreadable: versions that could not be read (damaged rows), by message.
    """

    required: tuple[str, ...]
    checked: int
    entries: tuple[DoctorEntry, ...]
    unreadable: tuple[str, ...] = ()

    @property
    def failing(self) -> tuple[DoctorEntry, ...]:
        """Deployed versions that lack a required field."""
        return tuple(e for e in self.entries if e.failing)

    @property
    def ok(self) -> bool:
        return not self.failing and not self.unreadable

    def check(self) -> None:
        """Raise when a version could not be read, or a deployed version lacks a
        required field. A version that cannot be read cannot be scored: a gate that
        passed over it would pass a deployed version whose entry is damaged.

        Raises:
            IntegrityError: naming each version that could not be read.
            IncompleteMetadata: naming each such version and its missing fields
                (``missing`` maps URI → fields).
        """
        if self.unreadable:
            raise IntegrityError(
                f"{len(self.unreadable)} version(s) cannot be read, so their entries "
                f"cannot be checked: {'; '.join(self.unreadable)}"
            )
        failing = self.failing
        if not failing:
            return
        listed = "; ".join(f"{e.uri} lacks {', '.join(e.missing_required)}" for e in failing)
        raise IncompleteMetadata(
            f"{len(failing)} deployed version(s) miss required metadata: {listed}",
            {e.uri: e.missing_required for e in failing},
        )


def entry(
    completeness: Completeness,
    *,
    model: str,
    number: int,
    semver: str,
    stage: str,
    risk_tier: str,
    required: Iterable[str],
) -> DoctorEntry:
    """One version's line of the report."""
    missing_required = completeness.missing_of(tuple(required))
    return DoctorEntry(
        uri=completeness.uri,
        model=model,
        number=number,
        semver=semver,
        stage=stage,
        risk_tier=risk_tier,
        score=completeness.score,
        present=completeness.present,
        total=completeness.total,
        missing=completeness.missing,
        missing_required=missing_required,
        failing=stage == DEPLOYED and bool(missing_required),
    )


def diagnose(
    entries: Iterable[DoctorEntry],
    *,
    required: tuple[str, ...],
    checked: int,
    unreadable: tuple[str, ...] = (),
) -> DoctorReport:
    """The versions that miss fields, worst first (see the module docstring)."""
    incomplete = [e for e in entries if e.missing]
    incomplete.sort(
        key=lambda e: (
            not e.failing,
            -len(e.missing_required),
            e.score,
            e.stage != DEPLOYED,
            e.model,
            -e.number,
        )
    )
    return DoctorReport(
        required=required, checked=checked, entries=tuple(incomplete), unreadable=unreadable
    )
