"""An attribute computed on first use and kept on the instance, without a lock.

``functools.cached_property`` on Python 3.11 holds one lock per property, shared
by every instance, while it computes a value: a process forked while another
thread computes one inherits that lock held, and the child's first use of the
property waits forever (``multiprocessing`` with the fork start method, used
from a threaded program). Here two threads may compute a value at the same
time; the first one stored is kept and both get it, so the computation must
have no effects beyond building the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")
_MISSING = object()


class lazy(Generic[T]):
    """Decorate a method of one argument (``self``) to compute its value once per
    instance; the instance needs a ``__dict__``."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> lazy[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | lazy[T]:
        if instance is None:
            return self
        stored = instance.__dict__
        found = stored.get(self.name, _MISSING)
        if found is _MISSING:
            found = stored.setdefault(self.name, self.func(instance))
        return found  # type: ignore[no-any-return]
