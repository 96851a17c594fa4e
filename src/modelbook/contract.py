"""Signatures: a version's input/output contract and its runtime expectations (pure).

:func:`infer_signature` reads field names, dtypes, shapes and nullability from
example data; :class:`Signature` is the typed, read-only contract stored with a
version, made of the parts in :mod:`modelbook.contract_schema`; :func:`conformance`
says how a sample breaks a schema. Inference lives
in :mod:`modelbook.contract_infer`, the contract diff in
:mod:`modelbook.contract_diff`.

Nothing here does I/O. NumPy and pandas are imported only when a value of
theirs is given, so importing modelbook (and starting the CLI) loads neither.

Shapes use ``-1`` for a dimension of any length: the first dimension of an
input is the number of rows, so a DataFrame column is ``(-1,)`` and a
``(n, 30)`` array ``(-1, 30)``; a scalar is ``()``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from .contract_schema import (
    ARRAY_FIELD,
    DTYPES,
    MAX_DIM,
    MAX_TZ,
    SAMPLE_PATH,
    SIGNATURE_FORMAT,
    TABLE_KINDS,
    VALUE_FIELD,
    DType,
    FieldSpec,
    Frozen,
    Kind,
    Runtime,
    SampleRef,
    Schema,
    check_tz,
)
from .errors import InvalidInput


class Signature(Frozen):
    """A version's contract: inputs, outputs (when known) and runtime expectations.

    Serialised with :meth:`to_json`; :func:`parse_signature` reads it back.
    ``sample`` is filled by registration when a sample is stored.
    """

    format: Literal[1] = SIGNATURE_FORMAT
    inputs: Schema
    outputs: Schema | None = None
    runtime: Runtime = Runtime()
    sample: SampleRef | None = None

    def to_json(self) -> str:
        """The signature as JSON text (what ``--signature FILE`` reads)."""
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False)


def parse_signature(value: object) -> Signature:
    """A :class:`Signature` from itself, its JSON mapping or its JSON text.

    Raises InvalidInput naming the first field that is wrong.
    """
    if isinstance(value, Signature):
        value = value.model_dump(mode="json")  # revalidated: model_construct skips the rules
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise InvalidInput(f"signature is not valid JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"signature must be a Signature or its JSON object, got {type(value).__name__}"
        )
    try:
        text = json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"signature must be plain JSON data: {exc}") from None
    try:
        # Strict: "yes" is not a boolean, 1.0 not a size, "5" not a list.
        return Signature.model_validate_json(text, strict=True)
    except ValidationError as exc:
        problems = [_problem(e["loc"], str(e["msg"]), value) for e in exc.errors()]
        shown = "; ".join(problems[:_SHOWN])
        more = f" ... ({len(problems)} problems in all)" if len(problems) > _SHOWN else ""
        raise InvalidInput(f"invalid signature: {shown}{more}") from None


_SHOWN = 8


def _problem(loc: tuple[int | str, ...], message: str, doc: Any) -> str:
    """One validation error, at a path that names fields: ``inputs.fields[1] 'age'.dtype``."""
    parts: list[str] = []
    node: Any = doc
    for step in loc:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            name = item.get("name") if isinstance(item, Mapping) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{step}]"]
            if isinstance(name, str):
                parts[-1] += f" {name[:80]!r}"
            node = item
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, Mapping) else None
    where = ".".join(parts) or "signature"
    return f"{where}: {message.removeprefix('Value error, ')}"


def as_signature(contract: object) -> Signature | None:
    """A version's ``contract`` as a :class:`Signature`; None when there is none or it
    is free-form (a mapping registered with ``contract=`` before signatures existed)."""
    if contract is None or isinstance(contract, Signature):
        return contract
    try:
        return parse_signature(contract)
    except InvalidInput:
        return None


# inference -----------------------------------------------------------------------


def infer_signature(
    inputs: Any,
    outputs: Any = None,
    *,
    model: Any = None,
    framework: str | None = None,
    framework_version: str | None = None,
) -> Signature:
    """The signature of example inputs (and outputs) of a model.

    Args:
        inputs, outputs: a pandas DataFrame or Series, a NumPy array, a list
            of dicts (one per row) or a scalar (int, float, bool, str, bytes).
        model: the trained model; its framework and version are detected
            from its module (``sklearn`` -> ``scikit-learn`` and
            ``sklearn.__version__``).
        framework, framework_version: given instead of detected; a missing
            version is read from the framework's installed package.

    Raises InvalidInput naming what cannot be described (an empty input,
    a list that is not of dicts, a structured array, an unknown type).
    """
    from .contract_infer import runtime_of, schema_of

    return Signature(
        inputs=schema_of(inputs, "inputs"),
        outputs=None if outputs is None else schema_of(outputs, "outputs"),
        runtime=runtime_of(model, framework, framework_version),
    )


# conformance ---------------------------------------------------------------------

# dtype -> the dtypes whose values it holds without loss (besides itself).
_HOLDS: dict[str, frozenset[str]] = {
    "int16": frozenset({"int8", "uint8", "bool"}),
    "int32": frozenset({"int8", "int16", "uint8", "uint16", "bool"}),
    "int64": frozenset({"int8", "int16", "int32", "uint8", "uint16", "uint32", "bool"}),
    "uint16": frozenset({"uint8", "bool"}),
    "uint32": frozenset({"uint8", "uint16", "bool"}),
    "uint64": frozenset({"uint8", "uint16", "uint32", "bool"}),
    "float32": frozenset({"int8", "int16", "uint8", "uint16", "float16", "bool"}),
    "float64": frozenset(
        {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
        | {"float16", "float32", "bool"}
    ),
    "complex128": frozenset({"complex64", "float16", "float32", "float64"}),
    "category": frozenset({"string", "bool", "int8", "int16", "int32", "int64"}),
}


def holds(wide: str, narrow: str) -> bool:
    """Whether every value of dtype ``narrow`` is a valid value of dtype ``wide``.

    ``object`` holds everything. Integers widen into larger integers and
    floats (int64 into float64, as pandas and scikit-learn do), float32 into
    float64, text into category.
    """
    return wide == narrow or wide == "object" or narrow in _HOLDS.get(wide, frozenset())


def shape_fits(expected: tuple[int, ...], actual: tuple[int, ...]) -> bool:
    """Whether ``actual`` matches ``expected``, where -1 in ``expected`` is any length."""
    return len(expected) == len(actual) and all(
        e == -1 or e == a for e, a in zip(expected, actual, strict=True)
    )


def conformance(expected: Schema, sample: Any) -> tuple[str, ...]:
    """How ``sample`` (any value :func:`schema_of` reads) breaks ``expected``.

    An empty tuple means it conforms: the same named fields, each of a dtype
    the expected one holds, no missing values where the field is not
    nullable, and the same shape. DataFrames, Series and lists of dicts are
    all tables of named columns; an array conforms only to an array. Raises
    InvalidInput when the sample's own signature cannot be read.
    """
    from .contract_infer import schema_of

    return compare_schemas(expected, schema_of(sample, "sample"))


def compare_schemas(
    expected: Schema, actual: Schema, *, nullable_may_be_absent: bool = False
) -> tuple[str, ...]:
    """The problems of data of schema ``actual`` given where ``expected`` is declared.

    With ``nullable_may_be_absent`` (inputs of a prediction), a nullable column may
    be left out: a caller of an older version, built before the column was added,
    keeps working (the contract diff calls such an addition compatible).
    """
    if (expected.kind in TABLE_KINDS) != (actual.kind in TABLE_KINDS) or (
        expected.kind == "scalar" and actual.kind != "scalar"
    ):
        return (
            f"the signature expects {_kind_text(expected)}; the sample is {_kind_text(actual)}",
        )
    problems = []
    missing = [
        f.name
        for f in expected.fields
        if actual.field(f.name) is None
        and not (nullable_may_be_absent and f.nullable and expected.kind in TABLE_KINDS)
    ]
    extra = [n for n in actual.names if expected.field(n) is None]
    if missing:
        problems.append(f"missing column(s) {_names(missing)}")
    if extra:
        problems.append(f"column(s) not in the signature: {_names(extra)}")
    for want in expected.fields:
        got = actual.field(want.name)
        if got is None:
            continue
        if not holds(want.dtype, got.dtype):
            problems.append(f"{want.name}: dtype {got.dtype}, the signature says {want.dtype}")
        elif want.dtype == "datetime" and got.dtype == "datetime" and want.tz != got.tz:
            problems.append(
                f"{want.name}: time zone {_tz_text(got.tz)}, the signature says {_tz_text(want.tz)}"
            )
        if got.nullable and not want.nullable:
            problems.append(f"{want.name}: has missing values; the signature says not nullable")
        if not shape_fits(want.shape, got.shape):
            problems.append(
                f"{want.name}: shape {list(got.shape)}, the signature says {list(want.shape)}"
            )
    return tuple(problems)


def _tz_text(tz: str | None) -> str:
    return "none (naive date-times)" if tz is None else tz


def _kind_text(schema: Schema) -> str:
    if schema.kind in TABLE_KINDS:
        return f"a table of columns {_names(schema.names)}"
    return f"an {schema.kind}" if schema.kind == "ndarray" else f"a {schema.kind}"


def _names(names: Sequence[str], show: int = 8) -> str:
    """Names for a message: the first few, and how many there are in all."""
    if len(names) <= show:
        return ", ".join(names)
    return f"{', '.join(names[:show])} ... ({len(names)} in all)"


__all__ = [
    "ARRAY_FIELD",
    "DTYPES",
    "MAX_DIM",
    "MAX_TZ",
    "SAMPLE_PATH",
    "SIGNATURE_FORMAT",
    "TABLE_KINDS",
    "VALUE_FIELD",
    "DType",
    "FieldSpec",
    "Frozen",
    "Kind",
    "Runtime",
    "SampleRef",
    "Schema",
    "Signature",
    "as_signature",
    "check_tz",
    "compare_schemas",
    "conformance",
    "holds",
    "infer_signature",
    "parse_signature",
    "shape_fits",
]
