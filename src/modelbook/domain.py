"""The vocabulary of modelbook as typed, immutable values.

These classes carry no behaviour that touches storage; the :class:`Registry`
builds them from the store and hands them out. They are frozen so that a
version handed to a caller cannot be edited by accident.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from .limits import Short, Text, Value
from .manifest_paths import ManifestPath, Sha256, one_tree
from .semver import Classification

RiskTier = Literal["low", "medium", "high"]
RISK_TIERS: tuple[str, ...] = ("low", "medium", "high")


class Stage(enum.StrEnum):
    """Where a version is in its release flow."""

    STAGING = "staging"
    CANDIDATE = "candidate"
    APPROVED = "approved"
    DEPLOYED = "deployed"
    ARCHIVED = "archived"


class StageName(str):
    """A stage's name: one of :class:`Stage` or a stage the policy declares.

    It is a plain ``str``; ``.value`` gives the name as a :class:`Stage` member does,
    so code written against the default stages reads custom ones the same way.
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        return str(self)


class FrozenDict(dict[Any, Any]):
    """A ``dict`` that refuses every change, so it can be shared between callers.

    It is still a ``dict`` (``json.dumps``, ``isinstance`` and equality work as
    usual); any method that would change it raises ``TypeError``.
    """

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise TypeError("this mapping is part of a read-only modelbook value; copy it with dict()")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=repr)))

    def __copy__(self) -> dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


# Values with nothing inside them to change: :func:`freeze` returns them as they are.
_LEAVES = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """A deeply read-only copy: mappings become :class:`FrozenDict`, lists tuples."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    # Parsed JSON is plain dicts and lists: they are told apart without the ABC checks,
    # which a version's contract (hundreds of nodes) would pay at every node.
    if kind is dict or isinstance(value, Mapping):
        return FrozenDict({k: freeze(v) for k, v in value.items()}) if value else _EMPTY
    if kind is list or isinstance(value, list | tuple):
        return tuple([freeze(v) for v in value])
    return value


# The one empty read-only mapping: nothing can change it, so every value shares it.
_EMPTY = FrozenDict()


def _frozen_map(value: Mapping[Any, str]) -> FrozenDict:
    """A validated mapping of text, read-only.

    Its values are text (``FrozenMap`` bounds them to ``str``), so there is
    nothing inside to freeze: no walk. A read builds several of these per
    version (tags, params, each metric's slice); the empty ones, the most
    common, are all the one shared ``_EMPTY``.
    """
    return FrozenDict(value) if value else _EMPTY


def thaw(value: Any) -> Any:
    """Plain ``dict``/``list`` data back from :func:`freeze` (for JSON and callers)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


_K = TypeVar("_K")
# Text only: a value with parts of its own would need freezing too (see FrozenJSON).
_V = TypeVar("_V", bound=str)

#: A read-only mapping of text values: returned values can be shared (cached)
#: without a caller's edit reaching anyone else. Serialises as a plain object.
FrozenMap = Annotated[
    Mapping[_K, _V],
    AfterValidator(_frozen_map),
    PlainSerializer(thaw, return_type=dict),
]
#: Any JSON object, read-only all the way down.
FrozenJSON = Annotated[
    Mapping[str, Any],
    AfterValidator(freeze),
    PlainSerializer(thaw, return_type=dict),
]


class Frozen(BaseModel):
    """A value that cannot be changed after it is built, not even in nested fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Model(Frozen):
    """A named line of versions."""

    name: str
    owners: tuple[Short, ...]
    task: Short | None = None
    risk_tier: RiskTier = "low"
    description: Text | None = None
    tags: FrozenMap[str, str] = Field(default_factory=FrozenDict)
    created_at: datetime
    created_by: Short
    latest_version: int = 0


class Artifact(Frozen):
    """One file of a version, stored by content.

    Only what a registration writes: ``path`` a relative manifest path (see
    :func:`~modelbook.manifest_paths.check_manifest_paths`), ``size`` a byte count,
    ``sha256`` 64 lowercase hex characters. A stored version whose manifest breaks
    these cannot be read (``IntegrityError`` naming it), so no read of it, nor any
    write decided on it, takes a path outside its folder or a blob not named by hash.
    """

    path: ManifestPath
    size: int = Field(ge=0)
    sha256: Sha256


def _slice_value(value: str) -> str:
    # Keys stay as earlier releases wrote them (``region=north america``): policies,
    # observations and expressions name metrics by them. Only a value that begins
    # with a quote is quoted, since unquoted it would read as a quoted one.
    if value[:1] in ("'", '"'):
        return "'" + value.replace("'", "''") + "'"
    return value


class Metric(Frozen):
    """A measured value, optionally for one split and one slice of the data.

    Written as ``name``, ``name@split``, ``name{k=v}`` or ``name@split{k=v,k2=v2}``.
    """

    name: str
    value: float
    split: str | None = None
    slice: FrozenMap[str, str] = Field(default_factory=FrozenDict)

    @property
    def key(self) -> str:
        """The metric as written at registration and in policies: ``auc@test{region=eu}``
        (a slice value as it is, ``{region=north america}``; one that begins with a
        quote is quoted). :func:`modelbook.validation.metric` reads it back."""
        text = self.name
        if self.split:
            text += f"@{self.split}"
        if self.slice:
            items = (f"{k}={_slice_value(v)}" for k, v in sorted(self.slice.items()))
            text += "{" + ",".join(items) + "}"
        return text

    @property
    def slice_key(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.slice.items()))


class CodeRef(Frozen):
    repo: Value | None = None
    commit: Value | None = None
    dirty: bool | None = None
    branch: Value | None = None


class DataRef(Frozen):
    """A dataset snapshot a version was trained or evaluated on."""

    snapshot: Value
    sha256: Value | None = None
    window: Value | None = None
    sampling: Value | None = None
    role: Value = "train"


class FeatureSetRef(Frozen):
    name: Value
    version: Value | None = None


class Lineage(Frozen):
    code: CodeRef = Field(default_factory=CodeRef)
    data: tuple[DataRef, ...] = ()
    features: FeatureSetRef | None = None
    run_id: Value | None = None
    experiment_id: Value | None = None
    parents: tuple[Value, ...] = ()


class Training(Frozen):
    params: FrozenMap[str, str] = Field(default_factory=FrozenDict)
    seed: int | None = None
    hardware: Value | None = None
    duration_seconds: float | None = None


class LockfileRef(Frozen):
    """A lock file: its path on the machine that registered the version, its sha256, and,
    when it lies inside the recorded git repository, its path in a checkout of it."""

    path: Value
    sha256: Value
    repo_path: Value | None = None


class Environment(Frozen):
    """The software and hardware a version was produced with."""

    python: Value | None = None
    platform: Value | None = None
    packages_sha256: Value | None = None
    frameworks: FrozenMap[str, Value] = Field(default_factory=FrozenDict)
    lockfile: LockfileRef | None = None
    image_digest: Value | None = None
    cpu: Value | None = None
    gpu: Value | None = None


class Version(Frozen):
    """One immutable release of a model.

    Everything but ``stage``, ``tags``, ``aliases`` (the aliases that point
    at it when it was read) and ``deprecated`` is frozen at registration; a change is a new
    version. The value itself is read-only all the way down. ``classification``
    is the evidence behind its semver (what changed since its parent); None for
    versions registered before modelbook classified changes.
    """

    model: str
    number: int
    semver: str
    artifacts: Annotated[tuple[Artifact, ...], AfterValidator(one_tree)]
    contract: FrozenJSON | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    training: Training = Field(default_factory=Training)
    environment: Environment = Field(default_factory=Environment)
    metrics: tuple[Metric, ...] = ()
    caveats: tuple[Text, ...] = ()
    change_summary: Text | None = None
    classification: Classification | None = None
    created_by: Short
    created_at: datetime
    stage: Annotated[str, AfterValidator(StageName)] = StageName(Stage.STAGING.value)
    tags: FrozenMap[str, str] = Field(default_factory=FrozenDict)
    aliases: tuple[str, ...] = ()
    deprecated: bool = False

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


class VersionSummary(Frozen):
    """A version as a listing names it: its identity and the columns that change after
    registration, typed as :class:`Version` types them, without its stored record
    (artifacts, contract, lineage, metrics ...). ``Registry.search(..., fields="summary")``
    returns these; :meth:`~modelbook.Registry.get_version` reads the whole version."""

    model: str
    number: int
    semver: str
    stage: Annotated[str, AfterValidator(StageName)]
    tags: FrozenMap[str, str] = Field(default_factory=FrozenDict)
    aliases: tuple[str, ...] = ()
    created_at: datetime
    created_by: Short
    deprecated: bool = False

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.number}"


class Alias(Frozen):
    """A movable pointer from a name such as ``production`` to one version."""

    model: str
    name: str
    version: int
    updated_at: datetime
    updated_by: str
    #: The semver MAJOR the alias is pinned to (``alias pin``), or None.
    pinned_major: int | None = None


class AliasEvent(Frozen):
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
    """One page of a listing; pass ``next_page_token`` back to get the next.

    ``unreadable`` names the items of this page that are stored but could not
    be read (a damaged row): the rest of the listing is still returned.
    """

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_page_token: str | None = None
    unreadable: tuple[str, ...] = ()


class Problem(Frozen):
    model: str
    version: int
    path: str
    sha256: str
    kind: Literal["missing", "corrupt"]
    detail: str


class VerifyReport(Frozen):
    """The outcome of rehashing stored artifacts."""

    versions: int
    files: int
    bytes: int
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems
