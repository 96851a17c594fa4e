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


class Escapes:
    """Starts a process that leaves its process group (a session of its own), writes that
    process's pid to ``pidfile``, then hangs (``hang``) or returns. With ``orphan`` the
    process is started by a short-lived child, so it is orphaned too."""

    def __init__(self, pidfile: str, *, hang: bool, orphan: bool = False) -> None:
        self.pidfile = pidfile
        self.hang = hang
        self.orphan = orphan

    def predict(self, inputs: Any) -> Any:
        import subprocess
        import sys

        sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL}
        if self.orphan:
            starter = (
                "import subprocess, sys; "
                f"p = subprocess.Popen({sleeper!r}, start_new_session=True, "
                "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL); "
                f"open({self.pidfile!r}, 'w').write(str(p.pid))"
            )
            subprocess.run([sys.executable, "-c", starter], check=True, **quiet)  # type: ignore[call-overload]
        else:
            child = subprocess.Popen(sleeper, start_new_session=True, **quiet)  # type: ignore[call-overload]
            with open(self.pidfile, "w") as f:
                f.write(str(child.pid))
        if self.hang:
            time.sleep(600)
        return inputs.iloc[:, 0].to_numpy()


def write_marker(path: str) -> Echo:
    """A function a scanner cannot know: unpickling must not call it."""
    with open(path, "w") as f:
        f.write("ran")
    return Echo()


class Sneaky:
    """Unpickles by calling :func:`write_marker`, rated only "suspicious" by a scanner."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (write_marker, (self.marker,))


class ReturnsMapping:
    """Returns one value in a dict, whatever the number of rows."""

    def predict(self, inputs: Any) -> Any:
        return {"a": 1}


class ReturnsNone:
    def predict(self, inputs: Any) -> Any:
        return None


class ReturnsGenerator:
    def predict(self, inputs: Any) -> Any:
        return (float(v) for v in inputs.iloc[:, 0])


class NativeOutput:
    """Writes to file descriptor 1 below Python, as C code does (LightGBM's C++ log lines):
    with ``write(1, ...)`` when unpickled and when predicting, and with C's buffered
    ``printf`` when predicting."""

    def __init__(self) -> None:
        self.loud = True

    def __setstate__(self, state: dict[str, Any]) -> None:
        os.write(1, b"native noise while loading\n")
        self.__dict__.update(state)

    def predict(self, inputs: Any) -> Any:
        import ctypes

        os.write(1, b"native noise while predicting\n")
        ctypes.CDLL(None).printf(b"printf noise while predicting\n")
        return inputs.iloc[:, 0].to_numpy()


class HungryAtLoad:
    """Asks for more memory than the smoke test's limit while it is unpickled."""

    def __init__(self) -> None:
        self.size = 8 * 1024**3

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.buffer = bytearray(self.size)

    def predict(self, inputs: Any) -> Any:
        return inputs.iloc[:, 0].to_numpy()


class MapsTooMuch:
    """Maps more memory than the limit allows: OSError ENOMEM, not MemoryError."""

    def predict(self, inputs: Any) -> Any:
        import mmap

        mmap.mmap(-1, 8 * 1024**3)
        return inputs.iloc[:, 0].to_numpy()


class BadAlloc:
    """Dies as a C++ library does when an allocation fails: the message on stderr, no
    result."""

    def predict(self, inputs: Any) -> Any:
        os.write(2, b"terminate called after throwing an instance of 'std::bad_alloc'\n")
        os._exit(134)


class StarvesThenWaits:
    """Takes address space until none is left, then waits forever, as a library does whose
    threads could not be started under the limit (Arrow's reader)."""

    def predict(self, inputs: Any) -> Any:
        import mmap

        held = []
        try:
            while True:
                # Reserved, never touched: address space without resident memory.
                held.append(mmap.mmap(-1, 16 * 1024**2))
        except OSError:
            time.sleep(600)
        return held


class MarksWhenLoaded:
    """Makes the file its state names when it is unpickled (by its own __setstate__)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        with open(self.marker, "a"):
            pass

    def predict(self, inputs: Any) -> Any:
        return inputs.iloc[:, 0].to_numpy()


def cancer_classifier(X: Any, y: Any) -> Any:
    """A logistic regression on the breast cancer data, fitted in a tenth of a second.

    On the raw columns (their scales differ by four orders of magnitude) L-BFGS
    needs thousands of iterations, over ten seconds on a slow machine; scaled
    first, it converges in a few dozen.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
