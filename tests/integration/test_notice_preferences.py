"""The customer's choice of notices (issue #10, "Customers"): per kind and channel, for all
accounts or one, for residents and organisation users; the debt notice and the restriction
warning cannot be turned off (ПП 354 п. 119: the supplier must notify), only their channel
chosen; defaults are settings; the planner and the outbox follow the choice."""

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import delete, select

from portal.models import (
    Bill,
    Channel,
    NoticePreference,
    OrganisationMember,
    OutboxMessage,
    Payment,
)
from portal.services import settings
from portal.services.notify import enqueue_email, preferences, reminders
from tests import factories
from tests.conftest import login_as, page, post_form


def at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 7, tzinfo=UTC), tick=False)


@pytest.fixture(autouse=True)
def clean(app, db_session):
    for model in (OutboxMessage, Bill, Payment):
        db_session.execute(delete(model))
    db_session.flush()


def billed_resident(session, **user_fields):
    """A user linked to an account with October's bill (issued 1 November)."""
    user = factories.make_user(session, language="en", **user_fields)
    account = factories.make_account(session)
    factories.link(session, user, account)
    factories.make_bills(session, account, ["100.00"], first=date(2026, 10, 1))
    return user, account


def planned(session, kind="bill_issued"):
    return sorted(
        (message.user_id, message.channel.value)
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind))
    )


def stored(session, user):
    return {
        (row.account_id, row.kind): row.channel
        for row in session.scalars(select(NoticePreference).filter_by(user_id=user.id))
    }


# --- the rule -----------------------------------------------------------------------------


def test_no_choice_means_the_preferred_channel_and_a_kind_off_by_default_is_not_sent(db_session):
    user = factories.make_user(db_session, preferred_channel=Channel.SMS)
    assert preferences.channel_for(db_session, user.id, "bill_issued") == Channel.SMS
    # "News of the supplier" is off by default (setting notify.default.news = 0).
    assert preferences.channel_for(db_session, user.id, "news") is None
    settings.put(db_session, "notify.default.news", 1)
    assert preferences.channel_for(db_session, user.id, "news") == Channel.SMS
    settings.put(db_session, "notify.default.bill_issued", 0)
    assert preferences.channel_for(db_session, user.id, "bill_issued") is None


def test_a_choice_for_one_account_comes_before_the_choice_for_all(db_session):
    user, account = billed_resident(db_session)
    other = factories.make_account(db_session)
    factories.link(db_session, user, other)
    preferences.save(db_session, user, {"bill_issued": "sms"})
    preferences.save(db_session, user, {"bill_issued": "none"}, account.id)
    assert preferences.channel_for(db_session, user.id, "bill_issued", account.id) is None
    assert preferences.channel_for(db_session, user.id, "bill_issued", other.id) == Channel.SMS
    preferences.save(db_session, user, {"bill_issued": "all"}, account.id)  # as for all again
    assert stored(db_session, user) == {(None, "bill_issued"): "sms"}


def test_mandatory_kinds_cannot_be_turned_off(db_session):
    user = factories.make_user(db_session)
    for kind in ("debt_notice", "restriction_warning"):
        with pytest.raises(preferences.DomainError):
            preferences.save(db_session, user, {kind: "none"})
    preferences.save(db_session, user, {"debt_notice": "sms"})
    assert preferences.channel_for(db_session, user.id, "debt_notice") == Channel.SMS
    # A "none" stored anyway (by hand, an old row) is ignored: the preferred channel.
    db_session.add(NoticePreference(user_id=user.id, kind="restriction_warning", channel="none"))
    db_session.flush()
    assert preferences.channel_for(db_session, user.id, "restriction_warning") == Channel.EMAIL


def test_planner_follows_the_choices_set_based(db_session):
    texter, _account = billed_resident(db_session)
    silent, _account = billed_resident(db_session)
    unchanged, _account = billed_resident(db_session)
    preferences.save(db_session, texter, {"bill_issued": "sms"})
    preferences.save(db_session, silent, {"bill_issued": "none"})
    with at(date(2026, 11, 1)):
        reminders.plan(db_session, rule="bill_issued")
    assert planned(db_session) == sorted([(texter.id, "sms"), (unchanged.id, "email")])


def test_planner_follows_the_default_setting(db_session):
    asked, _account = billed_resident(db_session)
    billed_resident(db_session)  # never chose: the default (now off) applies
    settings.put(db_session, "notify.default.bill_issued", 0)
    preferences.save(db_session, asked, {"bill_issued": "email"})
    with at(date(2026, 11, 1)):
        reminders.plan(db_session, rule="bill_issued")
    assert planned(db_session) == [(asked.id, "email")]


def test_organisation_users_are_told_about_their_contracts_accounts(db_session):
    owner = factories.make_user(db_session, language="en")
    accountant = factories.make_user(db_session, language="en", preferred_channel=Channel.SMS)
    organisation = factories.make_organisation(db_session, owner=owner)
    db_session.add(
        OrganisationMember(
            organisation_id=organisation.id, user_id=accountant.id, role="accountant"
        )
    )
    contract = factories.make_contract(db_session, organisation)
    account = factories.make_account(db_session, contract_id=contract.id)
    factories.make_bills(db_session, account, ["100.00"], first=date(2026, 10, 1))
    preferences.save(db_session, owner, {"bill_issued": "none"}, account.id)
    with at(date(2026, 11, 1)):
        reminders.plan(db_session, rule="bill_issued")
    assert planned(db_session) == [(accountant.id, "sms")]


def test_enqueue_follows_the_choice(app, db_session):
    user = factories.make_user(db_session)
    preferences.save(db_session, user, {"bill_issued": "none"})

    def letter(kind, key):
        return enqueue_email(
            db_session,
            kind=kind,
            recipient=user.email,
            subject="s",
            context={
                "number": "1",
                "amount": 1,
                "due_on": date(2026, 11, 10),
                "period": date(2026, 10, 1),
                "bill_url": "http://portal.test/",
            },
            dedup_key=key,
            user_id=user.id,
        )

    with app.test_request_context():
        assert letter("bill_issued", "a") is None
        preferences.save(db_session, user, {"bill_issued": "email"})
        assert letter("bill_issued", "b") is not None


# --- the page -----------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, db_session):
    user, account = billed_resident(db_session)
    login_as(client, user)
    return client, user, account


def test_profile_page_shows_every_kind_and_saves_a_choice(signed_in, db_session):
    client, user, account = signed_in
    html = page(client.get("/profile/"))
    assert "Which notices to send and how" in html
    assert 'name="bill_issued"' in html
    radios = re.findall(r'<input[^>]*name="debt_notice"[^>]*>', html)
    assert len(radios) == 2  # e-mail and SMS, no "do not send"
    assert not [tag for tag in radios if 'value="none"' in tag]
    assert f"Account {account.number}" in html
    choices = {choice.kind.name: choice.chosen for choice in preferences.choices(db_session, user)}
    response = post_form(
        client, "/profile/notices", choices | {"bill_issued": "sms", "news": "email"}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/profile/#notices")
    assert stored(db_session, user)[(None, "bill_issued")] == "sms"
    assert stored(db_session, user)[(None, "news")] == "email"


def test_one_accounts_choices_and_another_customers_account(signed_in, db_session, client):
    client, user, account = signed_in
    html = page(client.get(f"/profile/?account={account.id}"))
    assert 'value="all"' in html
    choices = {
        choice.kind.name: choice.chosen
        for choice in preferences.choices(db_session, user, account.id)
    }
    response = post_form(
        client, f"/profile/notices?account={account.id}", choices | {"window_opened": "none"}
    )
    assert response.status_code == 303
    assert stored(db_session, user) == {(account.id, "window_opened"): "none"}
    stranger = factories.make_account(db_session)
    assert client.get(f"/profile/?account={stranger.id}").status_code == 404
    assert post_form(client, f"/profile/notices?account={stranger.id}", choices).status_code == 404


def test_a_forged_off_for_a_mandatory_kind_is_refused_and_nothing_stored(signed_in, db_session):
    client, user, _account = signed_in
    choices = {choice.kind.name: choice.chosen for choice in preferences.choices(db_session, user)}
    response = post_form(
        client, "/profile/notices", choices | {"debt_notice": "none", "news": "sms"}
    )
    assert response.status_code == 200
    assert "is-invalid" in page(response)
    assert stored(db_session, user) == {}


def test_debt_notice_goes_by_the_channel_the_user_chose(app, db_session):
    """The notice is mandatory: a user who chose SMS for it gets an SMS, not nothing."""
    from portal.services import debt
    from portal.services.clock import local_today
    from portal.services.months import add_months, period_of

    user = factories.make_user(db_session, language="en", phone="+79161230000")
    customer = factories.make_customer(db_session, email=user.email)
    account = factories.make_account(db_session, customer)
    factories.link(db_session, user, account)
    first = add_months(period_of(local_today()), -8)
    factories.make_bills(db_session, account, ["1000.00", "700.00"], first=first)
    preferences.save(db_session, user, {"debt_notice": "sms"})
    with app.test_request_context():
        action = debt.record_action(
            db_session, account.id, "debt_notice", acted_on=local_today(), staff_id=None
        )
    (message,) = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "debt_notice")
    )
    assert (message.channel, message.recipient) == (Channel.SMS, "+79161230000")
    assert message.dedup_key == f"debt_notice:{action.id}:sms"
    assert message.body_text.startswith(f"Account {account.number}: debt 1,700.00")
