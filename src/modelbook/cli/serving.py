"""Serving commands: ``deploy``, ``rollback`` (with ``--dry-run`` and ``--drill``),
``mark-healthy`` and ``gc``.

The registry picks the rollback target and says why; these commands print
its choice. A refused deploy prints the gate of ``deployed`` and exits 9; a
drill that finds its target not ready prints what it checked and exits 9.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import Conflict, GateFailed
from .app import JsonOpt, app, open_registry, options
from .release import UriArg, report_refusal
from .render import emit_json, fmt_time, line, safe

if TYPE_CHECKING:
    from ..registry import Registry

AliasOpt = Annotated[str, typer.Option("--alias", help="The serving alias.")]


def _target(text: str | None) -> int | str | None:
    """``--to``: digits name a version number, anything else a semver (the registry checks)."""
    if text is None:
        return None
    return int(text) if text.isascii() and text.isdigit() else text


def holder_at_start(registry: Registry, name: str, alias: str) -> int:
    """The version ``alias`` points at (0: none), as the operator who started this command saw it.

    A command runs for a good part of a second before it reads the registry
    (the interpreter and its imports), so two operators who press enter at
    the same moment can read one after the other's change. An alias moved
    after this command started is therefore refused as :class:`Conflict`
    (exit 5); the expectation returned then guards the rest of the way, to the
    write. Raises Conflict.
    """
    found = next((a for a in registry.aliases(name) if a.name == alias), None)
    if found is None:
        return 0
    started = options.started
    if started is not None and found.updated_at >= started:
        raise Conflict(
            f"alias models:/{name}@{alias} was moved to version {found.version} by "
            f"{found.updated_by} at {fmt_time(found.updated_at)}, after this command started: "
            "check it and run the command again, or pass --expect VERSION"
        )
    return found.version


def _was(number: int | None) -> str:
    return "was unset" if number is None else f"was version {number}"


AllowMajorOpt = Annotated[
    bool,
    typer.Option(
        "--allow-major",
        help="Let a pinned alias move to another semver MAJOR (recorded with --reason).",
    ),
]


@app.command()
def deploy(
    uri: UriArg,
    reason: Annotated[str, typer.Option(help="Why this version ships (recorded; required).")],
    alias: AliasOpt = "production",
    expect: Annotated[
        int | None,
        typer.Option(
            help="Deploy only if the alias points at this version (0: unset). "
            "Default: where it pointed when the command started."
        ),
    ] = None,
    allow_major: AllowMajorOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Point a serving alias at an approved version (deployer role); print the previous holder.

    A refused deploy gate prints every check and exits 9.
    """
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        # The holder printed is the one replaced: had the alias moved since the
        # command started, the registry refuses (exit 5) rather than replace another version.
        previous = holder_at_start(registry, version.model, alias) or None
        guard = (0 if previous is None else previous) if expect is None else expect
        try:
            result = registry.deploy(
                version.uri, reason=reason, alias=alias, expect=guard, allow_major=allow_major
            )
        except GateFailed:
            report_refusal(
                registry,
                version.uri,
                as_json,
                {
                    "model": version.model,
                    "name": alias,
                    "version": version.number,
                    "previous_version": previous,
                    "changed": False,
                },
                gate="deployed",
            )
            raise
    changed = previous != result.version
    if as_json:
        emit_json(
            {
                **result.model_dump(mode="json"),
                "previous_version": previous,
                "changed": changed,
                "reason": reason,
            }
        )
        return
    where = f"models:/{safe(result.model)}@{safe(alias)}"
    if not changed:
        line(f"{where} already points at version {result.version}; nothing changed")
    else:
        line(f"deployed {safe(version.uri)} as {where} ({_was(previous)})")


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="Model name.")],
    reason_code: Annotated[
        str | None,
        typer.Option(metavar="CODE", help="Why, as a code: kpi_drop, latency, errors ..."),
    ] = None,
    alias: AliasOpt = "production",
    note: Annotated[
        str | None, typer.Option(help="What happened (an incident note on the bad version).")
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="VERSION", help="Roll back to this version (number, semver)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would happen; change nothing.")
    ] = False,
    expect: Annotated[
        int | None,
        typer.Option(
            help="Roll back only if the alias still points at this version (else exit 5); "
            "what automation that reacts to one alert should pass. "
            "Default: where it pointed when the command started."
        ),
    ] = None,
    drill: Annotated[
        bool,
        typer.Option(
            "--drill", help="Prove the rollback target is ready (recorded); move nothing."
        ),
    ] = False,
    allow_major: AllowMajorOpt = False,
    reason: Annotated[
        str | None,
        typer.Option(help="Why the rollback may cross the alias's pin (with --allow-major)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Roll back even if the target's files are missing or of another size "
            "(recorded with the rollback).",
        ),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Also rehash the target's files against their recorded sha256 before "
            "moving anything (reads every byte; default: presence and size only).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Move a serving alias back to the last known-good version; say which and why.

    Without --to, a known-good version whose files are missing or of another
    size (with --verify: or do not hash as registered) is skipped for the next,
    and the output says so; with none left, or a damaged --to target, it is
    refused (exit 9) unless --force. With --drill: check the target's stage and
    files, record the drill, and exit 0 when it is ready, 9 when it is not (also
    when there is no known-good target at all).
    """
    if drill:
        given = (
            [
                flag
                for flag, value in (
                    ("--reason-code", reason_code),
                    ("--note", note),
                    ("--reason", reason),
                )
                if value is not None
            ]
            + (["--dry-run"] if dry_run else [])
            + (["--force"] if force else [])
            + (["--verify"] if verify else [])
        )
        if given:
            raise typer.BadParameter(
                f"--drill moves nothing and takes no {', '.join(given)}", param_hint="--drill"
            )
        _drill(name, alias, _target(to), allow_major, as_json)
        return
    with open_registry(create=False) as registry:
        if expect is None and not dry_run:
            # Two operators rolling back at once must not step back twice: the second
            # finds the alias moved since its command started and exits 5, as deploy does.
            expect = holder_at_start(registry, name, alias)
        plan = registry.rollback(
            name,
            reason_code=reason_code or "",
            alias=alias,
            note=note,
            to=_target(to),
            dry_run=dry_run,
            expect=expect,
            allow_major=allow_major,
            reason=reason,
            force=force,
            verify=verify,
        )
    if as_json:
        emit_json({**dataclasses.asdict(plan), "note": note})
        return
    where = f"models:/{safe(plan.model)}@{safe(plan.alias)}"
    if plan.dry_run:
        line(
            f"dry run: would roll {where} back from version {plan.from_version} to version "
            f"{plan.to_version} ({safe(plan.reason_code)}); nothing changed"
        )
    else:
        line(
            f"rolled {where} back from version {plan.from_version} to version "
            f"{plan.to_version} ({safe(plan.reason_code)})"
        )
    line(f"why version {plan.to_version}: {safe(plan.why)}")
    for skipped in plan.skipped:
        for problem in skipped.problems:
            line(f"skipped version {skipped.version}: {safe(problem)}")
    if plan.verified and not plan.forced:
        line(f"verified: every file of version {plan.to_version} hashes as registered")
    if plan.pin is not None:
        line(f"contract pin: {safe(plan.pin)}")
    for problem in plan.forced:
        line(f"forced past: {safe(problem)}")
    if not plan.dry_run:
        line(f"models:/{safe(plan.model)}/{plan.from_version} is marked deprecated")


def _drill(name: str, alias: str, to: int | str | None, allow_major: bool, as_json: bool) -> None:
    with open_registry(create=False) as registry:
        report = registry.drill(name, alias=alias, to=to, allow_major=allow_major)
    if as_json:
        emit_json(dataclasses.asdict(report))
    else:
        where = f"models:/{safe(report.model)}@{safe(report.alias)}"
        to = report.to_version
        target = "no target" if to is None else f"target version {to}"
        line(f"rollback drill of {where}: now version {report.from_version}, {target}")
        line(f"why {'no target' if to is None else f'version {to}'}: {safe(report.why)}")
        for check in report.checks:
            line(f"  ok    {safe(check)}")
        for problem in report.problems:
            line(f"  FAIL  {safe(problem)}")
        verdict = "ready" if report.ready else f"NOT READY ({len(report.problems)} problem(s))"
        # With no target, the drill is recorded on the version the alias serves.
        on = report.from_version if to is None else to
        line(f"{verdict}; the drill is recorded on models:/{safe(name)}/{on}")
    if not report.ready:
        raise typer.Exit(GateFailed.exit_code)


@app.command("mark-healthy")
def mark_healthy(
    uri: UriArg,
    signal: Annotated[
        str, typer.Option(help="What showed it healthy, e.g. '7 days at 0.1% errors'.")
    ],
    alias: Annotated[str | None, typer.Option(help="The serving alias it ran under.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that a deployed version ran healthy (deployer role); rollback prefers it."""
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        health = registry.mark_healthy(version.uri, signal=signal, alias=alias)
    if as_json:
        emit_json({"uri": version.uri, **health.model_dump(mode="json")})
    else:
        line(f"marked {safe(version.uri)} healthy: {safe(health.signal)}")


@app.command()
def gc(
    apply: Annotated[
        bool, typer.Option("--apply", help="Remove them (admin); default: only list them.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List (with --apply, remove) stored files that no version references, and temporary
    files left by registrations that were killed."""
    with open_registry(create=False) as registry:
        report = registry.gc(apply=apply)
    if as_json:
        emit_json(dataclasses.asdict(report))
        return
    verb = "removed" if report.applied else "would remove"
    for sha in report.blobs:
        line(f"{verb} blob {safe(sha)}")
    for path in report.temporaries:
        line(f"{verb} temporary {safe(path)}")
    line(f"{verb} {len(report.blobs)} unreferenced blob(s), {report.bytes} bytes")
    line(
        f"{verb} {len(report.temporaries)} abandoned temporary file(s), "
        f"{report.temporary_bytes} bytes"
    )
    if report.kept_recent:
        line(f"kept {report.kept_recent} unreferenced blob(s) written in the last 24 hours")
    if not report.applied and (report.blobs or report.temporaries):
        line("nothing was removed: run `modelbook gc --apply` to remove them")
