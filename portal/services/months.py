"""Months as billing and reports count them: a period is the first day of its month.

Arithmetic is python-dateutil's ``relativedelta``; "2026-10" is how a period is written in
URLs, forms and the command line.
"""

import calendar
import re
from collections.abc import Iterator
from datetime import date

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _

from portal.services.errors import DomainError

_ISO_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
EARLIEST_PERIOD = date(2000, 1, 1)  # no supplier's records go back further


def period_of(day: date) -> date:
    """The period (first day of the month) a day belongs to."""
    return day.replace(day=1)


def add_months(period: date, months: int) -> date:
    return period_of(period) + relativedelta(months=months)


def month_end(period: date) -> date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


def months_between(start: date, end: date) -> int:
    """Whole months from ``start``'s period to ``end``'s (negative when end is earlier).

    Plain arithmetic on month numbers: the readings import asks this for every line, and a
    relativedelta per line costs a fifth of its speed."""
    return (end.year - start.year) * 12 + end.month - start.month


def months_back(period: date, count: int) -> list[date]:
    """The period and the ``count - 1`` months before it, newest first."""
    return [add_months(period, -step) for step in range(count)]


def months_from(start: date, end: date) -> Iterator[date]:
    """Each period from ``start``'s to ``end``'s, both included, oldest first."""
    period = period_of(start)
    while period <= end:
        yield period
        period = add_months(period, 1)


def iso(period: date) -> str:
    """1 October 2026 → "2026-10"."""
    return f"{period.year:04d}-{period.month:02d}"


def parse_period(text: str | None, field: str | None = "period") -> date:
    """ "2026-10" → 1 October 2026; a DomainError (next to ``field``) for anything else,
    a month that does not exist or one before EARLIEST_PERIOD."""
    match = _ISO_MONTH.fullmatch((text or "").strip())
    month = int(match.group(2)) if match else 0
    if not match or not 1 <= month <= 12:
        raise DomainError(_("Give the period as YYYY-MM, for example 2026-10."), field)
    period = date(int(match.group(1)), month, 1)
    if period < EARLIEST_PERIOD:
        raise DomainError(_("Give the period as YYYY-MM, for example 2026-10."), field)
    return period
