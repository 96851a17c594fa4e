"""Signatures: a version's input/output contract and its runtime expectations (pure).

:func:`infer_signature` reads field names, dtypes, shapes and nullability from
example data; :class:`Signature` is the typed, read-only contract stored with a
version; :func:`conformance` says how a sample breaks a schema. Inference lives
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
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import InvalidInput
from .limits import Value

#: The dtypes a field can have. Fixed-width numbers keep their width; text is
#: ``string``; ``object`` is anything else (mixed or nested values).
DType = Literal[
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "string",
    "bytes",
    "datetime",
    "timedelta",
    "category",
    "object",
]
DTYPES: tuple[str, ...] = get_args(DType)

#: How the data was given, so that a loader can rebuild the same kind of value.
Kind = Literal["dataframe", "series", "ndarray", "records", "scalar"]
#: The kinds whose fields are named columns: a sample of one conforms to the others.
TABLE_KINDS = frozenset({"dataframe", "series", "records"})

#: The format of the stored signature; a later format will convert this one.
SIGNATURE_FORMAT: Literal[1] = 1
#: Where a version's input sample is stored among its artifacts.
SAMPLE_PATH: Literal["_modelbook/sample.parquet"] = "_modelbook/sample.parquet"

# Names given to fields that have none of their own.
ARRAY_FIELD = "array"
VALUE_FIELD = "value"


class Frozen(BaseModel):
    # domain.py's convention, repeated so that domain can import this module.
    model_config = ConfigDict(frozen=True, extra="forbid")


#: The longest time zone name a datetime field may carry (IANA names are shorter).
MAX_TZ = 64
#: The largest size of a dimension: what a 64-bit signed integer holds, as NumPy's shapes.
MAX_DIM = 2**63 - 1
# A fixed offset as pandas and Arrow name it: ``UTC+01:00``, ``+01:00``, ``UTC-05:30``.
_OFFSET = re.compile(r"(?:UTC)?[+-](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?")


def check_tz(tz: str) -> str | None:
    """Why ``tz`` is not a time zone a column can be read in; None when it is one.

    ``UTC``, a fixed offset (``UTC+01:00``, ``+01:00``) or a key of the IANA
    database (``Europe/Paris``), as :mod:`zoneinfo` finds it.
    """
    if tz == "UTC" or _OFFSET.fullmatch(tz):
        return None
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a folder of the database (``Europe``) rather than a zone in it.
        return (
            f"tz {tz!r} is not a time zone: give an IANA name (Europe/Paris, America/New_York), "
            "UTC, or a fixed offset (UTC+01:00)"
        )
    return None


class FieldSpec(Frozen):
    """One input or output field.

    Attributes:
        name: the column or key name (``array`` for an unnamed array,
            ``value`` for a scalar or an unnamed series); not empty.
        dtype: one of :data:`DTYPES`.
        shape: the field's shape, ``-1`` where any length is accepted.
        nullable: whether missing values (None, NaN, NA) may occur.
        tz: the time zone of a ``datetime`` field (``UTC``, ``Europe/Paris``,
            ``UTC+01:00``) as pandas names it; None for naive date-times.
    """

    name: Value
    dtype: DType
    shape: tuple[int, ...] = (-1,)
    nullable: bool = False
    tz: Value | None = None

    @model_validator(mode="after")
    def _shape(self) -> FieldSpec:
        if not self.name.strip():
            raise ValueError("name is empty")
        if any(d < -1 for d in self.shape) or len(self.shape) > 32:
            raise ValueError(
                f"shape {_shape_text(self.shape)}: dimensions are -1 (any) or sizes, at most 32"
            )
        if any(d > MAX_DIM for d in self.shape):
            raise ValueError(
                f"shape {_shape_text(self.shape)}: a size is at most 2**63-1 "
                f"({MAX_DIM}); give -1 for any length"
            )
        if self.tz is not None and (self.dtype != "datetime" or not self.tz.strip()):
            raise ValueError(f"tz {self.tz!r}: only a datetime field has a time zone")
        if self.tz is not None and len(self.tz) > MAX_TZ:
            raise ValueError(f"tz is {len(self.tz)} characters long; the limit is {MAX_TZ}")
        if self.tz is not None:
            wrong = check_tz(self.tz)
            if wrong is not None:
                raise ValueError(wrong)
        return self


def _shape_text(shape: tuple[int, ...]) -> str:
    """A shape for a message; a size of hundreds of digits is cut, not printed whole."""
    text = str(list(shape))
    return text if len(text) <= 120 else text[:100] + " ...]"


class Schema(Frozen):
    """The fields of the inputs or the outputs, and the kind of value they came as."""

    kind: Kind
    fields: tuple[FieldSpec, ...]

    @model_validator(mode="after")
    def _unique(self) -> Schema:
        if not self.fields:
            raise ValueError("a schema needs at least one field")
        seen: set[str] = set()
        for f in self.fields:
            if f.name in seen:
                raise ValueError(f"field {f.name!r} is named twice")
            seen.add(f.name)
            # The first dimension is the rows: any number of them; a scalar has none.
            if self.kind == "scalar" and f.shape != ():
                raise ValueError(f"field {f.name!r}: a scalar's shape is [], not {list(f.shape)}")
            if self.kind != "scalar" and (not f.shape or f.shape[0] != -1):
                raise ValueError(
                    f"field {f.name!r}: shape {list(f.shape)}: the first dimension is the "
                    "rows and must be -1 (any number), e.g. [-1] for a column, [-1, 30] "
                    "for rows of 30 values"
                )
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec | None:
        """The field called ``name``, or None."""
        return next((f for f in self.fields if f.name == name), None)


class Runtime(Frozen):
    """What the model expects of the process that serves it.

    ``flavor`` is the loader declared at registration (``flavor=``,
    ``--flavor``; see :mod:`modelbook.flavors`); None lets ``load`` detect it.
    """

    framework: Value | None = None
    framework_version: Value | None = None
    flavor: Value | None = None


class SampleRef(Frozen):
    """The stored input sample: an artifact of the version (set by registration).

    Attributes:
        path: its artifact path (:data:`SAMPLE_PATH`).
        format: ``parquet`` (see docs/contracts-and-versions.md).
        rows: the rows stored.
        truncated: whether more rows were given and only the first ``rows`` kept.
    """

    path: Literal["_modelbook/sample.parquet"] = SAMPLE_PATH
    format: Literal["parquet"] = "parquet"
    rows: int
    truncated: bool = False


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
