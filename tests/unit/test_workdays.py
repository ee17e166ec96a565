"""The working-day calendar on real dates of the Russian production calendar.

Checked against:
- 2026: Government Decree No. 1466 of 24.09.2025 «О переносе выходных дней в 2026 году»
  (Sat 3 January → Fri 9 January, Sun 4 January → Thu 31 December); the Government's
  announcement of the same day (TASS, RIA) lists the days off: 31 December 2025 –
  11 January, 21–23 February, 7–9 March, 1–3 and 9–11 May, 12–14 June, 4 November,
  31 December; 247 working days in the year. The package cites the decree on consultant.ru
  (cons_doc_LAW_515170) in holidays/countries/russia.py.
- 2027: Government Decree No. 1187 of 17.09.2026 «О переносе выходных дней в 2027 году», as
  the package gives it (cons_doc_LAW_544706): Sat 2 January → Fri 5 November, Sun 3 January
  → Fri 31 December, Sat 20 February → Mon 22 February (20 February becomes a working day);
  1 May (Sat), 9 May (Sun) and 12 June (Sat) add 3 May, 10 May, 14 June by Labour Code
  art. 112 part 2.
- 2025: Decree No. 1335 of 04.10.2024, as the package gives it: Sat 1 November → Mon
  3 November (1 November a working Saturday), Sun 5 January → Wed 31 December.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.services.workdays import (
    add_working_days,
    has_decree,
    is_working_day,
    next_working_day,
)


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]


def test_the_package_knows_the_decrees_for_2026_and_2027():
    assert has_decree(2025)
    assert has_decree(2026)
    assert has_decree(2027)


# --- 2026 --------------------------------------------------------------------------------


def test_new_year_holidays_2026_run_to_11_january():
    # 1–8 January (art. 112), Fri 9 January (moved from Sat 3 January), weekend 10–11.
    for day in range(1, 12):
        assert not is_working_day(date(2026, 1, day)), day
    assert is_working_day(date(2026, 1, 12))  # Monday


def test_the_moved_days_off_of_2026():
    assert not is_working_day(date(2026, 1, 9))  # Friday, from Saturday 3 January
    assert not is_working_day(date(2026, 12, 31))  # Thursday, from Sunday 4 January
    assert is_working_day(date(2026, 12, 30))


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 20), True),  # Friday before the holiday
        (date(2026, 2, 23), False),  # Monday, Defender of the Fatherland Day
        (date(2026, 2, 24), True),
        (date(2026, 3, 8), False),  # Sunday, Women's Day
        (date(2026, 3, 9), False),  # Monday: art. 112 part 2 moves the Sunday
        (date(2026, 3, 10), True),
        (date(2026, 5, 1), False),  # Friday, Spring and Labour Day
        (date(2026, 5, 4), True),
        (date(2026, 5, 9), False),  # Saturday, Victory Day
        (date(2026, 5, 11), False),  # Monday: art. 112 part 2
        (date(2026, 5, 12), True),
        (date(2026, 6, 12), False),  # Friday, Russia Day
        (date(2026, 6, 15), True),
        (date(2026, 11, 4), False),  # Wednesday, Unity Day
        (date(2026, 11, 5), True),
    ],
)
def test_public_holidays_2026(day, working):
    assert is_working_day(day) is working


def test_2026_has_247_working_days_and_no_working_weekend():
    days = days_of(2026)
    assert sum(is_working_day(day) for day in days) == 247
    assert not any(is_working_day(day) for day in days if day.weekday() >= 5)


# --- 2027 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2027, 1, 8), False),  # Friday, last of the New Year holidays
        (date(2027, 1, 11), True),  # Monday
        (date(2027, 2, 20), True),  # Saturday made a working day by the decree
        (date(2027, 2, 22), False),  # Monday, the day off moved from 20 February
        (date(2027, 2, 23), False),  # Tuesday, Defender of the Fatherland Day
        (date(2027, 3, 8), False),  # Monday, Women's Day
        (date(2027, 5, 3), False),  # Monday: 1 May is a Saturday
        (date(2027, 5, 10), False),  # Monday: 9 May is a Sunday
        (date(2027, 6, 14), False),  # Monday: 12 June is a Saturday
        (date(2027, 11, 4), False),  # Thursday, Unity Day
        (date(2027, 11, 5), False),  # Friday, moved from Saturday 2 January
        (date(2027, 12, 30), True),
        (date(2027, 12, 31), False),  # Friday, moved from Sunday 3 January
    ],
)
def test_holidays_and_moved_days_2027(day, working):
    assert is_working_day(day) is working


def test_2027_has_one_working_saturday():
    working_weekend = [d for d in days_of(2027) if d.weekday() >= 5 and is_working_day(d)]
    assert working_weekend == [date(2027, 2, 20)]


def test_2025_working_saturday_and_moved_day_off():
    assert is_working_day(date(2025, 11, 1))  # Saturday worked for Monday 3 November
    assert not is_working_day(date(2025, 11, 3))
    assert not is_working_day(date(2025, 12, 31))  # Wednesday, from Sunday 5 January


# --- next and n-th working day ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 2, 10), date(2026, 2, 10)),  # a Tuesday stays
        (date(2026, 1, 10), date(2026, 1, 12)),  # Saturday in the New Year holidays
        (date(2026, 5, 10), date(2026, 5, 12)),  # Sunday, then the Monday off for 9 May
        (date(2026, 10, 10), date(2026, 10, 12)),  # an ordinary Saturday
        (date(2026, 12, 31), date(2027, 1, 11)),  # across the year and its holidays
        (date(2027, 2, 20), date(2027, 2, 20)),  # the working Saturday stays
        (date(2027, 2, 21), date(2027, 2, 24)),  # Sunday, Mon 22 and Tue 23 off
    ],
)
def test_next_working_day(day, expected):
    assert next_working_day(day) == expected


def test_add_working_days_skips_the_new_year():
    # Fri 25 December 2026 + 5: 28, 29, 30 December; 31 December and 1–10 January are off;
    # 11 and 12 January.
    assert add_working_days(date(2026, 12, 25), 5) == date(2027, 1, 12)


def test_add_working_days_lands_on_a_working_saturday():
    assert add_working_days(date(2027, 2, 19), 1) == date(2027, 2, 20)
    assert add_working_days(date(2027, 2, 20), 1) == date(2027, 2, 24)


def test_add_working_days_backwards_and_zero():
    # Wednesday 31 December 2025 is off (moved from Sunday 5 January 2025).
    assert add_working_days(date(2026, 1, 12), -1) == date(2025, 12, 30)
    assert add_working_days(date(2026, 1, 10), 0) == date(2026, 1, 12)
    assert add_working_days(date(2026, 2, 10), 0) == date(2026, 2, 10)


def test_a_datetime_is_refused_not_truncated():
    """A UTC moment's date may be another day in the supplier's zone: the caller decides."""
    with pytest.raises(TypeError):
        is_working_day(datetime(2026, 1, 12, 23, 30, tzinfo=UTC))
    with pytest.raises(TypeError):
        next_working_day(datetime(2026, 1, 12, 23, 30, tzinfo=UTC))


# --- years without a known decree ----------------------------------------------------------


def test_beyond_the_decrees_weekends_and_art_112_holidays_count():
    assert not has_decree(2040)
    assert not is_working_day(date(2040, 1, 3))  # New Year holidays, Tuesday
    assert not is_working_day(date(2040, 2, 23))  # Thursday
    assert not is_working_day(date(2040, 11, 4))  # Sunday
    assert not is_working_day(date(2040, 11, 5))  # Monday: art. 112 part 2
    assert is_working_day(date(2040, 11, 6))


def test_art_112_part_2_shifts_chain_past_each_other():
    # 2038: 1 May a Saturday → Monday 3 May; 9 May a Sunday → Monday 10 May; 12 June a
    # Saturday → Monday 14 June. Statutory, so true whatever a future decree adds.
    for day in (date(2038, 5, 3), date(2038, 5, 10), date(2038, 6, 14)):
        assert not is_working_day(day), day
    assert is_working_day(date(2038, 5, 4))
    assert is_working_day(date(2038, 6, 15))


# --- properties --------------------------------------------------------------------------

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 12, 31))


@given(day=days)
def test_next_working_day_is_the_first_working_day_on_or_after(day):
    result = next_working_day(day)
    assert result >= day
    assert is_working_day(result)
    assert all(not is_working_day(day + timedelta(n)) for n in range((result - day).days))


@given(day=days, n=st.integers(min_value=1, max_value=40))
def test_add_working_days_counts_exactly_n_working_days(day, n):
    result = add_working_days(day, n)
    assert is_working_day(result)
    between = [day + timedelta(k) for k in range(1, (result - day).days + 1)]
    assert sum(is_working_day(d) for d in between) == n


@given(day=days, n=st.integers(min_value=1, max_value=40))
def test_going_back_returns_to_the_working_day(day, n):
    start = next_working_day(day)
    assert add_working_days(add_working_days(start, n), -n) == start
