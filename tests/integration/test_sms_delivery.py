"""SMS delivery through the real Twilio client against a local fake of Twilio's HTTP API.

The outbox plans an SMS row, the dispatcher sends it with ``twilio.rest.Client`` and the
fake (``tests/fake_twilio.py``) receives the HTTP request Twilio would. Failures follow
the outbox's rules: a refused message fails at once, anything that may pass later is
retried with backoff and stops as failed after MAX_ATTEMPTS; nothing is lost or sent twice.
"""

import io
import re
import time
from datetime import datetime, timedelta

import pytest
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import func, select
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from portal.models import OutboxMessage, utcnow
from portal.services import settings
from portal.services.notify import dispatch_due, enqueue_sms, outbox, send_now
from tests.conftest import free_port
from tests.fake_twilio import FakeTwilio

ACCOUNT_SID = "AC5ef8732a3c49700934481addd5ce1659"
AUTH_TOKEN = "9e3d4c1b0a5f6e7d8c9b0a1f2e3d4c5b"
FROM_NUMBER = "+15005550006"
RESIDENT_PHONE = "+79161234567"
SMS_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
SMS_SID = re.compile(r"SM[0-9a-f]{32}")

# No kind of SMS has a template under templates/sms/ yet; the tests bring their own.
TEMPLATES = {
    "sms/test_reading_reminder.txt": (
        "Передайте показания счётчиков по лицевому счёту {{ account }} до {{ deadline }}.\n"
    )
}


@pytest.fixture(autouse=True)
def sms_templates(app, monkeypatch):
    loader = ChoiceLoader([DictLoader(TEMPLATES), app.jinja_env.loader])
    monkeypatch.setattr(app.jinja_env, "loader", loader)


@pytest.fixture
def fake_twilio():
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        yield fake


@pytest.fixture
def sms_at_any_hour(db_session):
    """The suite runs at any hour, and an SMS planned in the quiet hours of the night
    waits for the morning: these delivery tests switch the quiet hours off (they have
    tests of their own in test_quiet_hours.py)."""
    quiet_from = settings.get(db_session, "notify.sms_quiet_from")
    settings.put(db_session, "notify.sms_quiet_until", quiet_from)


@pytest.fixture
def twilio(app, fake_twilio, sms_at_any_hour, monkeypatch):
    """The app sends SMS through Twilio, that is the fake; the configuration is restored
    after the test."""
    settings = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE": fake_twilio.base_url,
    }
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    # A proxy set in the environment must not see requests meant for loopback.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    return fake_twilio


def plan_sms(session, key: str = "sms:1", recipient: str = RESIDENT_PHONE) -> OutboxMessage:
    message = enqueue_sms(
        session,
        kind="test_reading_reminder",
        recipient=recipient,
        context={"account": "7701-000123", "deadline": "25.10.2026"},
        dedup_key=key,
    )
    session.commit()
    return message


def reload(session, message: OutboxMessage) -> OutboxMessage:
    return session.get(OutboxMessage, message.id, populate_existing=True)


def make_due(session, message: OutboxMessage) -> None:
    """Skip the backoff wait, as if its time had come."""
    message.scheduled_at = utcnow() - timedelta(seconds=1)
    session.commit()


EXPECTED_BODY = "Передайте показания счётчиков по лицевому счёту 7701-000123 до 25.10.2026."


def test_a_dispatched_sms_reaches_twilio(db_session, twilio):
    message = plan_sms(db_session)
    assert message.body_text == EXPECTED_BODY

    assert dispatch_due(db_session) == 1

    [request] = twilio.requests
    assert request.method == "POST"
    assert request.path == SMS_PATH
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"To": RESIDENT_PHONE, "From": FROM_NUMBER, "Body": EXPECTED_BODY}
    assert request.status == 201
    [accepted] = twilio.messages

    sent = reload(db_session, message)
    assert sent.status == "sent"
    assert sent.provider == "twilio"
    assert SMS_SID.fullmatch(sent.provider_id)
    assert sent.provider_id == accepted["sid"]
    assert sent.attempts == 1
    assert sent.sent_at is not None
    assert sent.last_error is None


def test_send_now_sends_an_sms_at_once(db_session, twilio):
    message = plan_sms(db_session)
    assert send_now(db_session, message.id) is True
    assert reload(db_session, message).provider_id == twilio.messages[0]["sid"]


def test_dispatching_twice_sends_once(db_session, twilio):
    message = plan_sms(db_session)
    assert plan_sms(db_session) is None  # the same event is planned once, too
    assert dispatch_due(db_session) == 1
    assert dispatch_due(db_session) == 0
    assert send_now(db_session, message.id) is False
    assert len(twilio.requests) == 1
    assert len(twilio.messages) == 1


def test_without_an_account_sid_sms_stays_in_the_dev_outbox(app, db_session, twilio, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_ACCOUNT_SID", "")
    message = plan_sms(db_session)
    assert dispatch_due(db_session) == 1
    sent = reload(db_session, message)
    assert sent.status == "sent"
    assert sent.provider == "devsms"
    assert sent.provider_id is None
    assert sent.body_text == EXPECTED_BODY  # readable in the back office
    assert twilio.requests == []


def test_an_invalid_number_fails_at_once(db_session, twilio):
    """Twilio refuses the number (400, error 21211): asking again gets the same answer,
    so the message stops as failed for staff to see, after one request."""
    message = plan_sms(db_session, recipient="89161234567")
    assert dispatch_due(db_session) == 0

    [request] = twilio.requests
    assert request.form["To"] == "89161234567"
    assert request.status == 400
    failed = reload(db_session, message)
    assert failed.status == "failed"
    assert failed.attempts == 1
    assert failed.provider is None
    assert failed.provider_id is None
    assert failed.sent_at is None
    assert failed.last_error == (
        "Twilio HTTP 400, error 21211: Unable to create record: "
        "The 'To' number 89161234567 is not a valid phone number."
    )

    make_due(db_session, failed)
    assert dispatch_due(db_session) == 0
    assert send_now(db_session, message.id) is False
    assert len(twilio.requests) == 1
    assert twilio.messages == []
    assert db_session.scalar(select(func.count(OutboxMessage.id))) == 1  # kept, not lost


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_transient_twilio_error_is_retried_later(db_session, twilio, status):
    message = plan_sms(db_session)
    twilio.fail_next(1, status=status)
    before = utcnow()

    assert dispatch_due(db_session) == 0

    waiting = reload(db_session, message)
    assert waiting.status == "pending"
    assert waiting.attempts == 1
    assert waiting.last_error.startswith(f"Twilio HTTP {status}, error 20{status}: ")
    assert waiting.provider_id is None
    assert timedelta(minutes=1) < waiting.scheduled_at - before <= timedelta(minutes=3)
    assert dispatch_due(db_session) == 0  # waits for its backoff
    assert len(twilio.requests) == 1

    make_due(db_session, waiting)
    assert dispatch_due(db_session) == 1

    sent = reload(db_session, message)
    assert [request.status for request in twilio.requests] == [status, 201]
    [accepted] = twilio.messages
    assert sent.status == "sent"
    assert sent.attempts == 2
    assert sent.provider_id == accepted["sid"]
    assert sent.last_error is None
    assert dispatch_due(db_session) == 0
    assert len(twilio.requests) == 2


def test_a_twilio_that_keeps_failing_is_given_up_after_max_attempts(db_session, twilio):
    message = plan_sms(db_session)
    twilio.fail_next(outbox.MAX_ATTEMPTS, status=500)
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        assert dispatch_due(db_session) == 0
        message = reload(db_session, message)
        assert message.attempts == attempt
        if attempt < outbox.MAX_ATTEMPTS:
            assert message.status == "pending"
            make_due(db_session, message)
    assert message.status == "failed"
    assert "HTTP 500" in message.last_error
    assert len(twilio.requests) == outbox.MAX_ATTEMPTS

    make_due(db_session, message)
    assert dispatch_due(db_session) == 0
    assert len(twilio.requests) == outbox.MAX_ATTEMPTS
    assert twilio.messages == []


def test_wrong_credentials_are_retried_until_they_are_fixed(app, db_session, twilio, monkeypatch):
    """A 401 is our setup, not the message: it waits for the next attempt, and goes out
    once the token is right again."""
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", "0" * 32)
    message = plan_sms(db_session)

    assert dispatch_due(db_session) == 0

    [request] = twilio.requests
    assert request.auth == (ACCOUNT_SID, "0" * 32)
    assert request.status == 401
    waiting = reload(db_session, message)
    assert waiting.status == "pending"
    assert (
        waiting.last_error == "Twilio HTTP 401, error 20003: Unable to create record: Authenticate"
    )

    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    make_due(db_session, waiting)
    assert dispatch_due(db_session) == 1
    assert reload(db_session, message).provider_id == twilio.messages[0]["sid"]
    assert len(twilio.requests) == 2


def test_an_unreachable_twilio_is_retried(app, db_session, twilio, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_API_BASE", f"http://127.0.0.1:{free_port()}")
    message = plan_sms(db_session)

    assert dispatch_due(db_session) == 0

    waiting = reload(db_session, message)
    assert waiting.status == "pending"
    assert "Connection refused" in waiting.last_error
    assert twilio.requests == []

    monkeypatch.setitem(app.config, "TWILIO_API_BASE", twilio.base_url)
    make_due(db_session, waiting)
    assert dispatch_due(db_session) == 1


def test_a_twilio_that_does_not_answer_times_out(app, db_session, twilio, monkeypatch):
    """Without a timeout the worker would wait for ever, and once its claim went stale
    another worker would send the same SMS again."""
    monkeypatch.setitem(app.config, "TWILIO_TIMEOUT", 0.5)
    message = plan_sms(db_session)
    twilio.hang_next()
    started = time.monotonic()

    assert dispatch_due(db_session) == 0

    assert time.monotonic() - started < 10  # the fake would hang for 30 s
    waiting = reload(db_session, message)
    assert waiting.status == "pending"
    assert "timed out" in waiting.last_error
    assert twilio.requests[0].status is None  # still hanging

    make_due(db_session, waiting)
    assert dispatch_due(db_session) == 1
    assert reload(db_session, message).status == "sent"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_error_is_kept_as_one_plain_line_when_run_in_a_terminal(
    db_session, twilio, monkeypatch
):
    """twilio's exceptions print a coloured banner when stderr is a terminal (a worker
    started by hand); the back office must get plain text."""
    monkeypatch.setattr("sys.stderr", Terminal())
    message = plan_sms(db_session)
    twilio.fail_next(1, status=500)

    dispatch_due(db_session)

    error = reload(db_session, message).last_error
    assert error == (
        "Twilio HTTP 500, error 20500: Unable to create record: "
        "An internal server error has occurred"
    )


def test_a_message_without_a_sender_number_is_refused(app, db_session, twilio, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_FROM_NUMBER", "")
    message = plan_sms(db_session)
    assert dispatch_due(db_session) == 0
    failed = reload(db_session, message)
    assert failed.status == "failed"
    assert "error 21603" in failed.last_error


# The fake itself, spoken to by the bare client: it must answer what Twilio answers.


@pytest.fixture
def bare_client(fake_twilio):
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = fake_twilio.base_url
    return client


def test_the_fake_returns_a_message_resource_the_client_reads(bare_client, fake_twilio):
    sent = bare_client.messages.create(to=RESIDENT_PHONE, from_=FROM_NUMBER, body="Привет")
    assert SMS_SID.fullmatch(sent.sid)
    assert sent.account_sid == ACCOUNT_SID
    assert (sent.to, sent.from_, sent.body) == (RESIDENT_PHONE, FROM_NUMBER, "Привет")
    assert sent.status == "queued"
    assert sent.direction == "outbound-api"
    assert sent.num_segments == "1"
    assert sent.error_code is None
    assert sent.date_created.tzinfo is not None
    assert abs(sent.date_created - datetime.now(sent.date_created.tzinfo)) < timedelta(minutes=1)
    assert sent.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sent.sid}.json"
    assert fake_twilio.messages[0]["sid"] == sent.sid


@pytest.mark.parametrize(
    ("body", "segments"),
    [("Я" * 70, "1"), ("Я" * 71, "2"), ("A" * 160, "1"), ("A" * 161, "2")],
    ids=["70 cyrillic", "71 cyrillic", "160 latin", "161 latin"],
)
def test_the_fake_counts_segments_as_twilio_does(bare_client, body, segments):
    """Cyrillic goes as UCS-2, 70 characters to an SMS; Latin as GSM 7-bit, 160."""
    sent = bare_client.messages.create(to=RESIDENT_PHONE, from_=FROM_NUMBER, body=body)
    assert sent.num_segments == segments


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"to": "+7 916 123-45-67"}, 400, 21211),
        ({"to": "79161234567"}, 400, 21211),
        ({"from_": "sender"}, 400, 21212),
        ({"body": ""}, 400, 21602),
        ({"body": "x" * 1601}, 400, 21617),
    ],
)
def test_the_fake_refuses_what_twilio_refuses(bare_client, fake_twilio, fields, status, code):
    values = {"to": RESIDENT_PHONE, "from_": FROM_NUMBER, "body": "Привет"} | fields
    with pytest.raises(TwilioRestException) as refused:
        bare_client.messages.create(**values)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert fake_twilio.messages == []


def test_the_fake_wants_the_account_credentials(fake_twilio):
    for sid, token in [(ACCOUNT_SID, "wrong"), ("AC" + "0" * 32, AUTH_TOKEN)]:
        client = Client(sid, token)
        client.api.base_url = fake_twilio.base_url
        with pytest.raises(TwilioRestException) as refused:
            client.messages.create(to=RESIDENT_PHONE, from_=FROM_NUMBER, body="Привет")
        assert (refused.value.status, refused.value.code) == (401, 20003)
    assert [request.status for request in fake_twilio.requests] == [401, 401]
    assert fake_twilio.messages == []


def test_the_fake_fails_on_request(bare_client, fake_twilio):
    fake_twilio.fail_next(2, status=429)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as refused:
            bare_client.messages.create(to=RESIDENT_PHONE, from_=FROM_NUMBER, body="Привет")
        assert (refused.value.status, refused.value.code) == (429, 20429)
    assert bare_client.messages.create(to=RESIDENT_PHONE, from_=FROM_NUMBER, body="Привет").sid
