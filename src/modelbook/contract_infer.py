"""How :func:`modelbook.contract.infer_signature` reads a value's schema (pure).

Field names, dtypes (see :data:`modelbook.contract.DTYPES`), shapes (``-1``
for the rows) and nullability of pandas DataFrames and Series, NumPy arrays,
lists of dicts and scalars; and the framework a model comes from. NumPy and
pandas are imported only when one of their values is given.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from .contract import ARRAY_FIELD, VALUE_FIELD, FieldSpec, Runtime, Schema
from .display import article
from .errors import InvalidInput


class _TooWide(ValueError):
    """An integer that no 64-bit integer dtype holds (named with its field by the caller)."""


@contextmanager
def _about(what: str, name: str) -> Iterator[None]:
    """Name the field when its values cannot be described."""
    try:
        yield
    except _TooWide as exc:
        raise InvalidInput(f"{what}: field {name[:80]!r}: {exc}") from None


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
    if module == "numpy" and name == "MaskedArray":
        return _masked(value, what)
    if isinstance(value, list | tuple):
        return _records(value, what)
    numpy_scalar = module == "numpy" and hasattr(value, "dtype")
    if numpy_scalar or isinstance(value, int | float | str | bytes):
        return _scalar(value, what)
    if type(value).__name__ in ("datetime", "Timestamp"):
        return _scalar(value, what)
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
    label = name if name is not None else (VALUE_FIELD if s.name is None else str(s.name))
    with _about(what, label):
        kind, tz = _series_kind(s)
    # Nullable means a value is missing, whatever the dtype: an Int64 (or boolean,
    # Float64, string, Arrow) column without NA is as complete as an int64 one, and a
    # sample of it must match a signature that says not nullable.
    nullable = bool(s.isna().any())
    return _field(label, kind, (-1,), nullable, what, tz)


def _series_kind(s: Any) -> tuple[str, str | None]:
    """(dtype, time zone) of a pandas Series."""
    import pandas as pd

    dtype = s.dtype
    tz = None
    if isinstance(dtype, pd.CategoricalDtype):
        kind: str = "category"
    elif isinstance(dtype, pd.StringDtype):
        kind = "string"
    elif isinstance(dtype, pd.DatetimeTZDtype):
        kind, tz = "datetime", _tz_name(dtype.tz)
    elif isinstance(dtype, pd.ArrowDtype) and getattr(dtype.pyarrow_dtype, "tz", None):
        kind, tz = "datetime", _tz_name(dtype.pyarrow_dtype.tz)
    elif str(dtype) == "boolean":
        kind = "bool"
    elif isinstance(dtype, pd.SparseDtype):
        import numpy as np

        kind = _numpy_kind(np.dtype(dtype.subtype), s.dropna().tolist())
    elif isinstance(dtype, pd.api.extensions.ExtensionDtype) and hasattr(dtype, "numpy_dtype"):
        kind = _numpy_kind(dtype.numpy_dtype, s.dropna().tolist())
    elif isinstance(dtype, pd.api.extensions.ExtensionDtype):
        kind = "object"
    else:
        values = s.dropna().tolist() if dtype.kind == "O" else ()
        kind = _numpy_kind(dtype, values)
        if kind == "datetime" and values:
            kind, tz = _zone(values)
    return kind, tz


def _ndarray(a: Any, what: str) -> Schema:
    if a.dtype.names is not None:
        raise InvalidInput(
            f"{what}: a structured array is not supported; give a DataFrame "
            "(pandas.DataFrame(array)) so each field is a named column"
        )
    if a.ndim == 0:
        return _scalar(a.item(), what)
    values = a.ravel().tolist() if a.dtype.kind == "O" else ()
    present = [v for v in values if not _is_null(v)]
    with _about(what, ARRAY_FIELD):
        kind = _numpy_kind(a.dtype, present)
    tz = None
    if kind == "datetime" and present:
        kind, tz = _zone(present)
    if a.dtype.kind in "fc":
        import numpy as np

        nullable = bool(np.isnan(a).any())
    elif a.dtype.kind == "O":
        nullable = any(_is_null(v) for v in values)
    else:
        nullable = False
    return Schema(
        kind="ndarray",
        fields=(_field(ARRAY_FIELD, kind, (-1, *a.shape[1:]), nullable, what, tz),),
    )


def _masked(a: Any, what: str) -> Schema:
    """A masked array is the array it masks; a masked value is a missing one."""
    import numpy as np

    schema = _ndarray(np.ma.getdata(a), what)
    if not np.ma.getmaskarray(a).any():
        return schema
    field = schema.fields[0].model_copy(update={"nullable": True})
    return schema.model_copy(update={"fields": (field,)})


def _records(rows: list[Any] | tuple[Any, ...], what: str) -> Schema:
    if not rows:
        raise InvalidInput(f"{what}: the list is empty; give at least one row")
    found: dict[str, list[Any]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InvalidInput(
                f"{what}: row {i} is {article(type(row).__name__)}; a list must hold one dict per "
                "row (for plain values, give a NumPy array)"
            )
        for k in row:
            if not isinstance(k, str):
                raise InvalidInput(f"{what}: row {i} has a key of type {type(k).__name__}")
            found.setdefault(k, [])
    if not found:
        raise InvalidInput(f"{what}: the rows hold no keys; give at least one field")
    for row in rows:
        for k, values in found.items():
            # A key missing from a row is a missing value of that field.
            values.append(row.get(k))
    fields = []
    for k, values in found.items():
        present = [v for v in values if not _is_null(v)]
        lists = [v for v in present if isinstance(v, list | tuple)]
        with _about(what, k):
            if lists and len(lists) == len(present):
                lengths = {len(v) for v in lists}
                inner = [x for v in lists for x in v if not _is_null(x)]
                kind = _python_kind(inner)
                shape: tuple[int, ...] = (-1, lengths.pop() if len(lengths) == 1 else -1)
            else:
                kind = _python_kind(present) if not lists else "object"
                shape = (-1,)
        tz = None
        if kind == "datetime":
            kind, tz = _zone(present)
        fields.append(_field(k, kind, shape, len(present) < len(values), what, tz))
    return Schema(kind="records", fields=tuple(fields))


def _field(
    name: str,
    dtype: str,
    shape: tuple[int, ...],
    nullable: bool,
    what: str,
    tz: str | None = None,
) -> FieldSpec:
    try:
        return FieldSpec(name=name, dtype=dtype, shape=shape, nullable=nullable, tz=tz)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{what}: field {name[:80]!r}: {message}") from None


def _zone(values: list[Any]) -> tuple[str, str | None]:
    """``("datetime", tz)`` for date-times all in one time zone (None: all naive);
    ``("object", None)`` when they mix zones, or naive and aware ones."""
    zones = {_tz_name(v.tzinfo) for v in values if hasattr(v, "tzinfo")}
    if len(zones) > 1:
        return "object", None
    return "datetime", zones.pop() if zones else None


def _tz_name(tz: Any) -> str | None:
    """The name of a time zone object as a signature records it: the IANA key of a
    zoneinfo or pytz zone (``Europe/Paris``), ``UTC``, or a fixed offset
    (``UTC+01:00``); other objects as their text."""
    if tz is None:
        return None
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if isinstance(key, str):
        return key
    text = str(tz)
    # dateutil's UTC; other objects are named as their text, and a signature refuses
    # a name that is not a time zone.
    return "UTC" if text == "tzutc()" else text


def _scalar(value: Any, what: str) -> Schema:
    with _about(what, VALUE_FIELD):
        dtype, null = _scalar_type(value)
    tz = None
    if dtype == "datetime" and not null:
        dtype, tz = _zone([value])
    return Schema(kind="scalar", fields=(_field(VALUE_FIELD, dtype, (), null, what, tz),))


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or type(v).__name__ == "NAType"


def _python_kind(values: list[Any]) -> str:
    """The dtype of plain Python (or NumPy scalar) values; ``object`` when mixed."""
    kinds = {_scalar_type(v)[0] for v in values}
    if not kinds:
        return "object"  # only missing values: nothing says what they would be
    if len(kinds) == 1:
        return kinds.pop()
    if kinds == {"int64", "uint64"}:
        # Integers above 2**63-1 are uint64, which holds no negative one.
        if any(isinstance(v, int) and v < 0 for v in values):
            raise _TooWide(
                "mixes negative integers and integers above 2**63-1, which no 64-bit "
                "integer dtype holds both of; give them as floats or text"
            )
        return "uint64"
    numeric = {"bool", "int64", "uint64", "float64"}
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
        if -(2**63) <= v < 2**63:
            return "int64", False
        if 2**63 <= v < 2**64:
            return "uint64", False
        raise _TooWide(
            f"the integer {_digits(v)} does not fit in 64 bits (int64 or uint64); "
            "give it as a float or as text"
        )
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


def _digits(n: int) -> str:
    """An integer for a message: a long one is cut to its first digits."""
    text = str(n) if n.bit_length() < 1000 else f"of {n.bit_length()} bits"
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} digits)"


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


def runtime_of(model: Any, framework: str | None, version: str | None) -> Runtime:
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
