"""Escalation of appeals through the reminder rules: due soon and overdue, to the executor
and every supervisor, once per appeal and stage (and again after a reopening)."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import delete, select

from portal.models import AppealTopic, OutboxMessage
from portal.services import appeals
from portal.services.notify import dispatch_due, reminders
from tests.conftest import mail_subject, mail_text, translated
from tests.factories import make_staff, make_user


def at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 7, tzinfo=UTC), tick=False)


@pytest.fixture(autouse=True)
def clean(db_session):
    db_session.execute(delete(OutboxMessage))
    db_session.flush()


def filed(session):
    user = make_user(session)
    new = appeals.NewAppeal(
        kind="complaint", topic=AppealTopic.BILLING, text="Текст", language="en"
    )
    return appeals.register(
        session, new, appeals.Applicant(name="Иванов", email=user.email, user=user)
    )


def escalations(session, kind):
    return sorted(
        session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.kind == kind))
    )


def test_due_soon_then_overdue_once_each_to_executor_and_supervisors(app, db_session):
    supervisor = make_staff(db_session, "supervisor", email="boss@staff.example.ru")
    executor = make_staff(db_session, "billing", email="exec@staff.example.ru")
    with at(date(2026, 11, 2)):
        appeal = filed(db_session)  # due 2 Dec 2026
        appeals.assign(db_session, appeal, executor, supervisor)
        db_session.execute(delete(OutboxMessage))
    with at(date(2026, 11, 28)):  # 4 days before: not yet (3 days by default)
        reminders.plan(db_session)
        assert escalations(db_session, "appeal_due_soon") == []
    with at(date(2026, 11, 29)):
        reminders.plan(db_session)
        reminders.plan(db_session)  # twice: nothing new
    assert escalations(db_session, "appeal_due_soon") == [
        "boss@staff.example.ru",
        "exec@staff.example.ru",
    ]
    with at(date(2026, 12, 3)):
        reminders.plan(db_session)
        reminders.plan(db_session)
    assert escalations(db_session, "appeal_overdue") == [
        "boss@staff.example.ru",
        "exec@staff.example.ru",
    ]
    assert len(escalations(db_session, "appeal_due_soon")) == 2


def test_an_unassigned_appeal_is_escalated_to_supervisors(app, db_session):
    make_staff(db_session, "supervisor", email="boss2@staff.example.ru")
    with at(date(2026, 11, 2)):
        filed(db_session)
    with at(date(2026, 12, 5)):
        reminders.plan(db_session)
    assert escalations(db_session, "appeal_overdue") == ["boss2@staff.example.ru"]


def test_an_answered_appeal_is_not_escalated(app, db_session):
    supervisor = make_staff(db_session, "supervisor")
    with at(date(2026, 11, 2)):
        appeal = filed(db_session)
        appeals.assign(db_session, appeal, supervisor, supervisor)
        appeals.answer(db_session, appeal, supervisor, "Ответ", supervisor)
    with at(date(2026, 12, 5)):
        reminders.plan(db_session)
    assert escalations(db_session, "appeal_overdue") == []


def test_the_escalation_letter_reaches_a_real_smtp_server(app, db_session, mailbox):
    supervisor = make_staff(db_session, "supervisor", email="boss3@staff.example.ru")
    with at(date(2026, 11, 2)):
        appeal = filed(db_session)
        db_session.execute(delete(OutboxMessage))
    with at(date(2026, 12, 3)):
        reminders.plan(db_session)
        dispatch_due(db_session)
    letters = [m for m in mailbox if m["To"] == supervisor.email]
    # Staff read the back office's language (Russian).
    assert mail_subject(letters[0]) == translated(
        app, "Appeal %(number)s is overdue", number=appeal.number
    )
    sentence = "Appeal %(number)s from %(name)s was due by %(date)s and is not answered yet."
    expected = translated(app, sentence, number=appeal.number, name="Иванов", date="02.12.2026")
    assert expected in mail_text(letters[0])
    assert f"/admin/appeals/{appeal.id}" in mail_text(letters[0])
