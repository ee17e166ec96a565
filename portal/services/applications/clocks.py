"""The clock of every stage of a contract application (004 table 1 and 2, 003).

- Registration: an application made online is registered at once; one received by post is
  registered no later than the working day after it arrived (003, "Условия и сроки" п. 1).
- Within ``applications.answer_days`` (5) days of receiving the application the customer
  hears that a contract is possible or which documents are missing (004 table 1, 1.2); a
  reasoned refusal within ``applications.refusal_days`` (5) days (1.4).
- The signed contract within 30 calendar days for a legal entity and 10 working days for an
  individual from the day the application is complete (1.3: "при предоставлении всех
  необходимых документов"); the days and their kind are settings per segment.
- No answer to a request for missing documents within a month ends consideration with a
  notice (003, п. 6); ``applications.missing_documents_months``.
- Technical conditions for installing a meter within 10 days of registration (1.9).
- A protocol of disagreements is answered within 30 days of receiving it (table 2, 1.1);
  a complaint about a decision within 30 days.

Terms are counted from the day after their start; one in calendar days that ends on a day
off ends on the next working day (Civil Code art. 191, 193) — ``appeals.deadlines.due_date``
does exactly that and is reused here. A term in months ends on the same date of the month
(art. 192), or the month's last day when it has no such date, moved the same way.
"""

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from portal.models import ApplicationKind, Segment
from portal.services import settings, workdays
from portal.services.appeals.deadlines import due_date


@dataclass(frozen=True)
class Clocks:
    """The settings in force, read once per action."""

    answer_days: int = 5
    refusal_days: int = 5
    contract_days: dict = None  # segment → (days, working)
    missing_documents_months: int = 1
    meter_conditions_days: int = 10
    disagreement_days: int = 30
    complaint_days: int = 30

    @classmethod
    def defaults(cls) -> "Clocks":
        return cls(contract_days={Segment.LEGAL: (30, False), Segment.HOUSEHOLD: (10, True)})


def clocks(session: Session) -> Clocks:
    def value(key):
        return settings.get(session, f"applications.{key}")

    return Clocks(
        answer_days=value("answer_days"),
        refusal_days=value("refusal_days"),
        contract_days={
            segment: (
                value(f"contract_days.{segment}"),
                bool(value(f"contract_working.{segment}")),
            )
            for segment in Segment
        },
        missing_documents_months=value("missing_documents_months"),
        meter_conditions_days=value("meter_conditions_days"),
        disagreement_days=value("disagreement_days"),
        complaint_days=value("complaint_days"),
    )


def post_registered_by(received_on: date, calendar: workdays.Calendar) -> date:
    """The last day post received on ``received_on`` may be registered (003: "не позднее
    рабочего дня, следующего за датой получения корреспонденции")."""
    return calendar.add_working_days(received_on, 1)


def first_answer_due(registered_on: date, kind: ApplicationKind, c: Clocks, calendar) -> date:
    """The last day of the first answer: the meter's conditions themselves (1.9), otherwise
    "a contract is possible" or "these documents are missing" (1.2)."""
    if kind is ApplicationKind.METER_CONDITIONS:
        return due_date(registered_on, c.meter_conditions_days, False, calendar)
    return due_date(registered_on, c.answer_days, False, calendar)


def refusal_due(registered_on: date, c: Clocks, calendar) -> date:
    """A reasoned refusal (1.4), counted from receiving the application."""
    return due_date(registered_on, c.refusal_days, False, calendar)


def rework_due(delivered_on: date, c: Clocks, calendar) -> date:
    """Documents delivered after a request are answered on the first answer's term from
    the day they arrived."""
    return due_date(delivered_on, c.answer_days, False, calendar)


def contract_due(complete_on: date, segment: Segment, c: Clocks, calendar) -> date:
    """The signed contract (1.3), from the day the application became complete."""
    days, working = c.contract_days[segment]
    return due_date(complete_on, days, working, calendar)


def add_months(start: date, months: int, calendar) -> date:
    """A term of months (Civil Code art. 192: the same date of the last month, or that
    month's last day), moved off a day off (art. 193)."""
    return calendar.next_working_day(start + relativedelta(months=months))


def documents_wait_ends(requested_on: date, c: Clocks, calendar) -> date:
    """The last day the customer may still deliver requested documents (003 п. 6); the day
    after it consideration ends."""
    return add_months(requested_on, c.missing_documents_months, calendar)


def disagreement_due(received_on: date, c: Clocks, calendar) -> date:
    return due_date(received_on, c.disagreement_days, False, calendar)


def complaint_due(received_on: date, c: Clocks, calendar) -> date:
    return due_date(received_on, c.complaint_days, False, calendar)
