"""``modelbook.cli.times.parse_time``: the TIME of ``--since`` and ``--until``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from modelbook.cli.times import parse_time

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
        ("2026-11-30T12:00:00Z", datetime(2026, 11, 30, 12, tzinfo=UTC)),
        ("2026-11-30T12:00:00", datetime(2026, 11, 30, 12, tzinfo=UTC)),
        ("2026-11-30T13:30:00+01:00", datetime(2026, 11, 30, 12, 30, tzinfo=UTC)),
        ("2026-11-30T12:00:00.250000Z", datetime(2026, 11, 30, 12, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-30 12:00", datetime(2026, 11, 30, 12, tzinfo=UTC)),
        (" 2026-11-30 ", datetime(2026, 11, 30, tzinfo=UTC)),
        ("30s", NOW - timedelta(seconds=30)),
        ("30m", NOW - timedelta(minutes=30)),
        ("12h", NOW - timedelta(hours=12)),
        ("7d", NOW - timedelta(days=7)),
        ("2w", NOW - timedelta(weeks=2)),
        ("0d", NOW),
    ],
)
def test_iso_and_relative_times(text: str, expected: datetime) -> None:
    """ISO 8601 dates and times (UTC unless an offset is given) and amounts of time ago."""
    got = parse_time(text, NOW)
    assert got == expected
    assert got.tzinfo is UTC


def test_relative_time_counts_from_now_in_any_zone() -> None:
    """'now' in another zone names the same instant; the result is in UTC."""
    now = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert parse_time("1h", now) == datetime(2026, 11, 30, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "7",
        "d",
        "7 d",
        "-7d",
        "7D",
        "7y",
        "1.5h",
        "2026-13-01",
        "2026-11-31",
        "2026-11-30T25:00",
        "7d ago",
        "1234567d",
    ],
)
def test_malformed_times_are_refused_naming_the_forms(text: str) -> None:
    """Anything else is a ValueError that quotes the input and lists what is accepted."""
    with pytest.raises(ValueError, match="ISO 8601") as info:
        parse_time(text, NOW)
    assert repr(text) in str(info.value)


def test_a_time_ago_before_year_one_is_refused() -> None:
    """An amount too large for a date is a ValueError, not an OverflowError."""
    with pytest.raises(ValueError, match="out of the range"):
        parse_time("999999w", NOW)
