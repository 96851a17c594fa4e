"""What differs between two versions, section by section (pure, no I/O).

:func:`diff_versions` compares two :class:`~modelbook.domain.Version` values,
of one model or of two, and returns a :class:`VersionDiff` that lists only
what differs, so two versions that carry the same content give an empty
diff (``changed`` is False). A version's identity (model, number) and when
and by whom it was registered are not differences: they are shown in the
``a`` and ``b`` headers.

Sections:

- ``fields``: the row fields ``semver``, ``stage``, ``deprecated``,
  ``aliases``, ``tags.KEY``, ``change_summary`` and ``caveats``;
- ``contract``: the signature change list of
  :func:`~modelbook.contract_diff.diff_contracts` (the one contract rule),
  or that a contract was added, removed or a free-form one changed;
- ``metrics``: each metric by name, split and slice, with its delta;
- ``lineage``: ``code.*``, ``data[ROLE:SNAPSHOT]``, ``features``,
  ``run_id``, ``experiment_id``, ``parents``;
- ``training``: ``params.KEY``, ``seed``, ``hardware``, ``duration_seconds``;
- ``environment``: ``python``, ``platform``, ``packages_sha256``,
  ``lockfile.*``, ``image_digest``, ``cpu``, ``gpu``; and ``packages``, the
  recorded framework packages added, removed or at another version;
- ``artifacts``: each file added, removed or changed (by sha256), with
  its size delta, and ``size_delta`` for the whole version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, computed_field

from .contract import as_signature
from .contract_diff import FieldChange, diff_contracts
from .distributions import by_canonical_name, same_version
from .domain import FrozenDict, FrozenMap, Metric, Version, freeze, thaw
from .lineage_urls import shown_version

Status = Literal["added", "removed", "changed"]
#: A JSON value (text, number, bool, null, list or object), read-only all the way down.
FrozenValue = Annotated[Any, AfterValidator(freeze), PlainSerializer(thaw)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(Frozen):
    """One field that differs; ``before`` or ``after`` is None where it is absent.

    ``field`` is a dotted path (``code.commit``, ``params.lr``, ``tags.team``,
    ``data[train:s1]``); values are JSON values as the versions carry them.
    """

    field: str
    before: FrozenValue = None
    after: FrozenValue = None


class ContractChange(Frozen):
    """How the contract differs.

    ``status`` is ``added`` or ``removed`` when only one version has a contract,
    else ``changed``. ``compatible`` and ``changes`` come from
    :func:`~modelbook.contract_diff.diff_contracts` when both contracts are
    signatures; otherwise ``compatible`` is None (not judged) and ``changes`` empty.
    """

    status: Status
    compatible: bool | None = None
    changes: tuple[FieldChange, ...] = ()
    detail: str


class MetricChange(Frozen):
    """One metric (name, split and slice) whose value differs; ``delta`` is after - before."""

    name: str
    split: str | None = None
    slice: FrozenMap[str, str] = Field(default_factory=FrozenDict)
    change: Status
    before: float | None = None
    after: float | None = None
    delta: float | None = None


class PackageChange(Frozen):
    """One recorded package added, removed, or at another version."""

    name: str
    change: Status
    before: str | None = None
    after: str | None = None


class ArtifactChange(Frozen):
    """One file added, removed, or with other content; ``size_delta`` is after - before."""

    path: str
    change: Status
    before_sha256: str | None = None
    after_sha256: str | None = None
    before_size: int | None = None
    after_size: int | None = None
    size_delta: int


class VersionRef(Frozen):
    """Which version a side of the diff is."""

    uri: str
    model: str
    number: int
    semver: str
    created_at: datetime
    created_by: str


class VersionDiff(Frozen):
    """Every difference from version ``a`` to version ``b`` (see the module's sections)."""

    a: VersionRef
    b: VersionRef
    same_model: bool
    fields: tuple[Change, ...] = ()
    contract: ContractChange | None = None
    metrics: tuple[MetricChange, ...] = ()
    lineage: tuple[Change, ...] = ()
    training: tuple[Change, ...] = ()
    environment: tuple[Change, ...] = ()
    packages: tuple[PackageChange, ...] = ()
    artifacts: tuple[ArtifactChange, ...] = ()
    size_delta: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def changed(self) -> bool:
        """True when any section lists a difference."""
        return bool(
            self.fields
            or self.contract
            or self.metrics
            or self.lineage
            or self.training
            or self.environment
            or self.packages
            or self.artifacts
        )


def diff_versions(a: Version, b: Version) -> VersionDiff:
    """The differences from ``a`` to ``b``; they may be versions of two models.
    Repository and data snapshot URLs are shown without their secrets."""
    a, b = shown_version(a), shown_version(b)
    return VersionDiff(
        a=_ref(a),
        b=_ref(b),
        same_model=a.model == b.model,
        fields=tuple(_fields(a, b)),
        contract=_contract(a.contract, b.contract),
        metrics=tuple(_metrics(a, b)),
        lineage=tuple(_lineage(a, b)),
        training=tuple(_training(a, b)),
        environment=tuple(_environment(a, b)),
        packages=tuple(_packages(a.environment.frameworks, b.environment.frameworks)),
        artifacts=tuple(_artifacts(a, b)),
        size_delta=b.size - a.size,
    )


def _ref(v: Version) -> VersionRef:
    return VersionRef(
        uri=v.uri,
        model=v.model,
        number=v.number,
        semver=v.semver,
        created_at=v.created_at,
        created_by=v.created_by,
    )


def _pairs(pairs: Iterable[tuple[str, Any, Any]]) -> list[Change]:
    """A change for each (field, before, after) whose two values differ."""
    return [Change(field=f, before=x, after=y) for f, x, y in pairs if x != y]


def _mapping(prefix: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Keys added, removed or changed, in key order, as ``prefix.KEY``."""
    keys = sorted(set(before) | set(after))
    return _pairs((f"{prefix}.{k}", before.get(k), after.get(k)) for k in keys)


def _sets(field: str, before: Iterable[str], after: Iterable[str]) -> list[Change]:
    """Members removed (after None) then added (before None), so order does not count."""
    old, new = set(before), set(after)
    return [Change(field=field, before=x) for x in sorted(old - new)] + [
        Change(field=field, after=x) for x in sorted(new - old)
    ]


def _fields(a: Version, b: Version) -> list[Change]:
    found = _pairs(
        [
            ("semver", a.semver, b.semver),
            ("stage", str(a.stage), str(b.stage)),
            ("deprecated", a.deprecated, b.deprecated),
        ]
    )
    found += _sets("aliases", a.aliases, b.aliases)
    found += _mapping("tags", a.tags, b.tags)
    found += _pairs([("change_summary", a.change_summary, b.change_summary)])
    found += _sets("caveats", a.caveats, b.caveats)
    return found


def _contract(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> ContractChange | None:
    if before is None and after is None:
        return None
    if before is None:
        return ContractChange(status="added", detail="a contract is declared for the first time")
    if after is None:
        return ContractChange(status="removed", detail="the contract is no longer declared")
    old, new = as_signature(before), as_signature(after)
    if old is not None and new is not None:
        diff = diff_contracts(old, new)
        if not diff.changed:
            return None
        bad = len(diff.incompatible)
        return ContractChange(
            status="changed",
            compatible=diff.compatible,
            changes=diff.changes,
            detail=f"{len(diff.changes)} change(s), {bad} incompatible",
        )
    if thaw(before) == thaw(after):
        return None
    # A free-form contract has no rules to judge it by: say that it changed, no more.
    return ContractChange(status="changed", detail="the contract changed (free-form, not judged)")


def _metrics(a: Version, b: Version) -> list[MetricChange]:
    def by_key(v: Version) -> dict[tuple[str, str, str], Metric]:
        return {(m.name, m.split or "", m.slice_key): m for m in v.metrics}

    old, new = by_key(a), by_key(b)
    found: list[MetricChange] = []
    for key in sorted(set(old) | set(new)):
        x, y = old.get(key), new.get(key)
        m = y if y is not None else x
        assert m is not None  # the key came from one side or the other
        before = None if x is None else x.value
        after = None if y is None else y.value
        if before == after:
            continue
        change: Status = "added" if x is None else "removed" if y is None else "changed"
        delta = None if before is None or after is None else after - before
        found.append(
            MetricChange(
                name=m.name,
                split=m.split,
                slice=m.slice,
                change=change,
                before=before,
                after=after,
                delta=delta,
            )
        )
    return found


def _lineage(a: Version, b: Version) -> list[Change]:
    la, lb = a.lineage, b.lineage
    found = _mapping("code", la.code.model_dump(), lb.code.model_dump())

    def data(v: Version) -> dict[str, dict[str, Any]]:
        return {f"{d.role}:{d.snapshot}": d.model_dump() for d in v.lineage.data}

    da, db = data(a), data(b)
    found += _pairs((f"data[{k}]", da.get(k), db.get(k)) for k in sorted(set(da) | set(db)))
    fa = None if la.features is None else la.features.model_dump()
    fb = None if lb.features is None else lb.features.model_dump()
    found += _pairs(
        [
            ("features", fa, fb),
            ("run_id", la.run_id, lb.run_id),
            ("experiment_id", la.experiment_id, lb.experiment_id),
        ]
    )
    found += _sets("parents", la.parents, lb.parents)
    return found


def _training(a: Version, b: Version) -> list[Change]:
    ta, tb = a.training, b.training
    return _mapping("params", ta.params, tb.params) + _pairs(
        [
            ("seed", ta.seed, tb.seed),
            ("hardware", ta.hardware, tb.hardware),
            ("duration_seconds", ta.duration_seconds, tb.duration_seconds),
        ]
    )


def _environment(a: Version, b: Version) -> list[Change]:
    ea, eb = a.environment, b.environment
    found = _pairs(
        [
            ("python", ea.python, eb.python),
            ("platform", ea.platform, eb.platform),
            ("packages_sha256", ea.packages_sha256, eb.packages_sha256),
        ]
    )
    la = {} if ea.lockfile is None else ea.lockfile.model_dump()
    lb = {} if eb.lockfile is None else eb.lockfile.model_dump()
    found += _mapping("lockfile", la, lb)
    found += _pairs(
        [
            ("image_digest", ea.image_digest, eb.image_digest),
            ("cpu", ea.cpu, eb.cpu),
            ("gpu", ea.gpu, eb.gpu),
        ]
    )
    return found


def _packages(before: Mapping[str, str], after: Mapping[str, str]) -> list[PackageChange]:
    """Packages by their PEP 503 name, versions compared under PEP 440 (``scikit_learn
    1.4`` is ``scikit-learn 1.4.0``); a change is named as version B spells it."""
    found: list[PackageChange] = []
    old, new = by_canonical_name(before), by_canonical_name(after)
    for key in sorted(set(old) | set(new)):
        x, y = old.get(key), new.get(key)
        if x is None or y is None or not same_version(x[1], y[1]):
            change: Status = "added" if x is None else "removed" if y is None else "changed"
            name = (y or x or (key, ""))[0]
            found.append(
                PackageChange(
                    name=name,
                    change=change,
                    before=None if x is None else x[1],
                    after=None if y is None else y[1],
                )
            )
    return found


def _artifacts(a: Version, b: Version) -> list[ArtifactChange]:
    old = {f.path: f for f in a.artifacts}
    new = {f.path: f for f in b.artifacts}
    found: list[ArtifactChange] = []
    for path in sorted(set(old) | set(new)):
        x, y = old.get(path), new.get(path)
        if x is not None and y is not None and x.sha256 == y.sha256:
            continue
        change: Status = "added" if x is None else "removed" if y is None else "changed"
        found.append(
            ArtifactChange(
                path=path,
                change=change,
                before_sha256=None if x is None else x.sha256,
                after_sha256=None if y is None else y.sha256,
                before_size=None if x is None else x.size,
                after_size=None if y is None else y.size,
                size_delta=(0 if y is None else y.size) - (0 if x is None else x.size),
            )
        )
    return found
