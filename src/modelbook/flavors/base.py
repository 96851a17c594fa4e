"""What a flavor is: how to recognise a model's file, load it and call it.

A flavor is a small record of functions, kept in :data:`modelbook.flavors.FLAVORS`.
``matches(path, head)`` says whether a file (its artifact path and first bytes)
is a model of this flavor; ``load(file)`` returns the framework's model object;
``predict(model, inputs, signature)`` calls it on inputs already checked
against the signature. Frameworks are imported inside ``load`` and
``predict`` only, so listing flavors imports none of them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract import Signature
from ..errors import InvalidInput


@dataclass(frozen=True)
class Flavor:
    """One kind of model file modelbook can load.

    Attributes:
        name: the flavor's name (``sklearn``, ``onnx`` ...), as declared with ``flavor=``.
        summary: what it loads, in a few words.
        pickled: whether loading unpickles the file: such files are scanned first
            and refused when ``MODELBOOK_ALLOW_PICKLE=0``.
        modules: the modules it imports; missing ones make :meth:`require` fail.
        install: what to install when a module is missing.
        matches: ``(artifact path, first 16 bytes) -> bool``.
        load: ``(local file) -> model``.
        predict: ``(model, inputs, signature or None) -> outputs``.
        framework: the package whose version a model of this flavor depends on
            (``scikit-learn``, ``onnxruntime`` ...), recorded as the signature's
            runtime when the signature is inferred from a sample; None when the
            flavor says nothing of it (a pickled object of any library).
    """

    name: str
    summary: str
    pickled: bool
    modules: tuple[str, ...]
    install: str
    matches: Callable[[str, bytes], bool]
    load: Callable[[Path], Any]
    predict: Callable[[Any, Any, Signature | None], Any]
    framework: str | None = None

    def available(self) -> bool:
        """Whether every module the flavor needs is installed."""
        return all(importlib.util.find_spec(m) is not None for m in self.modules)

    def require(self) -> None:
        """Raise InvalidInput naming what to install when a module is missing."""
        missing = [m for m in self.modules if importlib.util.find_spec(m) is None]
        if missing:
            raise InvalidInput(
                f"the {self.name} flavor needs {', '.join(missing)}, which is not installed: "
                f"{self.install}"
            )


def suffix_is(path: str, *suffixes: str) -> bool:
    """Whether ``path`` ends with one of ``suffixes`` (any letter case)."""
    return path.lower().endswith(suffixes)
