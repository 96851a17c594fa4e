"""The vocabulary of modelbook as typed, immutable values.

These classes carry no behaviour that touches storage; the :class:`Registry`
builds them from the store and hands them out. They are frozen so that a
version handed to a caller cannot be edited by accident.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

RiskTier = Literal["low", "medium", "high"]
RISK_TIERS: tuple[str, ...] = ("low", "medium", "high")


class Stage(enum.StrEnum):
    """Where a version is in its release flow."""

    STAGING = "staging"
    CANDIDATE = "candidate"
    APPROVED = "approved"
    DEPLOYED = "deployed"
    ARCHIVED = "archived"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Model(_Frozen):
    """A named line of versions."""

    name: str
    owners: tuple[str, ...]
    task: str | None = None
    risk_tier: RiskTier = "low"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    created_by: str
    latest_version: int = 0


class Artifact(_Frozen):
    """One file of a version, stored by content."""

    path: str
    size: int
    sha256: str


class Metric(_Frozen):
    """A measured value, optionally for one split and one slice of the data.

    Written as ``name``, ``name@split``, ``name{k=v}`` or ``name@split{k=v,k2=v2}``.
    """

    name: str
    value: float
    split: str | None = None
    slice: dict[str, str] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        text = self.name
        if self.split:
            text += f"@{self.split}"
        if self.slice:
            text += "{" + ",".join(f"{k}={v}" for k, v in sorted(self.slice.items())) + "}"
        return text

    @property
    def slice_key(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.slice.items()))


class CodeRef(_Frozen):
    repo: str | None = None
    commit: str | None = None
    dirty: bool | None = None
    branch: str | None = None


class DataRef(_Frozen):
    """A dataset snapshot a version was trained or evaluated on."""

    snapshot: str
    sha256: str | None = None
    window: str | None = None
    sampling: str | None = None
    role: str = "train"


class FeatureSetRef(_Frozen):
    name: str
    version: str | None = None


class Lineage(_Frozen):
    code: CodeRef = Field(default_factory=CodeRef)
    data: tuple[DataRef, ...] = ()
    features: FeatureSetRef | None = None
    run_id: str | None = None
    experiment_id: str | None = None
    parents: tuple[str, ...] = ()


class Training(_Frozen):
    params: dict[str, str] = Field(default_factory=dict)
    seed: int | None = None
    hardware: str | None = None
    duration_seconds: float | None = None


class LockfileRef(_Frozen):
    path: str
    sha256: str


class Environment(_Frozen):
    """The software and hardware a version was produced with."""

    python: str | None = None
    platform: str | None = None
    packages_sha256: str | None = None
    frameworks: dict[str, str] = Field(default_factory=dict)
    lockfile: LockfileRef | None = None
    image_digest: str | None = None
    cpu: str | None = None
    gpu: str | None = None


class Version(_Frozen):
    """One immutable release of a model.

    Everything but ``stage`` and ``tags`` is frozen at registration; a change
    is a new version.
    """

    model: str
    number: int
    semver: str
    artifacts: tuple[Artifact, ...]
    contract: dict[str, Any] | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    training: Training = Field(default_factory=Training)
    environment: Environment = Field(default_factory=Environment)
    metrics: tuple[Metric, ...] = ()
    caveats: tuple[str, ...] = ()
    change_summary: str | None = None
    created_by: str
    created_at: datetime
    stage: Stage = Stage.STAGING
    tags: dict[str, str] = Field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.number}"

    @property
    def size(self) -> int:
        return sum(a.size for a in self.artifacts)

    def metric(self, name: str, split: str | None = None, **slice_: str) -> float | None:
        """The value of one metric, or None when the version does not carry it."""
        for m in self.metrics:
            if m.name == name and m.split == split and m.slice == slice_:
                return m.value
        return None


class Alias(_Frozen):
    """A movable pointer from a name such as ``production`` to one version."""

    model: str
    name: str
    version: int
    updated_at: datetime
    updated_by: str


class AliasEvent(_Frozen):
    """One move of an alias: set (from None), moved, or removed (to None)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    reason: str
    at: datetime


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_page_token`` back to get the next."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_page_token: str | None = None


class Problem(_Frozen):
    model: str
    version: int
    path: str
    sha256: str
    kind: Literal["missing", "corrupt"]
    detail: str


class VerifyReport(_Frozen):
    """The outcome of rehashing stored artifacts."""

    versions: int
    files: int
    bytes: int
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems
