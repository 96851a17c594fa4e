"""``modelbook audit``: read the audit log, verify its hash chains, print its head.

``audit log`` is the ``events`` command under the audit group: the same
filters, time parsing, table and JSON. ``audit verify`` exits 7 when a chain
is broken or the history no longer matches an expected head.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import IntegrityError
from .app import JsonOpt, LimitOpt, PageTokenOpt, app, open_registry
from .events import TimeOpt, events
from .render import emit_json, line, safe

audit_app = typer.Typer(help="The audit log: who did what, when and why; verified by hash.")
app.add_typer(audit_app, name="audit")


@audit_app.command("log")
def audit_log(
    model: Annotated[str | None, typer.Option(help="Only events of this model.")] = None,
    action: Annotated[
        list[str],
        typer.Option(help="Only this action, e.g. version.deploy; repeat for several."),
    ] = [],  # noqa: B006
    since: TimeOpt = None,
    until: TimeOpt = None,
    limit: LimitOpt = 100,
    page_token: PageTokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The audit log, newest first: who did what to which model, when and why."""
    events(
        model=model,
        action=action,
        since=since,
        until=until,
        limit=limit,
        page_token=page_token,
        as_json=as_json,
    )


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option(
            metavar="DIGEST", help="A head printed earlier by `audit head`: history up to it."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every hash chain of the audit log; exit 7 naming the first broken event."""
    with open_registry(create=False) as registry:
        result = registry.verify_audit(expect_head)
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "events": result.events,
                "chains": result.chains,
                "breaks": [
                    {
                        "chain": b.chain,
                        "seq": b.seq,
                        "event_id": b.event_id,
                        "problem": b.problem,
                    }
                    for b in result.breaks
                ],
                "head": result.head,
                "expected_head_ok": result.expected_head_ok,
                "expected_head_problem": result.expected_head_problem,
                "record_problems": list(result.record_problems),
                "unchecked": list(result.unchecked),
            }
        )
    else:
        for b in result.breaks:
            line(safe(f"broken: {b}"), err=True)
        for problem in result.record_problems:
            line(safe(f"disagrees: {problem}"), err=True)
        for note in result.unchecked:
            line(safe(f"unchecked: {note}"), err=True)
        if result.expected_head_problem is not None:
            line(safe(f"changed: {result.expected_head_problem}"), err=True)
        status = "OK" if result.ok else "BROKEN"
        line(
            f"verified {result.events} events in {result.chains} chains: {status}; "
            f"head {result.head}"
        )
    if not result.ok:
        raise typer.Exit(IntegrityError.exit_code)


@audit_app.command("head")
def audit_head(as_json: JsonOpt = False) -> None:
    """Print one digest over every chain's head, and the number of events it covers."""
    from ..audit import parse_head

    with open_registry(create=False) as registry:
        head = registry.audit_head()
    through, count, _ = parse_head(head)
    if as_json:
        emit_json({"head": head, "events": count, "through_id": through})
    else:
        line(f"{head}  ({count} events)")
