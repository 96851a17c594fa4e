"""A new version compared with an earlier one, and the two comparisons made into
its :class:`~modelbook.semver.Classification`.

A comparison is the contract diff, the paths of the model's own files that
changed and, when they can decide, the two versions' predictions on a sample
(gathered by :class:`~modelbook.services.classify.ClassifyService`);
:func:`modelbook.semver.classify` turns them into a bump.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .. import flavors
from ..contract import as_signature
from ..contract_diff import ContractDiff, FieldChange, diff_contracts
from ..domain import Artifact, Version
from ..semver import Classification, Comparison, PredictionCheck, classify, combine


def contract_changes(parent: Any, new: Any) -> ContractDiff:
    """The contract diff of two versions' stored contracts (signatures or free-form)."""
    old_sig, new_sig = as_signature(parent), as_signature(new)
    if old_sig is not None and new_sig is not None:
        return diff_contracts(old_sig, new_sig)
    if parent is None and new is None:
        return ContractDiff()
    if parent is None:
        return _whole("added", True, "a contract is declared for the first time")
    if new is None:
        return _whole("removed", False, "the parent's contract is no longer declared")
    if old_sig is None and new_sig is None and parent == new:
        return ContractDiff()
    # A free-form contract cannot be judged field by field: any change may break callers.
    return _whole("kind", False, "the free-form contract changed; its compatibility is unknown")


def _whole(change: Any, compatible: bool, detail: str) -> ContractDiff:
    return ContractDiff(
        changes=(
            FieldChange(
                side="inputs", field="*", change=change, compatible=compatible, detail=detail
            ),
        )
    )


def artifact_changes(parent: Sequence[Artifact], new: Sequence[Artifact]) -> tuple[str, ...]:
    """Paths of the model's own files added, removed or changed (the sample left out)."""

    def own(items: Sequence[Artifact]) -> dict[str, str]:
        return {a.path: a.sha256 for a in items if not a.path.startswith(flavors.OWN_PREFIX)}

    before, after = own(parent), own(new)
    return tuple(sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p)))


def compare(
    earlier: Version,
    contract: Any,
    artifacts: Sequence[Artifact],
    tolerance: float,
    predict: Callable[[Version], PredictionCheck] | None,
    skip: str | None = None,
) -> Comparison:
    """The new version (``contract``, ``artifacts``) compared with ``earlier``.

    Predictions are compared only when they can decide (the contract stays
    compatible and the model's files changed): by ``predict(earlier)``. With
    ``skip`` they are not, and ``skip`` says why in the evidence; then, as
    without ``predict``, changed files are a MINOR change, never a PATCH.
    """
    diff = contract_changes(earlier.contract, contract)
    changed = artifact_changes(earlier.artifacts, artifacts)
    predictions = None
    if not diff.incompatible and changed:
        if skip is None and predict is not None:
            predictions = predict(earlier)
        else:
            predictions = PredictionCheck(
                compared=False,
                tolerance=tolerance,
                message=f"predictions not compared: {skip or 'no way to load the models'}",
            )
    bump, reasons = classify(diff, predictions, changed)
    return Comparison(
        version=earlier.uri,
        semver=earlier.semver,
        bump=bump,
        method="predictions" if predictions is not None and predictions.compared else "artifacts",
        contract=diff,
        predictions=predictions,
        artifacts_changed=changed,
        reasons=reasons,
    )


def classification(
    parent: Comparison | None, highest: Comparison | None, first: str
) -> Classification:
    """The evidence of both comparisons, ``bump`` the larger; ``first`` for a first version."""
    bump = combine(parent, highest)
    if parent is None:
        return Classification(
            bump=bump,
            computed=first,
            method="first",
            reasons=("the first version",),
            highest=highest,
        )
    return Classification(
        parent=parent.version,
        parent_semver=parent.semver,
        bump=bump,
        parent_bump=parent.bump,
        computed=first,
        method=parent.method,
        contract=parent.contract,
        predictions=parent.predictions,
        artifacts_changed=parent.artifacts_changed,
        reasons=parent.reasons,
        highest=highest,
    )


def followed(change: Classification) -> str | None:
    """The semver the classification's bump was measured from: the highest semver of
    the model when it was classified (None for a first version)."""
    if change.highest is not None:
        return change.highest.semver
    return change.parent_semver if change.parent is not None else None
