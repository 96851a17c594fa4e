"""Semver classification at registration: what changed since the parent, with evidence.

Registration calls :meth:`ClassifyService.classify` after the new version's
files are stored and before its transaction: the contract diff, the
artifacts' hashes and, when the earlier version has a stored input sample and
both versions have a model modelbook can load, their predictions on that
sample (both models loaded in one subprocess under the smoke test's memory
limit and the comparison's time limit, pickles scanned first).
:func:`modelbook.semver.classify` turns each comparison into a bump. The new
version is compared with its parent and, when the parent is not the version
holding the model's highest semver (the one the new semver follows), with
that version too; :func:`modelbook.semver.combine` takes the larger bump.
The comparisons themselves are made in :mod:`.comparison`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ..contract import SAMPLE_PATH, Signature, as_signature
from ..domain import Artifact, Version
from ..errors import InvalidInput, NotFound, UnsafeArtifact, shown
from ..semver import (
    FIRST,
    Bump,
    Classification,
    PredictionCheck,
)
from ..smoke import DEFAULT_MEMORY_MB
from ..store import models as model_rows
from ..store import versions as version_rows
from .base import Context, version_ref, version_row
from .comparison import classification, compare
from .loading import LoadService, Staged
from .smoke import MAX_TIMEOUT_S, spawn_worker

#: Seconds one prediction comparison (both models loaded, both predicting) may take
#: unless told otherwise: shorter than the smoke test's 120 s, because every later
#: registration compares with the parent again, and a comparison that does not finish
#: only makes the classification fall back to the artifacts' hashes.
DEFAULT_COMPARE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class CompareOptions:
    """How predictions are compared: ``tolerance`` (absolute and relative), whether
    at all (``predictions``), and the time limit of one comparison (``timeout_s``)."""

    tolerance: float
    predictions: bool = True
    timeout_s: float = DEFAULT_COMPARE_TIMEOUT_S


def overtaken(
    ctx: Context,
    conn: Connection,
    name: str,
    highest: str,
    contract: Any,
    manifest: Sequence[Artifact],
    options: CompareOptions,
    change: Classification,
) -> Classification:
    """``change`` with its comparison with the highest semver made again against
    ``highest``, the semver of model ``name`` that a version registered while this
    one was being compared holds now (``conn``: the registration's transaction, the
    model's row locked).

    The models are not loaded (that may take minutes with the row locked): the
    contract and the artifacts' hashes decide, and changed files are MINOR, never
    PATCH.
    """
    latest = ctx.cache.version(name, version_row(conn, version_ref(name, highest)))
    by_highest = compare(
        latest,
        contract,
        manifest,
        options.tolerance,
        None,
        f"{latest.uri} was registered while this version was being compared",
    )
    by_parent = dict(change.comparisons()).get("parent")
    return classification(by_parent, by_highest, FIRST)


class ClassifyService:
    """Finds a new version's parent and gathers the evidence of its semver."""

    def __init__(self, ctx: Context, loading: LoadService) -> None:
        self.ctx = ctx
        self.loading = loading

    def compared(
        self,
        name: str,
        lineage_parents: Sequence[tuple[str, int]],
        seen: tuple[Any, Any] | None = None,
    ) -> tuple[Version | None, Version | None]:
        """The versions a new version of ``name`` is compared with: its parent and the
        version holding the model's highest semver (the one a new semver follows).

        The parent is the first lineage parent of the same model, else the
        model's latest version; None for a model's first version. The latest
        version always holds the highest semver, so then the two are one. The
        model and its latest version are ``seen`` (their rows as
        :func:`~modelbook.store.versions.model_and_latest` reads them), or read
        together now; the registration's transaction checks that no version was
        registered since.
        """
        model_row, latest_row = (
            seen
            if seen is not None
            else self.ctx.db.reading(lambda conn: version_rows.model_and_latest(conn, name))
        )
        for model, number in lineage_parents:
            if model == name:
                parent = self.loading.versions.get(f"models:/{model}/{number}")
                return parent, self._highest(name, parent, model_row)
        latest = None if latest_row is None else self.ctx.cache.version(name, latest_row)
        return latest, latest

    def _highest(self, name: str, parent: Version, model_row: Any) -> Version | None:
        """The version holding the highest semver of model ``name`` (whose row is
        ``model_row``): ``parent`` itself when it holds it."""
        semver = None if model_row is None else model_rows.highest_semver(model_row)
        if semver is None:
            return None
        if parent.model == name and parent.semver == semver:
            return parent
        with contextlib.suppress(NotFound):
            return self.loading.versions.get(f"models:/{name}/{semver}")
        return None

    def classify(
        self,
        parent: Version | None,
        highest: Version | None,
        contract: Any,
        artifacts: Sequence[Artifact],
        *,
        actor: str,
        options: CompareOptions,
        first: str,
    ) -> Classification:
        """The evidence and the bump; ``first`` is the semver of a model's first version.

        ``parent`` is the version compared with and ``highest``
        the one holding the model's highest semver (both from :meth:`compared`), compared
        with as well when it is another version. ``contract`` is the new
        version's stored contract (JSON data or None); ``artifacts`` its
        manifest. The semver itself is computed in the registration's
        transaction, from the model's highest semver then.
        """
        sig = as_signature(contract)

        def predict(earlier: Version) -> PredictionCheck:
            return self._predictions(earlier, sig, artifacts, options, actor)

        off = (
            None
            if options.predictions
            else "turned off (compare_predictions=False, --no-compare-predictions)"
        )
        by_parent = None
        if parent is not None:
            by_parent = compare(parent, contract, artifacts, options.tolerance, predict, off)
        by_highest = None
        if highest is not None and (parent is None or highest.uri != parent.uri):
            skip = off
            if skip is None and by_parent is not None and by_parent.bump is not Bump.PATCH:
                # Predictions only tell PATCH from MINOR: the parent already calls for more.
                skip = (
                    f"the comparison with {by_parent.version} already calls for "
                    f"{by_parent.bump.value.upper()}"
                )
            by_highest = compare(highest, contract, artifacts, options.tolerance, predict, skip)
        return classification(by_parent, by_highest, first)

    def _predictions(
        self,
        parent: Version,
        sig: Signature | None,
        artifacts: Sequence[Artifact],
        options: CompareOptions,
        actor: str,
    ) -> PredictionCheck:
        tolerance = options.tolerance

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
                "timeout_s": options.timeout_s,
                "result": str(folder / ".modelbook-compare-result.json"),
            }
            start = time.monotonic()
            outcome = spawn_worker(request, folder, options.timeout_s)
            took = time.monotonic() - start
        finally:
            for s in staged:
                s.cleanup()
        if not outcome.get("compared"):
            message = f"predictions not compared: {outcome.get('message', 'no result')}"
            if took >= options.timeout_s:
                message += (
                    " (the comparison's time limit: give more with --compare-timeout "
                    "SECONDS, or skip it with --no-compare-predictions)"
                )
            return skipped(message)
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
        raise InvalidInput(f"tolerance must be a number from 0 to 1, got {shown(value, 40)}")
    return float(value)


def check_compare_timeout(value: object) -> float:
    """The time limit of one prediction comparison: seconds, more than 0 and at most
    an hour (the smoke test's largest)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_TIMEOUT_S  # also refuses NaN
    ):
        raise InvalidInput(
            f"compare timeout must be more than 0 and at most {MAX_TIMEOUT_S:.0f} seconds, "
            f"got {shown(value, 40)}"
        )
    return float(value)


def check_compare_predictions(value: object) -> bool:
    """Whether to compare predictions: True or False, nothing that merely looks like it."""
    if not isinstance(value, bool):
        raise InvalidInput(f"compare_predictions must be True or False, got {shown(value, 40)}")
    return value


__all__ = [
    "DEFAULT_COMPARE_TIMEOUT_S",
    "ClassifyService",
    "CompareOptions",
    "check_compare_predictions",
    "check_compare_timeout",
    "check_tolerance",
    "overtaken",
]
