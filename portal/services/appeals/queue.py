"""The back office's queue of appeals: filters, search, the order by time left, and the
counts at the top. One query for the page, one for the counts, whatever their size."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.models import Account, Appeal
from portal.models.appeals import OPEN_STATUSES
from portal.services.customers import case_variants

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


NUMBER = re.compile(r"(\d{4})-(\d{1,6})")


def _search(term: str):
    """By number, applicant's name or e-mail, account number, or the text. A registration
    number (2026-123 or 2026-000123) is looked up by its unique index."""
    if not term:
        return None
    number = NUMBER.fullmatch(term)
    if number:
        return Appeal.number == f"{number.group(1)}-{int(number.group(2)):06d}"
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
    """Open appeals by time left, the least first (the index on status and due date serves
    it); a list that takes in finished ones too (any status, closed…) newest first, by the
    primary key, so that its pages cost the same however long the history grows."""
    query = (
        select(Appeal)
        .where(*_conditions(filters, today))
        # Loaded by two more queries of the page's rows: the count stays on appeals alone.
        .options(selectinload(Appeal.executor), selectinload(Appeal.account))
    )
    if only_open(filters):
        return query.order_by(Appeal.due_on, Appeal.id)
    return query.order_by(Appeal.id.desc())


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
