"""``modelbook lineage URI`` and ``modelbook impact REF``: where a version came from,
what was made from it, and which versions a dataset, commit, feature set or run reaches.

The registry walks the graph (:meth:`~modelbook.Registry.lineage`,
:meth:`~modelbook.Registry.impact`); this module renders it as a text tree, a
Mermaid flowchart, a Graphviz digraph or JSON (documented in ``docs/cli.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import InvalidInput, NotFound
from .app import JsonOpt, app, open_registry
from .render import emit_json, line, safe, table

if TYPE_CHECKING:
    from ..impact import Dependent, Impact

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
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Show the lineage of a version: code, data, features, run, environment, parents
    (--up) and the versions made from it (--down); both by default."""
    if as_json and fmt not in ("text", "json"):
        raise InvalidInput(f"give --json or --format {fmt}, not both")
    if as_json:
        fmt = "json"
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
        body["total"] = len(result.versions)
        body["deployed_total"] = len(result.deployed)
        body["versions"] = [v.model_dump(mode="json") for v in shown]
        emit_json(body)
    elif result.known:
        _report(result, shown)
    if not result.known:
        close = ", ".join(result.suggestions)
        hint = f"; did you mean {close}?" if close else ""
        raise NotFound(f"nothing in the registry names {result.ref}{hint}")


def _how(v: Dependent) -> str:
    """How a version depends: at most the first and last parent link and their
    count, so a row's width does not grow with the length of the chain."""
    if v.direct:
        return "direct"
    if v.hops == 1:
        return f"via {v.origin}"
    if v.hops == 2:
        return f"via {v.origin} > {v.parent}"
    return f"via {v.origin} > ... > {v.parent} ({v.hops} links)"


def _report(result: Impact, shown: tuple[Dependent, ...]) -> None:
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
