"""The mailbox: every e-mail and SMS in the outbox, its delivery status, and its text.

Without an SMTP server or Twilio account nothing leaves the machine: in the demo this is
where a newcomer reads the confirmation and password-reset letters and follows their
links. Anywhere else a secret link in a letter is never shown to staff, only its kind and
expiry (``portal.services.notify.secrets``), and only supervisors and administrators read
a message's text at all (``mailbox.body``).
"""

import re

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from wtforms import SearchField, SelectField
from wtforms.validators import Length, Optional

from admin import bp
from admin.access import can, staff_required
from admin.customers import list_page, page_of, staff_member
from portal.extensions import db
from portal.formatting import CHANNEL_LABELS
from portal.models import OutboxMessage, Staff, utcnow
from portal.models.notifications import MESSAGE_STATUSES
from portal.services import audit
from portal.services.customers import MAX_ID, clean_term, text_matches
from portal.services.errors import DomainError, NotFound
from portal.services.notify import secrets
from portal.web import client_ip, options

PAGE_SIZE = 25

# The e-mail's own styles may apply; nothing else loads, nothing runs; links open on top.
MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"

STATUS_LABELS = {
    "pending": _l("waiting"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "failed": _l("failed"),
}
STATUS_BADGES = {
    "pending": "text-bg-secondary",
    "sending": "text-bg-info",
    "sent": "text-bg-success",
    "failed": "text-bg-danger",
}
KIND_LABELS = {
    "confirm_email": _l("E-mail confirmation"),
    "reset_password": _l("Password reset"),
    "signup_existing": _l("Sign-up with a taken e-mail"),
    "invitation": _l("Invitation to an organisation"),
    "sign_in_unlock": _l("Sign-in unlock"),
}


# --- queries and the one action (no request objects) ----------------------------------------


def outbox_messages(
    *, channel: str | None = None, status: str | None = None, recipient: str | None = None
) -> Select:
    query = select(OutboxMessage)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    if status:
        query = query.where(OutboxMessage.status == status)
    if recipient := clean_term(recipient):
        query = query.where(text_matches(OutboxMessage.recipient, recipient))
    return query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())


def get_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id) if 0 < message_id <= MAX_ID else None
    if message is None:
        raise NotFound()
    return message


def record_view(session: Session, message: OutboxMessage, staff: Staff, ip: str | None) -> None:
    """Reading a letter is reading personal data: audited."""
    audit.record(
        session,
        staff_id=staff.id,
        action="view",
        object_type="outbox_message",
        object_id=message.id,
        summary=f"{message.recipient}: {message.subject or message.kind}",
        ip_address=ip,
    )
    session.commit()


def retry_message(
    session: Session, message: OutboxMessage, staff: Staff, ip: str | None
) -> OutboxMessage:
    """Put a failed message back in the queue; the dispatcher sends it at its next run."""
    if message.status != "failed":
        raise DomainError(_("Only a message that failed can be sent again."))
    changes = audit.diff({"status": message.status}, {"status": "pending"})
    message.status = "pending"
    message.scheduled_at = utcnow()
    audit.record(
        session,
        staff_id=staff.id,
        action="update",
        object_type="outbox_message",
        object_id=message.id,
        summary=f"{message.recipient}: {message.subject or message.kind}",
        changes=changes,
        ip_address=ip,
    )
    session.commit()
    return message


_HEAD = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)


def with_links_on_top(body_html: str) -> str:
    """The letter with ``<base target="_top">``: its links leave the sandboxed frame."""
    base = '<base target="_top">'
    if _HEAD.search(body_html):
        return _HEAD.sub(lambda match: match.group(0) + base, body_html, count=1)
    return base + body_html


def shown_body(body: str, html: bool = False) -> str:
    """A body as staff may read it: the demo mailbox keeps its links working, anywhere
    else every secret link is hidden, whatever the message's status."""
    if secrets.demo_mailbox():
        return body
    return secrets.redact_links(body, html=html)


# --- views ----------------------------------------------------------------------------------


class MailboxFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    channel = SelectField(
        _l("Channel"),
        choices=options(CHANNEL_LABELS.items(), blank=_l("Any channel")),
        validators=[Optional()],
    )
    status = SelectField(
        _l("Status"),
        choices=options(((s, STATUS_LABELS[s]) for s in MESSAGE_STATUSES), blank=_l("Any status")),
        validators=[Optional()],
    )
    recipient = SearchField(_l("Recipient"), validators=[Optional(), Length(max=254)])

    def valid_filters(self) -> dict:
        self.validate()
        return {name: None if self[name].errors else self[name].data for name in self.data}

    def query_args(self) -> dict:
        return {key: value for key, value in request.args.items() if key in self and value}


def kind_label(kind: str) -> str:
    """The kind of message as a person reads it; a kind with no label yet, humanised."""
    return KIND_LABELS.get(kind) or kind.replace("_", " ").capitalize()


def message_title(message: OutboxMessage) -> str:
    """What a message is called in the list and on its page: its subject; an SMS has none,
    so its text for those who may read it and its kind for the others."""
    if message.subject:
        return message.subject
    if can("mailbox.body"):
        return shown_body(message.body_text)
    return kind_label(message.kind)


def template_context() -> dict:
    return {
        "STATUS_LABELS": STATUS_LABELS,
        "STATUS_BADGES": STATUS_BADGES,
        "kind_label": kind_label,
        "message_title": message_title,
        "demo_mailbox": secrets.demo_mailbox(),
    }


@bp.route("/mailbox")
@staff_required("mailbox")
def mailbox():
    form = MailboxFilterForm(formdata=request.args)
    page = page_of(outbox_messages(**form.valid_filters()), PAGE_SIZE)
    return list_page(
        "admin/mailbox/index.html",
        "admin/mailbox/_results.html",
        form=form,
        page=page,
        params=form.query_args(),
        **template_context(),
    )


@bp.route("/mailbox/<int:message_id>")
@staff_required("mailbox")
def mailbox_message(message_id: int):
    try:
        message = get_message(db.session, message_id)
    except NotFound:
        abort(404)
    record_view(db.session, message, staff_member(), client_ip())
    body_text = shown_body(message.body_text) if can("mailbox.body") else None
    return render_template(
        "admin/mailbox/message.html", message=message, body_text=body_text, **template_context()
    )


@bp.route("/mailbox/<int:message_id>/html")
@staff_required("mailbox.body")
def mailbox_message_html(message_id: int):
    try:
        message = get_message(db.session, message_id)
    except NotFound:
        abort(404)
    if not message.body_html:
        abort(404)
    response = make_response(with_links_on_top(shown_body(message.body_html, html=True)))
    response.mimetype = "text/html"
    response.headers["Content-Security-Policy"] = MAIL_CSP
    return response


@bp.route("/mailbox/<int:message_id>/retry", methods=["POST"])
@staff_required("mailbox.retry")
def mailbox_retry(message_id: int):
    try:
        message = get_message(db.session, message_id)
        retry_message(db.session, message, staff_member(), client_ip())
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(error.message, "warning")
    else:
        flash(_("The message is queued to be sent again."), "success")
    return redirect(url_for("admin.mailbox_message", message_id=message_id), code=303)
