"""The quality figures of appeals (002 §19, 004 §6; DOMAIN.md "Quality figures"): by month,
quarter or year, optionally by topic, channel or executor — received, answered, answered on
time (%), overdue now, average days to answer, share of ratings 9–10, average rating.

Two grouped queries whatever the number of appeals: one over the day of registration
(received; of those, overdue now), one over the day of the answer (the rest).
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, case, cast, extract, func, select
from sqlalchemy.orm import Session

from portal.models import Appeal, AppealChannel, AppealTopic, Staff
from portal.services.appeals.queue import OPEN_STATUSES

GRANULARITIES = {"month": _l("Month"), "quarter": _l("Quarter"), "year": _l("Year")}
GROUPS = {"topic": _l("Topic"), "channel": _l("Channel"), "executor": _l("Executor")}
YEARS_SHOWN = 5  # by year: this many years back to the current one
TOP_RATING = 9
ONE_PLACE = Decimal("0.1")


@dataclass
class Row:
    period: int  # 2026 by year, 20261 (year, quarter) or 202603 (year, month)
    group: str | None = None
    received: int = 0
    overdue_now: int = 0
    reopened: int = 0  # of those received, reopened by the customer
    answered: int = 0
    on_time: int = 0
    days_total: int = 0
    rated: int = 0
    top_rated: int = 0
    rating_total: int = 0

    @staticmethod
    def _share(part: int, whole: int) -> Decimal | None:
        return (Decimal(part * 100) / whole).quantize(ONE_PLACE, ROUND_HALF_UP) if whole else None

    @staticmethod
    def _mean(total: int, count: int) -> Decimal | None:
        return (Decimal(total) / count).quantize(ONE_PLACE, ROUND_HALF_UP) if count else None

    @property
    def on_time_share(self):
        return self._share(self.on_time, self.answered)

    @property
    def top_share(self):
        return self._share(self.top_rated, self.rated)

    @property
    def average_days(self):
        return self._mean(self.days_total, self.answered)

    @property
    def average_rating(self):
        return self._mean(self.rating_total, self.rated)

    def add(self, other: "Row") -> None:
        for name in (
            "received",
            "overdue_now",
            "reopened",
            "answered",
            "on_time",
            "days_total",
            "rated",
            "top_rated",
            "rating_total",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def period_key(column, granularity: str):
    year = extract("year", column)
    if granularity == "year":
        return cast(year, Integer)
    month = extract("month", column)
    if granularity == "month":
        return cast(year * 100 + month, Integer)
    quarter = case((month <= 3, 1), (month <= 6, 2), (month <= 9, 3), else_=4)
    return cast(year * 10 + quarter, Integer)


def period_label(key: int, granularity: str) -> str:
    if granularity == "year":
        return str(key)
    if granularity == "quarter":
        return f"{key // 10}-Q{key % 10}"
    return f"{key // 100}-{key % 100:02d}"


def _group_column(by: str | None):
    return {"topic": Appeal.topic, "channel": Appeal.channel, "executor": Appeal.executor_id}.get(
        by
    )


def _span(column, granularity: str, year: int):
    if granularity == "year":
        return extract("year", column).between(year - YEARS_SHOWN + 1, year)
    return extract("year", column) == year


def _received(session, granularity, year, by, today):
    key, group = period_key(Appeal.registered_on, granularity), _group_column(by)
    grouped = [c for c in (key, group) if c is not None]
    overdue = func.count().filter(Appeal.status.in_(OPEN_STATUSES), Appeal.due_on < today)
    reopened = func.count().filter(Appeal.reopen_count > 0)
    query = (
        select(*grouped, func.count().label("received"), overdue.label("overdue"), reopened)
        .where(_span(Appeal.registered_on, granularity, year))
        .group_by(*grouped)
    )
    for row in session.execute(query):
        group_value = row[1] if group is not None else None
        yield (
            row[0],
            group_value,
            {"received": row[-3], "overdue_now": row[-2], "reopened": row[-1]},
        )


def _answered(session, granularity, year, by):
    key, group = period_key(Appeal.answered_on, granularity), _group_column(by)
    measures = (
        func.count().label("answered"),
        func.count().filter(Appeal.answered_on_time.is_(True)).label("on_time"),
        func.coalesce(func.sum(Appeal.answer_days), 0).label("days_total"),
        func.count(Appeal.rating).label("rated"),
        func.count().filter(Appeal.rating >= TOP_RATING).label("top_rated"),
        func.coalesce(func.sum(Appeal.rating), 0).label("rating_total"),
    )
    grouped = [c for c in (key, group) if c is not None]
    query = (
        select(*grouped, *measures)
        .where(Appeal.answered_on.is_not(None), _span(Appeal.answered_on, granularity, year))
        .group_by(*grouped)
    )
    names = ("answered", "on_time", "days_total", "rated", "top_rated", "rating_total")
    for row in session.execute(query):
        values = dict(zip(names, row[-6:], strict=True))
        yield row[0], (row[1] if group is not None else None), values


def figures(
    session: Session, *, granularity: str, year: int, by: str | None, today: date
) -> list[Row]:
    """One row per period (and group), oldest first."""
    rows: dict[tuple, Row] = {}
    for source in (
        _received(session, granularity, year, by, today),
        _answered(session, granularity, year, by),
    ):
        for period, group, values in source:
            group = None if group is None else str(group)
            row = rows.setdefault((period, group), Row(int(period), group))
            for name, value in values.items():
                setattr(row, name, int(value or 0))
    return sorted(rows.values(), key=lambda row: (row.period, row.group or ""))


def totals(rows: list[Row]) -> list[Row]:
    """The rows summed per period (the chart's figures when grouped)."""
    by_period: dict[int, Row] = {}
    for row in rows:
        by_period.setdefault(row.period, Row(row.period)).add(row)
    return [by_period[key] for key in sorted(by_period)]


def group_labels(session: Session, by: str | None) -> dict[str, str]:
    if by == "topic":
        return {member.value: str(member.label) for member in AppealTopic}
    if by == "channel":
        return {member.value: str(member.label) for member in AppealChannel}
    if by == "executor":
        return {str(i): name for i, name in session.execute(select(Staff.id, Staff.full_name))}
    return {}
