"""Conversions between stored column values and Python values, shared by the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_dt(us: int) -> datetime:
    """A UTC time from integer microseconds, exactly (no float rounding)."""
    # Positional (days, seconds, microseconds): a third cheaper than the keyword form,
    # and every version read converts its times.
    return _EPOCH + timedelta(0, 0, us)


def to_us(when: datetime) -> int:
    """Integer microseconds since the epoch of an aware time (naive times are UTC)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys; text stays as written (UTF-8, not escaped)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
