"""``modelbook lineage URI`` and ``modelbook impact REF``: where a version came from,
what was made from it, and which versions a dataset, commit, feature set or run reaches.

The registry walks the graph (:meth:`~modelbook.Registry.lineage`,
:meth:`~modelbook.Registry.impact`); this module renders it as a text tree, a
Mermaid flowchart, a Graphviz digraph or JSON (documented in ``docs/cli.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import InvalidInput
from .app import JsonOpt, app, open_registry
from .render import emit_json, line, safe, table

if TYPE_CHECKING:
    from ..lineage import Dependent, Impact

FORMATS = ("text", "mermaid", "dot", "json")


@app.command()
def lineage(
    uri: Annotated[str, typer.Argument(help="models:/NAME/N, /SEMVER, @ALIAS or /latest.")],
    up: Annotated[bool, typer.Option("--up", help="Only what it was made from.")] = False,
    down: Annotated[bool, typer.Option("--down", help="Only what was made from it.")] = False,
    depth: Annotated[
        int | None, typer.Option(help="Parent links to follow each way (default: all).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, mermaid, dot or json.")] = "text",
) -> None:
    """Show the lineage of a version: code, data, features, run, environment, parents
    (--up) and the versions made from it (--down); both by default."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if up and down:
        raise InvalidInput("give --up or --down, not both (neither: both ways)")
    direction = "up" if up else "down" if down else "both"
    with open_registry(create=False) as registry:
        graph = registry.lineage(uri, direction=direction, depth=depth)
    from .. import lineage_render

    if fmt == "json":
        emit_json(graph.model_dump(mode="json"))
    elif fmt == "mermaid":
        typer.echo(lineage_render.to_mermaid(graph, safe), nl=False)
    elif fmt == "dot":
        typer.echo(lineage_render.to_dot(graph, safe), nl=False)
    else:
        typer.echo(lineage_render.to_text(graph, safe), nl=False)


@app.command()
def impact(
    ref: Annotated[
        str,
        typer.Argument(
            help="dataset:ID, commit:SHA, features:NAME@VERSION, run:ID, experiment:ID "
            "or models:/NAME/N."
        ),
    ],
    deployed: Annotated[
        bool, typer.Option("--deployed", help="Only the versions a serving alias points at.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List every version that depends on a dataset, commit, feature set, run,
    experiment or version, through parent links too, and which are deployed."""
    with open_registry(create=False) as registry:
        result = registry.impact(ref)
    shown = result.deployed if deployed else result.versions
    if as_json:
        body = result.model_dump(mode="json")
        body["versions"] = [v.model_dump(mode="json") for v in shown]
        emit_json(body)
        return
    _report(result, shown, deployed)


def _how(v: Dependent) -> str:
    return "direct" if v.direct else "via " + " > ".join(v.via)


def _report(result: Impact, shown: tuple[Dependent, ...], only_deployed: bool) -> None:
    live = len(result.deployed)
    line(safe(f"{result.ref}: {len(result.versions)} version(s) depend on it, {live} deployed"))
    if not shown:
        return
    table(
        ("version", "semver", "stage", "deployed", "aliases", "how"),
        (
            (
                v.uri,
                v.semver,
                v.stage,
                "yes (" + ", ".join(v.serving_aliases) + ")" if v.deployed else "no",
                ", ".join(v.aliases),
                _how(v),
            )
            for v in shown
        ),
    )
