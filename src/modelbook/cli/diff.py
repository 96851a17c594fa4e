"""``modelbook diff URI URI``: what differs between two versions.

The registry computes the diff (:meth:`~modelbook.Registry.diff`); this
module only renders it: one table per section that has a difference, or
``--json`` (the shape is documented in ``docs/cli.md``). It exits 0 whether
or not the versions differ.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .app import JsonOpt, app, open_registry
from .render import emit_json, fmt_time, heading, line, safe, table

if TYPE_CHECKING:
    from ..version_diff import Change, VersionDiff, VersionRef

UriArg = Annotated[str, typer.Argument(help="models:/NAME/N, /SEMVER, @ALIAS or /latest.")]


@app.command()
def diff(a: UriArg, b: UriArg, as_json: JsonOpt = False) -> None:
    """Show what differs from version A to version B (of one model or of two)."""
    with open_registry(create=False) as registry:
        result = registry.diff(a, b)
    if as_json:
        emit_json(result.model_dump(mode="json"))
        return
    _report(result)


def _value(value: Any) -> str:
    """A value as one cell: ``-`` when absent, ``k=v, ...`` for objects, JSON for lists."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, dict):
        # A data snapshot or feature set: its set fields as k=v, the unset ones left out.
        return ", ".join(f"{k}={_value(v)}" for k, v in value.items() if v is not None)
    return json.dumps(value, ensure_ascii=False, default=str)


def _number(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+g}" if signed else f"{value:g}"


def _side(label: str, ref: VersionRef) -> str:
    return (
        f"{label}: {safe(ref.uri)}  semver {safe(ref.semver)}  "
        f"created {fmt_time(ref.created_at)} by {safe(ref.created_by)}"
    )


def _changes(title: str, changes: Sequence[Change]) -> None:
    if changes:
        table(
            ("field", "before", "after"),
            ((c.field, _value(c.before), _value(c.after)) for c in changes),
            title=title,
        )


def _report(d: VersionDiff) -> None:
    heading(f"{safe(d.a.uri)} -> {safe(d.b.uri)}")
    line(_side("a", d.a))
    line(_side("b", d.b))
    if not d.same_model:
        line(
            f"note: these are versions of two different models "
            f"({safe(d.a.model)} and {safe(d.b.model)})"
        )
    if not d.changed:
        line("no differences")
        return
    _changes("fields", d.fields)
    if d.contract is not None:
        verdict = {True: "compatible", False: "incompatible", None: "not judged"}
        line(
            f"contract: {d.contract.status}, {verdict[d.contract.compatible]}: "
            f"{safe(d.contract.detail)}"
        )
        if d.contract.changes:
            table(
                ("side", "field", "change", "compatible", "detail"),
                (
                    (c.side, c.field, c.change, "yes" if c.compatible else "no", c.detail)
                    for c in d.contract.changes
                ),
                title="contract",
            )
    if d.metrics:
        table(
            ("metric", "split", "slice", "before", "after", "delta"),
            (
                (
                    m.name,
                    m.split or "",
                    ",".join(f"{k}={v}" for k, v in sorted(m.slice.items())),
                    _number(m.before),
                    _number(m.after),
                    _number(m.delta, signed=True),
                )
                for m in d.metrics
            ),
            title="metrics",
        )
    _changes("lineage", d.lineage)
    _changes("training", d.training)
    _changes("environment", d.environment)
    if d.packages:
        table(
            ("package", "change", "before", "after"),
            ((p.name, p.change, p.before or "-", p.after or "-") for p in d.packages),
            title="packages",
        )
    if d.artifacts:
        table(
            ("path", "change", "size before", "size after", "size delta", "sha256 before", "after"),
            (
                (
                    f.path,
                    f.change,
                    _value(f.before_size),
                    _value(f.after_size),
                    f"{f.size_delta:+d}",
                    (f.before_sha256 or "-")[:12],
                    (f.after_sha256 or "-")[:12],
                )
                for f in d.artifacts
            ),
            title="artifacts",
        )
        line(f"size delta: {d.size_delta:+d} bytes")
