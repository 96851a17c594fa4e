"""``lineage_complete``: the version says where it came from.

Policy::

    check = "lineage_complete"
    fields = ["code.commit", "data", "data.sha256", "environment.lockfile"]

Each field must be present on the version; see :data:`FIELDS` for the names.
A version never changes, so a missing field is fixed by registering a new
version that carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated

from pydantic import AfterValidator, Field, JsonValue

from ..domain import Version
from ..hashes import data_hashed, lockfile_hashed
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "lineage_complete"

Probe = Callable[[Version], bool]

FIELDS: Mapping[str, tuple[Probe, str]] = MappingProxyType(
    {
        "code.repo": (lambda v: bool(v.lineage.code.repo), "register with --repo URL"),
        "code.commit": (
            lambda v: bool(v.lineage.code.commit),
            "register from a git checkout (captured) or with --commit SHA",
        ),
        "code.clean": (
            lambda v: v.lineage.code.dirty is False,
            "commit every change and register from a clean working tree",
        ),
        "data": (lambda v: bool(v.lineage.data), "register with --data-snapshot ID"),
        "data.sha256": (data_hashed, "give every data snapshot its sha256 (64 hex digits)"),
        "data.window": (
            lambda v: bool(v.lineage.data) and all(d.window for d in v.lineage.data),
            "give every data snapshot its time window",
        ),
        "features": (
            lambda v: v.lineage.features is not None,
            "register with --features NAME@VERSION",
        ),
        "features.version": (
            lambda v: v.lineage.features is not None and bool(v.lineage.features.version),
            "register with --features NAME@VERSION",
        ),
        "run_id": (lambda v: bool(v.lineage.run_id), "register with --run-id ID"),
        "experiment_id": (
            lambda v: bool(v.lineage.experiment_id),
            "register with --experiment-id ID",
        ),
        "environment.python": (
            lambda v: bool(v.environment.python),
            "register without --no-capture so the environment is captured",
        ),
        "environment.lockfile": (
            lockfile_hashed,
            "register from a project with a lockfile (uv.lock, poetry.lock, requirements.txt ...)",
        ),
        "environment.packages_sha256": (
            lambda v: bool(v.environment.packages_sha256),
            "register without --no-capture so installed packages are hashed",
        ),
        "environment.image_digest": (
            lambda v: bool(v.environment.image_digest),
            "register with --image-digest or MODELBOOK_IMAGE_DIGEST set",
        ),
        "training.seed": (lambda v: v.training.seed is not None, "register with --seed N"),
    }
)
"""Field name → (is it present on a version, how to provide it)."""


def _known(value: str) -> str:
    if value not in FIELDS:
        raise ValueError(f"unknown lineage field {value!r} (known: {', '.join(FIELDS)})")
    return value


class Params(CheckParams):
    """``fields``: one or more names from :data:`FIELDS`."""

    fields: tuple[Annotated[str, AfterValidator(_known)], ...] = Field(min_length=1)


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when every named field is present; the evidence maps each to true/false."""
    present: dict[str, JsonValue] = {f: FIELDS[f][0](version) for f in params.fields}
    missing = [f for f, ok in present.items() if not ok]
    if missing:
        hints = "; ".join(dict.fromkeys(FIELDS[f][1] for f in missing))
        return failed(
            NAME,
            f"version {version.number} lacks {', '.join(missing)}",
            f"{hints} (a registered version never changes: register a new one)",
            fields=present,
        )
    return passed(NAME, f"present: {', '.join(params.fields)}", fields=present)


CHECK = CheckDef(NAME, Params, run, "named lineage and environment fields are present")
