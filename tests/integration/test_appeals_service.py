"""The appeals service against a real database: numbers, terms from the settings, the
guards beyond the state machine, and the letters received by a real SMTP server."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from portal.models import (
    AnswerChannel,
    AppealChannel,
    AppealEventKind,
    AppealKind,
    AppealStatus,
    AppealTopic,
    NoActionReason,
    OutboxMessage,
)
from portal.services import appeals, settings
from portal.services.errors import DomainError
from portal.services.notify.outbox import commit_and_send
from tests.conftest import mail_subject, mail_text
from tests.factories import make_staff, make_user

# Wednesday 2 December 2026, 12:00 in Moscow.
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def file_appeal(session, user=None, **fields):
    user = user or make_user(session)
    new = appeals.NewAppeal(
        kind=fields.pop("kind", AppealKind.COMPLAINT),
        topic=fields.pop("topic", AppealTopic.BILLING),
        text=fields.pop("text", "Мне дважды выставили счёт за ноябрь."),
        channel=fields.pop("channel", AppealChannel.WEB),
        answer_channel=fields.pop("answer_channel", AnswerChannel.PORTAL),
        about_staff_id=fields.pop("about_staff_id", None),
        language="en",
    )
    applicant = appeals.Applicant(
        name=user.full_name, email=user.email, phone=user.phone, user=user, **fields
    )
    return appeals.register(session, new, applicant)


def assigned(session, appeal):
    supervisor = make_staff(session, "supervisor", position="Начальник отдела")
    executor = make_staff(session, "billing", phone="+74951234567")
    appeals.assign(session, appeal, executor, supervisor)
    return supervisor, executor


def test_numbers_run_within_the_year_and_restart_in_the_next(db_session):
    with time_machine.travel(datetime(2026, 12, 31, 12, 0, tzinfo=UTC), tick=False):
        first, second = file_appeal(db_session), file_appeal(db_session)
    with time_machine.travel(datetime(2027, 1, 1, 9, 0, tzinfo=UTC), tick=False):
        third = file_appeal(db_session)
    assert (first.number, second.number) == ("2026-000001", "2026-000002")
    assert third.number == "2027-000001"


def test_a_new_year_starts_at_local_midnight(db_session):
    # 21:30 UTC on 31 December is 00:30 on 1 January in Moscow.
    with time_machine.travel(datetime(2026, 12, 31, 21, 30, tzinfo=UTC), tick=False):
        appeal = file_appeal(db_session)
    assert appeal.number.startswith("2027-")
    assert appeal.registered_on == date(2027, 1, 1)


def test_the_default_term_is_30_calendar_days(db_session, at_now):
    appeal = file_appeal(db_session)
    # 002 §15.4: 2 Dec 2026 + 30 = 1 Jan 2027, a holiday → Monday 11 January 2027.
    assert appeal.due_on == date(2027, 1, 11)
    assert appeal.assign_by == date(2026, 12, 3)  # one working day: an internal target
    assert appeal.events[0].kind == AppealEventKind.REGISTERED


def test_a_topic_term_wins_over_the_kind(db_session, at_now):
    settings.put(db_session, "appeals.topic.supply_quality.days", 10)
    appeal = file_appeal(db_session, topic=AppealTopic.SUPPLY_QUALITY)
    assert appeal.due_on == date(2026, 12, 14)  # 12 Dec is a Saturday → Monday 14 Dec


def test_working_days_by_setting(db_session, at_now):
    settings.put(db_session, "appeals.information.days", 15)
    settings.put(db_session, "appeals.information.working_days", 1)
    appeal = file_appeal(db_session, kind=AppealKind.INFORMATION)
    # From Wed 2 Dec 2026: 3, 4, 7–11, 14–18, 21, 22, 23 December → 23 December.
    assert appeal.due_on == date(2026, 12, 23)


@pytest.mark.parametrize(
    ("phone", "due"), [("+79160000000", date(2026, 12, 9)), (None, date(2026, 12, 30))]
)
def test_voicemail_5_working_days_with_a_phone_20_with_an_address(db_session, at_now, phone, due):
    # 004: from Wed 2 Dec 2026, 5 working days → Wed 9 Dec; 20 → Wed 30 Dec 2026.
    user = make_user(db_session)
    new = appeals.NewAppeal(
        kind=AppealKind.APPLICATION,
        topic=AppealTopic.OTHER,
        text="Перезвоните мне",
        channel=AppealChannel.VOICEMAIL,
        answer_channel=AnswerChannel.POST,
    )
    applicant = appeals.Applicant(
        name="Голосов Г.", phone=phone, postal_address="Выкса, ул. Ленина, 1"
    )
    appeal = appeals.register(db_session, new, applicant)
    assert appeal.due_on == due
    assert user  # the caller has no login: the contacts are kept on the appeal


def test_an_interim_answer_extends_once_and_never_beyond_30(db_session, at_now):
    settings.put(db_session, "appeals.complaint.days", 15)
    settings.put(db_session, "appeals.complaint.extension_days", 15)
    appeal = file_appeal(db_session)
    assert appeal.due_on == date(2026, 12, 17)
    _supervisor, executor = assigned(db_session, appeal)
    with pytest.raises(DomainError):
        appeals.interim_answer(db_session, appeal, executor, "Проверяем показания", 16)
    appeals.interim_answer(db_session, appeal, executor, "Проверяем показания", 15)
    assert appeal.due_on == date(2027, 1, 11)  # 15 + 15 = 30 days → 11 January 2027
    with pytest.raises(DomainError, match="only once"):
        appeals.interim_answer(db_session, appeal, executor, "Ещё", 1)


def test_the_extension_is_cut_to_the_longest_term(db_session, at_now):
    settings.put(db_session, "appeals.complaint.days", 20)
    settings.put(db_session, "appeals.complaint.extension_days", 15)
    appeal = file_appeal(db_session)
    assert appeal.extension_days == 10  # 20 + 10 = 30 (004: never over 30)


def test_no_extension_unless_the_setting_allows(db_session, at_now):
    appeal = file_appeal(db_session)
    _supervisor, executor = assigned(db_session, appeal)
    with pytest.raises(DomainError, match="cannot be extended"):
        appeals.interim_answer(db_session, appeal, executor, "Проверяем", 5)


def test_a_complaint_about_an_employee_is_never_theirs(db_session, at_now):
    employee = make_staff(db_session, "operator")
    supervisor = make_staff(db_session, "supervisor")
    appeal = file_appeal(db_session, topic=AppealTopic.STAFF, about_staff_id=employee.id)
    with pytest.raises(DomainError, match="complaint about themselves") as refusal:
        appeals.assign(db_session, appeal, employee, supervisor)
    assert refusal.value.field == "executor"
    with pytest.raises(DomainError):
        appeals.assign(db_session, appeal, supervisor, supervisor, co_executors=[employee])
    assert appeal.status == AppealStatus.REGISTERED
    assert appeal.executor_id is None


def test_only_a_supervisor_assigns_and_only_the_executor_works(db_session, at_now):
    appeal = file_appeal(db_session)
    operator = make_staff(db_session, "operator")
    with pytest.raises(DomainError):
        appeals.assign(db_session, appeal, operator, operator)
    assigned(db_session, appeal)
    with pytest.raises(DomainError, match="executor"):
        appeals.start(db_session, appeal, operator)


def test_the_clock_runs_during_a_clarification_by_default(db_session, at_now):
    appeal = file_appeal(db_session)
    _supervisor, executor = assigned(db_session, appeal)
    appeals.ask_clarification(db_session, appeal, executor, "Какой лицевой счёт?")
    at_now.move_to(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    appeals.give_clarification(db_session, appeal, "Счёт 100200300")
    assert appeal.due_on == date(2027, 1, 11)
    assert appeal.status == AppealStatus.IN_WORK


def test_a_setting_stops_the_clock_during_a_clarification(db_session, at_now):
    settings.put(db_session, "appeals.clarification_stops_clock", 1)
    appeal = file_appeal(db_session)
    _supervisor, executor = assigned(db_session, appeal)
    appeals.ask_clarification(db_session, appeal, executor, "Какой лицевой счёт?")
    at_now.move_to(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    appeals.give_clarification(db_session, appeal, "Счёт 100200300")
    # 8 days waited: 2 Dec + 38 = 9 January 2027 (a Saturday after the holidays) → 11 Jan.
    assert appeal.paused_days == 8
    assert appeal.due_on == date(2027, 1, 11)


def answered(session, appeal):
    supervisor, executor = assigned(session, appeal)
    appeals.answer(session, appeal, executor, "Счёт пересчитан.", supervisor)
    return supervisor, executor


def test_an_answer_names_the_executor_and_an_official(db_session, at_now):
    appeal = file_appeal(db_session)
    supervisor, executor = assigned(db_session, appeal)
    with pytest.raises(DomainError) as refusal:
        appeals.answer(db_session, appeal, executor, "Ответ", executor)
    assert refusal.value.field == "signed_by"
    appeals.answer(db_session, appeal, executor, "Ответ", supervisor)
    assert (appeal.answered_by, appeal.signed_by) == (executor, supervisor)
    assert appeal.answered_on_time is True


def test_a_rating_below_9_needs_a_reason(db_session, at_now):
    appeal = file_appeal(db_session)
    answered(db_session, appeal)
    for mark in (0, 11):
        with pytest.raises(DomainError):
            appeals.rate(db_session, appeal, mark, "")
    with pytest.raises(DomainError) as refusal:
        appeals.rate(db_session, appeal, 8, "  ")
    assert refusal.value.field == "reason"
    appeals.rate(db_session, appeal, 7, "Долго")
    assert (appeal.status, appeal.rating) == (AppealStatus.CLOSED, 7)
    with pytest.raises(DomainError, match="rated already"):
        appeals.rate(db_session, appeal, 9, "")


def test_a_rating_of_9_needs_no_reason(db_session, at_now):
    appeal = file_appeal(db_session)
    answered(db_session, appeal)
    appeals.rate(db_session, appeal, 9, None)
    assert appeal.rating_reason is None


def test_reopen_once_within_the_days_with_a_new_term(db_session, at_now):
    appeal = file_appeal(db_session)
    answered(db_session, appeal)
    number = appeal.number
    at_now.move_to(datetime(2026, 12, 20, 9, 0, tzinfo=UTC))
    appeals.reopen(db_session, appeal, "Пересчёт неверный")
    # New term from Sun 20 Dec 2026: + 30 = 19 January 2027 (a Tuesday).
    assert (appeal.status, appeal.due_on, appeal.number) == (
        AppealStatus.IN_WORK,
        date(2027, 1, 19),
        number,
    )
    assert appeal.reopen_count == 1
    appeals.answer(db_session, appeal, appeal.executor, "Пересчитали ещё раз.", appeal.signed_by)
    with pytest.raises(DomainError, match="only once"):
        appeals.reopen(db_session, appeal, "Снова")


def test_no_reopening_after_the_days(db_session, at_now):
    appeal = file_appeal(db_session)
    answered(db_session, appeal)
    at_now.move_to(datetime(2027, 1, 2, 9, 0, tzinfo=UTC))  # answered 2 Dec, 31 days on
    with pytest.raises(DomainError, match="has passed"):
        appeals.reopen(db_session, appeal, "Поздно")
    assert appeal.status == AppealStatus.ANSWERED


def test_a_repeat_without_new_arguments_is_linked_to_the_earlier_answer(
    db_session, at_now, mailbox
):
    user = make_user(db_session)
    earlier = file_appeal(db_session, user=user)
    supervisor, executor = answered(db_session, earlier)
    repeat = file_appeal(db_session, user=user)
    appeals.assign(db_session, repeat, executor, supervisor)
    with pytest.raises(DomainError) as refusal:
        appeals.no_action(db_session, repeat, executor, NoActionReason.REPEAT)
    assert refusal.value.field == "earlier"
    appeals.no_action(db_session, repeat, executor, NoActionReason.REPEAT, earlier=earlier)
    commit_and_send(db_session)
    assert repeat.status == AppealStatus.NO_ACTION
    notices = [m for m in mailbox if repeat.number in mail_subject(m)]
    assert earlier.number in mail_text(notices[-1])


def test_an_offensive_appeal_is_closed_without_a_notice(db_session, at_now):
    appeal = file_appeal(db_session)
    _supervisor, executor = assigned(db_session, appeal)
    appeals.no_action(db_session, appeal, executor, NoActionReason.OFFENSIVE)
    kinds = db_session.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.recipient == appeal.applicant_email)
    )
    assert "appeal_no_action" not in list(kinds)


def test_the_letters_reach_a_real_smtp_server(db_session, at_now, mailbox):
    appeal = file_appeal(db_session, answer_channel=AnswerChannel.EMAIL)
    commit_and_send(db_session)
    supervisor, executor = assigned(db_session, appeal)
    appeals.ask_clarification(db_session, appeal, executor, "Уточните период")
    commit_and_send(db_session)
    appeals.give_clarification(db_session, appeal, "Ноябрь 2026")
    appeals.answer(db_session, appeal, executor, "Счёт за ноябрь пересчитан.", supervisor)
    commit_and_send(db_session)
    subjects = [mail_subject(message) for message in mailbox]
    assert subjects == [
        f"Your appeal {appeal.number} is registered",
        f"Appeal {appeal.number}: we need a clarification",
        f"Appeal {appeal.number}: our answer",
    ]
    assert "We will answer by 11.01.2027." in mail_text(mailbox[0])
    assert "Уточните период" in mail_text(mailbox[1])
    body = mail_text(mailbox[2])
    assert "Счёт за ноябрь пересчитан." in body
    assert executor.full_name in body
    assert "+74951234567" in body
    assert supervisor.full_name in body


def test_a_note_is_never_on_the_customers_timeline(db_session, at_now):
    appeal = file_appeal(db_session)
    _supervisor, executor = assigned(db_session, appeal)
    appeals.add_note(db_session, appeal, executor, "Клиент звонил дважды")
    assert [e.kind for e in appeals.customer_events(appeal)] == [
        AppealEventKind.REGISTERED,
        AppealEventKind.ASSIGNED,
    ]
