"""The mailbox: every e-mail and SMS in the outbox, its delivery status, and its text.

Without an SMTP server or Twilio account nothing leaves the machine: in the demo this is
where a newcomer reads the confirmation and password-reset letters and follows their
links. Anywhere else a secret link in a letter is never shown to staff, only its kind and
expiry (``portal.services.notify.secrets``), and only supervisors and administrators read
a message's text at all (``mailbox.body``).
"""

from datetime import date, timedelta

from flask import abort, flash, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SearchField, SelectField
from wtforms.validators import Length, Optional

from admin import bp
from admin.access import can, staff_required
from portal import web
from portal.extensions import db
from portal.models import NOTICE_KINDS, Channel, MessageStatus, OutboxMessage
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.services.notify import delivery, secrets
from portal.services.notify.mailbox import (
    FIGURE_COLUMNS,
    can_retry,
    figures,
    outbox_messages,
    record_view,
    retry_message,
    shown_body,
    with_links_on_top,
)
from portal.web import (
    client_ip,
    options,
    page_of,
    redirect_after_post,
    staff_member,
)

PAGE_SIZE = 25

# The e-mail's own styles may apply; nothing else loads, nothing runs; links open on top.
MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"

KIND_LABELS = {
    "confirm_email": _l("E-mail confirmation"),
    "reset_password": _l("Password reset"),
    "signup_existing": _l("Sign-up with a taken e-mail"),
    "invitation": _l("Invitation to an organisation"),
    "sign_in_unlock": _l("Sign-in unlock"),
    "window_opened": _l("Readings window opened"),
    "window_closing": _l("Readings window closing"),
    "bill_issued": _l("Bill issued"),
    "payment_due": _l("Payment due soon"),
    "verification_due": _l("Meter verification due"),
    "verification_overdue": _l("Meter verification overdue"),
}


# --- views ----------------------------------------------------------------------------------


class MailboxFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    channel = SelectField(
        _l("Channel"),
        choices=options(Channel.options(), blank=_l("Any channel")),
        validators=[Optional()],
    )
    status = SelectField(
        _l("Status"),
        choices=options(MessageStatus.options(), blank=_l("Any status")),
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
    notice = NOTICE_KINDS.get(kind)
    found = KIND_LABELS.get(kind) or (notice.label if notice else None)
    return found or kind.replace("_", " ").capitalize()


def message_title(message: OutboxMessage) -> str:
    """What a message is called in the list and on its page: its subject; an SMS has none,
    so its text for those who may read it and its kind for the others."""
    if message.subject:
        return message.subject
    if can("mailbox.body"):
        return shown_body(message)
    return kind_label(message.kind)


def template_context() -> dict:
    return {
        "kind_label": kind_label,
        "delivery_label": delivery.label,
        "can_retry": can_retry,
        "message_title": message_title,
        "demo_mailbox": secrets.demo_mailbox(),
    }


@bp.route("/mailbox")
@staff_required("mailbox")
def mailbox():
    form = MailboxFilterForm(formdata=request.args)
    page = page_of(outbox_messages(**form.valid_filters()), PAGE_SIZE)
    return web.page_or_fragment(
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
    message = db.get_or_404(OutboxMessage, message_id)
    record_view(db.session, message, staff_member(), client_ip())
    db.session.commit()
    body_text = shown_body(message) if can("mailbox.body") else None
    return render_template(
        "admin/mailbox/message.html", message=message, body_text=body_text, **template_context()
    )


@bp.route("/mailbox/<int:message_id>/html")
@staff_required("mailbox.body")
def mailbox_message_html(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    if not message.body_html:
        abort(404)
    response = make_response(with_links_on_top(shown_body(message, html=True)))
    response.mimetype = "text/html"
    response.headers["Content-Security-Policy"] = MAIL_CSP
    return response


@bp.route("/mailbox/<int:message_id>/retry", methods=["POST"])
@staff_required("mailbox.retry")
def mailbox_retry(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    try:
        retry_message(db.session, message, staff_member(), client_ip())
    except DomainError as error:
        flash(error.message, "warning")
    else:
        db.session.commit()
        flash(_("The message is queued to be sent again."), "success")
    return redirect_after_post("admin.mailbox_message", message_id=message_id)


class FiguresForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    first = DateField(_l("From"), validators=[Optional()])
    last = DateField(_l("To"), validators=[Optional()])

    def period(self) -> tuple[date, date]:
        """The days asked for: the last 30 by default, at most a year, in order."""
        self.validate()
        last = (None if self.last.errors else self.last.data) or local_today()
        first = (None if self.first.errors else self.first.data) or last - timedelta(days=29)
        first, last = sorted((first, last))
        return max(first, last - timedelta(days=FIGURES_MAX_DAYS)), last


FIGURES_MAX_DAYS = 366


@bp.route("/mailbox/figures")
@staff_required("mailbox")
def mailbox_figures():
    form = FiguresForm(formdata=request.args)
    first, last = form.period()
    form.first.data, form.last.data = first, last
    rows = figures(db.session, first, last)
    totals = {name: sum(row[name] for row in rows) for name in FIGURE_COLUMNS}
    return render_template(
        "admin/mailbox/figures.html",
        form=form,
        rows=rows,
        totals=totals,
        first=first,
        last=last,
        **template_context(),
    )
