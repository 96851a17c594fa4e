"""A loaded model behind its contract: inputs checked against the signature, then predicted.

The matching rules are :func:`modelbook.contract.compare_schemas`'s, the same
that check a sample at registration: the same named fields, dtypes the
signature holds, no missing values where a field is not nullable, the same
shape. Tables (DataFrame, Series, list of dicts) are given to the model as a
DataFrame with the signature's column order.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..contract import TABLE_KINDS, Schema, Signature, compare_schemas
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


def output_rows(outputs: Any) -> int | None:
    """The rows of a model's outputs: the length of an array, frame, series or list, 1 for
    a scalar; None for a mapping (its length counts keys, not rows)."""
    if isinstance(outputs, Mapping):
        return None
    if isinstance(outputs, str | bytes):
        return 1
    try:
        return len(outputs)
    except TypeError:  # a scalar, or a 0-d array
        return 1


def output_problems(
    signature: Signature | None, outputs: Any, rows: int | None = None
) -> tuple[str, ...]:
    """How ``outputs`` break the output contract (empty: they conform).

    Args:
        signature: the version's signature; without outputs declared, only
            the row count is checked.
        outputs: what the model's predict returned.
        rows: the number of input rows predicted on; one output row is
            expected per input row (None: not checked).

    Raises nothing: outputs that cannot be described are one problem.
    """
    problems: list[str] = []
    got = None if rows is None else output_rows(outputs)
    if got is not None and got != rows:
        problems.append(f"{rows} input row(s) gave {got} output row(s): one per row expected")
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
