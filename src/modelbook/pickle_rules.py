"""The rules of which globals a pickled model file may name and call.

Functions of names, of what the names resolve to and of the setting that
names trusted modules, applied by :mod:`modelbook.unpickling` (which explains
the rules) as each global is looked up, and by the scan
(:mod:`modelbook.safety`) to the globals a scanner lists.
"""

from __future__ import annotations

import os
import sys
from typing import Any

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
# Parts of otherwise allowed packages that can run code, reach the network or
# write files.
_BLOCKED_PARTS = frozenset(
    {"tests", "test", "testing", "_testing", "_testutils", "externals", "datasets", "conftest"}
    | {"io", "_datasource", "f2py", "distutils", "ctypeslib", "_utils_impl"}
)
_BLOCKED_CLASSES = frozenset({"numpy.memmap"})
_IO_PARTS = frozenset({"io", "_datasource"})
_SAFE_BUILTINS = frozenset(
    {"list", "dict", "set", "frozenset", "tuple", "bytearray", "bytes", "complex", "slice"}
    | {"object", "int", "float", "str", "bool"}
)
# Functions that rebuild what a model holds, by their defining module and name.
_REBUILDERS_BY_NAME = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("copyreg", "_reconstructor"),
        ("_codecs", "encode"),
        ("array", "_array_reconstructor"),
    }
)
# scikit-learn modules whose functions a model holds as parameters; they compute.
_PARAMETER_FUNCTION_MODULES = ("sklearn.metrics", "sklearn.feature_selection")
# Standard-library modules of plain data types a user's pickle may hold.
_STDLIB_DATA = frozenset(
    {"collections", "datetime", "decimal", "fractions", "uuid", "array", "zoneinfo"}
)


def _blocked(module: str) -> bool:
    return any(p in _BLOCKED_PARTS for p in module.split("."))


def sklearn_module_allowed(module: str, name: str) -> bool:
    """The check by name, before ``module`` is imported."""
    if _blocked(module):
        return False
    if module.split(".")[0] in _ALLOWED_ROOTS or module in _ALLOWED_MODULES:
        return True
    if module.startswith(_ALLOWED_PREFIXES):
        return True
    if module == "builtins":
        return name in _SAFE_BUILTINS
    return (module, name) in _REBUILDERS_BY_NAME


def _origin(found: Any) -> str:
    """The module that defines ``found`` (a re-export names another)."""
    return str(getattr(found, "__module__", None) or "")


# Where the classes a scikit-learn model is made of are defined: an allowlist,
# since a package as large as SciPy or NumPy has classes whose constructor or
# __del__ does I/O (SciPy's MapWrapper starts a process pool, NumPy's
# DataSource deletes its folder when collected).
_MODEL_CLASS_MODULES = frozenset({"numpy", "numpy.dtypes", "joblib.numpy_pickle"})
_MODEL_CLASS_PREFIXES = ("sklearn.", "numpy.random.", "scipy.sparse.", "scipy.interpolate.")
_COLLECTIONS_CLASSES = frozenset({"OrderedDict", "defaultdict", "deque", "Counter"})
# The pandas modules of its data structures (frames, series, indexes, blocks,
# arrays, dtypes, scalars); pandas.core.computation evaluates expressions.
_PANDAS_FILES = frozenset({"ExcelFile", "ExcelWriter", "HDFStore"})
_PANDAS_DATA_PREFIXES = (
    "pandas.arrays",
    "pandas.core.frame",
    "pandas.core.series",
    "pandas.core.indexes.",
    "pandas.core.internals.",
    "pandas.core.arrays.",
    "pandas.core.dtypes.dtypes",
    "pandas._libs.",
)


def _model_class(origin: str, cls: type) -> bool:
    """Whether a scikit-learn model file may build ``cls``, defined in ``origin``."""
    if origin == "collections":
        return cls.__name__ in _COLLECTIONS_CLASSES
    if origin == "joblib.numpy_pickle":
        return cls.__name__ == "NumpyArrayWrapper"
    return origin in _MODEL_CLASS_MODULES or origin.startswith(_MODEL_CLASS_PREFIXES)


def _data_class(origin: str, cls: type) -> bool:
    """Whether a user's pickle may build ``cls``: a model's class, a pandas data
    structure, a standard-library data type, or a class of a trusted module."""
    return (
        _model_class(origin, cls)
        or origin.startswith(_PANDAS_DATA_PREFIXES)
        # pandas names its public classes "pandas", its file readers and writers too.
        or (origin == "pandas" and cls.__name__ not in _PANDAS_FILES)
        or origin in _STDLIB_DATA
        or trusted(origin)
    )


def _steps_are_classes(module: str, name: str) -> bool:
    """Whether each step of a dotted name before its last is a class.

    Protocol 4 follows a dotted name attribute by attribute, so a name can
    leave the module it names: ``scipy`` with ``_lib._testutils.subprocess.Popen``
    reaches ``subprocess.Popen`` through the modules that import it. A nested
    class (``Outer.Inner``) steps through classes only.
    """
    if "." not in name:
        return True
    import importlib

    try:
        step: Any = importlib.import_module(module)
    except ImportError:
        return False
    for part in name.split(".")[:-1]:
        step = getattr(step, part, None)
        if not isinstance(step, type):
            return False
    return True


def sklearn_object_allowed(module: str, name: str, found: Any) -> bool:
    """The check of what ``module.name`` resolved to, before it is used: by what it
    is and by the module that defines it, whatever module named it."""
    if not _steps_are_classes(module, name):
        return False
    origin = _origin(found)
    if isinstance(found, type):
        qualified = f"{origin}.{getattr(found, '__qualname__', '')}"
        if _blocked(origin) or qualified in _BLOCKED_CLASSES or found.__name__ == "memmap":
            return False
        if origin == "builtins":
            return found.__name__ in _SAFE_BUILTINS
        return _model_class(origin, found)
    if "numpy" in sys.modules and isinstance(found, sys.modules["numpy"].ufunc):
        return True
    if (module, name) in _REBUILDERS_BY_NAME:
        return True
    if _blocked(origin):
        return False
    if name.startswith("__pyx_unpickle_") and origin.split(".")[0] in (
        *_ALLOWED_ROOTS,
        "numpy",
    ):
        return True
    # Public ones only: a private helper (_cached_call) calls a method it is told to.
    return (
        "." not in name
        and not name.startswith("_")
        and any(origin == m or origin.startswith(m + ".") for m in _PARAMETER_FUNCTION_MODULES)
    )


def _resolve(module: str, name: str) -> Any:
    import importlib

    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


def sklearn_global_allowed(module: str, name: str) -> bool:
    """Whether a scikit-learn model file may name ``module.name`` (see the module).

    Judged by name first; only then is ``module`` imported and what the name
    resolves to judged. A name that does not resolve is not allowed.
    """
    if not sklearn_module_allowed(module, name):
        return False
    try:
        found = _resolve(module, name)
    except (ImportError, AttributeError):
        return False
    return sklearn_object_allowed(module, name, found)


#: The setting that names the modules a user's pickle may take classes from.
TRUSTED_ENV = "MODELBOOK_TRUSTED_MODULES"
_REBUILDERS = ("_unpickle", "__pyx_unpickle", "_reconstruct", "_rebuild", "_new_", "_restore")
# Packages whose rebuilders a user's pickle may call (and whose values that
# cannot be called it may hold).
_DATA_PACKAGES = frozenset({"numpy", "scipy", "sklearn", "pandas", "pyarrow"})
# Helpers pyarrow's arrays (pandas' string and Arrow dtypes) are rebuilt with.
_ARROW_HELPERS = frozenset({("pyarrow.lib", "py_buffer"), ("pyarrow.lib", "type_for_alias")})


def _is_stdlib(module: str) -> bool:
    root = module.split(".")[0]
    return root in sys.stdlib_module_names or root in _SYSTEM_ROOTS


def pickle_module_allowed(module: str, name: str) -> bool:
    """Whether a pickle of the user's may import ``module`` to look ``name`` up: a
    standard-library module is judged by name (importing one can run code)."""
    if not _is_stdlib(module):
        # A package's __main__ is its command line, which runs when imported.
        return "__main__" not in module.split(".")
    return module in _STDLIB_DATA or sklearn_module_allowed(module, name)


def pickle_global_allowed(module: str, name: str, found: Any) -> bool:
    """Whether a pickled object of the user's may name ``module.name``, which resolved
    to ``found`` (see the module)."""
    if not pickle_module_allowed(module, name) or not _steps_are_classes(module, name):
        return False
    origin = _origin(found)
    if _is_stdlib(module) or _is_stdlib(origin):
        if module in _STDLIB_DATA and origin in _STDLIB_DATA and isinstance(found, type):
            return True
        return sklearn_object_allowed(module, name, found)
    root = origin.split(".")[0]
    if sklearn_module_allowed(module, name) and sklearn_object_allowed(module, name, found):
        return True  # what a scikit-learn model may name (joblib's array wrapper ...)
    if isinstance(found, type):
        # A user's class may live in a module named ``tests``; a class of a
        # package's I/O modules opens files when it is built.
        if any(p in _IO_PARTS for p in origin.split(".")):
            return False
        if root == "numpy" and found.__name__ == "memmap":
            return False
        return _data_class(origin, found)
    if _blocked(origin):
        return False
    # Packages rebuild their objects through helpers named for it (pandas'
    # _unpickle_block and _new_Index, Cython's __pyx_unpickle_*, torch's
    # _rebuild_tensor_v2). A value of theirs that cannot be called (pandas.NA)
    # runs nothing.
    if isinstance(found, type(sys)):
        return False  # a module: building on it would rewrite its globals
    if not callable(found):
        return root in _DATA_PACKAGES
    if (module, name) in _ARROW_HELPERS:
        return True
    return sklearn_object_allowed(module, name, found) or _package_rebuilder(name, origin)


def trusted(module: str) -> bool:
    """Whether ``module`` is in, or under, a module the ``MODELBOOK_TRUSTED_MODULES``
    setting names (comma-separated, e.g. ``my_project,xgboost``): where a user's
    pickle may take classes from beyond the data packages."""
    names = [n.strip() for n in os.environ.get(TRUSTED_ENV, "").split(",") if n.strip()]
    return any(module == n or module.startswith(n + ".") for n in names)


def _package_rebuilder(name: str, origin: str) -> bool:
    """A function a data package rebuilds its objects with (pandas' ``_new_Index``,
    Cython's ``__pyx_unpickle_*``, torch's ``_rebuild_tensor_v2``), by its name and
    the package that defines it (joblib's ``_unpickle`` unpickles a whole file)."""
    if "." in name or origin.split(".")[0] not in _DATA_PACKAGES:
        return False
    return name.startswith(_REBUILDERS) or name.endswith("_unpickle")


def may_call(module: str, name: str, found: Any, *, sklearn: bool) -> bool:
    """Whether a stream may call ``module.name`` (an allowed global, resolved to
    ``found``), rather than only hold it or build an instance of it without its
    constructor (``cls.__new__``): a class of a data package or of the standard
    library's data types, or a rebuilder. Under the scikit-learn rule every
    allowed class may be called; a parameter function or a ufunc never is."""
    origin = _origin(found)
    if isinstance(found, type):
        # Only allowlisted classes get this far (see _model_class, _data_class);
        # a metaclass would build a class whose namespace the stream chose (its
        # __init__ a function the stream may only hold, run for each Enum member).
        return not issubclass(found, type)
    if (module, name) in _REBUILDERS_BY_NAME or (module, name) in _ARROW_HELPERS:
        return True
    if name.startswith("__pyx_unpickle_") and origin.split(".")[0] in (*_ALLOWED_ROOTS, "numpy"):
        return True
    return not sklearn and _package_rebuilder(name, origin)


def pickle_name_refused(module: str, name: str) -> bool:
    """Whether the ``pickle`` flavor's rule refuses ``module.name`` (a global a scan
    listed): judged by name, then, for a module outside the standard library, by
    what it resolves to. A name that does not resolve here is not refused (loading
    it fails anyway)."""
    if not pickle_module_allowed(module, name):
        return True
    try:
        found = _resolve(module, name)
    except (ImportError, AttributeError):
        return False
    return not pickle_global_allowed(module, name, found)
