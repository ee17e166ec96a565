"""Delivery status (issue #10): Twilio's status callbacks signed with X-Twilio-Signature
(checked with the twilio library's RequestValidator against the public URL), recorded
once and never backwards; SMTP refusals classed by RFC 5321 §4.2.1 (5yz permanent: failed
at once; 4yz and a lost connection transient: retried with backoff); staff see it."""

import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete
from twilio.request_validator import RequestValidator

from portal.models import MessageStatus, OutboxMessage, utcnow
from portal.services.notify import dispatch_due, enqueue_email, outbox
from tests.conftest import free_port, page, sign_in_staff
from tests.integration import test_sms_delivery as sms
from tests.integration.test_sms_delivery import AUTH_TOKEN, plan_sms, reload

# The SMS delivery tests' fixtures: the real Twilio client against the local fake.
fake_twilio = sms.fake_twilio
sms_at_any_hour = sms.sms_at_any_hour
sms_templates = sms.sms_templates
twilio = sms.twilio

PUBLIC = "https://portal.example.ru"
CALLBACK = PUBLIC + "/notices/twilio/status"


@pytest.fixture(autouse=True)
def clean(db_session):
    db_session.execute(delete(OutboxMessage))
    db_session.commit()


@pytest.fixture
def public(app, monkeypatch):
    """Behind a proxy: Twilio calls the public address, the app sees portal.test."""
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", PUBLIC)


def sent_sms(db_session, twilio):
    message = plan_sms(db_session)
    assert dispatch_due(db_session) == 1
    return reload(db_session, message)


def callback(client, sid, status, *, url=CALLBACK, token=AUTH_TOKEN, signature=None, **extra):
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1", **extra}
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, form)
    return client.post(
        "/notices/twilio/status", data=form, headers={"X-Twilio-Signature": signature}
    )


def test_the_sms_names_the_public_status_callback(db_session, twilio, public):
    sent_sms(db_session, twilio)
    (request,) = twilio.requests
    assert request.form["StatusCallback"] == CALLBACK


def test_statuses_move_forward_only_and_a_repeat_changes_nothing(
    client, db_session, twilio, public
):
    message = sent_sms(db_session, twilio)
    sid = message.provider_id
    assert callback(client, sid, "queued").status_code == 204
    assert reload(db_session, message).delivery_status == "queued"
    assert callback(client, sid, "delivered").status_code == 204
    delivered = reload(db_session, message)
    assert (delivered.delivery_status, delivered.status) == ("delivered", MessageStatus.DELIVERED)
    recorded_at = delivered.delivery_updated_at
    # Late and repeated posts: 204 (Twilio must not retry them), nothing moves back.
    for late in ("sent", "sending", "queued", "delivered"):
        assert callback(client, sid, late).status_code == 204
    again = reload(db_session, message)
    assert (again.delivery_status, again.status) == ("delivered", MessageStatus.DELIVERED)
    assert again.delivery_updated_at == recorded_at


def test_undelivered_keeps_the_error_code(client, db_session, twilio, public):
    message = sent_sms(db_session, twilio)
    callback(client, message.provider_id, "sent")
    callback(client, message.provider_id, "undelivered", ErrorCode="30003")
    found = reload(db_session, message)
    assert (found.status, found.delivery_status) == (MessageStatus.UNDELIVERED, "undelivered")
    assert found.last_error == "Twilio: undelivered, error 30003"


@pytest.mark.parametrize(
    "forgery",
    [
        {"signature": ""},  # unsigned
        {"signature": "bm90IGEgc2lnbmF0dXJl"},  # made up
        {"token": "0" * 32},  # signed with another account's token
        {"url": "http://portal.test/notices/twilio/status"},  # not the URL Twilio called
    ],
)
def test_a_forged_callback_is_refused_and_changes_nothing(
    client, db_session, twilio, public, forgery
):
    message = sent_sms(db_session, twilio)
    assert callback(client, message.provider_id, "delivered", **forgery).status_code == 403
    found = reload(db_session, message)
    assert (found.status, found.delivery_status) == (MessageStatus.SENT, None)


def test_an_unknown_message_is_answered_and_ignored(client, db_session, twilio, public):
    assert callback(client, "SM" + "0" * 32, "delivered").status_code == 204


def test_staff_see_the_providers_status(client, db_session, twilio, public):
    message = sent_sms(db_session, twilio)
    callback(client, message.provider_id, "delivered")
    sign_in_staff(client, db_session, "supervisor", language="en")
    html = page(client.get(f"/admin/mailbox/{message.id}"))
    assert "Provider's status" in html
    assert "delivered" in html
    listing = page(client.get("/admin/mailbox?status=delivered"))
    assert f"/admin/mailbox/{message.id}" in listing


# --- SMTP refusals -------------------------------------------------------------------------


class RefusingHandler:
    """An SMTP server that refuses some recipients as a real one would."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("gone"):
            return "550 5.1.1 The email account that you tried to reach does not exist"
        if address.startswith("busy"):
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if b"spam" in envelope.content:
            return "554 5.7.1 Message rejected as spam"
        with self.lock:
            self.received.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def refusing_smtp(app):
    handler = RefusingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    state = app.extensions["mail"]
    saved = (
        app.config["MAIL_SERVER"],
        app.config["MAIL_PORT"],
        state.server,
        state.port,
        state.suppress,
    )
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    state.server, state.port, state.suppress = "127.0.0.1", port, False
    yield handler
    controller.stop()
    app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = saved[0], saved[1]
    state.server, state.port, state.suppress = saved[2], saved[3], saved[4]


def plan_letter(app, db_session, recipient, text="Hello"):
    with app.test_request_context():
        message = enqueue_email(
            db_session,
            kind="signup_existing",
            recipient=recipient,
            subject=text,
            context={"user": None, "login_url": "http://portal.test/login"},
            dedup_key=f"letter:{recipient}:{text}",
        )
    db_session.commit()
    return message


def test_a_refused_address_fails_at_once(app, db_session, refusing_smtp):
    message = plan_letter(app, db_session, "gone@example.ru")
    assert dispatch_due(db_session) == 0
    found = reload(db_session, message)
    assert (found.status, found.attempts) == (MessageStatus.FAILED, 1)
    assert found.last_error.startswith("SMTP: recipient refused, gone@example.ru: 550 5.1.1")


def test_a_letter_refused_as_content_fails_at_once(app, db_session, refusing_smtp):
    message = plan_letter(app, db_session, "ok@example.ru", text="spam")
    dispatch_due(db_session)
    found = reload(db_session, message)
    assert found.status == MessageStatus.FAILED
    assert found.last_error.startswith("SMTP 554: 5.7.1 Message rejected as spam")


def test_a_temporary_refusal_is_retried_with_backoff(app, db_session, refusing_smtp):
    message = plan_letter(app, db_session, "busy@example.ru")
    before = utcnow()
    dispatch_due(db_session)
    found = reload(db_session, message)
    assert (found.status, found.attempts) == (MessageStatus.PENDING, 1)
    assert found.last_error.startswith("SMTP: recipient refused, busy@example.ru: 451 4.3.0")
    # 2 ** attempts minutes later (outbox._send_claimed).
    assert found.scheduled_at >= before + timedelta(minutes=2)


def test_a_server_that_is_down_is_retried(app, db_session, refusing_smtp, monkeypatch):
    message = plan_letter(app, db_session, "ok@example.ru")
    state = app.extensions["mail"]
    monkeypatch.setattr(state, "port", free_port())  # nothing listens there
    dispatch_due(db_session)
    found = reload(db_session, message)
    assert (found.status, found.attempts) == (MessageStatus.PENDING, 1)
    assert found.last_error
    assert outbox.MAX_ATTEMPTS > 1
