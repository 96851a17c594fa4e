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
- Any other pickle (the ``pickle`` flavor) holds the user's own classes: it
  may name a class from any module but those that reach the system (``os``,
  ``subprocess``, ``socket``, ``io`` ...) or a package's test modules, and a
  function only where a scikit-learn model may (NumPy's array rebuilders,
  ``copyreg``): unpickling calls what it names, and a class builds an object
  while a function can do anything (``sklearn.utils._testing`` runs Python
  code, yet a scanner rates it only "suspicious"). Its scan must also have read
  the whole stream.

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

#: Flavors whose loading checks every global against the scikit-learn rule (the
#: ``pickle`` flavor checks its own, and also needs a complete scan).
CHECKED_FLAVORS = frozenset({"sklearn"})
# Standard modules whose classes reach the system when built (files, processes,
# sockets, code, foreign functions).
_SYSTEM_ROOTS = frozenset(
    {
        "os",
        "posix",
        "nt",
        "sys",
        "subprocess",
        "socket",
        "ssl",
        "io",
        "_io",
        "shutil",
        "tempfile",
        "pathlib",
        "multiprocessing",
        "threading",
        "_thread",
        "asyncio",
        "ctypes",
        "importlib",
        "runpy",
        "code",
        "codeop",
        "pty",
        "pdb",
        "bdb",
        "webbrowser",
        "urllib",
        "http",
        "ftplib",
        "smtplib",
        "telnetlib",
        "signal",
        "mmap",
        "fcntl",
        "builtins",
        "types",
        "inspect",
        "pickle",
        "_pickle",
        "marshal",
        "shelve",
        "dbm",
        "sqlite3",
        "logging",
        "operator",
        "functools",
        "timeit",
        "trace",
        "profile",
        "cProfile",
        "zipimport",
        "pkgutil",
        "site",
        "sysconfig",
        "distutils",
        "setuptools",
        "pip",
        "venv",
        "ensurepip",
        "gc",
        "weakref",
        "platform",
        "resource",
    }
)

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


_REBUILDERS = ("_unpickle", "__pyx_unpickle", "_reconstruct", "_rebuild")


def pickle_global_allowed(module: str, name: str, found: Any) -> bool:
    """Whether a pickled object of the user's may name ``module.name``, which resolved
    to ``found`` (see the module)."""
    parts = module.split(".")
    if parts[0] in _SYSTEM_ROOTS:
        return sklearn_global_allowed(module, name)
    if isinstance(found, type):
        return True
    if any(p in _BLOCKED_PARTS for p in parts):
        return False
    # Packages rebuild their objects through helpers named for it (pandas'
    # _unpickle_block, Cython's __pyx_unpickle_*, torch's _rebuild_tensor_v2).
    return sklearn_global_allowed(module, name) or name.rsplit(".", 1)[-1].startswith(_REBUILDERS)


def load_pickle(path: Path) -> Any:
    """``pickle.load`` of a file, refusing a global the ``pickle`` flavor does not allow
    (before calling it). Raises UnsafeArtifact naming the global."""
    import pickle

    if _unrestricted.get():
        with path.open("rb") as f:
            return pickle.load(f)

    class Checked(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found = super().find_class(module, name)
            if not pickle_global_allowed(module, name, found):
                raise UnsafeArtifact(
                    f"{path.name} names {module}.{name}, which is not a class of a model's "
                    "own and which unpickling would call; it was refused. If you trust "
                    "the file's source, pass allow_unsafe=True (--allow-unsafe), which is "
                    "recorded"
                )
            return found

    with path.open("rb") as f:
        return Checked(f).load()


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
