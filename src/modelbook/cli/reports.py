"""``modelbook report URI`` and ``modelbook doctor``: audit reports and metadata gaps.

The registry renders the report (:meth:`~modelbook.Registry.report`) and scores
the versions (:meth:`~modelbook.Registry.doctor`); this module prints them.
``report --output FILE`` writes the file whole (a temporary file renamed into
place). ``doctor`` exits 13 (``IncompleteMetadata``) after its listing when a
deployed version lacks a field the policy requires, so CI can run it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .app import JsonOpt, app, open_registry
from .render import emit_json, line, safe, table, write_whole

if TYPE_CHECKING:
    from ..doctor import DoctorReport


@app.command()
def report(
    uri: Annotated[str, typer.Argument(help="models:/NAME/N, /SEMVER, @ALIAS or /latest.")],
    fmt: Annotated[
        str, typer.Option("--format", metavar="md|html", help="Markdown or one HTML page.")
    ] = "md",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file, not stdout (-: stdout)."),
    ] = None,
) -> None:
    """A one-page audit and reproducibility report of a version: who, what, when and why,
    code, data, environment, thresholds met, completeness, and how to reproduce it."""
    with open_registry(create=False) as registry:
        text = registry.report(uri, format=fmt)
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    write_whole(output, text)
    line(f"wrote {safe(str(output))}", err=True)


@app.command()
def doctor(
    name: Annotated[str | None, typer.Argument(help="Only this model's versions.")] = None,
    stage: Annotated[
        str | None, typer.Option(help="Only versions in this stage, e.g. deployed.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List versions whose entries miss metadata checklist fields, worst first; exit 13
    when a deployed version lacks a field the policy requires (\\[doctor] required)."""
    with open_registry(create=False) as registry:
        result = registry.doctor(name, stage=stage)
    if as_json:
        emit_json(
            {
                "required": list(result.required),
                "checked": result.checked,
                "failing": len(result.failing),
                "entries": [e.model_dump(mode="json") for e in result.entries],
                "unreadable": list(result.unreadable),
            }
        )
    else:
        _listing(result)
    result.check()


def _listing(result: DoctorReport) -> None:
    if result.entries:
        table(
            ("version", "stage", "score", "missing required", "missing"),
            (
                (
                    ("! " if e.failing else "") + e.uri,
                    e.stage,
                    f"{e.present}/{e.total}",
                    ", ".join(e.missing_required) or "-",
                    ", ".join(e.missing),
                )
                for e in result.entries
            ),
        )
    for message in result.unreadable:
        line(f"unreadable: {safe(message)}", err=True)
    found = f"{len(result.entries)} of {result.checked} version(s) miss checklist fields"
    line(f"{found}; {_gaps(result)}")


def _gaps(result: DoctorReport) -> str:
    """The required fields the failing versions actually miss, each with how many miss
    it (the policy's order), or that none misses any and what the policy requires."""
    failing = result.failing
    if not failing:
        wanted = ", ".join(result.required) or "none"
        return f"no deployed version misses a required field (the policy requires: {wanted})"
    counts = {f: sum(f in e.missing_required for e in failing) for f in result.required}
    extra = {f for e in failing for f in e.missing_required} - set(counts)
    counts.update({f: sum(f in e.missing_required for e in failing) for f in sorted(extra)})
    shown = ", ".join(f"{f} ({n})" for f, n in counts.items() if n)
    return f"{len(failing)} deployed version(s) miss required fields: {shown}"
