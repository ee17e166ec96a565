"""The quality dashboard (issue #16; 001 Tables 5–6, 002 §19, 004 §6): every indicator of
a month, quarter or year against its target, from the areas' own figures functions (one
definition each, shared with their pages):

- reading acceptance: ``readings.acceptance`` (001 Table 5 No. 5), month by month;
- cash collection: ``billing.collection`` (No. 2, paid / billed);
- appeals on time, overdue now, average days to answer: ``appeals.figures.figures`` (No. 9);
- contracts concluded on time: ``contracts_on_time`` below (No. 4), which the contract
  applications area provides; until it does the dashboard says "no data";
- satisfaction by criterion: ``surveys.figures`` (No. 10; 002 §19: average, share 9–10);
- office waiting time and no-shows: ``visit_figures.figures``;
- reminders delivered / failed: ``notify.mailbox.figures`` over the reminder kinds.

The number of queries depends on the granularity (a year asks acceptance for 12 months),
never on the number of rows.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from portal.services import billing, readings, settings, surveys, visit_figures
from portal.services.appeals import figures as appeal_figures
from portal.services.applications import figures as application_figures
from portal.services.months import add_months, month_end, months_from
from portal.services.notify import mailbox
from portal.services.notify.reminders import RULES as REMINDER_RULES

GRANULARITIES = appeal_figures.GRANULARITIES
ONE_PLACE = Decimal("0.1")


@dataclass(frozen=True)
class Span:
    granularity: str  # month, quarter, year
    year: int
    number: int  # the month 1–12, the quarter 1–4, or 1 for the year

    @property
    def first(self) -> date:
        if self.granularity == "month":
            return date(self.year, self.number, 1)
        if self.granularity == "quarter":
            return date(self.year, 3 * self.number - 2, 1)
        return date(self.year, 1, 1)

    @property
    def last(self) -> date:
        """The first day of the span's last month."""
        size = {"month": 1, "quarter": 3, "year": 12}[self.granularity]
        return add_months(self.first, size - 1)

    @property
    def last_day(self) -> date:
        """The span's last day, as a page names the span."""
        return month_end(self.last)

    @property
    def appeal_period(self) -> int:
        """The period key of ``appeals.figures`` (202603, 20261, 2026)."""
        if self.granularity == "month":
            return self.year * 100 + self.number
        if self.granularity == "quarter":
            return self.year * 10 + self.number
        return self.year


@dataclass(frozen=True)
class Indicator:
    key: str
    label: object
    value: Decimal | None  # None: no data for the span (shown as such, never as 0)
    target: Decimal | None
    unit: str  # "%", "days", "min", "" (a count), "points"
    higher_is_better: bool = True
    source: object = ""  # which seed line or area it comes from

    @property
    def met(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


def contracts_on_time(session: Session, first: date, last: date) -> Decimal | None:
    """Ккач дог (001 Table 5 No. 4): contracts concluded on time × 100 % / contracts
    concluded, of the applications registered in the months from ``first`` to ``last``;
    None (the dashboard says "no data") when none was concluded."""
    return application_figures.on_time_percent(session, first, month_end(last))


def _share(part, whole) -> Decimal | None:
    return (Decimal(part) * 100 / whole).quantize(ONE_PLACE, ROUND_HALF_UP) if whole else None


def _target(session: Session, key: str) -> Decimal:
    return Decimal(str(settings.get(session, f"quality.target.{key}")))


def _acceptance(session: Session, span: Span) -> Decimal | None:
    months = [readings.acceptance(session, month) for month in months_from(span.first, span.last)]
    return _share(sum(m.with_reading for m in months), sum(m.metered_accounts for m in months))


def _appeals(session: Session, span: Span, today: date) -> appeal_figures.Row:
    rows = appeal_figures.figures(
        session, granularity=span.granularity, year=span.year, by=None, today=today
    )
    return next((r for r in rows if r.period == span.appeal_period), appeal_figures.Row(0))


def _reminders(session: Session, span: Span) -> tuple[Decimal | None, Decimal | None]:
    rows = [
        r
        for r in mailbox.figures(session, span.first, month_end(span.last))
        if r["kind"] in REMINDER_RULES
    ]
    sent = sum(r["sent"] for r in rows) + sum(r["failed"] for r in rows)
    return _share(sum(r["delivered"] for r in rows), sent), _share(
        sum(r["failed"] for r in rows), sent
    )


def _visits(session: Session, span: Span, office_id: int | None) -> visit_figures.Figures:
    rows = visit_figures.figures(session, span.first, month_end(span.last), office_id)
    # The last row is the total of all offices (or the one office); none without offices.
    return rows[-1] if rows else visit_figures.Figures("", 0, 0, 0, 0, None, None, None, None)


# (key, label, unit, higher is better, source); the target is ``quality.target.<key>``.
INDICATORS = (
    (
        "reading_acceptance",
        _l("Meter readings accepted in the window"),
        "%",
        True,
        _l("001 Table 5 No. 5"),
    ),
    ("cash_collection", _l("Cash collection (paid / billed)"), "%", True, _l("001 Table 5 No. 2")),
    (
        "appeals_on_time",
        _l("Appeals answered on time"),
        "%",
        True,
        _l("001 Table 5 No. 9; 002 §19"),
    ),
    (
        "appeals_overdue",
        _l("Appeals overdue now (received in the period)"),
        "",
        False,
        _l("002 §19"),
    ),
    ("appeals_days", _l("Average days to answer an appeal"), _l("days"), False, _l("002 §19")),
    ("contracts_on_time", _l("Contracts concluded on time"), "%", True, _l("001 Table 5 No. 4")),
    (
        "satisfaction_average",
        _l("Satisfaction, average score"),
        _l("points"),
        True,
        _l("001 Table 5 No. 10"),
    ),
    ("satisfaction_top", _l("Satisfaction, share of scores 9–10"), "%", True, _l("002 §19")),
    ("office_wait", _l("Average wait in the office"), _l("min"), False, _l("004 §11")),
    ("office_no_shows", _l("Booked visits missed"), "%", False, _l("004 §11")),
    ("reminders_delivered", _l("Reminders delivered"), "%", True, _l("004 §6")),
    ("reminders_failed", _l("Reminders failed"), "%", False, _l("004 §6")),
)


def _values(session: Session, span: Span, today: date, office_id: int | None) -> dict:
    appeals = _appeals(session, span, today)
    visits = _visits(session, span, office_id)
    delivered, failed = _reminders(session, span)
    satisfaction = surveys.figures(session, span.first, month_end(span.last), office_id)
    return {
        "reading_acceptance": _acceptance(session, span),
        "cash_collection": billing.collection(session, span.first, span.last).share,
        "appeals_on_time": appeals.on_time_share,
        "appeals_overdue": Decimal(appeals.overdue_now),
        "appeals_days": appeals.average_days,
        "contracts_on_time": contracts_on_time(session, span.first, span.last),
        "satisfaction_average": satisfaction.average,
        "satisfaction_top": satisfaction.top_share,
        "office_wait": visits.average_wait,
        "office_no_shows": _share(visits.no_shows, visits.bookings),
        "reminders_delivered": delivered,
        "reminders_failed": failed,
    }


def _target_of(session: Session, key: str) -> Decimal:
    if key == "office_wait":  # the visits area's own target (003: 30 minutes)
        return Decimal(settings.get(session, "visits.wait_target_minutes"))
    return _target(session, key)


def indicators(
    session: Session, span: Span, today: date, office_id: int | None = None
) -> list[Indicator]:
    """The dashboard's rows for the span; ``office_id`` narrows the office figures
    (waiting, no-shows, satisfaction) to one office; the rest are the supplier's."""
    values = _values(session, span, today, office_id)
    return [
        Indicator(key, label, values[key], _target_of(session, key), unit, higher, source)
        for key, label, unit, higher, source in INDICATORS
    ]
