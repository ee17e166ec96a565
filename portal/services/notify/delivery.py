"""What providers tell of a message after they took it: Twilio's status callbacks.

Twilio posts a message's status as it moves (queued → sending → sent → delivered, or
undelivered / failed) to the status callback URL given when it was sent. The posts can
arrive twice and out of order, so a status is recorded only when it is further along than
the one recorded (``RANK``), in one UPDATE: the same post twice, or "sent" after
"delivered", changes nothing. The request is authenticated by its ``X-Twilio-Signature``
(``signature_valid``), computed over the public URL Twilio called, which behind a proxy
is not the one the app sees: it is PUBLIC_BASE_URL plus the path.
"""

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from portal.models import MessageStatus, OutboxMessage
from portal.services.clock import utcnow

# How far along a status is; a status is recorded only over a lower one.
RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "canceled": 4,
    "failed": 4,
    "undelivered": 4,
    "delivered": 4,
    "read": 5,
}
# The outbox status a final status moves the message to (the others leave it "sent").
OUTBOX_STATUS = {
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
FINAL = frozenset(status for status, rank in RANK.items() if rank >= 4)
LABELS = {
    "accepted": _l("accepted"),
    "scheduled": _l("scheduled"),
    "queued": _l("queued"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "canceled": _l("cancelled"),
    "failed": _l("failed"),
    "undelivered": _l("not delivered"),
    "delivered": _l("delivered"),
    "read": _l("read"),
}


def label(status: str | None) -> str:
    return str(LABELS.get(status, status or "—"))


def callback_url() -> str | None:
    """The URL Twilio posts statuses to: only with a public address Twilio can reach."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base:
        return None
    return base.rstrip("/") + url_for("notices.twilio_status")


def signed_url() -> str:
    """The URL Twilio signed: the configured public one (behind a proxy the request's own
    host and scheme are the proxy's), else the request's."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if not base:
        return request.url
    return base.rstrip("/") + request.full_path.rstrip("?")


def signature_valid() -> bool:
    from twilio.request_validator import RequestValidator

    token = current_app.config["TWILIO_AUTH_TOKEN"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    return validator.validate(signed_url(), request.form.to_dict(), signature)


def record_status(session: Session, sid: str, status: str, error_code: str | None = None) -> bool:
    """Record a status Twilio reported for the message it knows as ``sid``; False when it
    is unknown, or not further along than the recorded one (then nothing changes). The
    caller commits."""
    status = (status or "").lower()
    if status not in RANK or not sid:
        return False
    lower = [known for known, rank in RANK.items() if rank < RANK[status]]
    values = {"delivery_status": status, "delivery_updated_at": utcnow()}
    if status in OUTBOX_STATUS:
        values["status"] = OUTBOX_STATUS[status]
    if error_code and status in ("failed", "undelivered"):
        values["last_error"] = f"Twilio: {status}, error {error_code[:20]}"
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.provider == "twilio",
            OutboxMessage.provider_id == sid,
            or_(OutboxMessage.delivery_status.is_(None), OutboxMessage.delivery_status.in_(lower)),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
