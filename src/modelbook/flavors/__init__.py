"""Load-and-predict adapters ("flavors"), by name, and how a version's model file is found.

Built in: ``sklearn`` (joblib or pickle), ``pickle`` (any pickled object with
``predict``), ``onnx`` (onnxruntime), ``xgboost`` and ``lightgbm`` (native
files, when those packages are installed) and ``torchscript`` (the ``torch``
extra). :func:`detect` picks the flavor and the model file of a version from
its artifacts' paths and first bytes, or checks a declared flavor.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from ..errors import InvalidInput
from . import boosters, onnx, pickled, sklearn, torchscript
from .base import Flavor
from .predictor import Predictor, check_inputs, output_problems

# Most specific first: the first flavor that matches a file claims it.
FLAVORS: Mapping[str, Flavor] = MappingProxyType(
    {
        f.name: f
        for f in (
            onnx.FLAVOR,
            boosters.XGBOOST,
            boosters.LIGHTGBM,
            torchscript.FLAVOR,
            sklearn.FLAVOR,
            pickled.FLAVOR,
        )
    }
)
"""Flavor name -> its definition."""

#: Artifacts under this folder are modelbook's own (the input sample), never the model.
OWN_PREFIX = "_modelbook/"


def get(name: str) -> Flavor:
    """The flavor called ``name``; InvalidInput listing the known ones otherwise."""
    try:
        return FLAVORS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), FLAVORS, n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidInput(
            f"unknown flavor {name!r} (known: {', '.join(FLAVORS)}){guess}"
        ) from None


def _is_sklearn(framework: str | None) -> bool:
    from ..distributions import canonical_name

    return framework is not None and canonical_name(framework) in ("scikit-learn", "sklearn")


def detect(
    files: Sequence[tuple[str, bytes]],
    declared: str | None = None,
    framework: str | None = None,
) -> tuple[Flavor, str]:
    """The flavor and the model file among a version's artifacts.

    Args:
        files: ``(artifact path, first 16 bytes)`` of each artifact.
        declared: the flavor declared at registration or by the caller; then
            only its files are considered.
        framework: the signature's runtime framework: a pickle registered as
            ``scikit-learn`` loads with the ``sklearn`` flavor.

    Raises InvalidInput: an unknown declared flavor, no file any flavor (or the
    declared one) reads, or several candidate files (declare the flavor, or
    keep one model file per version).
    """
    wanted = None if declared is None else get(declared)
    found: list[tuple[Flavor, str]] = []
    for path, head in files:
        if path.startswith(OWN_PREFIX):
            continue
        if wanted is not None:
            if wanted.matches(path, head):
                found.append((wanted, path))
            continue
        flavor = next((f for f in FLAVORS.values() if f.matches(path, head)), None)
        if flavor is pickled.FLAVOR and _is_sklearn(framework):
            flavor = sklearn.FLAVOR
        if flavor is not None:
            found.append((flavor, path))
    if not found:
        names = ", ".join(p for p, _ in files if not p.startswith(OWN_PREFIX)) or "none"
        what = f"a {wanted.name} model file" if wanted else "a model file modelbook can load"
        raise InvalidInput(
            f"no {what.removeprefix('a ')} among the version's files ({names}); "
            f"flavors: {', '.join(f'{f.name} ({f.summary})' for f in FLAVORS.values())}"
        )
    if len(found) > 1:
        listed = ", ".join(f"{p} ({f.name})" for f, p in found)
        raise InvalidInput(
            f"several files could be the model: {listed}; register one model file per "
            "version, or declare the flavor (flavor=, --flavor)"
        )
    return found[0]


__all__ = ["FLAVORS", "Flavor", "Predictor", "check_inputs", "detect", "get", "output_problems"]
