"""``attestation``: a named sign-off was recorded on the version.

Policy::

    check = "attestation"
    name = "pii_review"        # or security_scan, model_card ...
    role = "reviewer"          # optional: the attester held this role
    max_age_days = 90          # optional, at most 36525 (100 years): older sign-offs do not count
    separation_of_duties = true  # default: true for high risk, else false

An attestation is recorded with who signed it off, the roles they held and
when; the check passes when one matches. With separation of duties a sign-off
by the person who registered the version (``created_by``) does not count, as
for approvals.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, JsonValue, ValidationInfo, field_validator

from .. import people, roles, validation
from ..display import article
from ..domain import Version
from ..errors import InvalidInput
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "attestation"

#: The longest ``max_age_days`` (100 years): a duration the clock can hold
#: (``timedelta`` ends near 2.7 million years), and longer than any sign-off lasts.
MAX_AGE_DAYS = 36_525


class Params(CheckParams):
    """``name`` (a key), ``role`` (optional role name), ``max_age_days`` (optional, > 0 and
    at most :data:`MAX_AGE_DAYS`), ``separation_of_duties`` (None: high risk)."""

    name: str
    role: str | None = None
    max_age_days: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    separation_of_duties: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return validation.key(value, "attestation name")
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("max_age_days")
    @classmethod
    def _age(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A policy stored before the bound still loads: its gates then fail this
        # check naming the bound (see run), and `policy set` replaces it.
        stored = (info.context or {}).get("as_stored")
        if value is not None and value > MAX_AGE_DAYS and not stored:
            raise ValueError(f"must be at most {MAX_AGE_DAYS} days (100 years), got {value:g}")
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        try:
            return None if value is None else roles.role(value).value
        except InvalidInput as exc:
            raise ValueError(exc.message) from None


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when an attestation of that name, by the role, recent enough, is recorded."""
    named = [a for a in ctx.attestations if a.name == params.name]
    sod = (
        params.separation_of_duties
        if params.separation_of_duties is not None
        else ctx.model.risk_tier == "high"
    )
    if params.max_age_days is not None and params.max_age_days > MAX_AGE_DAYS:
        return failed(
            NAME,
            f"max_age_days = {params.max_age_days:g} in the policy is more than the "
            f"{MAX_AGE_DAYS} days (100 years) a sign-off's age can be checked against",
            f"an admin sets a policy whose max_age_days is at most {MAX_AGE_DAYS} "
            "(modelbook policy set FILE)",
            name=params.name,
            max_age_days=params.max_age_days,
        )
    refused: list[str] = []
    for attestation in sorted(named, key=lambda a: a.at, reverse=True):
        if sod and people.same_person(attestation.actor, version.created_by):
            refused.append(f"{attestation.actor} registered this version (separation of duties)")
            continue
        if params.role and not roles.has_role(attestation.roles, params.role):
            refused.append(f"{attestation.actor} did not hold {params.role}")
            continue
        if params.max_age_days is not None:
            age = ctx.now - attestation.at
            if age > timedelta(days=params.max_age_days):
                refused.append(
                    f"{attestation.actor}'s is {age.days} days old "
                    f"(at most {params.max_age_days:g})"
                )
                continue
        evidence: dict[str, JsonValue] = {
            "name": params.name,
            "actor": attestation.actor,
            "at": attestation.at.isoformat(),
            "comment": attestation.comment,
        }
        return passed(
            NAME,
            f"{params.name} signed off by {attestation.actor} at {attestation.at.isoformat()}",
            **evidence,
        )
    by = f" by {article(params.role)}" if params.role else ""
    seen = f" ({'; '.join(refused)})" if refused else ""
    besides = f" other than {version.created_by} (who registered it)" if sod else ""
    return failed(
        NAME,
        f"no {params.name} attestation{by} on version {version.number}{seen}",
        f"{article(roles.reviewer_holding(params.role))}{besides} records the {params.name} "
        f"sign-off: modelbook attest {version.uri} {params.name}",
        name=params.name,
        refused=[*refused],
    )


CHECK = CheckDef(NAME, Params, run, "a named sign-off such as pii_review was recorded")
