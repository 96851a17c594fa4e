"""Any pickled object with a ``predict`` method (``.pkl``, ``.pickle``, or a pickle stream).

The file is scanned before it is unpickled (see :mod:`modelbook.safety`); the
classes it names must be importable in the loading process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract import Signature
from ..display import article
from ..errors import InvalidInput
from ..safety import is_pickled
from .base import Flavor

# Globals a pickle of protocol 0 or 1 names before the class of its object.
_CONSTRUCTORS = ("copyreg.", "copy_reg.")
_FRAMING = ("PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT")
_STRINGS = ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING")


def top_level_class(head: bytes) -> str | None:
    """``module.name`` of the class of the object a pickle holds, read from the first
    bytes of the stream (plain, or compressed with zlib or gzip as joblib does) without
    unpickling it; None when the bytes do not say.

    The object's class is the first global a pickle names (after copyreg's
    constructor in protocols 0 and 1), pushed before the object's state.
    """
    import pickletools
    import zlib

    zlib_header = len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0
    if head[:2] == b"\x1f\x8b" or zlib_header:
        try:
            head = zlib.decompressobj(wbits=47).decompress(head)  # 47: zlib or gzip header
        except zlib.error:
            return None
    strings: list[str] = []
    constructor = False
    try:
        for op, arg, _ in pickletools.genops(head):
            found = None
            if op.name in _STRINGS and isinstance(arg, str):
                strings.append(arg)
            elif op.name == "GLOBAL" and isinstance(arg, str):
                found = arg.replace(" ", ".", 1)
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                # Protocol 4 and later: the module and the name are the two texts before.
                found = f"{strings[-2]}.{strings[-1]}"
            elif op.name == "MARK" and constructor:
                continue  # copyreg's arguments: the class comes next
            elif op.name not in _FRAMING:
                return None  # a dict, a list ...: the object is not of a class
            if found is not None and found.startswith(_CONSTRUCTORS):
                constructor = True
            elif found is not None:
                return found
    except ValueError:
        pass  # the bytes end (or stop being a pickle) before a class is named
    return None


def _matches(path: str, head: bytes) -> bool:
    return is_pickled(path, head)


def _load(file: Path) -> Any:
    from ..unpickling import load_pickle

    # Scanned before it is loaded (modelbook.safety), and every global checked as it is.
    model = load_pickle(file)
    if not callable(getattr(model, "predict", None)):
        raise InvalidInput(
            f"{file.name} holds {article(type(model).__name__)}, which has no predict method"
        )
    return model


def _predict(model: Any, inputs: Any, signature: Signature | None) -> Any:
    return model.predict(inputs)


FLAVOR = Flavor(
    name="pickle",
    summary="pickled object with a predict method",
    pickled=True,
    modules=(),
    install="",
    matches=_matches,
    load=_load,
    predict=_predict,
)
