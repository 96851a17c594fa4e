"""``approvals``: N people holding a role approved the version.

Policy::

    check = "approvals"
    count = 2                       # default 1
    role = "reviewer"               # default; admin counts for any role
    separation_of_duties = true     # default: true for high risk, else false

How approvals count:

- Each person's latest decision on the version is theirs: an approval
  followed by a rejection from the same person is withdrawn, a rejection
  followed by an approval is answered.
- One person counts once, however often they approve, and names that differ
  only by case, accents or look-alike letters (``Rita``, ``rita``, ``ríta``, a
  Cyrillic letter for a Latin one) are one person (:func:`modelbook.people.same_person`).
- An approval counts only if the approver held ``role`` when approving.
- With separation of duties the person who registered the version
  (``created_by``, under any case or accent variant) does not count as an
  approver.
- A rejection recorded after the last counted approval blocks the gate. It
  is answered when someone whose approval counts approves after it, having
  read it; the rejection stays in the history and in the evidence.
"""

from __future__ import annotations

from pydantic import Field, JsonValue, field_validator

from .. import people, roles
from ..annotations import Approval, Rejection
from ..display import article
from ..domain import Version
from ..errors import InvalidInput
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "approvals"


class Params(CheckParams):
    """``count`` (>= 1), ``role`` (a role name), ``separation_of_duties`` (None: high risk)."""

    count: int = Field(default=1, ge=1, le=100)
    role: str = roles.Role.REVIEWER.value
    separation_of_duties: bool | None = None

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        try:
            return roles.role(value).value
        except InvalidInput as exc:
            raise ValueError(exc.message) from None


def _latest_by_person(
    decisions: list[Approval | Rejection],
) -> list[tuple[frozenset[str], Approval | Rejection]]:
    """Each person's last decision, with that person's keys (see
    :func:`modelbook.people.person_keys`): "Rita", "rita" and "rit\u0430" are one
    person, whose approval counts once and whose later rejection replaces it."""
    found: list[tuple[frozenset[str], Approval | Rejection]] = []
    for decision in decisions:
        keys = people.person_keys(decision.actor)
        for i, (known, _) in enumerate(found):
            if not known.isdisjoint(keys):
                found[i] = (known | keys, decision)
                break
        else:
            found.append((keys, decision))
    return found


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass with ``count`` counted approvals and no rejection after the last of them."""
    sod = (
        params.separation_of_duties
        if params.separation_of_duties is not None
        else ctx.model.risk_tier == "high"
    )
    # Rejections are walked last so that, at the same instant, a rejection wins.
    decisions: list[Approval | Rejection] = [*ctx.approvals, *ctx.rejections]
    latest = _latest_by_person(sorted(decisions, key=lambda d: (d.at, isinstance(d, Rejection))))
    registrant = people.person_keys(version.created_by)
    counted: list[Approval] = []
    not_counted: dict[str, str] = {}
    for person, decision in latest:
        actor = decision.actor
        if isinstance(decision, Rejection):
            continue
        if not roles.has_role(decision.roles, params.role):
            held = ", ".join(decision.roles) or "no role"
            not_counted[actor] = f"held {held} when approving, not {params.role}"
        elif sod and not person.isdisjoint(registrant):
            not_counted[actor] = "registered this version (separation of duties)"
        else:
            counted.append(decision)
    last = max((a.at for a in counted), default=None)
    blocking = [r for r in ctx.rejections if last is None or r.at > last]
    blocking = [r for r in blocking if any(d is r for _, d in latest)]
    approvers = [a.actor for a in counted]
    evidence: dict[str, JsonValue] = {
        "count": params.count,
        "role": params.role,
        "separation_of_duties": sod,
        "approvers": [*approvers],
        "not_counted": {**not_counted},
        "rejections": [
            {"actor": r.actor, "at": r.at.isoformat(), "comment": r.comment} for r in blocking
        ],
    }
    tally = f"{len(counted)} of {params.count} approval(s) from {params.role}"
    if approvers:
        tally += f" ({', '.join(approvers)})"
    notes = [f"{actor} does not count: {why}" for actor, why in not_counted.items()]
    problems: list[str] = []
    hints: list[str] = []
    if len(counted) < params.count:
        more = params.count - len(counted)
        others = sorted({*approvers, *([version.created_by] if sod else [])})
        besides = f" other than {', '.join(others)}" if others else ""
        problems.append(tally)
        who = roles.reviewer_holding(params.role)
        hints.append(f"{more} more {who}{besides} approves {version.uri}")
    for r in blocking:
        said = f": {r.comment!r}" if r.comment else ""
        problems.append(f"rejected by {r.actor} at {r.at.isoformat()}{said}")
    if blocking:
        hints.append(
            f"{' or '.join(sorted({r.actor for r in blocking}))} approves, or "
            f"{article(roles.reviewer_holding(params.role))} approves after reading the rejection"
        )
    if problems:
        return failed(NAME, "; ".join(problems + notes), "; ".join(hints), **evidence)
    return passed(NAME, "; ".join([tally, *notes]), **evidence)


CHECK = CheckDef(NAME, Params, run, "N approvals from a role, with separation of duties")
