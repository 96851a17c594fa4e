"""Models for the flavor and smoke tests, importable by the smoke test's subprocess."""

from __future__ import annotations

import os
import time
from typing import Any


class Echo:
    """Predicts the first column as it is."""

    def predict(self, inputs: Any) -> Any:
        return inputs.iloc[:, 0].to_numpy()


class Chatty:
    """Prints while it predicts, as some models do."""

    def predict(self, inputs: Any) -> Any:
        print("predicting", len(inputs), "rows")
        return inputs.iloc[:, 0].to_numpy()


class Raises:
    def predict(self, inputs: Any) -> Any:
        raise RuntimeError("model exploded")


class Hangs:
    def predict(self, inputs: Any) -> Any:
        time.sleep(600)


class Hungry:
    def predict(self, inputs: Any) -> Any:
        return bytearray(8 * 1024**3)


class WrongOutput:
    def predict(self, inputs: Any) -> Any:
        return ["not", "numbers"] * (len(inputs) // 2 + 1)


class Evil:
    """Unpickling it would run a shell command: the scan must refuse it first."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


class EchoAgain:
    """Echo under another name: other bytes when pickled, the same predictions."""

    def predict(self, inputs: Any) -> Any:
        return inputs.iloc[:, 0].to_numpy()


class EchoNudged:
    """Echo plus a difference far below the default tolerance."""

    def predict(self, inputs: Any) -> Any:
        return inputs.iloc[:, 0].to_numpy() + 1e-12


class DropsARow:
    """Predicts one row fewer than it is given: right dtype, wrong count."""

    def predict(self, inputs: Any) -> Any:
        return inputs.iloc[1:, 0].to_numpy()
