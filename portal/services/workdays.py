"""The working-day calendar: Russia's production calendar (производственный календарь).

Every deadline counted in working days, and every rule that speaks of "a working day", asks
this module. The data come from the maintained ``holidays`` package (``holidays.Russia``),
which as of version 0.109 holds, for each year from 1991:

- the non-working public holidays of Labour Code art. 112 part 1: 1–6 and 8 January (New
  Year holidays), 7 January, 23 February, 8 March, 1 May, 9 May, 12 June, 4 November;
- the Government's yearly decree moving days off (art. 112 part 5) as "substituted" days
  off, for the years 1991–2027 (2026: Decree No. 1466 of 24.09.2025; 2027: Decree No. 1187
  of 17.09.2026), and the days off art. 112 part 2 adds when a holiday falls on a weekend,
  listed for the same years;
- the weekend days such a decree turns into working days (e.g. Saturday 1 November 2025,
  Saturday 20 February 2027). The package has no WORKDAY category for Russia: it derives
  them from the substitutions (``weekend_workdays``) and honours them in its own
  ``is_working_day``, which is what we ask.

For a year the installed package has no decree for (``has_decree(year)`` is false) we count
Saturdays and Sundays, the holidays of art. 112 part 1 and the day off part 2 of that
article adds after a holiday that falls on a weekend (it needs no decree). The decree's
moves of the January weekend days are unknown until it is published, usually in September
of the year before: upgrading ``holidays`` then brings them in.

Days are calendar dates in the supplier's zone; a datetime is refused rather than guessed.
"""

from datetime import date, datetime, timedelta
from functools import cache

import holidays

# Art. 112 part 1: the New Year holidays and Christmas (their weekend days move only by
# the Government's decree), then the holidays whose weekend part 2 moves by itself.
_JANUARY_HOLIDAYS = tuple((1, day) for day in range(1, 9))
_MOVABLE_HOLIDAYS = ((2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4))


def has_decree(year: int) -> bool:
    """Whether the installed package knows the Government's transfers for ``year``.

    Told from what the package gives, not from its internals: every year some of 1–8
    January fall on a weekend, so a year with a decree always has a day off beyond the
    fixed holidays of art. 112 part 1.
    """
    fixed = {date(year, month, day) for month, day in _JANUARY_HOLIDAYS + _MOVABLE_HOLIDAYS}
    return bool(set(_package_calendar(year)) - fixed)


@cache
def _package_calendar(year: int) -> holidays.HolidayBase:
    return holidays.Russia(years=year)


@cache
def _days_off(year: int) -> frozenset[date]:
    """Every non-working day of the year (weekends included), computed once per year."""
    calendar = _package_calendar(year)
    first = date(year, 1, 1)
    days = [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]
    off = {day for day in days if not calendar.is_working_day(day)}
    if not has_decree(year):
        # Art. 112 part 2: a weekend day that coincides with a holiday moves to the next
        # working day after the holiday. Known years list these days themselves.
        for month, day_of_month in _MOVABLE_HOLIDAYS:
            holiday = date(year, month, day_of_month)
            if holiday.weekday() >= 5:
                extra = holiday + timedelta(days=1)
                while extra in off:
                    extra += timedelta(days=1)
                off.add(extra)
    return frozenset(off)


def _check(day: date) -> None:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"a calendar date is expected, not {day!r}")


def is_working_day(day: date) -> bool:
    _check(day)
    return day not in _days_off(day.year)


def next_working_day(day: date) -> date:
    """The day itself if it is a working day, else the first working day after it."""
    _check(day)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, n: int) -> date:
    """The ``n``-th working day after ``day`` (before it when ``n`` is negative); ``day``
    itself need not be a working day. ``n == 0`` is ``next_working_day(day)``."""
    _check(day)
    if n == 0:
        return next_working_day(day)
    step = timedelta(days=1 if n > 0 else -1)
    for _ in range(abs(n)):
        day += step
        while not is_working_day(day):
            day += step
    return day
