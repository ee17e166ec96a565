"""The reminder rules (DOMAIN.md "Notifications and reminders"; 002 §18.7 and 004 §18: the
supplier reminds of the payment deadline; ПП 354 п. 81(12): a meter past its verification is
out of service): who is told, the dedup key, idempotence, the texts, the sending rules, the
command, and that planning costs the same statements for 2 accounts as for 8.

Times are 10:00 in Moscow (07:00 UTC) unless a test says otherwise; the readings window is the
default 15th–25th, reminders 3 days ahead.
"""

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import delete, select

from portal.models import AccountLink, Bill, Channel, MeterStatus, OutboxMessage, Payment
from portal.services import settings
from portal.services.notify import reminders
from tests import factories
from tests.conftest import counted_queries, translated


def at(day: date, hour_utc: int = 7):
    return time_machine.travel(
        datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC), tick=False
    )


@pytest.fixture(autouse=True)
def clean(app, db_session):
    """Each test sees only its own bills, payments and messages."""
    for model in (OutboxMessage, Bill, Payment):
        db_session.execute(delete(model))
    db_session.flush()


def resident(session, *, meters=({"remote_read": False},), **user_fields):
    """A portal user linked to a new account with these meters."""
    user = factories.make_user(session, language="en", **user_fields)
    account = factories.make_account(session)
    factories.link(session, user, account)
    made = [factories.make_meter(session, account, **fields) for fields in meters]
    return user, account, made


def messages(session, kind: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
    )


def counts(planned) -> dict[tuple[str, str], int]:
    return {(item.rule, item.channel.value): item.count for item in planned if item.count}


# --- the readings window --------------------------------------------------------------


def test_window_opened_on_its_first_day_to_residents_who_read_a_meter(app, db_session):
    with at(date(2026, 11, 1)):
        reader, _account, _meters = resident(db_session)
        texter, _account, _meters = resident(db_session, preferred_channel=Channel.SMS)
        remote, _account, _meters = resident(db_session, meters=({"remote_read": True},))
        resident(db_session, email_confirmed_at=None)  # no confirmed e-mail: not reachable
        factories.make_meter(db_session, factories.make_account(db_session))  # nobody linked
        faulty, _account, _meters = resident(db_session, meters=({"status": MeterStatus.FAULTY},))
    with at(date(2026, 11, 14)):
        assert counts(reminders.plan(db_session, rule="window_opened")) == {}
    with at(date(2026, 11, 15)):
        planned = reminders.plan(db_session, rule="window_opened")
    assert counts(planned) == {("window_opened", "email"): 1, ("window_opened", "sms"): 1}
    email, sms = sorted(messages(db_session, "window_opened"), key=lambda m: m.channel)
    assert (email.user_id, email.recipient) == (reader.id, reader.email)
    assert email.dedup_key == f"window_opened:2026-11:user:{reader.id}:email"
    assert (sms.user_id, sms.recipient) == (texter.id, texter.phone)
    assert sms.dedup_key == f"window_opened:2026-11:user:{texter.id}:sms"
    assert "From 15.11.2026 to 25.11.2026 we accept the readings" in email.body_text
    assert sms.body_text.startswith("Meter readings are accepted until 25.11: http://portal.test/")


def test_window_opened_in_russian_for_a_russian_user(app, db_session):
    with at(date(2026, 11, 1)):
        user, _account, _meters = resident(db_session)
        user.language = "ru"
    with at(date(2026, 11, 15)):
        reminders.plan(db_session, rule="window_opened")
    (message,) = messages(db_session, "window_opened")
    expected = translated(
        app,
        "From %(opens)s to %(closes)s we accept the readings of your meters for %(month)s.",
        opens="15.11.2026",
        closes="25.11.2026",
        month="ноябрь 2026",
    )
    assert expected in message.body_text
    assert message.subject == translated(app, "Meter readings are accepted from today")


def test_window_closing_reminds_accounts_with_a_meter_not_read_this_month(app, db_session):
    """25th − 3 days = the 22nd: an account with an unread meter is reminded, one whose
    meters are all read or all read remotely is not."""
    with at(date(2026, 11, 1)):
        user, unread, _meters = resident(db_session, meters=({}, {}))
        _user, read, read_meters = resident(db_session)
        resident(db_session, meters=({"remote_read": True},))
        # Past its verification date the meter is out of service: no readings asked for.
        resident(db_session, meters=({"verification_due": date(2026, 11, 21)},))
        # One of two meters read is still a meter without a reading.
        factories.make_reading(db_session, read_meters[0], taken_on=date(2026, 11, 16))
        factories.make_reading(db_session, _meters[0], taken_on=date(2026, 11, 16))
        # Last month's reading is no reading of this month.
        _user, stale, stale_meters = resident(db_session)
        factories.make_reading(db_session, stale_meters[0], taken_on=date(2026, 10, 20))
    with at(date(2026, 11, 21)):
        assert counts(reminders.plan(db_session, rule="window_closing")) == {}
    with at(date(2026, 11, 22)):
        planned = reminders.plan(db_session, rule="window_closing")
    assert counts(planned) == {("window_closing", "email"): 2}
    planned_messages = messages(db_session, "window_closing")
    first = next(m for m in planned_messages if m.user_id == user.id)
    second = next(m for m in planned_messages if m.user_id != user.id)
    assert first.dedup_key == f"window_closing:2026-11:account:{unread.id}:user:{user.id}:email"
    assert {first.body_text.split()[1], second.body_text.split()[1]} == {
        unread.number,
        stale.number,
    }
    assert first.body_text.startswith(
        f"Account {unread.number} has meters with no reading for November 2026 yet. "
        "Readings are accepted until 25.11.2026"
    )
    assert f"Account {unread.number} has" in first.body_html
    assert first.subject == "Send your meter readings by 25.11.2026"
    assert read.number not in first.body_text + second.body_text


def test_planning_twice_plans_nothing_new(app, db_session):
    with at(date(2026, 11, 1)):
        resident(db_session)
        resident(db_session, preferred_channel=Channel.SMS)
    with at(date(2026, 11, 22)):
        assert sum(item.count for item in reminders.plan(db_session)) == 2
        again = reminders.plan(db_session)
    assert counts(again) == {}
    assert len(messages(db_session, "window_closing")) == 2


def test_dry_run_counts_and_plans_nothing(app, db_session):
    with at(date(2026, 11, 1)):
        resident(db_session)
    with at(date(2026, 11, 22)):
        planned = reminders.plan(db_session, dry_run=True)
    assert counts(planned) == {("window_closing", "email"): 1}
    assert messages(db_session, "window_closing") == []


def test_an_sms_planned_at_night_waits_for_the_end_of_the_quiet_hours(app, db_session):
    """Quiet hours 21–9 Moscow: planned at 23:00 on the 22nd, the SMS goes at 9:00 (06:00 UTC)
    on the 23rd; the e-mail goes at once."""
    with at(date(2026, 11, 1)):
        resident(db_session, preferred_channel=Channel.SMS)
        resident(db_session)
    with at(date(2026, 11, 22), hour_utc=20):
        reminders.plan(db_session, rule="window_closing")
    by_channel = {m.channel: m.scheduled_at for m in messages(db_session, "window_closing")}
    assert by_channel[Channel.SMS] == datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert by_channel[Channel.EMAIL] == datetime(2026, 11, 22, 20, tzinfo=UTC)


# --- bills ---------------------------------------------------------------------------------


def test_bill_issued_with_its_amount_due_date_and_link(app, db_session):
    """make_bills: October's bill is issued on 1 November and due on 10 November."""
    with at(date(2026, 10, 1)):
        user, account, _meters = resident(db_session)
        factories.make_bills(db_session, account, ["1234.56"], first=date(2026, 10, 1))
        _user, credit, _meters = resident(db_session, preferred_channel=Channel.SMS)
        factories.make_bills(
            db_session,
            credit,
            ["100.00"],
            first=date(2026, 10, 1),
            payments=[(date(2026, 10, 5), "150.00")],
        )
        unlinked = factories.make_account(db_session)
        factories.make_bills(db_session, unlinked, ["50.00"], first=date(2026, 10, 1))
    with at(date(2026, 11, 1)):
        planned = reminders.plan(db_session, rule="bill_issued")
    assert counts(planned) == {("bill_issued", "email"): 1, ("bill_issued", "sms"): 1}
    email, sms = sorted(messages(db_session, "bill_issued"), key=lambda m: m.channel)
    assert email.dedup_key == f"bill_issued:2026-10:account:{account.id}:user:{user.id}:email"
    assert email.subject == f"Your bill for account {account.number}"
    assert "Amount to pay: 1,234.56\xa0₽, due by 10.11.2026." in email.body_text
    assert f"http://portal.test/accounts/{account.id}/bills/2026-10" in email.body_html
    assert sms.body_text.startswith(f"Account {credit.number}: bill for 10.2026, nothing to pay.")
    assert "Nothing to pay" not in email.body_text


def test_bill_issued_with_a_credit_says_nothing_to_pay(app, db_session):
    """Charged 100.00, paid 150.00 in the month: a credit of 50.00 carries over."""
    with at(date(2026, 10, 1)):
        _user, account, _meters = resident(db_session)
        factories.make_bills(
            db_session,
            account,
            ["100.00"],
            first=date(2026, 10, 1),
            payments=[(date(2026, 10, 5), "150.00")],
        )
    with at(date(2026, 11, 1)):
        reminders.plan(db_session, rule="bill_issued")
    (message,) = messages(db_session, "bill_issued")
    assert "Nothing to pay this month. The account has a credit of 50.00\xa0₽." in message.body_text
    assert "Amount to pay" not in message.body_html


def test_bill_issued_in_russian(app, db_session):
    with at(date(2026, 10, 1)):
        user, account, _meters = resident(db_session)
        user.language = "ru"
        factories.make_bills(db_session, account, ["1234.56"], first=date(2026, 10, 1))
    with at(date(2026, 11, 1)):
        reminders.plan(db_session, rule="bill_issued")
    (message,) = messages(db_session, "bill_issued")
    expected = translated(
        app,
        "Amount to pay: %(amount)s, due by %(date)s.",
        amount="1\xa0234,56\xa0₽",
        date="10.11.2026",
    )
    assert expected in message.body_text


def test_payment_due_soon_and_unpaid(app, db_session):
    """Due on 10 November, reminded from the 7th (3 days ahead); a paid bill and one due
    later are not reminded (002 §18.7: "о приближении срока оплаты")."""
    with at(date(2026, 10, 1)):
        user, unpaid, _meters = resident(db_session, preferred_channel=Channel.SMS)
        factories.make_bills(db_session, unpaid, ["800.00"], first=date(2026, 10, 1))
        _user, paid, _meters = resident(db_session)
        factories.make_bills(
            db_session,
            paid,
            ["500.00"],
            first=date(2026, 10, 1),
            payments=[(date(2026, 11, 3), "500.00")],
        )
        _user, half, _meters = resident(db_session)
        factories.make_bills(
            db_session,
            half,
            ["500.00"],
            first=date(2026, 10, 1),
            payments=[(date(2026, 11, 3), "200.00")],
        )
    with at(date(2026, 11, 6)):
        assert counts(reminders.plan(db_session, rule="payment_due")) == {}
    with at(date(2026, 11, 7)):
        planned = reminders.plan(db_session, rule="payment_due")
    assert counts(planned) == {("payment_due", "sms"): 1, ("payment_due", "email"): 1}
    email, sms = sorted(messages(db_session, "payment_due"), key=lambda m: m.channel)
    assert sms.dedup_key == f"payment_due:2026-10:account:{unpaid.id}:user:{user.id}:sms"
    assert sms.body_text.startswith(f"Account {unpaid.number}: 800.00\xa0₽ to pay by 10.11.")
    assert len(sms.body_text) <= 134  # two SMS segments even in Cyrillic (67 characters each)
    assert "300.00\xa0₽ of the bill of account" in email.body_text
    assert email.body_text.startswith("300.00\xa0₽ of the bill of account " + half.number)


# --- meter verification ---------------------------------------------------------------------


def test_verification_due_soon_and_overdue(app, db_session):
    """30 days ahead (meters.verification_warning_days); past the date: overdue, п. 81(12)."""
    with at(date(2026, 11, 15)):
        user, account, (soon, _later, overdue, _removed) = resident(
            db_session,
            meters=(
                {"verification_due": date(2026, 12, 15), "serial_number": "SOON-1"},
                {"verification_due": date(2026, 12, 16)},
                {"verification_due": date(2026, 11, 14), "serial_number": "LATE-1"},
                {"verification_due": date(2026, 10, 1), "status": MeterStatus.REMOVED},
            ),
        )
        planned = reminders.plan(db_session, rule="verification_due") + reminders.plan(
            db_session, rule="verification_overdue"
        )
    assert counts(planned) == {
        ("verification_due", "email"): 1,
        ("verification_overdue", "email"): 1,
    }
    (due,) = messages(db_session, "verification_due")
    (late,) = messages(db_session, "verification_overdue")
    assert due.dedup_key == f"verification_due:meter:{soon.id}:2026-12-15:user:{user.id}:email"
    assert (
        late.dedup_key == f"verification_overdue:meter:{overdue.id}:2026-11-14:user:{user.id}:email"
    )
    assert (
        f"The verification of meter SOON-1 (Electricity, account {account.number}) is due by "
        "15.12.2026." in due.body_text
    )
    assert "meter LATE-1 (Electricity" in late.body_text


def test_a_longer_warning_setting_reminds_earlier(app, db_session):
    with at(date(2026, 11, 15)):
        resident(db_session, meters=({"verification_due": date(2027, 1, 14)},))
        assert counts(reminders.plan(db_session, rule="verification_due")) == {}
        settings.put(db_session, "meters.verification_warning_days", 60)
        assert counts(reminders.plan(db_session, rule="verification_due")) == {
            ("verification_due", "email"): 1
        }


# --- the command and the statements ------------------------------------------------------


def test_the_command_prints_counts_per_rule_and_channel(app, db_session):
    with at(date(2026, 11, 1)):
        resident(db_session)
        resident(db_session)
    runner = app.test_cli_runner()
    with at(date(2026, 11, 22)):
        dry = runner.invoke(args=["notify", "plan", "--rule", "window_closing", "--dry-run"])
        real = runner.invoke(args=["notify", "plan", "--rule", "window_closing"])
        again = runner.invoke(args=["notify", "plan"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        "window_closing        email         2",
        "window_closing        sms           0",
        "2 message(s) would be planned",
    ]
    assert real.output.splitlines()[-1] == "2 message(s) planned"
    assert again.output.splitlines()[-1] == "0 message(s) planned"
    assert len(messages(db_session, "window_closing")) == 2
    wrong = runner.invoke(args=["notify", "plan", "--rule", "nonsense"])
    assert wrong.exit_code != 0
    assert "window_opened" in wrong.output


@pytest.mark.parametrize("rule", ["window_closing", "bill_issued"])
def test_planning_runs_as_many_statements_for_8_accounts_as_for_2(app, db_session, rule):
    def statements_for(accounts: int, month: int) -> int:
        with at(date(2026, month, 1)):
            for _ in range(accounts):
                _user, account, _meters = resident(db_session)
                factories.make_bills(db_session, account, ["10.00"], first=date(2026, month, 1))
        day = date(2026, month + 1, 1) if rule == "bill_issued" else date(2026, month, 22)
        with at(day), counted_queries() as statements:
            planned = reminders.plan(db_session, rule=rule)
        assert sum(item.count for item in planned) == accounts
        db_session.execute(delete(OutboxMessage))
        db_session.execute(delete(Bill))
        db_session.execute(delete(AccountLink))  # the next count has its own residents
        return len(statements)

    assert statements_for(2, 9) == statements_for(8, 10)


def test_the_scheduler_plans_once_a_day_from_the_planning_hour(app, db_session):
    """notify.plan_hour 10 (Moscow): at 9:30 nothing; at 10:00 the day is planned; later the
    same day the hook does not plan again; the next day it does."""
    from portal.cli import _plan_reminders

    with at(date(2026, 11, 1)):
        resident(db_session)
    with time_machine.travel(datetime(2026, 11, 22, 6, 30, tzinfo=UTC), tick=False):
        assert _plan_reminders(None) is None
    assert messages(db_session, "window_closing") == []
    with at(date(2026, 11, 22)):
        assert _plan_reminders(None) == date(2026, 11, 22)
    assert len(messages(db_session, "window_closing")) == 1
    with at(date(2026, 11, 22), hour_utc=12), counted_queries() as statements:
        assert _plan_reminders(date(2026, 11, 22)) == date(2026, 11, 22)
    assert statements == []
    settings.put(db_session, "notify.plan_hour", 12)
    with at(date(2026, 11, 23), hour_utc=8):  # 11:00 Moscow, before the new hour
        assert _plan_reminders(date(2026, 11, 22)) == date(2026, 11, 22)
    with at(date(2026, 11, 23), hour_utc=9):
        assert _plan_reminders(date(2026, 11, 22)) == date(2026, 11, 23)


def test_window_opened_missed_on_its_first_day_is_caught_up_once(app, db_session):
    """The scheduler was down on the 15th: the 16th plans it, with the closing date in the
    subject; the 17th plans nothing new; from the 22nd (25th − 3 days) the closing reminder
    speaks instead."""
    with at(date(2026, 11, 1)):
        reader, _account, _meters = resident(db_session)
    with at(date(2026, 11, 16)):
        planned = reminders.plan(db_session, rule="window_opened")
    assert counts(planned) == {("window_opened", "email"): 1}
    (message,) = messages(db_session, "window_opened")
    assert message.subject == "Meter readings are accepted until 25.11.2026"
    with at(date(2026, 11, 17)):
        assert counts(reminders.plan(db_session, rule="window_opened")) == {}
    db_session.execute(delete(OutboxMessage))
    with at(date(2026, 11, 22)):
        assert counts(reminders.plan(db_session, rule="window_opened")) == {}


def test_the_bill_news_look_back_is_a_setting(app, db_session):
    """October's bill is issued on 1 November: on the 9th it is 8 days old, past the default
    7 days; with notify.bill_news_days = 8 it is still announced."""
    with at(date(2026, 10, 1)):
        _user, account, _meters = resident(db_session)
        factories.make_bills(db_session, account, ["100.00"], first=date(2026, 10, 1))
    with at(date(2026, 11, 9)):
        assert counts(reminders.plan(db_session, rule="bill_issued")) == {}
        settings.put(db_session, "notify.bill_news_days", 8)
        assert counts(reminders.plan(db_session, rule="bill_issued")) == {
            ("bill_issued", "email"): 1
        }
