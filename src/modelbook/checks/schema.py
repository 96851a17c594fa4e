"""``schema``: the version carries an input/output contract.

Policy::

    check = "schema"
    required = false     # advisory until contracts are registered everywhere

A plug point for contracts: until they arrive, the check reports honestly.
Without a contract it fails ("no contract registered"); with one it passes
and records the contract's top-level keys as evidence.
"""

from __future__ import annotations

from ..domain import Version
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "schema"


class Params(CheckParams):
    """No parameters."""


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when the version has a contract."""
    if version.contract is None:
        return failed(
            NAME,
            f"no contract registered on version {version.number}",
            "register a version with its input/output contract (signature)",
            contract=None,
        )
    keys = sorted(str(k) for k in version.contract)
    return passed(NAME, f"contract with {', '.join(keys) or 'no keys'}", contract=[*keys])


CHECK = CheckDef(NAME, Params, run, "the version carries an input/output contract")
