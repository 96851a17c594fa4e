"""``schema``: the version carries an input/output contract, and its sample fits it.

Policy::

    check = "schema"
    required = false     # advisory until contracts are registered everywhere

Without a contract the check fails ("no contract registered"). With a
signature it passes, and when the version stores an input sample the sample
must conform to the signature's inputs (same columns, dtypes the signature
holds, no missing values in a field that is not nullable). A free-form
contract (a mapping registered before signatures) passes on its keys, said
so. Evidence: the kind, field names and dtypes seen, the runtime, and what
was found of the sample.
"""

from __future__ import annotations

from typing import Any

from ..contract import Signature, as_signature, conformance
from ..domain import Version
from ..errors import ModelbookError
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "schema"


class Params(CheckParams):
    """No parameters."""


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when the version has a contract and its stored sample (if any) conforms."""
    if version.contract is None:
        return failed(
            NAME,
            f"no contract registered on version {version.number}",
            "register the version with a signature (--signature FILE, or --sample FILE to "
            "infer one)",
            contract=None,
        )
    sig = as_signature(version.contract)
    if sig is None:
        keys = sorted(str(k) for k in version.contract)
        return passed(
            NAME,
            f"free-form contract with {', '.join(keys) or 'no keys'} (not a signature: "
            "no fields checked)",
            contract=[*keys],
        )
    seen = _evidence(sig)
    if sig.sample is None:
        return passed(NAME, f"{_summary(sig)}; no sample stored", **seen, sample=None)
    if ctx.sample is None:
        return passed(
            NAME,
            f"{_summary(sig)}; the stored sample was not read (no reader)",
            **seen,
            sample={"rows": sig.sample.rows, "checked": False},
        )
    try:
        data = ctx.sample(version)
    except ModelbookError as exc:
        return failed(
            NAME,
            f"the stored sample cannot be read: {exc}",
            "run `modelbook verify` on the model; register a new version with its sample",
            **seen,
            sample={"rows": sig.sample.rows, "checked": False, "error": str(exc)},
        )
    if data is None:
        return failed(
            NAME,
            "the contract names a stored sample, but the version has no such artifact",
            "register a new version with its sample",
            **seen,
            sample={"rows": sig.sample.rows, "checked": False},
        )
    problems = conformance(sig.inputs, data)
    found: dict[str, Any] = {"rows": sig.sample.rows, "checked": True, "problems": [*problems]}
    if problems:
        return failed(
            NAME,
            "the stored sample does not conform to the signature: " + "; ".join(problems),
            "register a version whose sample matches its signature's inputs",
            **seen,
            sample=found,
        )
    return passed(
        NAME, f"{_summary(sig)}; its {sig.sample.rows}-row sample conforms", **seen, sample=found
    )


def _summary(sig: Signature) -> str:
    outputs = "" if sig.outputs is None else f", {len(sig.outputs.fields)} output field(s)"
    return f"signature of {len(sig.inputs.fields)} input field(s) ({sig.inputs.kind}){outputs}"


def _evidence(sig: Signature) -> dict[str, Any]:
    def fields(schema: Any) -> list[dict[str, Any]]:
        return [{"name": f.name, "dtype": f.dtype, "nullable": f.nullable} for f in schema.fields]

    return {
        "inputs": {"kind": sig.inputs.kind, "fields": fields(sig.inputs)},
        "outputs": None
        if sig.outputs is None
        else {"kind": sig.outputs.kind, "fields": fields(sig.outputs)},
        "runtime": sig.runtime.model_dump(mode="json"),
    }


CHECK = CheckDef(
    NAME, Params, run, "the version carries a signature and its stored sample conforms"
)
