"""A version's input sample: cut to its first rows, stored as Parquet, read back.

The sample is stored as one artifact, ``_modelbook/sample.parquet``, in one
format for every kind of input, because Parquet keeps the dtypes a signature
names (fixed-width numbers, nullable columns, text, categories, datetimes):

- a DataFrame: its columns (the index is not kept);
- a Series: one column, named as its field;
- a list of dicts: one column per key (a key missing from a row reads back as None);
- a NumPy array: one column ``array``; a row of an array of more than one
  dimension is a fixed-shape tensor (Arrow's ``fixed_shape_tensor``);
- a scalar: one row of one column ``value``.

The kind is kept in the file's metadata (``modelbook.sample``), so
:func:`decode` gives back the same kind of value. pandas and pyarrow are
imported only here, and only when a sample is used.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from .contract import ARRAY_FIELD, VALUE_FIELD, Schema
from .errors import InvalidInput, shown

#: Rows kept of a sample unless told otherwise.
DEFAULT_ROWS = 100
#: The most rows a sample may keep.
MAX_ROWS = 100_000
SUFFIXES = (".csv", ".parquet", ".pq", ".npy")
_META = b"modelbook.sample"


def _need() -> None:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise InvalidInput(
            "a sample needs pandas and pyarrow: pip install 'modelbook[contracts]'"
        ) from None


def check_rows(rows: object) -> int:
    """The number of rows to keep: an int from 1 to :data:`MAX_ROWS`."""
    if not isinstance(rows, int) or isinstance(rows, bool) or not 1 <= rows <= MAX_ROWS:
        raise InvalidInput(
            f"sample rows must be a whole number from 1 to {MAX_ROWS}, got {shown(rows)}"
        )
    return rows


def cut(value: Any, rows: int) -> tuple[Any, bool]:
    """(the first ``rows`` rows of ``value``, whether any were cut)."""
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and type(value).__name__ in ("DataFrame", "Series"):
        return value.iloc[:rows], len(value) > rows
    array = type(value).__name__ in ("ndarray", "MaskedArray")
    if module == "numpy" and array and value.ndim > 0:
        return value[:rows], len(value) > rows
    if isinstance(value, list | tuple):
        return list(value[:rows]), len(value) > rows
    return value, False


def row_count(value: Any) -> int:
    """The rows of a sample (a scalar is one)."""
    if isinstance(value, str | bytes):
        return 1
    try:
        return len(value)
    except TypeError:  # a scalar, or a 0-d array
        return 1


def read_file(path: str | Path, rows: int = DEFAULT_ROWS, schema: Schema | None = None) -> Any:
    """A sample from a ``.csv``, ``.parquet`` (``.pq``) or ``.npy`` file, of at most ``rows + 1``
    rows (one more, so that a cut can be told).

    ``schema``, when given, names the CSV columns to read as datetimes. Raises
    InvalidInput naming the file: an unsupported type, a missing or
    unreadable file, a file that is not what its name says; a CSV header that
    names a column twice, leaves one unnamed or looks separated by something
    other than commas; a row with more or fewer values than the header; a
    ``.npy`` file of one value (0 dimensions) where the schema, if any, is not
    a scalar.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(
            f"sample {p}: unsupported file type {suffix or '(none)'!r}; "
            "give a .csv, .parquet or .npy file"
        )
    if not p.is_file():
        raise InvalidInput(f"sample {p}: no such file")
    try:
        if suffix == ".npy":
            return _read_npy(p, rows, schema)
        _need()
        if suffix == ".csv":
            return _read_csv(p, rows, schema)
        import pyarrow.parquet as pq

        with pq.ParquetFile(p) as pf:
            first = next(pf.iter_batches(batch_size=rows + 1), None)
            table = (first and _table([first])) or pf.schema_arrow.empty_table()
        return _from_table(table)
    except InvalidInput:
        raise
    except (OSError, ValueError, TypeError, UnicodeDecodeError, Exception) as exc:  # noqa: BLE001
        # pandas, pyarrow and numpy raise many kinds of error for a bad file.
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise InvalidInput(f"sample {p} cannot be read: {first_line}") from None


_NPY_MAGIC = b"\x93NUMPY"


def _read_npy(p: Path, rows: int, schema: Schema | None) -> Any:
    import numpy as np

    with p.open("rb") as f:
        magic = f.read(len(_NPY_MAGIC))
    if magic != _NPY_MAGIC:
        # NumPy takes a file without its header for a pickle and says so; it is not one.
        raise InvalidInput(
            f"sample {p} is not a NumPy .npy file (it does not start with the .npy header); "
            "save the array with numpy.save, or give a .csv or .parquet file"
        )
    try:
        # allow_pickle=False: an object array would run code from the file.
        data = np.load(p, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        if "object" not in str(exc).lower():
            raise
        raise InvalidInput(
            f"sample {p} holds an object array (Python objects, read only by unpickling, "
            "which could run code from the file); save a numeric or text array, or give "
            "a .parquet file"
        ) from None
    if data.ndim == 0 and (schema is None or schema.kind != "scalar"):
        raise InvalidInput(
            f"sample {p} holds one value (an array of 0 dimensions), not rows of inputs; "
            "save the rows, an array of shape (rows, features)"
        )
    return np.array(data[: rows + 1]) if data.ndim else np.array(data)


# A separator a CSV from elsewhere may use instead of a comma.
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _read_csv(p: Path, rows: int, schema: Schema | None) -> Any:
    """The first ``rows`` rows of a CSV file, separated by commas, with a header of
    unique, non-empty column names (pandas would rename ``a,a`` to ``a, a.1`` and an
    empty name to ``Unnamed: 0``: a sample that no longer says what the file says)."""
    import warnings

    import pandas as pd

    raw = pd.read_csv(p, header=None, nrows=1, dtype=str, keep_default_na=False)
    names = [str(n) for n in raw.iloc[0].tolist()] if len(raw) else []
    for i, n in enumerate(names):
        if not n.strip():
            raise InvalidInput(
                f"sample {p}: column {i + 1} has no name in the header; every column needs "
                "one (a DataFrame saved with its index leaves the first one empty: save it "
                "with to_csv(index=False))"
            )
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise InvalidInput(
            f"sample {p}: column {twice[:80]!r} is named twice in the header; "
            "give each column its own name"
        )
    if len(names) == 1 and (schema is None or schema.field(names[0]) is None):
        for sep, what in _OTHER_SEPARATORS.items():
            if len([n for n in names[0].split(sep) if n.strip()]) > 1:
                expected = f"; the signature has {len(schema.fields)} column(s)" if schema else ""
                raise InvalidInput(
                    f"sample {p}: one column, named {names[0][:80]!r}{expected}: the file "
                    f"looks separated by {what}, and a CSV sample is separated by commas; "
                    "save it with commas (DataFrame.to_csv) or give a .parquet file"
                )
    _same_length_rows(p, rows, len(names))
    dates = [f for f in schema.fields if f.dtype == "datetime"] if schema else []
    with warnings.catch_warnings():
        # index_col=False: a first row longer than the header is not taken as an index.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                p,
                nrows=rows + 1,
                index_col=False,
                parse_dates=[d.name for d in dates if d.name in names] or False,
            )
        except pd.errors.ParserWarning:
            raise InvalidInput(
                f"sample {p}: a row has more values than the header has column names "
                f"({len(names)}); name every column in the header"
            ) from None
    for d in dates:
        if d.tz is not None and d.name in names:
            frame[d.name] = _in_zone(frame[d.name], d.tz)
    return frame


def _same_length_rows(p: Path, rows: int, columns: int) -> None:
    """Refuse a row of the first ``rows`` with fewer or more values than the header
    has names: pandas would fill a short row with missing values, which the sample
    would then record as nullable columns the file never meant."""
    import csv
    import itertools

    with p.open(newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        try:
            for record in itertools.islice(reader, rows + 1):
                if record and len(record) != columns:
                    raise InvalidInput(
                        f"sample {p}: line {reader.line_num} has {len(record)} value(s) and "
                        f"the header names {columns} column(s); give every row one value "
                        "per column (an empty value between commas for a missing one)"
                    )
        except csv.Error:
            return  # what the csv module cannot split, pandas reads or refuses below


def _in_zone(column: Any, tz: str) -> Any:
    """A CSV column of date-times in the signature's time zone ``tz``: text has no
    time zone type, so naive times are taken as local to ``tz`` and times with an
    offset are converted to it. Left as read when it is not date-times."""
    import pandas as pd

    try:
        if not pd.api.types.is_datetime64_any_dtype(column):
            column = pd.to_datetime(column, utc=True)
        if getattr(column.dt, "tz", None) is None:
            return column.dt.tz_localize(tz)
        return column.dt.tz_convert(tz)
    except (ValueError, TypeError):
        return column  # the signature check names what is wrong with it


def _table(batches: list[Any]) -> Any:
    import pyarrow as pa

    return pa.Table.from_batches(batches)


def encode(value: Any, schema: Schema) -> bytes:
    """The sample as Parquet bytes, in the layout the module describes."""
    _need()
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = schema.kind
    try:
        if kind == "dataframe":
            frame = value.copy()
            frame.columns = [str(c) for c in frame.columns]
            table = pa.Table.from_pandas(frame, preserve_index=False)
        elif kind == "series":
            table = pa.Table.from_pandas(
                value.to_frame(schema.fields[0].name), preserve_index=False
            )
        elif kind == "records":
            rows = [dict(r) for r in value]
            names = dict.fromkeys(k for r in rows for k in r)  # as from_pylist orders them
            types = {f.name: _arrow_type(f.dtype) for f in schema.fields if f.shape == (-1,)}
            table = pa.table(
                {n: pa.array([r.get(n) for r in rows], type=types.get(n)) for n in names}
            )
        elif kind == "ndarray":
            value = _unmasked(value)
            if value.ndim > 1:
                column = pa.FixedShapeTensorArray.from_numpy_ndarray(
                    value if value.flags.c_contiguous else value.copy(order="C")
                )
            else:
                column = pa.array(value)
            table = pa.table({ARRAY_FIELD: column})
        else:
            item = value.item() if hasattr(value, "item") else value
            table = pa.table(
                {VALUE_FIELD: pa.array([item], type=_arrow_type(schema.fields[0].dtype))}
            )
    except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"the sample cannot be stored as Parquet: {exc}") from None
    meta = {**(table.schema.metadata or {}), _META: json.dumps({"kind": kind}).encode()}
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    return buf.getvalue()


def _unmasked(value: Any) -> Any:
    """An array as it is stored: a masked array's masked values are NaN, which reads
    back as the same missing values; other dtypes have no missing value to give."""
    import numpy as np

    if not isinstance(value, np.ma.MaskedArray):
        return value
    if not np.ma.getmaskarray(value).any():
        return np.ma.getdata(value)
    if value.dtype.kind not in "fc":
        raise InvalidInput(
            f"the sample is a masked array of {value.dtype} with masked values, which a "
            "stored array cannot hold as missing; give floats with NaN "
            "(array.astype(float).filled(numpy.nan)) or a DataFrame of a nullable dtype"
        )
    return value.filled(np.nan)


def _arrow_type(dtype: str) -> Any:
    """The Arrow type to store Python values of ``dtype`` as, when Arrow would not infer
    it: integers above 2**63-1 are uint64 (Arrow infers int64 and overflows)."""
    import pyarrow as pa

    return pa.uint64() if dtype == "uint64" else None


def decode(data: bytes) -> Any:
    """The sample stored by :func:`encode`, as the same kind of value."""
    _need()
    import pyarrow.parquet as pq

    return _from_table(pq.read_table(io.BytesIO(data)))


def _from_table(table: Any) -> Any:
    meta = (table.schema.metadata or {}).get(_META)
    kind = json.loads(meta)["kind"] if meta else "dataframe"
    if kind == "ndarray":
        column = table.column(ARRAY_FIELD).combine_chunks()
        if hasattr(column, "to_numpy_ndarray"):
            return column.to_numpy_ndarray()
        return column.to_numpy(zero_copy_only=False)
    if kind == "records":
        return table.to_pylist()
    if kind == "scalar":
        return table.column(VALUE_FIELD)[0].as_py()
    frame = table.to_pandas()
    return frame.iloc[:, 0] if kind == "series" else frame
