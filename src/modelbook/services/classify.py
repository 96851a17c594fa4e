"""Semver classification at registration: what changed since the parent, with evidence.

Registration calls :meth:`ClassifyService.classify` after the new version's
files are stored and before its transaction: the contract diff, the
artifacts' hashes and, when the parent has a stored input sample and both
versions have a model modelbook can load, their predictions on that sample
(both models loaded in one subprocess under the smoke test's limits, pickles
scanned first). :func:`modelbook.semver.classify` turns that into the bump.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from .. import flavors
from ..contract import SAMPLE_PATH, Signature, as_signature
from ..contract_diff import ContractDiff, FieldChange, diff_contracts
from ..domain import Artifact, Version
from ..errors import InvalidInput, NotFound, UnsafeArtifact
from ..semver import Classification, PredictionCheck, classify
from ..smoke import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S
from .base import Context
from .loading import LoadService, Staged
from .smoke import spawn_worker


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


class ClassifyService:
    """Finds a new version's parent and gathers the evidence of its semver."""

    def __init__(self, ctx: Context, loading: LoadService) -> None:
        self.ctx = ctx
        self.loading = loading

    def parent(self, name: str, lineage_parents: Sequence[tuple[str, int]]) -> Version | None:
        """The version a new version of ``name`` is compared with.

        The first lineage parent of the same model, else the model's latest
        version; None for a model's first version.
        """
        for model, number in lineage_parents:
            if model == name:
                return self.loading.versions.get(f"models:/{model}/{number}")
        with contextlib.suppress(NotFound):
            return self.loading.versions.get(f"models:/{name}/latest")
        return None

    def classify(
        self,
        parent: Version | None,
        contract: Any,
        artifacts: Sequence[Artifact],
        *,
        actor: str,
        tolerance: float,
        first: str,
    ) -> Classification:
        """The evidence and the bump; ``first`` is the semver of a model's first version.

        ``contract`` is the new version's stored contract (JSON data or None);
        ``artifacts`` its manifest. The semver itself is computed in the
        registration's transaction, from the model's highest semver then.
        """
        if parent is None:
            return Classification(computed=first, method="first", reasons=("the first version",))
        diff = contract_changes(parent.contract, contract)
        changed = artifact_changes(parent.artifacts, artifacts)
        predictions = None
        if not diff.incompatible and changed:
            predictions = self._predictions(
                parent, as_signature(contract), artifacts, tolerance, actor
            )
        bump, reasons = classify(diff, predictions, changed)
        compared = predictions is not None and predictions.compared
        return Classification(
            parent=parent.uri,
            bump=bump,
            computed=first,
            method="predictions" if compared else "artifacts",
            contract=diff,
            predictions=predictions,
            artifacts_changed=changed,
            reasons=reasons,
        )

    def _predictions(
        self,
        parent: Version,
        sig: Signature | None,
        artifacts: Sequence[Artifact],
        tolerance: float,
        actor: str,
    ) -> PredictionCheck:
        def skipped(why: str) -> PredictionCheck:
            return PredictionCheck(compared=False, tolerance=tolerance, message=why)

        sample = next((a for a in parent.artifacts if a.path == SAMPLE_PATH), None)
        if sample is None:
            return skipped(f"{parent.uri} has no stored input sample to predict on")
        staged: list[Staged] = []
        try:
            try:
                staged.append(self.loading.stage(parent.uri, actor=actor, purpose="classify"))
                staged.append(self.loading.stage_files("the new version", artifacts, sig))
            except (InvalidInput, UnsafeArtifact) as exc:
                return skipped(f"predictions not compared: {exc}")
            old, new = staged
            folder = new.folder
            request = {
                "mode": "compare",
                "sample": str(old.folder / SAMPLE_PATH),
                "parent": _side(old),
                "new": _side(new),
                "tolerance": tolerance,
                "memory_mb": DEFAULT_MEMORY_MB,
                "timeout_s": DEFAULT_TIMEOUT_S,
                "result": str(folder / ".modelbook-compare-result.json"),
            }
            outcome = spawn_worker(request, folder, DEFAULT_TIMEOUT_S)
        finally:
            for s in staged:
                s.cleanup()
        if not outcome.get("compared"):
            return skipped(f"predictions not compared: {outcome.get('message', 'no result')}")
        return PredictionCheck.model_validate(
            {k: outcome[k] for k in ("compared", "rows", "changed", "tolerance", "message")}
        )


def _side(staged: Staged) -> dict[str, Any]:
    return {
        "uri": staged.uri,
        "folder": str(staged.folder),
        "path": staged.path,
        "flavor": staged.flavor.name,
        "signature": None
        if staged.signature is None
        else json.loads(staged.signature.model_dump_json()),
    }


def check_tolerance(value: object) -> float:
    """A prediction tolerance: a finite number from 0 to 1 (absolute and relative)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= 1  # also refuses NaN
    ):
        raise InvalidInput(f"tolerance must be a number from 0 to 1, got {str(value)[:40]!r}")
    return float(value)


__all__ = ["ClassifyService", "artifact_changes", "check_tolerance", "contract_changes"]
