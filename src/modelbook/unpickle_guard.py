"""The opcodes of a pickle stream that call or change what it names, checked as they run.

Checking each global a stream names (:mod:`modelbook.unpickling`) is not enough
on its own: a stream can call an *object it built* rather than a global (a
scorer instance whose ``__call__`` looks up a method by a name the stream
chose), set attributes on a *class* for the whole process (BUILD on a class
without ``__setstate__`` is ``setattr``), or build an instance whose own
``__setstate__`` opens a file. So the unpickler used for model files is the
standard library's pure-Python one, with these opcodes checked before they
run:

- REDUCE (and INST/OBJ, and ``copyreg._reconstructor``'s base class) call only
  a global the rule allowed to be called (:func:`~modelbook.unpickling.may_call`);
- NEWOBJ and NEWOBJ_EX build only an allowed class, and one outside the data
  packages only through ``object.__new__``;
- BUILD sets the state of an instance only, never of a class or a module, and
  not of an instance whose class outside the data packages has a
  ``__setstate__`` of its own.

joblib reads an object array's nested stream with a fresh unpickler whose
``find_class`` is the outer one's; that unpickler is guarded too, and judges
with the outer one's record of what was allowed.
"""

from __future__ import annotations

import copyreg
import pickle
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .display import article
from .errors import UnsafeArtifact

#: ``(module, name)``, before the module is imported: raises UnsafeArtifact for a
#: global whose module must not be imported.
Admit = Callable[[str, str], None]
#: ``(module, name, found) -> whether the stream may call it``; raises
#: UnsafeArtifact for a global that is not allowed at all.
Judge = Callable[[str, str, Any], bool]

# Not in typeshed: the helper protocols 0 and 1 rebuild builtin subclasses with.
_RECONSTRUCTOR: Any = getattr(copyreg, "_reconstructor")  # noqa: B009
_REDUCE = pickle.REDUCE[0]
_APPEND = pickle.APPEND[0]
_SETITEM = pickle.SETITEM[0]
_MARKED = (pickle.APPENDS[0], pickle.SETITEMS[0], pickle.ADDITEMS[0])
# A model's pickle never asks bytes() or bytearray() for a buffer of zeros; one of
# a size the file chooses would take the memory of the process reading it.
_MAX_ZEROED = 1 << 20
# What pickle looks up on the instance itself to add items.
_SHADOWED = frozenset({"append", "extend", "add"})
_BUILD = pickle.BUILD[0]
_NEWOBJ = pickle.NEWOBJ[0]
_NEWOBJ_EX = pickle.NEWOBJ_EX[0]


class Refused(UnsafeArtifact):
    """What a stream named or did that the rule refused; ``name`` says it briefly
    (``module.name`` of a global, or the opcode's target)."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


def _refuse(label: str, what: str, name: str) -> Refused:
    return Refused(
        f"{label} {what}; it was refused. If you trust the file's source, pass "
        "allow_unsafe=True (--allow-unsafe), which is recorded",
        name,
    )


def _name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _plain_state(state: Any, cls: type) -> bool:
    """A state BUILD applies to an instance of ``cls`` without calling anything the
    stream chose: None or a plain dict, or a pair of them whose slot keys are no
    dunders, set on a class whose ``__setattr__`` is object's own."""
    if state is None or type(state) is dict:
        return True
    if type(state) is not tuple or len(state) != 2:
        return False
    main, slots = state
    if not (main is None or type(main) is dict) or not (slots is None or type(slots) is dict):
        return False
    if slots is None:
        return True
    return cls.__setattr__ is object.__setattr__ and not any(  # type: ignore[comparison-overlap]
        type(k) is not str or k.startswith("__") for k in slots
    )


def _marked(load: Callable[[Any, int], None], opcode: int) -> Callable[[Any], None]:
    return lambda self: load(self, opcode)


def guarded(
    base: type[Any],
    label: str,
    admit: Admit,
    judge: Judge,
    keep_state: Callable[[type], bool] | None = None,
) -> type[Any]:
    """A subclass of ``base`` (the pure-Python ``pickle._Unpickler`` or a subclass)
    whose globals are judged by ``admit`` and ``judge`` and whose calling and
    state-setting opcodes are checked (see the module); ``label`` names the file
    in refusals.

    ``keep_state``: for a stream read only to be checked, whose objects are
    discarded: the classes whose own ``__setstate__`` is not run, once BUILD
    was checked (the state is dropped instead). A class of the user's own code
    then runs nowhere but where the model is loaded, under that process's
    limits."""
    dispatch = dict(base.dispatch)

    # Methods call ``base`` by name, not super(): joblib's unpickler calls the
    # methods of ``numpy_pickle.Unpickler`` (replaced by a guarded one) on itself.
    class Guarded(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            base.__init__(self, *args, **kwargs)
            # id -> (object, may be called); the objects are kept so ids stay theirs.
            self._allowed: dict[int, tuple[Any, bool]] = getattr(self, "_allowed", {})

        def find_class(self, module: str, name: str) -> Any:
            admit(module, name)
            found = base.find_class(self, module, name)
            callable_ = judge(module, name, found)
            if found is _RECONSTRUCTOR:
                found = self._reconstructor
            self._allowed[id(found)] = (found, callable_)
            return found

        def _owner(self) -> Any:
            # joblib's nested unpickler borrows the outer one's find_class.
            return getattr(self.find_class, "__self__", self)

        def _entry(self, obj: Any) -> tuple[Any, bool] | None:
            entry = self._owner()._allowed.get(id(obj))
            return entry if entry is not None and entry[0] is obj else None

        def _check_call(self, func: Any, args: Any = ()) -> None:
            entry = self._entry(func)
            if entry is None or not entry[1]:
                what = "an object the stream built" if entry is None else _name(func)
                raise _refuse(label, f"calls {what}, which unpickling may not call", what)
            if func in (bytearray, bytes) and any(
                isinstance(a, int) and a > _MAX_ZEROED for a in args
            ):
                what = f"builtins.{func.__name__}"
                raise _refuse(label, f"asks {what} for more than 1 MiB of zeros", what)

        def _check_container(self, obj: Any) -> None:
            # APPEND(S), SETITEM(S) and ADDITEMS call the target's own append,
            # __setitem__, extend or add: on an object the stream gave any state
            # (an "append" in its __dict__), or on a shared value a module holds,
            # that is a call of something the rule never allowed.
            kind = self._entry(type(obj))
            shadowed = _SHADOWED.intersection(getattr(obj, "__dict__", ()))
            if (
                self._entry(obj) is None
                and not shadowed
                and (type(obj) in (list, dict, set) or (kind is not None and kind[1]))
            ):
                return
            what = _name(type(obj))
            raise _refuse(label, f"adds items to {article(what)} with its own methods", what)

        def _check_new(self, cls: Any) -> None:
            entry = self._entry(cls)
            if entry is None or not isinstance(cls, type):
                raise _refuse(
                    label, "builds an instance of something that is not an allowed class", "NEWOBJ"
                )
            if issubclass(cls, type):
                what = _name(cls)
                raise _refuse(label, f"builds a class through {what}", what)
            if not entry[1] and cls.__new__ is not object.__new__:
                what = _name(cls)
                raise _refuse(label, f"builds {what}, whose own __new__ would run", what)

        def _check_build(self, inst: Any, state: Any) -> None:
            if isinstance(inst, type | ModuleType):
                raise _refuse(
                    label, f"sets attributes of {_name(inst)} for the whole process", _name(inst)
                )
            if self._entry(inst) is not None:
                # A value a module holds (pandas.options): its state is the process's.
                what = _name(type(inst))
                raise _refuse(label, f"changes {article(what)} a module holds", what)
            if "__setstate__" in getattr(inst, "__dict__", ()):
                # BUILD looks __setstate__ up on the instance: an earlier BUILD put it there.
                what = _name(type(inst))
                raise _refuse(label, f"calls a __setstate__ it gave {article(what)}", what)
            if not hasattr(type(inst), "__setstate__") and not _plain_state(state, type(inst)):
                # Without __setstate__, BUILD calls state.items() (looked up on the
                # state object) and setattr for each slot key (a property setter,
                # __class__).
                what = _name(type(inst))
                raise _refuse(label, f"gives {article(what)} state that is not plain", what)
            entry = self._entry(type(inst))
            if entry is not None and not entry[1] and hasattr(type(inst), "__setstate__"):
                raise _refuse(
                    label,
                    f"sets the state of a {_name(type(inst))}, whose __setstate__ would run",
                    _name(type(inst)),
                )

        def _reconstructor(self, cls: Any, base_: Any, state: Any) -> Any:
            # Protocols 0 and 1 build a subclass of a builtin through it; it calls
            # base_.__init__, so base_ must be something the stream may call.
            if base_ is not object:
                self._check_call(base_)
            self._check_new(cls)
            return _RECONSTRUCTOR(cls, base_, state)

        def _instantiate(self, klass: Any, args: Any) -> None:  # INST and OBJ
            self._check_call(klass, args)
            base._instantiate(self, klass, args)

        def load_reduce(self) -> None:
            self._check_call(self.stack[-2], self.stack[-1])
            dispatch_base[_REDUCE](self)

        def load_append(self) -> None:
            self._check_container(self.stack[-2])
            dispatch_base[_APPEND](self)

        def load_setitem(self) -> None:
            self._check_container(self.stack[-3])
            dispatch_base[_SETITEM](self)

        def load_marked(self, opcode: int) -> None:
            # APPENDS, SETITEMS and ADDITEMS: the target is below the mark.
            self._check_container(self.metastack[-1][-1])
            dispatch_base[opcode](self)

        def load_newobj(self) -> None:
            self._check_new(self.stack[-2])
            dispatch_base[_NEWOBJ](self)

        def load_newobj_ex(self) -> None:
            self._check_new(self.stack[-3])
            dispatch_base[_NEWOBJ_EX](self)

        def load_build(self) -> None:
            inst = self.stack[-2]
            self._check_build(inst, self.stack[-1])
            cls = type(inst)
            if keep_state is not None and hasattr(cls, "__setstate__") and keep_state(cls):
                self.stack.pop()
                return
            dispatch_base[_BUILD](self)

    dispatch_base = dict(dispatch)
    dispatch[_APPEND] = Guarded.load_append
    dispatch[_SETITEM] = Guarded.load_setitem
    for opcode in _MARKED:
        dispatch[opcode] = _marked(Guarded.load_marked, opcode)
    dispatch[_REDUCE] = Guarded.load_reduce
    dispatch[_BUILD] = Guarded.load_build
    dispatch[_NEWOBJ] = Guarded.load_newobj
    dispatch[_NEWOBJ_EX] = Guarded.load_newobj_ex
    Guarded.dispatch = dispatch
    return Guarded
