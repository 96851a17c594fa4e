"""Annotation commands: ``comment``, ``watch`` and ``observe``; and the annotations
``show`` prints beside a version's frozen record.

What a user types (``'p99_ms > 250'``, ``ctr@online=0.031``,
``FROM/TO``) is parsed by :mod:`modelbook.annotations` before the registry
is opened, so bad input writes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .app import JsonOpt, app, open_registry
from .release import UriArg
from .render import emit_json, fmt_time, line, safe

if TYPE_CHECKING:
    from ..domain import Version
    from ..registry import Registry


@app.command()
def comment(
    uri: UriArg,
    text: Annotated[str, typer.Argument(help="The comment, incident note or postmortem link.")],
    kind: Annotated[
        str, typer.Option(metavar="comment|incident|postmortem", help="What kind of note.")
    ] = "comment",
    as_json: JsonOpt = False,
) -> None:
    """Add a comment, an incident note or a postmortem link to a version."""
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        note = registry.comment(version.uri, text, kind=kind)
    if as_json:
        emit_json({"uri": version.uri, **note.model_dump(mode="json")})
    else:
        line(f"{note.kind} on {safe(version.uri)} by {safe(note.actor)}: {safe(note.text)}")


@app.command()
def watch(
    uri: UriArg,
    job: Annotated[str | None, typer.Option(metavar="ID", help="The monitoring job.")] = None,
    dashboard: Annotated[str | None, typer.Option(metavar="URL", help="The dashboard.")] = None,
    alert: Annotated[
        list[str],
        typer.Option(metavar="'NAME OP VALUE'", help="An alert threshold, e.g. 'p99_ms > 250'."),
    ] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Record where a version is monitored and the thresholds it alerts on."""
    from ..annotations import parse_alert

    rules = [parse_alert(a) for a in alert]
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        result = registry.watch(version.uri, job=job, dashboard=dashboard, alerts=rules)
    if as_json:
        emit_json({"uri": version.uri, **result.model_dump(mode="json")})
    else:
        line(f"watching {safe(version.uri)}: {_watch_text(result.model_dump(mode='json'))}")


@app.command()
def observe(
    uri: UriArg,
    metric: Annotated[
        list[str],
        typer.Option(
            metavar="KEY=VALUE",
            help="The metric and its value: ctr@online=0.031; repeat for each metric measured.",
        ),
    ],
    window: Annotated[
        str | None,
        typer.Option(metavar="FROM/TO", help="Measured over: 2026-11-01T00:00Z/2026-11-08T00:00Z."),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Where it was measured.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record an online metric measured on a version (ctr@online=0.031)."""
    from ..annotations import parse_observation, parse_window

    measured = [parse_observation(m) for m in metric]
    span = None if window is None else parse_window(window)
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        results = registry.observe_all(version.uri, measured, window=span, source=source)
    if as_json:
        # One metric keeps the object it always was; several are a list of them.
        found = [{"uri": version.uri, **r.model_dump(mode="json")} for r in results]
        emit_json(found[0] if len(found) == 1 else found)
    else:
        for r in results:
            shown = _observation_text(r.model_dump(mode="json"))
            line(f"observed on {safe(version.uri)}: {shown}")


# annotations in ``show`` ---------------------------------------------------------------


def annotations_json(registry: Registry, version: Version) -> dict[str, Any]:
    """Everything recorded on ``version`` since registration, as JSON, oldest first per kind.

    Gate evaluations are left to ``evidence``; ``deprecation`` is who deprecated
    the version, when and why (from the audit log), or null.
    """
    found = registry.annotations(version.uri)
    kinds = (
        *("approvals", "rejections", "attestations", "comments"),
        *("watches", "observations", "health", "drills"),
    )
    data: dict[str, Any] = {
        k: [a.model_dump(mode="json") for a in getattr(found, k)] for k in kinds
    }
    data["deprecation"] = _deprecation(registry, version) if version.deprecated else None
    return data


def _deprecation(registry: Registry, version: Version) -> dict[str, Any] | None:
    token: str | None = None
    while True:
        page = registry.events(
            model=version.model, action="version.deprecate", limit=100, page_token=token
        )
        for e in page.items:
            if e.version == version.number:
                return {"actor": e.actor, "note": e.reason, "at": e.model_dump(mode="json")["at"]}
        token = page.next_page_token
        if token is None:
            return None


def _when(at: str) -> str:
    from datetime import datetime

    return fmt_time(datetime.fromisoformat(at.replace("Z", "+00:00")))


def _watch_text(w: dict[str, Any]) -> str:
    parts = []
    if w["job"]:
        parts.append(f"job {w['job']}")
    if w["dashboard"]:
        parts.append(f"dashboard {w['dashboard']}")
    if w["alerts"]:
        rules = ", ".join(f"{a['name']} {a['op']} {a['value']!r}" for a in w["alerts"])
        parts.append(f"alerts {rules}")
    return safe("; ".join(parts))


def _observation_text(o: dict[str, Any]) -> str:
    text = f"{o['metric']} = {o['value']!r}"
    if o["window_from"]:
        text += f" over {_when(o['window_from'])}/{_when(o['window_to'])}"
    if o["source"]:
        text += f" from {o['source']}"
    return safe(text)


def _by(a: dict[str, Any]) -> str:
    roles = f" ({', '.join(a['roles'])})" if a.get("roles") else ""
    return f"by {safe(a['actor'])}{safe(roles)} at {_when(a['at'])}"


def _say(text: str | None) -> str:
    return f": {safe(text)}" if text else ""


def print_annotations(data: dict[str, Any]) -> None:
    """The annotations of :func:`annotations_json`, one line each, under a heading."""
    lines: list[str] = []
    for a in data["approvals"]:
        lines.append(f"approved {_by(a)}{_say(a['comment'])}")
    for a in data["rejections"]:
        lines.append(f"rejected {_by(a)}{_say(a['comment'])}")
    for a in data["attestations"]:
        lines.append(f"attested {safe(a['name'])} {_by(a)}{_say(a['comment'])}")
    for a in data["comments"]:
        lines.append(f"{safe(a['kind'])} {_by(a)}{_say(a['text'])}")
    for a in data["watches"]:
        lines.append(f"watch {_by(a)}: {_watch_text(a)}")
    for a in data["observations"]:
        lines.append(f"observed {_observation_text(a)} {_by(a)}")
    for a in data["health"]:
        alias = f" as @{safe(a['alias'])}" if a["alias"] else ""
        lines.append(f"healthy{alias} {_by(a)}{_say(a['signal'])}")
    for a in data["drills"]:
        ready = "ready" if a["ready"] else "NOT ready"
        lines.append(f"rollback drill of @{safe(a['alias'])}: {ready} {_by(a)}")
    if data["deprecation"] is not None:
        d = data["deprecation"]
        lines.append(f"deprecated {_by(d)}{_say(d['note'])}")
    if lines:
        line("annotations:")
        for text in lines:
            line(f"  {text}")
