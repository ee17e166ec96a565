"""The mailbox's queries and its one action: the outbox as staff read it.

Without an SMTP server or Twilio account nothing leaves the machine: in the demo the
mailbox is where a newcomer reads the confirmation and password-reset letters and follows
their links. Anywhere else a secret link in a letter is never shown to staff, only its kind
and expiry (``portal.services.notify.secrets``).
"""

import re
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from portal.models import Channel, MessageStatus, OutboxMessage, Staff
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit
from portal.services.clock import supplier_zone, utcnow
from portal.services.customers import clean_term, text_matches
from portal.services.errors import DomainError
from portal.services.notify import secrets, unsubscribe


def outbox_messages(
    *,
    channel: Channel | str | None = None,
    status: MessageStatus | str | None = None,
    recipient: str | None = None,
) -> Select:
    """The messages, newest first, narrowed by channel, status and part of the recipient."""
    query = select(OutboxMessage)
    if channel:
        query = query.where(OutboxMessage.channel == Channel(channel))
    if status:
        query = query.where(OutboxMessage.status == MessageStatus(status))
    if recipient := clean_term(recipient):
        query = query.where(text_matches(OutboxMessage.recipient, recipient))
    return query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())


def _about(message: OutboxMessage) -> dict:
    """What an audit event about the message says it is about."""
    return {
        "object_type": AuditObject.OUTBOX_MESSAGE,
        "object_id": message.id,
        "summary": f"{message.recipient}: {message.subject or message.kind}",
    }


def record_view(session: Session, message: OutboxMessage, staff: Staff, ip: str | None) -> None:
    """Reading a letter is reading personal data: audited (the caller commits)."""
    audit.record(
        session, staff_id=staff.id, action=AuditAction.VIEW, ip_address=ip, **_about(message)
    )
    session.flush()


def can_retry(message: OutboxMessage) -> bool:
    """Only a message that failed goes back in the queue."""
    return message.status == MessageStatus.FAILED


def retry_message(
    session: Session, message: OutboxMessage, staff: Staff, ip: str | None
) -> OutboxMessage:
    """Put a failed message back in the queue, audited; the dispatcher sends it at its next
    run. The caller commits."""
    if not can_retry(message):
        raise DomainError(_("Only a message that failed can be sent again."))
    changes = audit.diff({"status": message.status}, {"status": MessageStatus.PENDING})
    message.status = MessageStatus.PENDING
    message.scheduled_at = utcnow()
    audit.record(
        session,
        staff_id=staff.id,
        action=AuditAction.UPDATE,
        changes=changes,
        ip_address=ip,
        **_about(message),
    )
    session.flush()
    return message


_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


def with_links_on_top(body_html: str) -> str:
    """The letter with ``<base target="_top">``: its links leave the sandboxed frame."""
    base = '<base target="_top">'
    if _HEAD.search(body_html):
        return _HEAD.sub(lambda match: match.group(0) + base, body_html, count=1)
    return base + body_html


def shown_body(message: OutboxMessage, html: bool = False) -> str:
    """A body as staff may read it: the demo mailbox keeps its links working, anywhere
    else every secret link is hidden (the unsubscribe link too), whatever the status."""
    demo = secrets.demo_mailbox()
    body = unsubscribe.shown(message.body_html if html else message.body_text, demo, message)
    if demo:
        return body
    return secrets.redact_links(body, html=html)


# --- figures ------------------------------------------------------------------------------

# The columns of the figures and the statuses each one counts.
FIGURE_COLUMNS = {
    "planned": tuple(MessageStatus),
    "waiting": (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.HELD),
    "sent": (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED),
    "delivered": (MessageStatus.DELIVERED,),
    "failed": (MessageStatus.FAILED, MessageStatus.UNDELIVERED),
    "cancelled": (MessageStatus.CANCELLED,),
}


def _local_day(session: Session, column):
    """The supplier's calendar day of a stored UTC moment, in SQL."""
    zone = supplier_zone()
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone(zone.key, column))
    hours = int(utcnow().astimezone(zone).utcoffset().total_seconds() // 3600)
    return func.date(column, f"{hours:+d} hours")


def figures(session: Session, first: date, last: date) -> list[dict]:
    """Messages planned each day from ``first`` to ``last`` (the supplier's days), by kind
    and channel: how many were planned, wait, were sent, delivered, failed, cancelled. One
    GROUP BY; newest day first."""
    day = _local_day(session, OutboxMessage.created_at).label("day")
    start = datetime.combine(first, time(), supplier_zone())
    end = datetime.combine(last + timedelta(days=1), time(), supplier_zone())
    counts = [
        func.sum(case((OutboxMessage.status.in_(statuses), 1), else_=0)).label(name)
        for name, statuses in FIGURE_COLUMNS.items()
    ]
    rows = session.execute(
        select(day, OutboxMessage.kind, OutboxMessage.channel, *counts)
        .where(OutboxMessage.created_at >= start, OutboxMessage.created_at < end)
        .group_by(day, OutboxMessage.kind, OutboxMessage.channel)
        .order_by(day.desc(), OutboxMessage.kind, OutboxMessage.channel)
    ).all()
    return [
        {
            "day": row.day if isinstance(row.day, date) else date.fromisoformat(row.day),
            "kind": row.kind,
            "channel": row.channel,
            **{name: int(getattr(row, name) or 0) for name in FIGURE_COLUMNS},
        }
        for row in rows
    ]
