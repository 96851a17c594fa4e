"""A loaded model behind its contract: inputs checked against the signature, then predicted.

The matching rules are :func:`modelbook.contract.compare_schemas`'s, the same
that check a sample at registration: the same named fields, dtypes the
signature holds, no missing values where a field is not nullable, the same
shape. Tables (DataFrame, Series, list of dicts) are given to the model as a
DataFrame with the signature's column order.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from numbers import Integral, Number
from typing import Any

from ..contract import TABLE_KINDS, Schema, Signature, compare_schemas
from ..display import article
from ..errors import InvalidInput
from ..sample import row_count
from .base import Flavor


def check_inputs(signature: Signature | None, inputs: Any, where: str) -> Any:
    """``inputs`` checked against ``signature`` and shaped as the model takes them.

    Args:
        signature: the version's signature; None skips the check (no contract).
        inputs: a DataFrame, Series, NumPy array, list of dicts or scalar.
        where: the version's URI, for the message.

    A nullable column may be left out of a table: it reaches the model as
    missing values. Raises InvalidInput naming each offending field (a missing
    non-nullable or an extra column, a dtype the signature does not hold, missing values in a field
    that is not nullable, a wrong shape).
    """
    if signature is None:
        return inputs
    from ..contract_infer import schema_of

    problems = compare_schemas(
        signature.inputs, schema_of(inputs, "inputs"), nullable_may_be_absent=True
    )
    if problems:
        raise InvalidInput(f"inputs do not match the signature of {where}: " + "; ".join(problems))
    return _as_model_input(signature.inputs, inputs)


def _as_model_input(schema: Schema, inputs: Any) -> Any:
    if schema.kind not in TABLE_KINDS:
        return inputs
    import pandas as pd

    if isinstance(inputs, pd.Series):
        inputs = inputs.to_frame(schema.fields[0].name if inputs.name is None else inputs.name)
    elif isinstance(inputs, list):
        inputs = pd.DataFrame.from_records(inputs)
    if schema.kind == "dataframe" and isinstance(inputs, pd.DataFrame):
        # A field is named by its column's label as text (``0`` is ``"0"``, as
        # infer_signature names it); the model gets the frame's own labels.
        label = {str(c): c for c in inputs.columns}
        absent = [f for f in schema.fields if f.name not in label]
        if absent:
            # Nullable columns a caller left out arrive as missing values.
            inputs = inputs.assign(
                **{f.name: float("nan") if f.dtype.startswith("float") else None for f in absent}
            )
            label.update({f.name: f.name for f in absent})
        return inputs[[label[n] for n in schema.names]]
    return inputs


#: Values that are one output row: a model may return one for a one-row input.
_SCALARS = (Number, str, bytes, bytearray, datetime.date, datetime.time, datetime.timedelta)


def output_rows(outputs: Any) -> int:
    """The rows of what a model's predict returned: one output row is expected per input row.

    Counted: an array, tensor or frame by its first dimension (``shape[0]``; a 0-d
    one is one row), a list or tuple by its length (a tuple of two arrays is two
    rows: a model that returns several outputs side by side should return them as
    columns), a scalar (a number, text, a date) as one row, and a mapping as columns:
    every value counted the same way, all of one count (a scalar value is one row,
    so ``{"a": 1}`` is one row). Raises InvalidInput saying why they cannot be
    counted: None, an iterator or generator (counting would consume it), a set (no
    row order), a mapping with no columns or with columns of different counts, or
    an object without a length.
    """
    if outputs is None:
        raise InvalidInput("nothing (None)")
    if isinstance(outputs, _SCALARS):
        return 1
    if isinstance(outputs, Mapping):
        return _column_rows(outputs)
    kind = type(outputs).__name__
    if isinstance(outputs, AbstractSet):
        raise InvalidInput(f"{article(kind)}, which has no row order")
    shape = getattr(outputs, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(d, Integral) for d in shape[:1]):
        # Arrays, frames and tensors; a sparse matrix has a shape but no length.
        return int(shape[0]) if shape else 1
    if isinstance(outputs, Iterator):
        raise InvalidInput(
            f"{article(kind)}, which cannot be counted without consuming it "
            "(return a list or an array)"
        )
    try:
        return len(outputs)
    except TypeError:
        raise InvalidInput(f"{article(kind)}, which has no length") from None


def _column_rows(columns: Mapping[Any, Any]) -> int:
    if not columns:
        raise InvalidInput("an empty mapping (no output columns)")
    counts: dict[str, int] = {}
    for key, value in columns.items():
        try:
            counts[str(key)] = output_rows(value)
        except InvalidInput as exc:
            raise InvalidInput(f"a mapping whose column {str(key)!r} is {exc}") from None
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{k!r}: {n}" for k, n in list(counts.items())[:10])
        raise InvalidInput(f"a mapping of columns of different lengths ({listed})")
    return next(iter(counts.values()))


def output_problems(
    signature: Signature | None, outputs: Any, rows: int | None = None
) -> tuple[str, ...]:
    """How ``outputs`` break the output contract (empty: they conform).

    Args:
        signature: the version's signature; without outputs declared, only
            the row count is checked.
        outputs: what the model's predict returned.
        rows: the number of input rows predicted on; one output row is
            expected per input row, counted by :func:`output_rows` (None: not
            checked).

    Raises nothing: outputs that cannot be described or counted are one problem each.
    """
    problems: list[str] = []
    if rows is not None:
        try:
            got = output_rows(outputs)
        except InvalidInput as exc:
            problems.append(
                f"{rows} input row(s) gave {exc}: one output row per input row expected"
            )
        else:
            if got != rows:
                problems.append(
                    f"{rows} input row(s) gave {got} output row(s): one per row expected"
                )
    if signature is None or signature.outputs is None:
        return tuple(problems)
    from ..contract_infer import schema_of

    try:
        problems.extend(compare_schemas(signature.outputs, schema_of(outputs, "outputs")))
    except InvalidInput as exc:
        problems.append(f"the outputs cannot be described: {exc}")
    return tuple(problems)


@dataclass
class Predictor:
    """A version's model, loaded; returned by ``Registry.load``.

    Attributes:
        uri: the version's URI (``models:/NAME/N``).
        signature: its signature, or None when it has no (typed) contract.
        flavor: the flavor that loaded it.
        path: the artifact the model was loaded from.
        model: the framework's own object (an estimator, an ONNX session ...).
        scan: the safety scan of its pickle-based files (see ``modelbook.safety``).
        load_seconds: how long loading took.
        environment: the environment check of ``load(check_environment=True)``
            (a ``modelbook.drift.DriftReport``), else None.
    """

    uri: str
    signature: Signature | None
    flavor: Flavor
    path: str
    model: Any
    scan: Any = None
    load_seconds: float = 0.0
    environment: Any = None
    last_latency: float | None = field(default=None, init=False)
    last_rows: int | None = field(default=None, init=False)

    def predict(self, inputs: Any) -> Any:
        """Predict on ``inputs``, checked against the signature first.

        Raises InvalidInput naming the offending field; whatever the model
        raises while predicting is raised as it is.
        """
        data = check_inputs(self.signature, inputs, self.uri)
        self.last_rows = row_count(data)
        start = time.perf_counter()
        out = self.flavor.predict(self.model, data, self.signature)
        self.last_latency = time.perf_counter() - start
        return out

    def output_problems(self, outputs: Any, rows: int | None = None) -> tuple[str, ...]:
        """How ``outputs`` break this version's output contract (see :func:`output_problems`):
        its output signature, and one output row per input row (``rows``, default the
        rows of the last :meth:`predict`)."""
        return output_problems(self.signature, outputs, self.last_rows if rows is None else rows)
