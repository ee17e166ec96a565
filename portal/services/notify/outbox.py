"""Plan messages as outbox rows, then claim and send them exactly once."""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import OutboxMessage, utcnow
from portal.services.notify.providers import PermanentDeliveryError, deliver

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=10)


def render_message(template: str, **context) -> str:
    """Render a letter or an SMS the same way in a view, a worker or a command.

    Not ``render_template``: that runs the web pages' context processors (the navigation,
    the signed-in user's accounts), which need a request and cost queries a letter does not
    need. Letters get the configuration and the translation helpers, nothing else.
    """
    return current_app.jinja_env.get_template(template).render(config=current_app.config, **context)


def _plan(session: Session, **fields) -> OutboxMessage | None:
    """Insert the message unless its dedup key was planned already (then return None)."""
    if session.scalar(select(OutboxMessage.id).filter_by(dedup_key=fields["dedup_key"])):
        return None
    message = OutboxMessage(**fields)
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # another worker planned the same key a moment ago
        return None
    return message


def enqueue_email(
    session: Session,
    *,
    kind: str,
    recipient: str,
    subject: str,
    context: dict,
    dedup_key: str,
    scheduled_at: datetime | None = None,
    user_id: int | None = None,
) -> OutboxMessage | None:
    """Render ``email/<kind>.txt`` and ``.html`` into a pending outbox row."""
    context = {"subject": subject, **context}
    return _plan(
        session,
        kind=kind,
        channel="email",
        recipient=recipient,
        subject=subject,
        body_text=render_message(f"email/{kind}.txt", **context),
        body_html=render_message(f"email/{kind}.html", **context),
        dedup_key=dedup_key,
        scheduled_at=scheduled_at or utcnow(),
        user_id=user_id,
    )


def enqueue_sms(
    session: Session,
    *,
    kind: str,
    recipient: str,
    context: dict,
    dedup_key: str,
    scheduled_at: datetime | None = None,
    user_id: int | None = None,
) -> OutboxMessage | None:
    """Render ``sms/<kind>.txt`` into a pending outbox row; ``recipient`` is E.164."""
    return _plan(
        session,
        kind=kind,
        channel="sms",
        recipient=recipient,
        body_text=render_message(f"sms/{kind}.txt", **context).strip(),
        dedup_key=dedup_key,
        scheduled_at=scheduled_at or utcnow(),
        user_id=user_id,
    )


def claim(session: Session, message_id: int) -> bool:
    """Atomically move one message to "sending"; only one worker can win."""
    now = utcnow()
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            or_(
                OutboxMessage.status == "pending",
                (OutboxMessage.status == "sending")
                & (OutboxMessage.claimed_at < now - STALE_CLAIM),
            ),
        )
        .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def _send_claimed(session: Session, message: OutboxMessage) -> None:
    try:
        delivery = deliver(message)
    except PermanentDeliveryError as error:  # retrying would be refused the same way
        log.warning("message %s refused by the provider: %s", message.id, error)
        message.last_error = str(error)[:2000]
        message.status = "failed"
    except Exception as error:  # any other provider failure is retried, never lost
        log.warning("sending message %s failed: %s", message.id, error)
        message.last_error = str(error)[:2000]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
        else:
            message.status = "pending"
            message.scheduled_at = utcnow() + timedelta(minutes=2**message.attempts)
    else:
        message.status = "sent"
        message.sent_at = utcnow()
        message.provider = delivery.provider
        message.provider_id = delivery.provider_id
        message.last_error = None
    session.commit()


def send_now(session: Session, message_id: int) -> bool:
    """Send one message at once (transactional mail); the worker retries if this fails."""
    if not claim(session, message_id):
        return False
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    _send_claimed(session, message)
    return message.status == "sent"


def dispatch_due(session: Session, limit: int = 100) -> int:
    """Send every message whose time has come; safe to run in many workers at once."""
    due_ids = session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.scheduled_at <= utcnow())
        .order_by(OutboxMessage.scheduled_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    session.commit()
    return sum(send_now(session, message_id) for message_id in due_ids)
