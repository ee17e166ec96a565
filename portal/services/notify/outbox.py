"""Plan messages as outbox rows, then claim and send them exactly once.

When a message may go is one rule, ``earliest_send_time``: no SMS in the quiet hours of
the night, debt and tariff messages on working days only (DOMAIN.md "Notifications", 004
T6). Planning applies it, so the time staff see in the mailbox is the real one; dispatch
applies it again for a message whose time came round in the quiet hours anyway (a retry,
a failed message put back by staff, a row planned before the settings changed).
"""

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import NOTICE_KINDS, Channel, MessageStatus, OutboxMessage
from portal.services import settings, workdays
from portal.services.clock import supplier_zone, utcnow
from portal.services.notify.providers import (
    MailLine,
    PermanentDeliveryError,
    deliver,
    mail_line,
)
from portal.services.notify.secrets import scrub_message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=10)
# Providers that keep the message on this machine: its stored copy is the only one, and
# the demo mailbox shows it with working links.
DEV_PROVIDERS = frozenset({"devmail", "devsms"})


# Links of letters planned or sent with no request to take the host from (the scheduler,
# beat, a worker, a command) when PUBLIC_BASE_URL is not set: the address `make run` serves.
LOCAL_BASE_URL = "http://127.0.0.1:5000"


# Debt and tariff messages go on working days only (004 T6); tariff kinds are "tariff_*".
WORKING_DAY_KINDS = frozenset(kind.name for kind in NOTICE_KINDS.values() if kind.working_days_only)


@dataclass(frozen=True)
class SendingHours:
    """The settings ``earliest_send_time`` needs (notify.*): whole hours in the supplier's
    zone. Quiet hours that start and end at the same hour are no quiet hours. ``calendar``
    tells working days, with the exceptions administrators keep."""

    zone: ZoneInfo
    sms_quiet_from: int
    sms_quiet_until: int
    working_day_from: int
    calendar: workdays.Calendar = field(default_factory=workdays.Calendar)


def sending_hours(session: Session) -> SendingHours:
    return SendingHours(
        zone=supplier_zone(),
        sms_quiet_from=settings.get(session, "notify.sms_quiet_from"),
        sms_quiet_until=settings.get(session, "notify.sms_quiet_until"),
        working_day_from=settings.get(session, "notify.working_day_from"),
        calendar=workdays.calendar(session),
    )


def working_days_only(kind: str) -> bool:
    return kind in WORKING_DAY_KINDS or kind.startswith("tariff_")


def has_sending_rules(kind: str, channel: str) -> bool:
    """Whether ``earliest_send_time`` can move this message at all (saves reading settings)."""
    return channel == Channel.SMS or working_days_only(kind)


def earliest_send_time(kind: str, channel: str, at: datetime, hours: SendingHours) -> datetime:
    """The first moment at or after ``at`` (aware) this message may be sent, in UTC.

    - An SMS never goes in the quiet hours (from ``sms_quiet_from`` o'clock to
      ``sms_quiet_until`` o'clock local time, across midnight when the start is later); it
      waits for their end.
    - A debt or tariff message goes on a working day only; planned on a non-working day it
      waits for ``working_day_from`` o'clock of the next working day.
    Both at once: the SMS debt notice of Friday 22:00 goes on Monday at 9:00.
    """
    local = at.astimezone(hours.zone)
    quiet_from, quiet_until = hours.sms_quiet_from, hours.sms_quiet_until
    # Each step moves forward, to the end of the quiet hours (never itself quiet) or to a
    # working day; the loop ends at the first time both rules allow.
    while True:
        if working_days_only(kind) and not hours.calendar.is_working_day(local.date()):
            day = hours.calendar.next_working_day(local.date())
            local = datetime.combine(day, time(hours.working_day_from), hours.zone)
            continue
        if channel == Channel.SMS and quiet_from != quiet_until:
            hour = local.hour
            quiet = (
                quiet_from <= hour < quiet_until
                if quiet_from < quiet_until
                else hour >= quiet_from or hour < quiet_until
            )
            if quiet:
                end = datetime.combine(local.date(), time(quiet_until), hours.zone)
                local = end if end > local else end + timedelta(days=1)
                continue
        return local.astimezone(UTC)


def render_message(template: str, **context) -> str:
    """Render a letter or an SMS the same way in a view, a worker or a command.

    Not ``render_template``: that runs the web pages' context processors (the navigation,
    the signed-in user's accounts), which need a request and cost queries a letter does not
    need. Letters get the configuration and the translation helpers, nothing else.
    """
    return current_app.jinja_env.get_template(template).render(config=current_app.config, **context)


@contextmanager
def link_context():
    """Links in letters are built as in a request: the worker and the command have none."""
    if has_request_context():
        yield
        return
    base = current_app.config.get("PUBLIC_BASE_URL") or LOCAL_BASE_URL
    with current_app.test_request_context("/", base_url=base):
        yield


def render_letter(kind: str, context: dict, template: str | None = None) -> tuple[str, str]:
    """A letter's plain-text and HTML bodies from ``email/<template or kind>.txt`` and
    ``.html``; a letter of an optional kind ends with its unsubscribe link (``unsubscribe``:
    a marker the provider replaces)."""
    from portal.services.notify import unsubscribe

    context = unsubscribe.marked_context(kind, context)
    name = template or kind
    text = unsubscribe.marked_text(kind, render_message(f"email/{name}.txt", **context))
    return text, render_message(f"email/{name}.html", **context)


def _unwanted(session: Session, fields: dict, account_id: int | None) -> bool:
    """The user chose not to get this kind by this channel (``preferences``). A mandatory
    kind always goes: its caller picks the channel and falls back to the one that works."""
    from portal.services.notify import preferences

    user_id = fields.get("user_id")
    kind = NOTICE_KINDS.get(fields["kind"])
    if user_id is None or kind is None or kind.mandatory:
        return False
    return (
        preferences.channel_for(session, user_id, fields["kind"], account_id) != fields["channel"]
    )


def _plan(session: Session, account_id: int | None = None, **fields) -> OutboxMessage | None:
    """Insert the message unless its dedup key was planned already, or the user does not
    want this kind by this channel (then return None).

    The scheduled time is moved on by ``earliest_send_time`` when the message may not go
    then."""
    if session.scalar(select(OutboxMessage.id).filter_by(dedup_key=fields["dedup_key"])):
        return None
    if _unwanted(session, fields, account_id):
        return None
    if has_sending_rules(fields["kind"], fields["channel"]):
        fields["scheduled_at"] = earliest_send_time(
            fields["kind"], fields["channel"], fields["scheduled_at"], sending_hours(session)
        )
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
    account_id: int | None = None,
) -> OutboxMessage | None:
    """Render ``email/<kind>.txt`` and ``.html`` into a pending outbox row (not for a user
    who chose another channel or none for this kind about ``account_id``)."""
    body_text, body_html = render_letter(kind, {"subject": subject, **context})
    return _plan(
        session,
        kind=kind,
        channel=Channel.EMAIL,
        recipient=recipient,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        dedup_key=dedup_key,
        scheduled_at=scheduled_at or utcnow(),
        user_id=user_id,
        account_id=account_id,
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
    account_id: int | None = None,
) -> OutboxMessage | None:
    """Render ``sms/<kind>.txt`` into a pending outbox row; ``recipient`` is E.164 (as
    ``enqueue_email``, only for a user who wants this kind by SMS)."""
    return _plan(
        session,
        kind=kind,
        channel=Channel.SMS,
        recipient=recipient,
        body_text=render_message(f"sms/{kind}.txt", **context).strip(),
        dedup_key=dedup_key,
        scheduled_at=scheduled_at or utcnow(),
        user_id=user_id,
        account_id=account_id,
    )


def claim(session: Session, message_id: int) -> bool:
    """Atomically move one message to "sending"; only one worker can win."""
    now = utcnow()
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            or_(
                OutboxMessage.status == MessageStatus.PENDING,
                (OutboxMessage.status == MessageStatus.SENDING)
                & (OutboxMessage.claimed_at < now - STALE_CLAIM),
            ),
        )
        .values(status=MessageStatus.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def _send_claimed(session: Session, message: OutboxMessage, line: MailLine | None = None) -> bool:
    """Hand the claimed message to its provider and record the outcome in one commit;
    whether it was sent. ``message`` is a copy outside the session (``_claimed_copies``):
    the outcome is written by one UPDATE, so the commit has nothing to reload.

    The one window in which a message can go out twice: the provider has accepted it and
    this process dies (or loses the database) before the commit below marks it sent. The
    claim then goes stale and another worker sends it again. The window is kept as narrow
    as it can be: nothing runs between the provider's answer and the commit but working
    out the row's fields (and hiding its secret links, which cannot fail the commit),
    and provider calls have timeouts shorter than STALE_CLAIM, so a slow provider is not
    taken for a dead worker. Closing it would need the provider to deduplicate by our key,
    which neither SMTP nor Twilio's Messages API offers.
    """
    outcome = _outcome(message, line)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(**outcome)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return outcome["status"] == MessageStatus.SENT


def _outcome(message: OutboxMessage, line: MailLine | None) -> dict:
    """The row's new fields after one attempt to send it."""
    try:
        delivery = deliver(message, line)
    except PermanentDeliveryError as error:  # retrying would be refused the same way
        log.warning("message %s refused by the provider: %s", message.id, error)
        return {"status": MessageStatus.FAILED, "last_error": str(error)[:2000]}
    except Exception as error:  # any other provider failure is retried, never lost
        log.warning("sending message %s failed: %s", message.id, error)
        if message.attempts >= MAX_ATTEMPTS:
            return {"status": MessageStatus.FAILED, "last_error": str(error)[:2000]}
        return {
            "status": MessageStatus.PENDING,
            "last_error": str(error)[:2000],
            "scheduled_at": utcnow() + timedelta(minutes=2**message.attempts),
        }
    values = {
        "status": MessageStatus.SENT,
        "sent_at": utcnow(),
        "provider": delivery.provider,
        "provider_id": delivery.provider_id,
        "last_error": None,
    }
    if delivery.provider not in DEV_PROVIDERS:
        values.update(_forget_secret_links(message))
    return values


def _forget_secret_links(message: OutboxMessage) -> dict:
    """The recipient has the links now; the stored copy keeps none (``secrets``): the
    bodies to store.

    Never let a failure here stop the message being recorded as sent: left "sending", it
    would be claimed again once the claim went stale and sent a second time. The mailbox
    hides the links of a message that kept them all the same."""
    try:
        scrub_message(message)
    except Exception:
        log.exception("message %s was sent but its stored links could not be hidden", message.id)
        return {}
    return {"body_text": message.body_text, "body_html": message.body_html}


def _claimed_copies(session: Session, ids: list[int]) -> list[OutboxMessage]:
    """The claimed messages read in one query, as copies the session does not hold.

    Loaded into the session, each would be expired by the commit after the send before
    it and read again, one query per message; a copy keeps what was read."""
    columns = [
        getattr(OutboxMessage, column.key) for column in OutboxMessage.__mapper__.column_attrs
    ]
    rows = session.execute(
        select(*columns).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    ).all()
    return [OutboxMessage(**row._asdict()) for row in rows]


def send_now(session: Session, message_id: int) -> bool:
    """Send one message at once (transactional mail); the worker retries if this fails.

    Neither the scheduled time nor ``earliest_send_time`` is consulted: the caller means
    now. Messages that must wait go through ``dispatch_due``."""
    if not claim(session, message_id):
        return False
    with mail_line() as line:
        return _send_claimed(session, _claimed_copies(session, [message_id])[0], line)


_SEND_AFTER_COMMIT = "outbox_send_after_commit"


def send_after_commit(session: Session, message: OutboxMessage | None) -> None:
    """Mark a planned message to go at once (transactional mail) once its transaction is
    committed, by the caller's ``commit_and_send``; a message planned already (None) is not
    sent again."""
    if message is not None:
        session.flush()
        session.info.setdefault(_SEND_AFTER_COMMIT, []).append(message.id)


def commit_and_send(session: Session) -> None:
    """Commit the caller's transaction, then send the messages it marked to go at once
    (``send_after_commit``); the worker retries any that fail."""
    session.commit()
    for message_id in session.info.pop(_SEND_AFTER_COMMIT, []):
        send_now(session, message_id)


def _claimable(now: datetime):
    """Due messages, and those claimed by a worker that died (SIGKILL, a lost machine):
    left "sending", their claim is taken over once it is stale."""
    claimed_at = utcnow()
    return or_(
        (OutboxMessage.status == MessageStatus.PENDING) & (OutboxMessage.scheduled_at <= now),
        (OutboxMessage.status == MessageStatus.SENDING)
        & (OutboxMessage.claimed_at < claimed_at - STALE_CLAIM),
    )


def _claim_batch(
    session: Session, ids: list[int], now: datetime, claimed_at: datetime
) -> list[int]:
    """Claim the batch in one UPDATE (the rows are locked by the caller's SELECT … FOR
    UPDATE SKIP LOCKED, so other workers took other rows); the ids actually claimed."""
    if not ids:
        return []
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _claimable(now))
        .values(
            status=MessageStatus.SENDING, claimed_at=utcnow(), attempts=OutboxMessage.attempts + 1
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(row[0] for row in claimed)


def dispatch_due(session: Session, limit: int = 100, now: datetime | None = None) -> int:
    """Send every message whose time has come; safe to run in many workers at once.

    The batch is chosen and claimed in one transaction: ``SELECT … FOR UPDATE SKIP LOCKED``
    keeps its rows from the other workers until they are marked "sending", so concurrent
    workers share the queue instead of racing for the same rows. A message the sending
    rules hold back at ``now`` (an SMS retried at night, say) is not sent but rescheduled
    to the time the rules allow."""
    now = now or utcnow()
    due = session.execute(
        select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.channel)
        .where(_claimable(now))
        .order_by(OutboxMessage.scheduled_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    hours = None
    sendable = []
    for message_id, kind, channel in due:
        if has_sending_rules(kind, channel):
            hours = hours or sending_hours(session)
            allowed = earliest_send_time(kind, channel, now, hours)
            if allowed > now:
                session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == message_id,
                        OutboxMessage.status == MessageStatus.PENDING,
                    )
                    .values(scheduled_at=allowed)
                    .execution_options(synchronize_session=False)
                )
                continue
        sendable.append(message_id)
    claimed_at = utcnow()
    claimed = _claim_batch(session, sendable, now, claimed_at)
    session.commit()
    sent = 0
    messages = _claimed_copies(session, claimed) if claimed else []
    with mail_line() as line:  # one SMTP connection for the batch's letters
        for index, message in enumerate(messages):
            if utcnow() - claimed_at > STALE_CLAIM / 2:  # a slow batch: keep the rest ours
                rest = [later.id for later in messages[index:]]
                claimed_at = _renew_claims(session, rest, claimed_at)
            sent += _send_claimed(session, message, line)
    return sent


def _renew_claims(session: Session, ids: list[int], claimed_at: datetime) -> datetime:
    """Claim again the batch's messages not sent yet, before their claim could go stale and
    another worker send them too (a batch of slow SMS can outlast STALE_CLAIM)."""
    renewed_at = utcnow()
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == MessageStatus.SENDING,
            OutboxMessage.claimed_at == claimed_at,
        )
        .values(claimed_at=renewed_at)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return renewed_at
