"""The outbox: planning is idempotent, claiming is atomic, failures retry with backoff and
then stop as failed; without a mail server messages go to the development mailbox; once a
real provider has a letter, its stored copy keeps no secret link."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.models import OutboxMessage, utcnow
from portal.services import tokens
from portal.services.notify import dispatch_due, enqueue_email, outbox, send_now
from portal.services.notify.providers import Delivery
from tests.conftest import mail_html, mail_text


def plan(session, key: str = "test:1", **fields) -> OutboxMessage | None:
    values = {
        "kind": "signup_existing",
        "recipient": "anna@example.ru",
        "subject": "Тема письма",
        "context": {
            "user": SimpleNamespace(full_name="Анна Кузнецова"),
            "login_url": "http://portal.test/login",
        },
        "dedup_key": key,
    } | fields
    message = enqueue_email(session, **values)
    session.commit()
    return message


def reload(session, message: OutboxMessage) -> OutboxMessage:
    return session.get(OutboxMessage, message.id, populate_existing=True)


@pytest.fixture
def failing_provider(monkeypatch):
    calls = []

    def deliver(message, line=None):
        calls.append(message.id)
        raise ConnectionRefusedError("SMTP server is down")

    monkeypatch.setattr(outbox, "deliver", deliver)
    return calls


def test_planning_renders_both_bodies(db_session):
    message = plan(db_session)
    assert message.status == "pending"
    assert message.channel == "email"
    assert message.attempts == 0
    assert "Анна Кузнецова" in message.body_text
    assert "Анна Кузнецова" in message.body_html
    assert "<html" in message.body_html
    assert message.scheduled_at <= utcnow()


def test_planning_works_outside_a_request(app, db_session):
    """Workers and commands plan letters with no request (and so no session) around."""
    from flask import has_request_context

    assert not has_request_context()
    assert plan(db_session, "test:no-request") is not None


def test_same_dedup_key_is_planned_once(db_session):
    first = plan(db_session, "bill_issued:42:2026-10")
    second = plan(db_session, "bill_issued:42:2026-10", recipient="other@example.ru")
    assert first is not None
    assert second is None
    rows = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedup_key == "bill_issued:42:2026-10")
    ).all()
    assert [row.recipient for row in rows] == ["anna@example.ru"]


def test_different_keys_are_planned_separately(db_session):
    plan(db_session, "a")
    plan(db_session, "b")
    assert db_session.scalar(select(func.count(OutboxMessage.id))) == 2


def test_a_lost_race_on_the_key_is_not_an_error(db_session, monkeypatch):
    """Two workers pass the "already planned?" check at once; the unique key decides."""
    plan(db_session, "race")
    monkeypatch.setattr(db_session, "scalar", lambda *args, **kwargs: None)
    assert plan(db_session, "race") is None
    monkeypatch.undo()
    assert db_session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_claim_is_atomic(db_session):
    message = plan(db_session)
    assert outbox.claim(db_session, message.id) is True
    assert outbox.claim(db_session, message.id) is False
    claimed = reload(db_session, message)
    assert claimed.status == "sending"
    assert claimed.attempts == 1
    assert claimed.claimed_at is not None


def test_a_stale_claim_can_be_taken_over(db_session):
    message = plan(db_session)
    assert outbox.claim(db_session, message.id)
    message = reload(db_session, message)
    message.claimed_at = utcnow() - outbox.STALE_CLAIM - timedelta(seconds=1)
    db_session.commit()
    assert outbox.claim(db_session, message.id) is True
    assert reload(db_session, message).attempts == 2


def test_sent_and_failed_messages_cannot_be_claimed(db_session):
    sent = plan(db_session, "sent")
    failed = plan(db_session, "failed")
    sent.status, failed.status = "sent", "failed"
    db_session.commit()
    assert outbox.claim(db_session, sent.id) is False
    assert outbox.claim(db_session, failed.id) is False


def test_send_now_without_a_mail_server_uses_the_dev_mailbox(app, db_session):
    assert app.config["MAIL_SERVER"] == ""
    message = plan(db_session)
    assert send_now(db_session, message.id) is True
    sent = reload(db_session, message)
    assert sent.status == "sent"
    assert sent.provider == "devmail"
    assert sent.sent_at is not None
    assert sent.last_error is None
    assert send_now(db_session, message.id) is False  # never twice


def test_send_now_through_smtp(db_session, mailbox):
    message = plan(db_session)
    assert send_now(db_session, message.id) is True
    assert reload(db_session, message).provider == "smtp"
    [letter] = mailbox
    assert letter["To"] == "anna@example.ru"
    assert letter["X-Portal-Message"] == str(message.id)
    assert "Анна Кузнецова" in mail_text(letter)


def test_failing_provider_retries_with_backoff_then_fails(db_session, failing_provider):
    message = plan(db_session)
    delays = []
    for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
        before = utcnow()
        assert send_now(db_session, message.id) is False
        message = reload(db_session, message)
        assert message.attempts == attempt
        assert message.last_error == "SMTP server is down"
        if attempt < outbox.MAX_ATTEMPTS:
            assert message.status == "pending"
            delays.append(message.scheduled_at - before)
            assert dispatch_due(db_session) == 0  # not due yet: waits for its backoff
            message.scheduled_at = utcnow() - timedelta(seconds=1)
            db_session.commit()
    assert message.status == "failed"
    assert message.sent_at is None
    assert len(failing_provider) == outbox.MAX_ATTEMPTS
    # each wait is longer than the one before: 2, 4, 8, 16 minutes
    assert all(later > earlier for earlier, later in zip(delays, delays[1:], strict=False))
    assert timedelta(minutes=1) < delays[0] <= timedelta(minutes=3)
    # a failed message is left alone
    assert dispatch_due(db_session) == 0
    assert send_now(db_session, message.id) is False
    assert len(failing_provider) == outbox.MAX_ATTEMPTS


def test_a_failure_does_not_break_the_caller(db_session, failing_provider):
    message = plan(db_session)
    assert send_now(db_session, message.id) is False
    assert reload(db_session, message).status == "pending"


def test_dispatch_sends_only_due_messages_once(db_session):
    due = [plan(db_session, f"due:{n}") for n in range(3)]
    later = plan(db_session, "later", scheduled_at=utcnow() + timedelta(hours=1))
    assert dispatch_due(db_session) == 3
    assert dispatch_due(db_session) == 0
    assert {reload(db_session, m).status for m in due} == {"sent"}
    assert reload(db_session, later).status == "pending"


def test_dispatch_respects_the_limit(db_session):
    for n in range(5):
        plan(db_session, f"batch:{n}")
    assert dispatch_due(db_session, limit=2) == 2
    assert dispatch_due(db_session) == 3


def test_a_recovered_provider_sends_the_retried_message(db_session, monkeypatch):
    message = plan(db_session)
    monkeypatch.setattr(
        outbox, "deliver", lambda m, line=None: (_ for _ in ()).throw(OSError("down"))
    )
    send_now(db_session, message.id)
    monkeypatch.undo()
    message = reload(db_session, message)
    message.scheduled_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert dispatch_due(db_session) == 1
    sent = reload(db_session, message)
    assert sent.status == "sent"
    assert sent.attempts == 2
    assert sent.last_error is None


# --- secret links leave with the letter --------------------------------------------------


def plan_reset(session) -> tuple[OutboxMessage, str]:
    token = tokens.make_token("reset", {"user": 1, "fp": "x"})
    message = plan(
        session,
        "test:reset",
        kind="reset_password",
        context={
            "user": SimpleNamespace(full_name="Анна Кузнецова"),
            "reset_url": f"http://portal.test/password/reset/{token}",
            "hours": tokens.lifetime_hours("reset"),
        },
    )
    return message, token


def test_a_letter_sent_through_smtp_keeps_no_usable_token(db_session, mailbox):
    message, token = plan_reset(db_session)
    assert send_now(db_session, message.id) is True
    [letter] = mailbox
    assert f"/password/reset/{token}" in mail_text(letter)  # the recipient has the link
    assert f'href="http://portal.test/password/reset/{token}"' in mail_html(letter)
    stored = reload(db_session, message)
    assert (stored.status, stored.provider) == ("sent", "smtp")
    assert token not in stored.body_text
    assert token not in stored.body_html
    assert "[password reset link hidden; works until " in stored.body_text
    assert 'href="[password reset link hidden; works until ' in stored.body_html
    assert "Анна Кузнецова" in stored.body_text  # the rest of the letter is kept


def test_an_sms_sent_through_twilio_keeps_no_usable_token(db_session, monkeypatch):
    token = tokens.make_token("reset", {"user": 1, "fp": "x"})
    message = OutboxMessage(
        kind="reset_password",
        channel="sms",
        recipient="+79161234567",
        body_text=f"Reset: https://portal.test/password/reset/{token}",
        dedup_key="test:sms-reset",
    )
    db_session.add(message)
    db_session.commit()
    monkeypatch.setattr(outbox, "deliver", lambda m, line=None: Delivery("twilio", "SM123"))
    assert send_now(db_session, message.id) is True
    stored = reload(db_session, message)
    assert stored.body_text.startswith("Reset: [password reset link hidden; works until ")
    assert token not in stored.body_text


def test_the_dev_mailbox_keeps_the_link_it_shows(app, db_session):
    assert app.config["MAIL_SERVER"] == ""
    message, token = plan_reset(db_session)
    assert send_now(db_session, message.id) is True
    stored = reload(db_session, message)
    assert stored.provider == "devmail"
    assert token in stored.body_text
    assert token in stored.body_html


def test_a_message_still_to_be_sent_keeps_its_token(db_session, failing_provider):
    message, token = plan_reset(db_session)
    assert token in message.body_text
    assert send_now(db_session, message.id) is False
    stored = reload(db_session, message)
    assert stored.status == "pending"
    assert token in stored.body_text
    assert token in stored.body_html


def test_a_failing_scrub_still_records_the_letter_as_sent(db_session, mailbox, monkeypatch):
    """Left "sending", the letter would be claimed again when the claim goes stale and sent
    a second time; its stored link stays hidden in the mailbox all the same."""

    def broken(text, html=False):
        raise RuntimeError("bug")

    monkeypatch.setattr("portal.services.notify.secrets.redact_links", broken)
    message, _token = plan_reset(db_session)
    assert send_now(db_session, message.id) is True
    assert reload(db_session, message).status == "sent"
    assert len(mailbox) == 1


def test_dispatch_takes_over_a_dead_workers_claim_once_it_is_stale(db_session):
    """A worker killed after claiming leaves the row "sending": within the stale time it is
    not sent again (the worker may be alive and slow), after it the dispatcher sends it."""
    message = plan(db_session)
    assert outbox.claim(db_session, message.id)  # the worker that then died
    assert dispatch_due(db_session) == 0
    message = reload(db_session, message)
    message.claimed_at = utcnow() - outbox.STALE_CLAIM - timedelta(seconds=1)
    db_session.commit()
    assert dispatch_due(db_session) == 1
    assert (reload(db_session, message).status, message.attempts) == ("sent", 2)
    assert dispatch_due(db_session) == 0


def test_a_slow_batch_renews_its_claims_before_they_go_stale(db_session, monkeypatch):
    """Each send takes "6 minutes": from the second message on the batch's claims are
    renewed, so another worker would never find them stale while they wait their turn."""
    first, second = plan(db_session, "slow:1"), plan(db_session, "slow:2")
    clock = {"now": utcnow()}
    monkeypatch.setattr(outbox, "utcnow", lambda: clock["now"])
    real_send = outbox._send_claimed

    def slow_send(session, message, line=None):
        clock["now"] += timedelta(minutes=6)
        return real_send(session, message, line)

    monkeypatch.setattr(outbox, "_send_claimed", slow_send)
    renewed = []
    real_renew = outbox._renew_claims
    monkeypatch.setattr(
        outbox,
        "_renew_claims",
        lambda s, ids, at: renewed.append(list(ids)) or real_renew(s, ids, at),
    )
    assert dispatch_due(db_session, now=clock["now"]) == 2
    assert renewed == [[second.id]]
    assert reload(db_session, first).attempts == reload(db_session, second).attempts == 1
