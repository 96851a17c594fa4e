"""Unpickling model files with every global they name checked first.

The scan (:mod:`modelbook.safety`) reads a pickle stream without running it,
but it stops where joblib stored a NumPy array's raw bytes inside the stream,
and everything after the first array goes unread: a file can hide a call to
``os.system`` there. So the file is also unpickled under a rule that holds to
its end: each global the stream asks for (each class or function that
unpickling would import and may call) is checked by name before its module is
imported, and what the name resolved to is checked before it is used.

Unpickling *calls* what it names, so the rule tells classes from functions,
and allows classes by an allowlist of the modules that define them: a
function can do anything (NumPy's ``savetxt`` writes any file), and so can
the constructor or ``__del__`` of a class in a large package (SciPy's
``MapWrapper`` starts a process pool, NumPy's ``DataSource`` deletes its
folder). What the stream then *does* with what it names (calls, state,
items) is checked by :mod:`modelbook.unpickle_guard`.

- A scikit-learn model (the ``sklearn`` flavor, read by ``joblib.load``) may
  name the classes a model is made of (scikit-learn's, NumPy's arrays,
  dtypes, scalars and random generators, SciPy's sparse matrices and
  splines, joblib's array wrapper, ``collections``' dict and deque types);
  NumPy's ufuncs (``np.log1p`` in a ``FunctionTransformer``); the functions
  that rebuild NumPy arrays, scalars and random generators, Cython's
  ``__pyx_unpickle_*`` helpers, and ``copyreg``'s and ``_codecs``'s helpers
  for older protocols; and the functions of ``sklearn.metrics`` and
  ``sklearn.feature_selection``, which models hold as parameters (a
  selector's ``score_func``) and which a stream may hold, never call. A few
  plain builtins (``list``, ``dict`` ...) too. Anything else is refused.
- Any other pickle (the ``pickle`` flavor) may also name pandas' data
  structures, the standard library's plain data types (``datetime``,
  ``decimal``, ``uuid`` ...), the classes of the modules
  ``MODELBOOK_TRUSTED_MODULES`` names (the user's own package), and the
  rebuilders of data packages (pandas' ``_new_Index``, pyarrow's
  ``_restore_array``). A standard-library module is judged by its name before
  it is imported (importing ``this`` or ``antigravity`` runs code); a
  third-party module is imported to tell a class from a function, which runs
  only the installed package's own import code.

Both judge a global by what it is and by the module that defines it, not only
the module the file names: protocol 4 follows a dotted name attribute by
attribute, so ``scipy`` with ``_lib._testutils.subprocess.Popen`` would reach
``subprocess.Popen``. Each step of a dotted name before its last must be a
class. A package's ``__main__`` (its command line) is never imported, and a
value that cannot be called (``pandas.NA``) is allowed in a user's pickle.

``allow_unsafe=True`` (``--allow-unsafe``), which the caller records, lifts both.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from .errors import UnsafeArtifact
from .pickle_rules import (
    TRUSTED_ENV,
    may_call,
    pickle_global_allowed,
    pickle_module_allowed,
    pickle_name_refused,
    sklearn_global_allowed,
    sklearn_module_allowed,
    sklearn_object_allowed,
    trusted,
)

__all__ = [
    "TRUSTED_ENV",
    "census",
    "load_pickle",
    "load_sklearn",
    "pickle_global_allowed",
    "pickle_module_allowed",
    "pickle_name_refused",
    "sklearn_global_allowed",
    "trusted",
    "unrestricted",
]

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


def _refusal(path_name: str, module: str, name: str, why: str) -> UnsafeArtifact:
    from .unpickle_guard import Refused

    return Refused(
        f"{path_name} names {module}.{name}, {why}; it was refused. If you trust the "
        "file's source, pass allow_unsafe=True (--allow-unsafe), which is recorded",
        f"{module}.{name}",
    )


def _guarded_class(
    base: type[Any], label: str, *, sklearn: bool, census: bool = False
) -> type[Any]:
    from .unpickle_guard import guarded

    if sklearn:
        why = "which a scikit-learn model does not need and which could run code when loaded"
        module_allowed, global_allowed = sklearn_module_allowed, sklearn_object_allowed
    else:
        why = (
            "which is neither part of a scikit-learn model or a pandas data structure nor "
            f"of a module {TRUSTED_ENV} names (set it to your model's own package to load "
            "its classes)"
        )
        module_allowed, global_allowed = pickle_module_allowed, pickle_global_allowed

    def admit(module: str, name: str) -> None:
        if not module_allowed(module, name):
            raise _refusal(label, module, name, why)

    def judge(module: str, name: str, found: Any) -> bool:
        if not global_allowed(module, name, found):
            raise _refusal(label, module, name, why)
        return may_call(module, name, found, sklearn=sklearn)

    # A census runs no __setstate__ of the classes only the user's trust lets in.
    keep_state = _users_class if census else None
    return guarded(base, label, admit, judge, keep_state)


def _users_class(cls: type) -> bool:
    """A class of a module the user trusts (``MODELBOOK_TRUSTED_MODULES``): the user's
    own code, as opposed to the data packages' and the standard library's."""
    return trusted(str(getattr(cls, "__module__", "") or ""))


def load_pickle(path: Path) -> Any:
    """``pickle.load`` of a file under the ``pickle`` flavor's rule: a global it does
    not allow is refused before it is called (a standard-library module before it is
    imported), and so is a call or a change of state the rule does not allow (see
    :mod:`modelbook.unpickle_guard`). Raises UnsafeArtifact naming what was refused."""
    import pickle

    if _unrestricted.get():
        with path.open("rb") as f:
            return pickle.load(f)
    checked = _guarded_class(pickle._Unpickler, path.name, sklearn=False)
    with path.open("rb") as f:
        return checked(f).load()


def _checked_load(source: Any, label: str, *, sklearn: bool = True, census: bool = False) -> Any:
    """``joblib.load(source)`` (which reads plain pickles too) under a rule; ``census``:
    read only to be checked (see :func:`census`)."""
    import pickle

    import joblib
    import joblib.numpy_pickle as numpy_pickle

    outer, inner = numpy_pickle.NumpyUnpickler, numpy_pickle.Unpickler
    with _swap:
        # joblib reads an object array's nested stream with numpy_pickle.Unpickler.
        numpy_pickle.NumpyUnpickler = _guarded_class(outer, label, sklearn=sklearn, census=census)
        numpy_pickle.Unpickler = _guarded_class(
            pickle._Unpickler, label, sklearn=sklearn, census=census
        )
        try:
            return joblib.load(source)
        finally:
            numpy_pickle.NumpyUnpickler, numpy_pickle.Unpickler = outer, inner


def load_sklearn(path: Path) -> Any:
    """``joblib.load(path)`` under the scikit-learn rule: a global a scikit-learn model
    does not need is refused before it is imported, and a call or change of state the
    rule does not allow before it runs. Raises UnsafeArtifact naming what was refused."""
    import joblib

    if _unrestricted.get():
        return joblib.load(path)
    return _checked_load(path, path.name)


def census(label: str, data: bytes) -> str | None:
    """Read a whole joblib or pickle stream under the rules loading applies, past the
    NumPy arrays a scan stops at; what it builds is discarded.

    The scikit-learn rule is tried first; a stream it refuses is read again under
    the ``pickle`` flavor's. Returns None when one of them allows everything the
    stream names and does, else what the ``pickle`` rule refused (``module.name``).
    The ``__setstate__`` of a class of the user's own code (a module
    ``MODELBOOK_TRUSTED_MODULES`` names) is not run: such code runs only where the
    model is loaded (a smoke test's worker, under its memory and time limits).
    Raises what reading a malformed stream raises (``pickle.UnpicklingError``,
    ``ValueError``, ``EOFError`` ...).
    """
    from .unpickle_guard import Refused

    try:
        _checked_load(io.BytesIO(data), label, census=True)
    except Refused:
        try:
            _checked_load(io.BytesIO(data), label, sklearn=False, census=True)
        except Refused as refused:
            return refused.name
    return None
