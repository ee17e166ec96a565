"""When an appeal must be answered (DOMAIN.md "Appeals and complaints").

The term of an appeal is a setting per kind of appeal, with a topic's own length where one
is set: 30 calendar days by default (002 §15.4); 004 asks 15 calendar days, extendable once
by up to 15 after an interim answer, never over 30 in all (``appeals.max_total_days``).
A voicemail is answered within 5 working days when the caller left a phone number, 20 when
only a postal address (004, hot line). Working days come from the work calendar
(``portal.services.workdays``) with the administrators' exceptions.

A term counted in calendar days that ends on a non-working day ends on the next working day
(Civil Code art. 193); a term in working days ends on a working day by itself.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from portal.models import AppealChannel, AppealKind, AppealTopic
from portal.services import settings, workdays


@dataclass(frozen=True)
class Term:
    days: int
    working: bool
    extension_days: int  # the most one interim answer may add; 0: no extension
    max_total_days: int


def term_for(
    session: Session,
    kind: AppealKind,
    topic: AppealTopic,
    channel: AppealChannel,
    *,
    phone_left: bool = True,
) -> Term:
    """The term the settings give an appeal of this kind, topic and channel today."""
    extension = settings.get(session, f"appeals.{kind}.extension_days")
    total = settings.get(session, "appeals.max_total_days")
    if channel == AppealChannel.VOICEMAIL:
        key = "appeals.voicemail_phone_days" if phone_left else "appeals.voicemail_address_days"
        return Term(settings.get(session, key), True, extension, total)
    days = settings.get(session, f"appeals.topic.{topic}.days") or settings.get(
        session, f"appeals.{kind}.days"
    )
    working = bool(settings.get(session, f"appeals.{kind}.working_days"))
    return Term(min(days, total), working, extension, total)


def due_date(start: date, days: int, working: bool, calendar: workdays.Calendar) -> date:
    """The last day of a term of ``days`` counted from the day after ``start``."""
    if working:
        return calendar.add_working_days(start, days)
    return calendar.next_working_day(start + timedelta(days=days))


def days_between(first: date, last: date, working: bool, calendar: workdays.Calendar) -> int:
    """How many days of the term's kind passed after ``first`` up to ``last`` inclusive
    (the days a stopped clock gives back)."""
    if last <= first:
        return 0
    if not working:
        return (last - first).days
    return sum(
        calendar.is_working_day(first + timedelta(days=n))
        for n in range(1, (last - first).days + 1)
    )


def internal_target(start: date, working_days: int, calendar: workdays.Calendar) -> date:
    """The day an executor should be named by (an internal target, not the legal term)."""
    return calendar.add_working_days(start, working_days)
