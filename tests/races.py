"""Registrations that race another one at a chosen point, in one process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def race(
    monkeypatch: pytest.MonkeyPatch, obj: Any, attr: str, racers: list[Callable[[], Any]]
) -> list[Any]:
    """Patch ``obj.attr`` so that each of its first calls, once it returns, runs the
    next of ``racers`` (a registration of another version); the calls the racers' own
    registrations make go straight through. Returns what the racers returned."""
    original = getattr(obj, attr)
    raced: list[Any] = []
    racing_now: list[bool] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if len(raced) < len(racers) and not racing_now:
            racing_now.append(True)
            try:
                raced.append(racers[len(raced)]())
            finally:
                racing_now.clear()
        return result

    monkeypatch.setattr(obj, attr, racing)
    return raced
