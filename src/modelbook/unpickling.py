"""Unpickling model files with every global they name checked first.

The scan (:mod:`modelbook.safety`) reads a pickle stream without running it,
but it stops where joblib stored a NumPy array's raw bytes inside the stream,
and everything after the first array goes unread: a file can hide a call to
``os.system`` there. So the file is also unpickled under a rule that holds to
its end: each global the stream asks for (each class or function that
unpickling would import and may call) is checked before it is imported.

- A scikit-learn model (the ``sklearn`` flavor, read by ``joblib.load``) may
  name scikit-learn, NumPy, SciPy and joblib's own array wrapper, and nothing
  from their test, dataset or vendored modules; a few plain builtins
  (``list``, ``dict`` ...) and ``collections``, ``copyreg`` and ``_codecs``
  helpers that older pickle protocols use. Anything else is refused before it
  is imported.
- Any other pickle (the ``pickle`` flavor) may name anything, since its
  classes are the user's own; its scan must then have read the whole stream.

``allow_unsafe=True`` (``--allow-unsafe``), which the caller records, lifts both.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from .errors import UnsafeArtifact

#: Flavors whose loading checks every global (the others rely on a complete scan).
CHECKED_FLAVORS = frozenset({"sklearn"})

_ALLOWED_ROOTS = frozenset({"sklearn", "scipy"})
_ALLOWED_MODULES = frozenset({"numpy", "numpy.dtypes", "joblib.numpy_pickle", "collections"})
_ALLOWED_PREFIXES = ("numpy.core.", "numpy._core.", "numpy.random.")
# Parts of otherwise allowed packages that can run code or reach the network.
_BLOCKED_PARTS = frozenset(
    {"tests", "test", "testing", "_testing", "_testutils", "externals", "datasets", "conftest"}
)
_SAFE_BUILTINS = frozenset(
    {"list", "dict", "set", "frozenset", "tuple", "bytearray", "bytes", "complex", "slice"}
    | {"range", "object", "int", "float", "str", "bool"}
)
_SAFE_HELPERS = frozenset({("copyreg", "_reconstructor"), ("_codecs", "encode")})

_unrestricted: ContextVar[bool] = ContextVar("modelbook_unrestricted_unpickling", default=False)
# joblib builds its unpickler from a module global; it is replaced for one load at a time.
_swap = threading.Lock()


@contextlib.contextmanager
def unrestricted(allowed: bool) -> Iterator[None]:
    """Within the block, unpickling is not restricted when ``allowed`` (the caller
    passed ``allow_unsafe`` and recorded it)."""
    token = _unrestricted.set(allowed)
    try:
        yield
    finally:
        _unrestricted.reset(token)


def sklearn_global_allowed(module: str, name: str) -> bool:
    """Whether a scikit-learn model file may name ``module.name`` (see the module)."""
    parts = module.split(".")
    if any(p in _BLOCKED_PARTS for p in parts):
        return False
    if parts[0] in _ALLOWED_ROOTS or module in _ALLOWED_MODULES:
        return True
    if module.startswith(_ALLOWED_PREFIXES):
        return True
    if module == "builtins":
        return name in _SAFE_BUILTINS
    return (module, name) in _SAFE_HELPERS


def load_sklearn(path: Path) -> Any:
    """``joblib.load(path)``, refusing (before importing it) any global a scikit-learn
    model does not need. Raises UnsafeArtifact naming the global."""
    import joblib
    import joblib.numpy_pickle as numpy_pickle

    if _unrestricted.get():
        return joblib.load(path)
    base = numpy_pickle.NumpyUnpickler

    class Checked(base):  # type: ignore[misc,valid-type]
        def find_class(self, module: str, name: str) -> Any:
            if not sklearn_global_allowed(module, name):
                raise UnsafeArtifact(
                    f"{path.name} names {module}.{name}, which a scikit-learn model does not "
                    "need and which could run code when it is loaded; it was not imported. "
                    "If you trust the file's source, pass allow_unsafe=True (--allow-unsafe), "
                    "which is recorded"
                )
            return super().find_class(module, name)

    with _swap:
        numpy_pickle.NumpyUnpickler = Checked
        try:
            return joblib.load(path)
        finally:
            numpy_pickle.NumpyUnpickler = base
