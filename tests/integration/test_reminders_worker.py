"""The reminders' beat task run by a real Celery worker on Redis (issue #10): it plans the
day's reminders into the outbox and the dispatch task sends them through a real SMTP
server, with the one-click unsubscribe headers. Redis: TEST_REDIS_URL (db 14 here)."""

import time
from email.header import decode_header, make_header

import pytest
from celery import Celery

from portal.extensions import db
from portal.models import OutboxMessage
from portal.services import settings
from portal.services.clock import local_today
from tests import factories
from tests.integration import test_worker

pytestmark = pytest.mark.redis

redis_url = test_worker.redis_url
worker = test_worker.worker


def test_beat_schedules_the_reminders():
    from portal.tasks import celery

    assert celery.conf.beat_schedule["plan-reminders"]["task"] == "portal.tasks.plan_reminders"


def test_a_worker_plans_a_reminder_and_sends_it(worker, smtp_server):
    app, env = worker
    smtp_server.messages.clear()
    with app.app_context(), app.test_request_context():
        settings.put(db.session, "notify.plan_hour", 0)  # whatever the hour of the run
        user = factories.make_user(db.session, language="en")
        account = factories.make_account(db.session)
        factories.link(db.session, user, account)
        (bill,) = factories.make_bills(db.session, account, ["250.00"])
        bill.issued_on = local_today()
        db.session.commit()
        email, number = user.email, account.number

    client = Celery(broker=env["REDIS_URL"], backend=env["REDIS_URL"])
    planned = client.send_task("portal.tasks.plan_reminders").get(timeout=60)
    assert planned >= 1
    again = client.send_task("portal.tasks.plan_reminders").get(timeout=60)
    assert again == 0  # idempotent: a second beat plans nothing new
    client.send_task("portal.tasks.dispatch_outbox").get(timeout=60)
    deadline = time.monotonic() + 10
    while not smtp_server.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    (letter,) = [m for m in smtp_server.messages if m["To"] == email]
    assert str(make_header(decode_header(letter["Subject"]))) == f"Your bill for account {number}"
    assert letter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with app.app_context():
        kinds = db.session.scalars(db.select(OutboxMessage.kind)).all()
    assert "bill_issued" in kinds
