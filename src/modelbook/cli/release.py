"""Release commands: ``promote``, ``approve``, ``reject``, ``attest``, ``evidence``,
``deprecate``, ``undeprecate`` and ``archive``.

The registry runs the gates and decides; these commands print each check it
ran (pass, FAIL with what would make it pass, or advisory). A refused gate is
printed in full, then raised again so that the one error boundary exits 9.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import GateFailed
from .app import JsonOpt, app, open_registry
from .render import emit_json, fmt_time, line, safe, table, version_json

if TYPE_CHECKING:
    from ..annotations import CheckRecord
    from ..checks import CheckResult, GateOutcome
    from ..registry import Registry
    from ..services.notes import Evaluation
    from ..services.release import Promotion

UriArg = Annotated[str, typer.Argument(help="The version: models:/NAME/N, /X.Y.Z or @ALIAS.")]
CommentOpt = Annotated[str | None, typer.Option(help="Why (recorded with the change).")]
NoteOpt = Annotated[str | None, typer.Option(help="Why (recorded; required).")]


# gates as JSON and as text (shared with the serving commands) -------------------------


def _check(params: Any, r: CheckResult | CheckRecord) -> dict[str, Any]:
    from ..domain import thaw

    return {
        "check": r.check,
        "required": r.required,
        "passed": r.passed,
        "message": r.message,
        "hint": r.hint,
        "params": thaw(params),
        "evidence": thaw(r.evidence),
    }


def outcome_json(outcome: GateOutcome) -> dict[str, Any]:
    """One gate's evaluation as JSON: the stage asked for, whether it passed, every check."""
    return {
        "target_stage": outcome.target_stage,
        "passed": outcome.passed,
        "checks": [
            _check(spec.params_json(), r)
            for spec, r in zip(outcome.specs, outcome.results, strict=True)
        ],
    }


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    """A stored evaluation in the same shape as :func:`outcome_json`."""
    return {
        "target_stage": evaluation.target_stage,
        "passed": evaluation.passed,
        "checks": [_check(r.params, r) for r in evaluation.records],
    }


def _mark(passed: bool, required: bool) -> str:
    if passed:
        return "pass" if required else "pass (advisory)"
    return "FAIL" if required else "advisory"


def print_gate(gate: dict[str, Any]) -> None:
    """Every check of one gate: pass, FAIL with its hint, or advisory (failed, not blocking)."""
    verdict = "passed" if gate["passed"] else "REFUSED"
    empty = " (no checks)" if not gate["checks"] else ""
    line(f"gate {safe(gate['target_stage'])}: {verdict}{empty}")
    for c in gate["checks"]:
        line(f"  {_mark(c['passed'], c['required']):<15} {safe(c['check'])}: {safe(c['message'])}")
        if not c["passed"] and c["hint"]:
            line(f"  {'':<15} to pass: {safe(c['hint'])}")


def last_evaluation(registry: Registry, uri: str, stage: str | None = None) -> dict[str, Any]:
    """The gate evaluation a refusal just recorded on the version ``uri`` names.

    GateFailed carries only the failing required checks; the whole gate (passes
    and advisories too) is read back from the version's record.
    """
    evaluations = registry.annotations(uri).evaluations
    for e in reversed(evaluations):
        if stage is None or e.target_stage == stage:
            return evaluation_json(e)
    return {"target_stage": stage or "", "passed": False, "checks": []}


def report_refusal(
    registry: Registry,
    target: str,
    as_json: bool,
    extra: dict[str, Any],
    *,
    gate: str | None = None,
) -> None:
    """Print the gate refused on the version ``target`` names, before the GateFailed
    being handled goes on to the error boundary (exit 9).

    ``gate``: the stage whose evaluation to print (default: the latest one);
    ``extra``: the fields the JSON carries before ``gates``.
    """
    found = last_evaluation(registry, target, gate)
    if as_json:
        emit_json({**extra, "gates": [found]})
    else:
        print_gate(found)


def _promotion_json(result: Promotion, **extra: Any) -> dict[str, Any]:
    return {
        "uri": result.version.uri,
        **extra,
        "stage": str(result.version.stage),
        "entered": list(result.stages),
        "gates": [outcome_json(o) for o in result.outcomes],
    }


def _print_promotion(data: dict[str, Any]) -> None:
    for gate in data["gates"]:
        print_gate(gate)
    uri, stage = safe(data["uri"]), safe(data["stage"])
    if data["entered"]:
        line(f"{uri} entered {safe(', then '.join(data['entered']))}; now {stage}")
    else:
        line(f"{uri} stays {stage}")
    gates: Sequence[dict[str, Any]] = data["gates"]
    if gates and not gates[-1]["passed"]:
        blocking = [c for c in gates[-1]["checks"] if c["required"] and not c["passed"]]
        line(
            f"not yet {safe(gates[-1]['target_stage'])}: {len(blocking)} required check(s) "
            "failed (see FAIL above)"
        )


# promote and reviews ----------------------------------------------------------------------


@app.command()
def promote(
    uri: UriArg,
    to: Annotated[
        str | None, typer.Option("--to", metavar="STAGE", help="The stage to enter: candidate ...")
    ] = None,
    auto: Annotated[
        bool,
        typer.Option("--auto", help="Go as far as the gates allow (stops before deployed)."),
    ] = False,
    comment: CommentOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a version to the next stage through its gate; print every check.

    A refused gate prints each failing check with what would make it pass and
    exits 9.
    """
    if (to is None) == (not auto):
        # Which options go together is the parser's to say (exit 2), as for any option.
        raise typer.BadParameter(
            "give either --to STAGE or --auto" if auto else "give --to STAGE or --auto",
            param_hint="--to / --auto",
        )
    with open_registry(create=False) as registry:
        try:
            result = registry.promote(uri, to=to, auto=auto, comment=comment)
        except GateFailed:
            version = registry.get_version(uri)
            report_refusal(
                registry,
                version.uri,
                as_json,
                {"uri": version.uri, "stage": str(version.stage), "entered": []},
            )
            raise
    data = _promotion_json(result)
    if as_json:
        emit_json(data)
    else:
        _print_promotion(data)


@app.command()
def approve(uri: UriArg, comment: CommentOpt = None, as_json: JsonOpt = False) -> None:
    """Approve a version (reviewer role); it enters approved once its gate passes."""
    with open_registry(create=False) as registry:
        result = registry.approve(uri, comment=comment)
        actor = registry.actor
    data = _promotion_json(result, actor=actor)
    if as_json:
        emit_json(data)
        return
    line(f"approved {safe(data['uri'])} as {safe(actor)}")
    _print_promotion(data)


@app.command()
def reject(
    uri: UriArg,
    comment: Annotated[str, typer.Option(help="Why the version is rejected (required).")],
    as_json: JsonOpt = False,
) -> None:
    """Reject a version with a reason (reviewer role); it blocks approval until answered."""
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        registry.reject(version.uri, comment=comment)
        actor = registry.actor
    if as_json:
        emit_json({"uri": version.uri, "actor": actor, "rejected": True, "comment": comment})
    else:
        line(f"rejected {safe(version.uri)} as {safe(actor)}: {safe(comment)}")


@app.command()
def attest(
    uri: UriArg,
    name: Annotated[str, typer.Argument(help="The sign-off, e.g. pii_review or security_scan.")],
    comment: CommentOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a named sign-off on a version (reviewer role); it enters approved if that was
    the last piece its gate waited for."""
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        result = registry.attest(version.uri, name, comment=comment)
        after = registry.get_version(version.uri)
    stage = str(after.stage)
    entered = [] if stage == str(version.stage) else [stage]
    if as_json:
        emit_json(
            {
                "uri": version.uri,
                **result.model_dump(mode="json"),
                "stage": stage,
                "entered": entered,
            }
        )
        return
    roles = f" ({safe(', '.join(result.roles))})" if result.roles else ""
    line(f"attested {safe(result.name)} on {safe(version.uri)} by {safe(result.actor)}{roles}")
    if entered:
        line(f"{safe(version.uri)} entered {safe(stage)}; now {safe(stage)}")
    else:
        line(f"{safe(version.uri)} stays {safe(stage)}")


def _record_row(r: CheckRecord) -> tuple[str, ...]:
    from ..display import excerpt
    from ..limits import MAX_CHECK_MESSAGE

    return (
        fmt_time(r.at),
        r.actor,
        r.target_stage,
        r.check,
        _mark(r.passed, r.required),
        excerpt(r.message, MAX_CHECK_MESSAGE),
        excerpt(r.hint or "", MAX_CHECK_MESSAGE),
    )


def record_json(r: CheckRecord) -> dict[str, Any]:
    """A stored check record as JSON, its message, hint and evidence bounded: a record
    stored before their size limits may hold a blob of any size."""
    from ..display import evidence_excerpt, excerpt
    from ..limits import MAX_CHECK_EVIDENCE, MAX_CHECK_MESSAGE

    data = r.model_dump(mode="json")
    data["message"] = excerpt(r.message, MAX_CHECK_MESSAGE)
    data["hint"] = None if r.hint is None else excerpt(r.hint, MAX_CHECK_MESSAGE)
    data["evidence"] = evidence_excerpt(data["evidence"], MAX_CHECK_EVIDENCE)
    return data


@app.command()
def evidence(uri: UriArg, as_json: JsonOpt = False) -> None:
    """Every gate check evaluated on a version, oldest first: when, who, stage, result."""
    with open_registry(create=False) as registry:
        version = registry.get_version(uri)
        records = registry.evidence(version.uri)
    if as_json:
        emit_json({"uri": version.uri, "checks": [record_json(r) for r in records]})
        return
    rows: Iterable[tuple[str, ...]] = map(_record_row, records)
    table(("when", "who", "stage", "check", "result", "message", "to pass"), rows)


# deprecation and archiving ------------------------------------------------------------------


@app.command()
def deprecate(uri: UriArg, note: NoteOpt = None, as_json: JsonOpt = False) -> None:
    """Mark a version deprecated: not deployed nor rolled back to until undeprecated.

    A deployed or approved version needs the deployer role. Keeps files and history.
    """
    with open_registry(create=False) as registry:
        version = registry.deprecate(registry.get_version(uri).uri, note=note or "")
    if as_json:
        emit_json(version_json(version))
    else:
        line(f"deprecated {safe(version.uri)}: {safe(note or '')}")


@app.command()
def archive(uri: UriArg, note: NoteOpt = None, as_json: JsonOpt = False) -> None:
    """Move a version to archived: off the release path; files and history are kept."""
    with open_registry(create=False) as registry:
        before = registry.get_version(uri)
        version = registry.archive(before.uri, note=note or "")
    if as_json:
        emit_json(version_json(version))
    else:
        line(f"archived {safe(version.uri)} (was {safe(str(before.stage))}): {safe(note or '')}")


@app.command()
def undeprecate(
    uri: UriArg,
    reason: Annotated[
        str | None, typer.Option(help="Why the deprecation is withdrawn (recorded; required).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Withdraw a deprecation: the version may be deployed and rolled back to again."""
    with open_registry(create=False) as registry:
        version = registry.undeprecate(registry.get_version(uri).uri, reason=reason or "")
    if as_json:
        emit_json(version_json(version))
    else:
        line(f"undeprecated {safe(version.uri)}: {safe(reason or '')}")
