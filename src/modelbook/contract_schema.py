"""The parts of a contract (pure): each field's dtype, shape and nullability
(:class:`FieldSpec`), a schema of fields (:class:`Schema`), the runtime a
version expects (:class:`Runtime`) and where its input sample is stored
(:class:`SampleRef`). :mod:`modelbook.contract` assembles them into a
:class:`~modelbook.contract.Signature`.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, model_validator

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
