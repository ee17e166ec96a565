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

Neither the package nor this fallback knows a decree published after the package was
released, nor a regional day off: administrators keep those as dated exceptions
(``CalendarDay``: a day off or a working day, with its basis), edited in the back office at
/admin/calendar. An exception wins over the package. The functions below are pure: they
take the exceptions as ``overrides`` ({day: working}); code that has a session asks
``calendar(session)`` once and uses the ``Calendar`` it returns.

Days are calendar dates in the supplier's zone; a datetime is refused rather than guessed.
"""

import calendar as month_grid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import holidays
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.formatting import as_date_ending
from portal.models import CalendarDay
from portal.models.audit import AuditAction, AuditObject
from portal.models.calendar import MAX_NOTE_LENGTH, DayKind
from portal.services import audit
from portal.services.errors import DomainError, NotFound

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


class Calendar:
    """The production calendar with the administrators' exceptions: ``overrides`` maps a
    day to whether it is a working day, whatever the package says."""

    __slots__ = ("overrides",)

    def __init__(self, overrides: Mapping[date, bool] | None = None):
        self.overrides = dict(overrides or {})

    def is_working_day(self, day: date) -> bool:
        _check(day)
        working = self.overrides.get(day)
        if working is not None:
            return working
        return day not in _days_off(day.year)

    def next_working_day(self, day: date) -> date:
        """The day itself if it is a working day, else the first working day after it."""
        _check(day)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def is_holiday(self, day: date) -> bool:
        """Off for more than being a Saturday or Sunday: a public holiday, a day off a
        decree moved, or a day administrators made one. An office open on Saturdays is
        shut on such a Saturday, and on such a weekday."""
        _check(day)
        if day.weekday() < 5:
            return not self.is_working_day(day)
        return self.overrides.get(day) is False or day in _package_calendar(day.year)

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (before it when ``n`` is negative); ``day``
        itself need not be a working day. ``n == 0`` is ``next_working_day(day)``."""
        _check(day)
        if n == 0:
            return self.next_working_day(day)
        step = timedelta(days=1 if n > 0 else -1)
        for _step in range(abs(n)):
            day += step
            while not self.is_working_day(day):
                day += step
        return day


_PACKAGE_ONLY = Calendar()


def _with(overrides: Mapping[date, bool] | None) -> Calendar:
    return _PACKAGE_ONLY if not overrides else Calendar(overrides)


def is_working_day(day: date, overrides: Mapping[date, bool] | None = None) -> bool:
    return _with(overrides).is_working_day(day)


def next_working_day(day: date, overrides: Mapping[date, bool] | None = None) -> date:
    """The day itself if it is a working day, else the first working day after it."""
    return _with(overrides).next_working_day(day)


def add_working_days(day: date, n: int, overrides: Mapping[date, bool] | None = None) -> date:
    """The ``n``-th working day after ``day`` (before it when ``n`` is negative); ``day``
    itself need not be a working day. ``n == 0`` is ``next_working_day(day)``."""
    return _with(overrides).add_working_days(day, n)


def calendar(session: Session) -> Calendar:
    """The calendar with every exception administrators keep (a small table), in one
    query: build it once per request or run and ask it as often as needed."""
    rows = session.execute(select(CalendarDay.day, CalendarDay.working))
    return Calendar({day: working for day, working in rows})


# --- exceptions administrators keep ------------------------------------------------------

EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)


def check_day(day: date | None) -> date:
    if day is None:
        raise DomainError(_("Enter the date."), "day")
    _check(day)
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise DomainError(
            _(
                "Enter a date from %(first)s to %(last)s.",
                first=format_date(EARLIEST_DAY),
                last=as_date_ending(LATEST_DAY, "medium"),
            ),
            "day",
        )
    return day


def _summary(row: CalendarDay) -> str:
    kind = "working day" if row.working else "day off"
    return f"{row.day.isoformat()} {kind}: {row.note}"


def _clean_note(note: str | None) -> str:
    """The basis of an exception, on one line: required, and of a sane length."""
    note = " ".join((note or "").split())
    if not note:
        raise DomainError(
            _("Give the basis, for example the number and date of the decree."), "note"
        )
    if len(note) > MAX_NOTE_LENGTH:
        raise DomainError(
            ngettext(
                "Keep the reason under %(num)s character.",
                "Keep the reason under %(num)s characters.",
                MAX_NOTE_LENGTH,
            ),
            "note",
        )
    return note


def _day_taken(day: date) -> DomainError:
    return DomainError(
        _("There is already an exception for %(date)s: remove it first.", date=format_date(day)),
        "day",
    )


def _check_not_pointless(day: date, working: bool) -> None:
    """An exception the package already agrees with is refused."""
    if is_working_day(day) is not working:
        return
    message = (
        _("%(date)s is a working day in the calendar already.", date=format_date(day))
        if working
        else _("%(date)s is a day off in the calendar already.", date=format_date(day))
    )
    raise DomainError(message, "working")


def _record(session: Session, action: str, row: CalendarDay, changes: dict, staff_id, ip) -> None:
    audit.record(
        session,
        staff_id=staff_id,
        action=action,
        object_type=AuditObject.CALENDAR_DAY,
        object_id=row.id,
        summary=_summary(row),
        changes=changes,
        ip_address=ip,
    )


def add_override(
    session: Session,
    *,
    day: date | None,
    working: bool,
    note: str | None,
    staff_id: int | None = None,
    ip: str | None = None,
) -> CalendarDay:
    """Make ``day`` a working day or a day off whatever the package says, with its basis
    (``note``, e.g. the decree's number and date), audited in the caller's transaction. One
    exception per day; an exception the package already agrees with is refused as
    pointless."""
    day = check_day(day)
    note = _clean_note(note)
    if session.scalar(select(CalendarDay.id).where(CalendarDay.day == day)) is not None:
        raise _day_taken(day)
    _check_not_pointless(day, bool(working))
    row = CalendarDay(day=day, working=bool(working), note=note, created_by_id=staff_id)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same day added a moment ago in another tab
        raise _day_taken(day) from None
    _record(session, AuditAction.CREATE, row, audit.diff({}, _snapshot(row)), staff_id, ip)
    session.flush()
    return row


def _snapshot(row: CalendarDay) -> dict:
    return {"day": row.day.isoformat(), "working": row.working, "note": row.note}


def remove_override(
    session: Session, override_id: int, *, staff_id: int | None = None, ip: str | None = None
) -> CalendarDay:
    """Remove an exception, audited in the caller's transaction: the package decides the
    day again. NotFound for an unknown id."""
    row = session.get(CalendarDay, override_id)
    if row is None:
        raise NotFound()
    _record(
        session,
        AuditAction.DELETE,
        row,
        audit.diff(_snapshot(row), dict.fromkeys(_snapshot(row))),
        staff_id,
        ip,
    )
    session.delete(row)
    session.flush()
    return row


# --- a year as the back office shows it ----------------------------------------------------


@cache
def _named_holidays(year: int, language: str) -> dict[date, str]:
    """The package's holidays and moved days off of the year with their names."""
    return dict(holidays.Russia(years=year, language=language).items())


@dataclass(frozen=True)
class SpecialDay:
    """A day that is not what its weekday says, or that has an exception."""

    day: date
    working: bool  # as the calendar sees it, the exception included
    package_working: bool  # as the package (and art. 112 part 2) alone sees it
    name: str  # the package's name of the holiday, or what made the day special
    override: CalendarDay | None

    @property
    def kind(self) -> DayKind:
        return DayKind.of(self.working)


@dataclass(frozen=True)
class DayCell:
    day: date
    working: bool
    special: bool  # a holiday, a moved day or an exception (listed below the months)
    override: bool


@dataclass(frozen=True)
class YearView:
    year: int
    has_decree: bool
    working_days: int
    days_off: int
    special_days: list[SpecialDay]
    months: list[tuple[date, list[list[DayCell | None]]]]  # weeks from Monday


def year_view(session: Session, year: int, language: str = "en_US") -> YearView:
    """The year as the calendar sees it: every holiday, moved day and exception with its
    name, the count of working days, and the months as weeks for a small calendar."""
    first = date(year, 1, 1)
    days = [first + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first).days)]
    rows = session.scalars(
        select(CalendarDay)
        .options(selectinload(CalendarDay.created_by))
        .where(CalendarDay.day.between(first, date(year, 12, 31)))
        .order_by(CalendarDay.day)
    ).all()
    overrides = {row.day: row for row in rows}
    with_overrides = Calendar({row.day: row.working for row in rows})
    names = _named_holidays(year, language)
    special = []
    for day in days:
        package_working = is_working_day(day)
        weekend = day.weekday() >= 5
        if day in names:
            name = names[day]
        elif weekend and package_working:
            name = _("Working day by the Government's decree")
        elif not weekend and not package_working:
            name = _("Day off after a holiday on a weekend (Labour Code art. 112 part 2)")
        elif day in overrides:
            name = ""
        else:
            continue
        special.append(
            SpecialDay(
                day,
                with_overrides.is_working_day(day),
                package_working,
                name,
                overrides.get(day),
            )
        )
    marked = {item.day for item in special}
    months = []
    for month in range(1, 13):
        weeks = [
            [
                DayCell(d, with_overrides.is_working_day(d), d in marked, d in overrides)
                if d.month == month
                else None
                for d in week
            ]
            for week in month_grid.Calendar().monthdatescalendar(year, month)
        ]
        months.append((date(year, month, 1), weeks))
    working = sum(with_overrides.is_working_day(day) for day in days)
    return YearView(
        year=year,
        has_decree=has_decree(year),
        working_days=working,
        days_off=len(days) - working,
        special_days=special,
        months=months,
    )
