"""The difference between two contracts, each change compatible or not (pure).

Semantic versioning reads it: an incompatible change is a MAJOR release, a
compatible one at least MINOR. The rules, from the point of view of a caller
of the old version who moves to the new one unchanged:

- inputs: a removed input, a renamed one (a field removed and another of the
  same dtype and shape added at the same position), a new required input, a
  dtype that no longer holds the old values, a field that stops accepting
  missing values, a changed shape or a changed kind of value (DataFrame to
  array) is incompatible; a new nullable input, a widened dtype (int32 to
  int64, int64 to float64), a field that starts accepting missing values and
  a fixed size that becomes any size are compatible.
- outputs: every change is incompatible (callers read them), but declaring
  outputs where the old contract had none is compatible.
- runtime: another framework is incompatible (another loader), another
  framework version is compatible (environment drift judges it). Framework
  names are compared in their PEP 503 form and versions under PEP 440
  (``scikit_learn 1.4`` is ``scikit-learn 1.4.0``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .contract import FieldSpec, Schema, Signature, holds, shape_fits
from .distributions import canonical_name, same_version

Change = Literal["added", "removed", "renamed", "dtype", "nullable", "shape", "kind", "runtime"]
Side = Literal["inputs", "outputs", "runtime"]


class FieldChange(BaseModel):
    """One change between two contracts.

    Attributes:
        side: ``inputs``, ``outputs`` or ``runtime``.
        field: the field's name (the new name of a renamed field; the
            schema's kind or the runtime key for those changes).
        change: what changed.
        before, after: the field as it was and as it is (None when absent).
        compatible: whether a caller of the old version keeps working.
        detail: the change in one sentence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    side: Side
    field: str
    change: Change
    before: FieldSpec | None = None
    after: FieldSpec | None = None
    compatible: bool
    detail: str


class ContractDiff(BaseModel):
    """Every change from one contract to the next, in field order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    changes: tuple[FieldChange, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def compatible(self) -> bool:
        """True when no change is incompatible (also when nothing changed)."""
        return all(c.compatible for c in self.changes)

    @property
    def incompatible(self) -> tuple[FieldChange, ...]:
        return tuple(c for c in self.changes if not c.compatible)


def diff_contracts(old: Signature, new: Signature) -> ContractDiff:
    """The changes from ``old`` to ``new`` (see the module's rules)."""
    changes = list(_schema_changes("inputs", old.inputs, new.inputs))
    if old.outputs is not None and new.outputs is not None:
        changes += _schema_changes("outputs", old.outputs, new.outputs)
    elif old.outputs is not None:
        changes.append(
            FieldChange(
                side="outputs",
                field="*",
                change="removed",
                compatible=False,
                detail="the outputs are no longer declared",
            )
        )
    elif new.outputs is not None:
        changes.append(
            FieldChange(
                side="outputs",
                field="*",
                change="added",
                compatible=True,
                detail="the outputs are declared for the first time",
            )
        )
    before, after = old.runtime, new.runtime
    if not _same_framework(before.framework, after.framework):
        changes.append(
            FieldChange(
                side="runtime",
                field="framework",
                change="runtime",
                compatible=before.framework is None,
                detail=f"framework {before.framework} -> {after.framework}",
            )
        )
    elif not same_version(before.framework_version, after.framework_version):
        changes.append(
            FieldChange(
                side="runtime",
                field="framework_version",
                change="runtime",
                compatible=True,
                detail=(
                    f"{after.framework} {before.framework_version} -> {after.framework_version}"
                ),
            )
        )
    return ContractDiff(changes=tuple(changes))


def _same_framework(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return canonical_name(a) == canonical_name(b)


def _schema_changes(side: Side, old: Schema, new: Schema) -> list[FieldChange]:
    out = side == "outputs"
    changes: list[FieldChange] = []
    if old.kind != new.kind:
        changes.append(
            FieldChange(
                side=side,
                field=new.kind,
                change="kind",
                compatible=False,
                detail=f"{side} were a {old.kind}, now a {new.kind}",
            )
        )
    removed = [f for f in old.fields if new.field(f.name) is None]
    added = [f for f in new.fields if old.field(f.name) is None]
    renamed = _renames(old, new, removed, added)
    for before, after in renamed.items():
        changes.append(
            FieldChange(
                side=side,
                field=after.name,
                change="renamed",
                before=before,
                after=after,
                compatible=False,
                detail=f"{before.name} looks renamed to {after.name} (same dtype and position)",
            )
        )
    renamed_to = {f.name for f in renamed.values()}
    for f in removed:
        if f not in renamed:
            changes.append(
                FieldChange(
                    side=side,
                    field=f.name,
                    change="removed",
                    before=f,
                    compatible=False,
                    detail=f"{f.name} was removed",
                )
            )
    for f in added:
        if f.name not in renamed_to:
            ok = not out and f.nullable
            changes.append(
                FieldChange(
                    side=side,
                    field=f.name,
                    change="added",
                    after=f,
                    compatible=ok,
                    detail=f"{f.name} was added"
                    + ("" if out else " (nullable)" if f.nullable else " (required)"),
                )
            )
    for kept in old.fields:
        now = new.field(kept.name)
        if now is not None:
            changes += _field_changes(side, kept, now)
    return changes


def _renames(
    old: Schema, new: Schema, removed: list[FieldSpec], added: list[FieldSpec]
) -> dict[FieldSpec, FieldSpec]:
    """Removed fields paired with the added field at the same position and of the same type."""
    pairs: dict[FieldSpec, FieldSpec] = {}
    taken: set[str] = set()
    for f in removed:
        at = old.fields.index(f)
        if at < len(new.fields):
            g = new.fields[at]
            if g in added and g.name not in taken and (g.dtype, g.shape) == (f.dtype, f.shape):
                pairs[f] = g
                taken.add(g.name)
    return pairs


def _tz(tz: str | None) -> str:
    return "none (naive)" if tz is None else tz


def _field_changes(side: Side, before: FieldSpec, after: FieldSpec) -> list[FieldChange]:
    out = side == "outputs"
    name = before.name
    found: list[FieldChange] = []
    if before.dtype != after.dtype:
        found.append(
            FieldChange(
                side=side,
                field=name,
                change="dtype",
                before=before,
                after=after,
                compatible=not out and holds(after.dtype, before.dtype),
                detail=f"{name}: dtype {before.dtype} -> {after.dtype}",
            )
        )
    elif before.dtype == "datetime" and before.tz != after.tz:
        # Another zone moves every local time (an hour-of-day feature, a date cut).
        found.append(
            FieldChange(
                side=side,
                field=name,
                change="dtype",
                before=before,
                after=after,
                compatible=False,
                detail=f"{name}: time zone {_tz(before.tz)} -> {_tz(after.tz)}",
            )
        )
    if before.nullable != after.nullable:
        found.append(
            FieldChange(
                side=side,
                field=name,
                change="nullable",
                before=before,
                after=after,
                compatible=not out and after.nullable,
                detail=f"{name}: "
                + ("now accepts missing values" if after.nullable else "no longer nullable"),
            )
        )
    if before.shape != after.shape:
        found.append(
            FieldChange(
                side=side,
                field=name,
                change="shape",
                before=before,
                after=after,
                compatible=not out and shape_fits(after.shape, before.shape),
                detail=f"{name}: shape {list(before.shape)} -> {list(after.shape)}",
            )
        )
    return found
