"""The back office's queue of appeals: filters, search, the order by time left, and the
counts at the top. One query for the page, one for the counts, whatever their size."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.models import Account, Appeal, AppealStatus
from portal.services.customers import case_variants

OPEN_STATUSES = tuple(status for status in AppealStatus if status.is_open)
UNASSIGNED = "none"
DUE_FILTERS = ("today", "overdue", "soon")


@dataclass(frozen=True)
class QueueFilters:
    status: str | None = None  # a status, "open" or None for all
    kind: str | None = None
    topic: str | None = None
    channel: str | None = None
    executor: str | None = None  # a staff id, or "none" for unassigned
    due: str | None = None  # "today", "overdue" or "soon"
    within_days: int = 3  # "soon": due within this many days
    term: str = ""


def _search(term: str):
    """By number, applicant's name or e-mail, account number, or the text."""
    if not term:
        return None
    like = [f"%{variant}%" for variant in case_variants(term)]
    by_account = select(Account.id).where(Account.number.like(f"%{term}%"))
    return or_(
        Appeal.number.like(f"%{term}%"),
        Appeal.applicant_email.like(f"%{term.lower()}%"),
        Appeal.account_id.in_(by_account.scalar_subquery()),
        *(Appeal.applicant_name.like(pattern) for pattern in like),
        *(Appeal.text.like(pattern) for pattern in like),
    )


def _due(filters: QueueFilters, today: date):
    if filters.due == "today":
        return Appeal.due_on == today
    if filters.due == "overdue":
        return Appeal.due_on < today
    if filters.due == "soon":
        return Appeal.due_on.between(today, today + timedelta(days=filters.within_days))
    return None


def _conditions(filters: QueueFilters, today: date) -> list:
    conditions = []
    if filters.status == "open" or filters.due:
        conditions.append(Appeal.status.in_(OPEN_STATUSES))
    elif filters.status:
        conditions.append(Appeal.status == filters.status)
    for column, value in (
        (Appeal.kind, filters.kind),
        (Appeal.topic, filters.topic),
        (Appeal.channel, filters.channel),
    ):
        if value:
            conditions.append(column == value)
    if filters.executor == UNASSIGNED:
        conditions.append(Appeal.executor_id.is_(None))
    elif filters.executor:
        conditions.append(Appeal.executor_id == int(filters.executor))
    for condition in (_due(filters, today), _search(filters.term)):
        if condition is not None:
            conditions.append(condition)
    return conditions


def only_open(filters: QueueFilters) -> bool:
    return filters.status == "open" or bool(filters.due) or filters.status in OPEN_STATUSES


def queue_query(filters: QueueFilters, today: date):
    """Open appeals first, the least time left first; then the finished, newest first.
    Open ones alone are ordered by the due date only, which the index (status, due_on)
    serves."""
    query = (
        select(Appeal)
        .where(*_conditions(filters, today))
        .options(joinedload(Appeal.executor), joinedload(Appeal.account))
    )
    if only_open(filters):
        return query.order_by(Appeal.due_on, Appeal.id)
    is_open = Appeal.status.in_(OPEN_STATUSES)
    return query.order_by(
        case((is_open, 0), else_=1), case((is_open, Appeal.due_on)), Appeal.id.desc()
    )


@dataclass(frozen=True)
class Counts:
    overdue: int
    today: int
    week: int
    unassigned: int


def counts(session: Session, today: date) -> Counts:
    """The figures at the top of the queue, among open appeals, in one query."""
    week_end = today + timedelta(days=7)
    row = session.execute(
        select(
            func.count().filter(Appeal.due_on < today),
            func.count().filter(Appeal.due_on == today),
            func.count().filter(Appeal.due_on.between(today, week_end)),
            func.count().filter(Appeal.executor_id.is_(None)),
        ).where(Appeal.status.in_(OPEN_STATUSES))
    ).one()
    return Counts(*(value or 0 for value in row))
