"""Signatures: a version's input/output contract and its runtime expectations (pure).

:func:`infer_signature` reads field names, dtypes, shapes and nullability from
example data; :class:`Signature` is the typed, read-only contract stored with a
version; :func:`conformance` says how a sample breaks a schema. The contract
diff lives in :mod:`modelbook.contract_diff`.

Nothing here does I/O. NumPy and pandas are imported only when a value of
theirs is given, so importing modelbook (and starting the CLI) loads neither.

Shapes use ``-1`` for a dimension of any length: the first dimension of an
input is the number of rows, so a DataFrame column is ``(-1,)`` and a
``(n, 30)`` array ``(-1, 30)``; a scalar is ``()``.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
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


class _Frozen(BaseModel):
    # domain.py's convention, repeated so that domain can import this module.
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldSpec(_Frozen):
    """One input or output field.

    Attributes:
        name: the column or key name (``array`` for an unnamed array,
            ``value`` for a scalar or an unnamed series).
        dtype: one of :data:`DTYPES`.
        shape: the field's shape, ``-1`` where any length is accepted.
        nullable: whether missing values (None, NaN, NA) may occur.
    """

    name: Value
    dtype: DType
    shape: tuple[int, ...] = (-1,)
    nullable: bool = False

    @model_validator(mode="after")
    def _shape(self) -> FieldSpec:
        if any(d < -1 for d in self.shape) or len(self.shape) > 32:
            raise ValueError(f"shape {list(self.shape)}: dimensions are -1 (any) or sizes")
        return self


class Schema(_Frozen):
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
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec | None:
        """The field called ``name``, or None."""
        return next((f for f in self.fields if f.name == name), None)


class Runtime(_Frozen):
    """What the model expects of the process that serves it."""

    framework: Value | None = None
    framework_version: Value | None = None


class SampleRef(_Frozen):
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


class Signature(_Frozen):
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
        return Signature.model_validate(dict(value))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"invalid signature: {where}: {message}") from None


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
    return Signature(
        inputs=schema_of(inputs, "inputs"),
        outputs=None if outputs is None else schema_of(outputs, "outputs"),
        runtime=_runtime(model, framework, framework_version),
    )


def schema_of(value: Any, what: str = "inputs") -> Schema:
    """The :class:`Schema` of one value (see :func:`infer_signature`)."""
    module = type(value).__module__.split(".")[0]
    name = type(value).__name__
    if module == "pandas" and name == "DataFrame":
        return _dataframe(value, what)
    if module == "pandas" and name == "Series":
        return Schema(kind="series", fields=(_series_field(value, what),))
    if module == "numpy" and name == "ndarray":
        return _ndarray(value, what)
    if isinstance(value, list | tuple):
        return _records(value, what)
    numpy_scalar = module == "numpy" and hasattr(value, "dtype")
    if numpy_scalar or isinstance(value, int | float | str | bytes):
        dtype, null = _scalar_type(value)
        return Schema(
            kind="scalar",
            fields=(FieldSpec(name=VALUE_FIELD, dtype=dtype, shape=(), nullable=null),),
        )
    raise InvalidInput(
        f"cannot infer a signature of {what} of type {type(value).__name__}: give a pandas "
        "DataFrame or Series, a NumPy array, a list of dicts or a scalar"
    )


def _dataframe(df: Any, what: str) -> Schema:
    if len(df.columns) == 0:
        raise InvalidInput(f"{what}: the DataFrame has no columns")
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"{what}: column {twice[0]!r} appears twice")
    fields = []
    for i, name in enumerate(names):
        col = df.iloc[:, i]
        fields.append(_series_field(col, what, name))
    return Schema(kind="dataframe", fields=tuple(fields))


def _series_field(s: Any, what: str, name: str | None = None) -> FieldSpec:
    import pandas as pd

    label = name if name is not None else (VALUE_FIELD if s.name is None else str(s.name))
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        kind: str = "category"
    elif isinstance(dtype, pd.StringDtype):
        kind = "string"
    elif isinstance(dtype, pd.DatetimeTZDtype):
        kind = "datetime"
    elif str(dtype) == "boolean":
        kind = "bool"
    elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and hasattr(dtype, "numpy_dtype"):
        kind = _numpy_kind(dtype.numpy_dtype, s.dropna().tolist())
    elif isinstance(dtype, pd.api.extensions.ExtensionDtype):
        kind = "object"
    else:
        kind = _numpy_kind(dtype, s.dropna().tolist() if dtype.kind == "O" else ())
    # A masked dtype (Int64, boolean, Float64) is chosen to allow NA: it is nullable.
    masked = str(dtype) in ("boolean", "Int8", "Int16", "Int32", "Int64", "Float32", "Float64")
    nullable = masked or bool(s.isna().any())
    return _field(label, kind, (-1,), nullable, what)


def _ndarray(a: Any, what: str) -> Schema:
    if a.dtype.names is not None:
        raise InvalidInput(
            f"{what}: a structured array is not supported; give a DataFrame "
            "(pandas.DataFrame(array)) so each field is a named column"
        )
    if a.ndim == 0:
        dtype, null = _scalar_type(a.item())
        return Schema(
            kind="scalar",
            fields=(FieldSpec(name=VALUE_FIELD, dtype=dtype, shape=(), nullable=null),),
        )
    values = a.ravel().tolist() if a.dtype.kind == "O" else ()
    kind = _numpy_kind(a.dtype, [v for v in values if not _is_null(v)])
    if a.dtype.kind in "fc":
        import numpy as np

        nullable = bool(np.isnan(a).any())
    elif a.dtype.kind == "O":
        nullable = any(_is_null(v) for v in values)
    else:
        nullable = False
    return Schema(
        kind="ndarray", fields=(_field(ARRAY_FIELD, kind, (-1, *a.shape[1:]), nullable, what),)
    )


def _records(rows: list[Any] | tuple[Any, ...], what: str) -> Schema:
    if not rows:
        raise InvalidInput(f"{what}: the list is empty; give at least one row")
    found: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                f"{what}: row {i} is a {type(row).__name__}; a list must hold one dict per "
                "row (for plain values, give a NumPy array)"
            )
        for k in row:
            if not isinstance(k, str):
                raise InvalidInput(f"{what}: row {i} has a key of type {type(k).__name__}")
            found.setdefault(k, [])
    for row in rows:
        for k, values in found.items():
            # A key missing from a row is a missing value of that field.
            values.append(row.get(k))
    fields = []
    for k, values in found.items():
        present = [v for v in values if not _is_null(v)]
        lists = [v for v in present if isinstance(v, list | tuple)]
        if lists and len(lists) == len(present):
            lengths = {len(v) for v in lists}
            inner = [x for v in lists for x in v if not _is_null(x)]
            kind = _python_kind(inner)
            shape: tuple[int, ...] = (-1, lengths.pop() if len(lengths) == 1 else -1)
        else:
            kind = _python_kind(present) if not lists else "object"
            shape = (-1,)
        fields.append(_field(k, kind, shape, len(present) < len(values), what))
    return Schema(kind="records", fields=tuple(fields))


def _field(name: str, dtype: str, shape: tuple[int, ...], nullable: bool, what: str) -> FieldSpec:
    try:
        return FieldSpec(name=name, dtype=dtype, shape=shape, nullable=nullable)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{what}: field {name[:80]!r}: {message}") from None


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or type(v).__name__ == "NAType"


def _python_kind(values: list[Any]) -> str:
    """The dtype of plain Python (or NumPy scalar) values; ``object`` when mixed."""
    kinds = {_scalar_type(v)[0] for v in values}
    if not kinds:
        return "object"  # only missing values: nothing says what they would be
    if len(kinds) == 1:
        return kinds.pop()
    numeric = {"bool", "int64", "float64"}
    if kinds <= numeric and "bool" not in kinds:
        return "float64"
    return "object"


def _scalar_type(v: Any) -> tuple[str, bool]:
    """(dtype, is missing) of one scalar value."""
    if v is None:
        return "object", True
    if type(v).__module__ == "numpy" and hasattr(v, "dtype"):
        if v.dtype.kind == "f" and math.isnan(float(v)):
            return _numpy_kind(v.dtype, ()), True
        return _numpy_kind(v.dtype, [v.item()] if v.dtype.kind == "O" else ()), False
    if isinstance(v, bool):
        return "bool", False
    if isinstance(v, int):
        return "int64", False
    if isinstance(v, float):
        return "float64", math.isnan(v)
    if isinstance(v, str):
        return "string", False
    if isinstance(v, bytes):
        return "bytes", False
    name = type(v).__name__
    if name in ("datetime", "Timestamp", "date"):
        return "datetime", False
    if name in ("timedelta", "Timedelta"):
        return "timedelta", False
    return "object", _is_null(v)


def _numpy_kind(dtype: Any, values: Any) -> str:
    """The :data:`DType` of a NumPy dtype; object arrays are judged by ``values``."""
    k = dtype.kind
    if k == "b":
        return "bool"
    if k in "iufc":
        return str(dtype.name)
    if k == "M":
        return "datetime"
    if k == "m":
        return "timedelta"
    if k == "U":
        return "string"
    if k == "S":
        return "bytes"
    return _python_kind([v for v in values if not _is_null(v)])


# The import name of a framework -> the name of the package that installs it.
_DISTRIBUTIONS = {"sklearn": "scikit-learn", "torch": "torch", "onnx": "onnx"}


def _runtime(model: Any, framework: str | None, version: str | None) -> Runtime:
    """The framework and its version: as given, else from the model's module."""
    module = None
    if framework is None and model is not None:
        module = type(model).__module__.split(".")[0]
        if module in ("builtins", "__main__"):
            module = None
        framework = None if module is None else _DISTRIBUTIONS.get(module, module)
    if framework is not None and version is None:
        import_name = module or next(
            (m for m, d in _DISTRIBUTIONS.items() if d == framework), framework
        )
        loaded = sys.modules.get(import_name)
        found = getattr(loaded, "__version__", None)
        if isinstance(found, str):
            version = found
        else:
            from importlib import metadata

            try:
                version = metadata.version(framework)
            except metadata.PackageNotFoundError:
                version = None
    try:
        return Runtime(framework=framework, framework_version=version)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"invalid runtime {where}: {message}") from None


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
    return compare_schemas(expected, schema_of(sample, "sample"))


def compare_schemas(expected: Schema, actual: Schema) -> tuple[str, ...]:
    """The problems of data of schema ``actual`` given where ``expected`` is declared."""
    if (expected.kind in TABLE_KINDS) != (actual.kind in TABLE_KINDS) or (
        expected.kind == "scalar" and actual.kind != "scalar"
    ):
        return (f"the signature expects {_kind_text(expected)}; the sample is a {actual.kind}",)
    problems = []
    missing = [n for n in expected.names if actual.field(n) is None]
    extra = [n for n in actual.names if expected.field(n) is None]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"column(s) not in the signature: {', '.join(extra)}")
    for want in expected.fields:
        got = actual.field(want.name)
        if got is None:
            continue
        if not holds(want.dtype, got.dtype):
            problems.append(f"{want.name}: dtype {got.dtype}, the signature says {want.dtype}")
        if got.nullable and not want.nullable:
            problems.append(f"{want.name}: has missing values; the signature says not nullable")
        if not shape_fits(want.shape, got.shape):
            problems.append(
                f"{want.name}: shape {list(got.shape)}, the signature says {list(want.shape)}"
            )
    return tuple(problems)


def _kind_text(schema: Schema) -> str:
    if schema.kind in TABLE_KINDS:
        return "a table of columns " + ", ".join(schema.names)
    return f"a {schema.kind}"
