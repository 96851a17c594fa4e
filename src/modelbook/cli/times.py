"""Points in time as a user types them on the command line.

Pure functions over the standard library: the caller passes "now", so the
result of a relative time is reproducible in tests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"(?P<amount>[0-9]{1,6})(?P<unit>[smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
EXPECTED = (
    "expected an ISO 8601 date or time (2026-11-30, 2026-11-30T12:00:00Z, "
    "2026-11-30T13:00:00+01:00) or a time ago (30s, 30m, 12h, 7d, 2w)"
)


def parse_time(text: str, now: datetime) -> datetime:
    """The UTC instant ``text`` names.

    ``text`` is either ISO 8601 or an amount of time before ``now``:

    - ``2026-11-30``: midnight UTC at the start of that day;
    - ``2026-11-30T12:00:00Z`` or with an offset (``+01:00``): that instant;
      a time without an offset is taken as UTC, not as the machine's local time,
      so the same command means the same instant on every machine;
    - ``30s``, ``30m``, ``12h``, ``7d``, ``2w``: that long before ``now``.

    ``now`` must carry a time zone. Raises ``ValueError`` saying what is accepted.
    """
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    try:
        if relative is not None:
            ago = timedelta(**{_UNITS[relative["unit"]]: int(relative["amount"])})
            return now.astimezone(UTC) - ago
        at = datetime.fromisoformat(value)
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of the range of dates") from None
    except ValueError:
        raise ValueError(f"{text!r}: {EXPECTED}") from None
