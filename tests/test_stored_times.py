"""Times are stored as integer microseconds since the epoch and read back exactly, over
the whole range a ``datetime`` holds: no float rounding moves a registration time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from modelbook.store.rows import to_dt, to_us

_FIRST = to_us(datetime(1, 1, 1, tzinfo=UTC))
_LAST = to_us(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))


@given(st.integers(min_value=_FIRST, max_value=_LAST))
def test_a_stored_time_reads_back_exactly(us: int) -> None:
    when = to_dt(us)
    assert when.tzinfo is UTC
    assert to_us(when) == us


@given(st.datetimes(timezones=st.just(UTC)))
def test_an_aware_time_survives_storage(when: datetime) -> None:
    assert to_dt(to_us(when)) == when


def test_a_naive_time_is_taken_as_utc() -> None:
    naive = datetime(2026, 12, 1, 12, 30, 0, 5)
    assert to_dt(to_us(naive)) == naive.replace(tzinfo=UTC)
    assert to_us(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=-1)) == -1
