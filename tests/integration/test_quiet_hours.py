"""When a message may go: no SMS in the quiet hours of the night, debt and tariff messages
on working days only (DOMAIN.md "Notifications"; 004 T6). The rule is
``outbox.earliest_send_time``; planning and dispatch both apply it.

Every time is explicit (``scheduled_at=``, ``now=``): the outcome never depends on the
hour the suite runs. Working days as in tests/unit/test_workdays.py.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from jinja2 import ChoiceLoader, DictLoader

from portal.models import OutboxMessage
from portal.services import settings
from portal.services.notify import dispatch_due, enqueue_email, enqueue_sms
from portal.services.notify.outbox import SendingHours, earliest_send_time

MOSCOW = ZoneInfo("Europe/Moscow")
HOURS = SendingHours(zone=MOSCOW, sms_quiet_from=21, sms_quiet_until=9, working_day_from=9)

# No SMS kind and no tariff letter has a template yet; the tests bring their own.
TEMPLATES = {
    "sms/test_reminder.txt": "Передайте показания по счёту {{ account }}.\n",
    "sms/debt_notice.txt": "Долг по счёту {{ account }}.\n",
    "email/tariff_change.txt": "С {{ since }} меняются тарифы.\n",
    "email/tariff_change.html": "<!doctype html><html><body>С {{ since }}</body></html>\n",
}


def msk(*args) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


@pytest.fixture(autouse=True)
def in_moscow(app, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_TIMEZONE", "Europe/Moscow")
    loader = ChoiceLoader([DictLoader(TEMPLATES), app.jinja_env.loader])
    monkeypatch.setattr(app.jinja_env, "loader", loader)


# --- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (msk(2026, 2, 10, 20, 59), msk(2026, 2, 10, 20, 59)),  # before the quiet hours
        (msk(2026, 2, 10, 21, 0), msk(2026, 2, 11, 9, 0)),  # they start at 21:00
        (msk(2026, 2, 10, 23, 45), msk(2026, 2, 11, 9, 0)),
        (msk(2026, 2, 11, 3, 0), msk(2026, 2, 11, 9, 0)),  # after midnight: the same morning
        (msk(2026, 2, 11, 9, 0), msk(2026, 2, 11, 9, 0)),  # they end at 9:00
        (msk(2026, 1, 3, 23, 0), msk(2026, 1, 4, 9, 0)),  # an ordinary SMS may go on holidays
    ],
)
def test_an_sms_waits_for_the_end_of_the_quiet_hours(at, expected):
    assert earliest_send_time("test_reminder", "sms", at, HOURS) == expected


def test_the_answer_is_utc_whatever_the_zone_of_the_question():
    at = datetime(2026, 2, 10, 19, 30, tzinfo=UTC)  # 22:30 in Moscow
    result = earliest_send_time("test_reminder", "sms", at, HOURS)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 2, 11, 6, 0, tzinfo=UTC)


def test_quiet_hours_are_the_supplier_s_local_hours():
    yekaterinburg = ZoneInfo("Asia/Yekaterinburg")  # UTC+5
    hours = SendingHours(yekaterinburg, 21, 9, 9)
    at = datetime(2026, 2, 10, 16, 30, tzinfo=UTC)  # 21:30 there, 19:30 in Moscow
    assert earliest_send_time("test_reminder", "sms", at, hours) == datetime(
        2026, 2, 11, 9, 0, tzinfo=yekaterinburg
    )
    assert earliest_send_time("test_reminder", "sms", at, HOURS) == at


def test_quiet_hours_within_one_night_and_none_at_all():
    early = SendingHours(MOSCOW, 0, 7, 9)
    assert earliest_send_time("x", "sms", msk(2026, 2, 10, 23, 0), early) == msk(2026, 2, 10, 23, 0)
    assert earliest_send_time("x", "sms", msk(2026, 2, 11, 6, 59), early) == msk(2026, 2, 11, 7)
    none = SendingHours(MOSCOW, 21, 21, 9)
    assert earliest_send_time("x", "sms", msk(2026, 2, 11, 3, 0), none) == msk(2026, 2, 11, 3)


def test_an_ordinary_letter_goes_at_any_hour_on_any_day():
    at = msk(2026, 1, 3, 23, 30)  # a Saturday night in the New Year holidays
    assert earliest_send_time("confirm_email", "email", at, HOURS) == at


@pytest.mark.parametrize(
    ("kind", "at", "expected"),
    [
        # Saturday 10 January 2026 → Monday 12 January at the start of the working day.
        ("debt_notice", msk(2026, 1, 10, 12, 0), msk(2026, 1, 12, 9, 0)),
        # Sunday 10 May 2026: Monday 11 May is off too (9 May fell on a Saturday).
        ("restriction_warning", msk(2026, 5, 10, 8, 0), msk(2026, 5, 12, 9, 0)),
        ("tariff_change", msk(2026, 12, 31, 10, 0), msk(2027, 1, 11, 9, 0)),
        # A working day: a letter goes at once, evening or not.
        ("debt_notice", msk(2026, 2, 10, 23, 30), msk(2026, 2, 10, 23, 30)),
        # Saturday 20 February 2027 is a working day by the decree.
        ("debt_notice", msk(2027, 2, 20, 10, 0), msk(2027, 2, 20, 10, 0)),
    ],
)
def test_debt_and_tariff_letters_go_on_working_days(kind, at, expected):
    assert earliest_send_time(kind, "email", at, HOURS) == expected


def test_both_rules_at_once():
    # Friday 8 May 2026, 22:00: quiet until Saturday 9:00, but Saturday 9 May, Sunday and
    # Monday 11 May are off: Tuesday 12 May at 9:00.
    assert earliest_send_time("tariff_change", "sms", msk(2026, 5, 8, 22, 0), HOURS) == msk(
        2026, 5, 12, 9, 0
    )
    # The working day starts before the quiet hours end: the SMS still waits for them.
    hours = SendingHours(MOSCOW, 21, 9, 8)
    assert earliest_send_time("debt_notice", "sms", msk(2026, 1, 10, 12, 0), hours) == msk(
        2026, 1, 12, 9, 0
    )
    # …and a letter of the same kind goes at 8:00.
    assert earliest_send_time("debt_notice", "email", msk(2026, 1, 10, 12, 0), hours) == msk(
        2026, 1, 12, 8, 0
    )


# --- planning ------------------------------------------------------------------------------


def plan_sms(session, at: datetime, kind: str = "test_reminder", key: str = "quiet:1"):
    message = enqueue_sms(
        session,
        kind=kind,
        recipient="+79161234567",
        context={"account": "7701-000123"},
        dedup_key=key,
        scheduled_at=at,
    )
    session.commit()
    return message


def test_an_sms_planned_at_night_is_scheduled_for_the_morning(db_session):
    message = plan_sms(db_session, msk(2026, 2, 10, 22, 30))
    assert message.scheduled_at == msk(2026, 2, 11, 9, 0)


def test_planning_follows_the_settings(db_session):
    settings.put(db_session, "notify.sms_quiet_from", 22)
    settings.put(db_session, "notify.sms_quiet_until", 7)
    assert plan_sms(db_session, msk(2026, 2, 10, 21, 30), key="a").scheduled_at == msk(
        2026, 2, 10, 21, 30
    )
    assert plan_sms(db_session, msk(2026, 2, 10, 22, 30), key="b").scheduled_at == msk(
        2026, 2, 11, 7, 0
    )
    settings.put(db_session, "notify.sms_quiet_until", 22)  # no quiet hours
    assert plan_sms(db_session, msk(2026, 2, 11, 3, 0), key="c").scheduled_at == msk(
        2026, 2, 11, 3, 0
    )


def test_a_tariff_letter_planned_on_a_holiday_waits_for_the_working_day(db_session):
    settings.put(db_session, "notify.working_day_from", 10)
    message = enqueue_email(
        db_session,
        kind="tariff_change",
        recipient="anna@example.ru",
        subject="Тарифы",
        context={"since": "1 июля"},
        dedup_key="tariff:1",
        scheduled_at=msk(2026, 6, 12, 11, 0),  # Friday, Russia Day
    )
    db_session.commit()
    assert message.scheduled_at == msk(2026, 6, 15, 10, 0)


# --- dispatch ------------------------------------------------------------------------------


def test_dispatch_holds_an_sms_whose_time_came_round_at_night(db_session):
    """A retry or a message put back by staff can fall due at night: it waits, then goes."""
    message = plan_sms(db_session, msk(2026, 2, 10, 20, 0))
    assert message.scheduled_at == msk(2026, 2, 10, 20, 0)

    assert dispatch_due(db_session, now=msk(2026, 2, 10, 23, 10)) == 0
    held = db_session.get(OutboxMessage, message.id, populate_existing=True)
    assert (held.status, held.attempts) == ("pending", 0)
    assert held.scheduled_at == msk(2026, 2, 11, 9, 0)

    assert dispatch_due(db_session, now=msk(2026, 2, 11, 8, 59)) == 0  # not due yet
    assert dispatch_due(db_session, now=msk(2026, 2, 11, 9, 0)) == 1
    db_session.refresh(held)
    assert (held.status, held.provider) == ("sent", "devsms")


def test_dispatch_holds_a_debt_notice_due_on_a_non_working_day(db_session):
    message = plan_sms(db_session, msk(2026, 1, 12, 10, 0), kind="debt_notice")
    ordinary = plan_sms(db_session, msk(2026, 1, 12, 10, 0), key="quiet:2")
    # The dispatcher only gets to them on Saturday 17 January (say it was stopped).
    assert dispatch_due(db_session, now=msk(2026, 1, 17, 12, 0)) == 1
    db_session.refresh(message)
    db_session.refresh(ordinary)
    assert ordinary.status == "sent"
    assert message.status == "pending"
    assert message.scheduled_at == msk(2026, 1, 19, 9, 0)
