"""The outbox's guarantees with real parts (issue #10): 2 and 4 dispatcher processes on
PostgreSQL deliver each message exactly once, counted where it arrives (an aiosmtpd server
and the local Twilio fake); a dispatcher killed with SIGKILL in the middle of a batch loses
nothing and repeats nothing once its claim has gone stale and another takes over.

The one window in which a message can go twice (the provider accepted it, the process died
before its row was marked sent) is documented in ``outbox._send_claimed``; the kill here
falls outside it (the SMTP server holds the dying dispatcher at RCPT, before the letter is
handed over), which is the case the claim protocol must get right.
"""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete, func, insert, select, update

from portal.extensions import db
from portal.models import Channel, MessageStatus, OutboxMessage, Setting, utcnow
from tests.conftest import free_port
from tests.fake_twilio import FakeTwilio
from tests.integration.test_sms_delivery import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

PROJECT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not DATABASE_URL.startswith("postgresql"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
    ),
]

# A dispatcher process: sends what is due in batches until nothing has been due for a while.
DISPATCHER = """
import sys, time
from portal import create_app
from portal.extensions import db
from portal.services.notify import dispatch_due

url, mail_port, twilio_base, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sid, token, sender = sys.argv[5:8]
app = create_app({
    "SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "portal.test", "SECRET_KEY": "guarantees",
    "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": mail_port, "MAIL_SUPPRESS_SEND": False,
    "TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token, "TWILIO_FROM_NUMBER": sender,
    "TWILIO_API_BASE": twilio_base, "RATELIMIT_ENABLED": False,
})
idle_since = time.monotonic()
with app.app_context():
    while time.monotonic() - idle_since < 3:
        if dispatch_due(db.session, limit=batch):
            idle_since = time.monotonic()
        else:
            time.sleep(0.05)
        db.session.remove()
"""


class CountingSink:
    """An SMTP server counting letters by recipient; ``hold`` makes it stop at RCPT for one
    address (once), until ``release``."""

    def __init__(self, hold: str | None = None):
        self.received = Counter()
        self.lock = threading.Lock()
        self.hold = hold
        self.holding = threading.Event()
        self.released = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == self.hold:
            self.hold = None
            self.holding.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 The sending side went away"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received[address] += 1
        return "250 Message accepted for delivery"


@pytest.fixture
def committed(app):
    """Real commits on the test database (the dispatchers are other processes); the rows
    and the settings they need are removed afterwards."""
    with app.app_context():
        db.session.execute(delete(OutboxMessage))
        quiet_from = db.session.get(Setting, "notify.sms_quiet_from")
        db.session.merge(Setting(key="notify.sms_quiet_until", value="21"))
        if quiet_from is None:
            db.session.merge(Setting(key="notify.sms_quiet_from", value="21"))
        db.session.commit()
        yield db.session
        db.session.rollback()
        db.session.execute(delete(OutboxMessage))
        db.session.execute(
            delete(Setting).where(
                Setting.key.in_(["notify.sms_quiet_until", "notify.sms_quiet_from"])
            )
        )
        db.session.commit()


def plan(session, emails: int, sms: int) -> tuple[list[str], list[str]]:
    """Messages due now, planned in one INSERT; their addresses."""
    now = utcnow() - timedelta(seconds=1)
    letters = [f"person{n}@example.ru" for n in range(emails)]
    phones = [f"+7916{n:07d}" for n in range(sms)]
    rows = [
        {
            "kind": "signup_existing",
            "channel": Channel.EMAIL,
            "recipient": address,
            "subject": "Проверка",
            "body_text": f"Письмо {address}",
            "dedup_key": f"g:e:{address}",
            "scheduled_at": now + timedelta(microseconds=n),
            "status": MessageStatus.PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for n, address in enumerate(letters)
    ] + [
        {
            "kind": "sms_test",
            "channel": Channel.SMS,
            "recipient": phone,
            "subject": "",
            "body_text": "Проверка",
            "dedup_key": f"g:s:{phone}",
            "scheduled_at": now,
            "status": MessageStatus.PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for phone in phones
    ]
    session.execute(insert(OutboxMessage), rows)
    session.commit()
    return letters, phones


def start_dispatchers(count: int, mail_port: int, twilio_base: str, batch: int = 20):
    env = os.environ | {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                DISPATCHER,
                DATABASE_URL,
                str(mail_port),
                twilio_base,
                str(batch),
                ACCOUNT_SID,
                AUTH_TOKEN,
                FROM_NUMBER,
            ],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]


def wait_until_sent(session, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = session.scalar(
            select(func.count()).where(OutboxMessage.status != MessageStatus.SENT)
        )
        session.rollback()
        if not left:
            return
        time.sleep(0.2)
    raise AssertionError(f"{left} messages still not sent")


def finish(processes) -> None:
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        errors = process.stderr.read().decode(errors="replace")
        assert "Traceback" not in errors, errors


@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_dispatchers_send_each_message_exactly_once(committed, workers):
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio:
            letters, phones = plan(committed, emails=160, sms=40)
            processes = start_dispatchers(workers, controller.port, twilio.base_url)
            wait_until_sent(committed)
            finish(processes)
            texted = Counter(message["to"] for message in twilio.messages)
    finally:
        controller.stop()
    assert sink.received == Counter(letters)  # every letter once, none twice
    assert texted == Counter(phones)
    attempts = committed.scalars(select(OutboxMessage.attempts)).all()
    assert Counter(attempts) == {1: 200}  # no message was ever claimed twice


def test_a_dispatcher_killed_mid_batch_loses_nothing_and_repeats_nothing(committed):
    letters, _phones = plan(committed, emails=30, sms=0)
    held = letters[11]
    sink = CountingSink(hold=held)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        (victim,) = start_dispatchers(1, controller.port, "http://127.0.0.1:9", batch=100)
        assert sink.holding.wait(60), "the dispatcher never reached the held letter"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        sink.released.set()
        statuses = dict(
            committed.execute(select(OutboxMessage.recipient, OutboxMessage.status)).all()
        )
        committed.rollback()
        assert [statuses[address] for address in letters[:11]] == [MessageStatus.SENT] * 11
        # The dead dispatcher's batch, the held letter and the rest, stays claimed by it...
        assert {statuses[address] for address in letters[11:]} == {MessageStatus.SENDING}
        # ...and within the stale time nobody takes the claim over (it may be alive, slow):
        (early,) = start_dispatchers(1, controller.port, "http://127.0.0.1:9")
        finish([early])
        assert committed.get(OutboxMessage, _id(committed, held)).status == MessageStatus.SENDING
        committed.rollback()
        # ...once it is stale (outbox.STALE_CLAIM: the dead process would have been done by
        # then), the next dispatcher sends it.
        committed.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == MessageStatus.SENDING)
            .values(claimed_at=utcnow() - timedelta(minutes=11))
        )
        committed.commit()
        (heir,) = start_dispatchers(1, controller.port, "http://127.0.0.1:9")
        wait_until_sent(committed)
        finish([heir])
    finally:
        sink.released.set()
        controller.stop()
    assert sink.received == Counter(letters)
    attempts = dict(
        committed.execute(select(OutboxMessage.recipient, OutboxMessage.attempts)).all()
    )
    assert [attempts[address] for address in letters] == [1] * 11 + [2] * 19


def _id(session, recipient: str) -> int:
    return session.scalar(select(OutboxMessage.id).filter_by(recipient=recipient))
