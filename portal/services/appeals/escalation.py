"""Escalation of appeals (the reminder rules ``appeal_due_soon`` and ``appeal_overdue`` in
``portal.services.notify.reminders``): an open appeal whose due date is near, or past,
is announced to its executor and to every supervisor by e-mail, once per appeal, stage and
consideration (a reopened appeal is a new consideration), whatever the number of runs."""

from datetime import date, timedelta

from sqlalchemy import String, and_, exists, literal, select, union_all
from sqlalchemy.orm import Session

from portal.models import Appeal, Channel, OutboxMessage, Staff, StaffRole
from portal.services import settings
from portal.services.notify.keys import dedup_key

OPEN = ("registered", "assigned", "in_work", "awaiting_customer")
DEFAULT_LANGUAGE = "ru"  # staff read the back office's language


def _key(stage: str):
    return dedup_key(f"appeal_{stage}", "appeal", Appeal.id, Appeal.reopen_count, "staff", Staff.id)


def _rows(stage: str, due, *, to_executor: bool):
    key = _key(stage)
    joined = (
        Staff.id == Appeal.executor_id
        if to_executor
        else and_(Staff.role == StaffRole.SUPERVISOR, Staff.active.is_(True))
    )
    return (
        select(
            literal(None).label("user_id"),
            Staff.email.label("recipient"),
            literal(DEFAULT_LANGUAGE, String).label("language"),
            key.label("dedup_key"),
            Appeal.id.label("appeal_id"),
            Appeal.number.label("number"),
            Appeal.due_on.label("due_on"),
            Appeal.applicant_name.label("applicant"),
            literal(stage, String).label("stage"),
        )
        .select_from(Appeal)
        .join(Staff, joined)
        .where(Appeal.status.in_(OPEN), due, ~exists().where(OutboxMessage.dedup_key == key))
    )


def _recipients(stage: str, due):
    return union_all(_rows(stage, due, to_executor=True), _rows(stage, due, to_executor=False))


def due_soon(session: Session, today: date, channel: Channel):
    """Due today or within ``appeals.due_soon_days``; by e-mail only."""
    if channel != Channel.EMAIL:
        return None
    lead = settings.get(session, "appeals.due_soon_days")
    return _recipients("due_soon", Appeal.due_on.between(today, today + timedelta(days=lead)))


def overdue(session: Session, today: date, channel: Channel):
    if channel != Channel.EMAIL:
        return None
    return _recipients("overdue", Appeal.due_on < today)


def context(row) -> dict:
    from portal.services.users import external_url

    return {
        "number": row.number,
        "due_on": row.due_on,
        "applicant": row.applicant,
        "stage": row.stage,
        "url": external_url("admin.appeal_card", appeal_id=row.appeal_id),
    }
