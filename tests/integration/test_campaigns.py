"""Mass mailings (issue #10, "Campaigns") and the outbox figures: recipients by segment and
by their choice of notices, counted before sending, planned as rows exactly once (a second
submit of the same form, a second run), sent by the dispatcher, paused, resumed, cancelled;
the progress page refreshes by htmx until done."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import delete, func, select

from portal.models import (
    Campaign,
    CampaignStatus,
    Channel,
    MessageStatus,
    OutboxMessage,
)
from portal.services import settings
from portal.services.notify import campaigns, dispatch_due, preferences
from tests import factories
from tests.conftest import field_error, page, post_form, sign_in_staff

STREET = "ул. Заводская"


@pytest.fixture(autouse=True)
def clean(db_session):
    db_session.execute(delete(OutboxMessage))
    db_session.execute(delete(Campaign))
    db_session.commit()


@pytest.fixture(autouse=True)
def any_hour(db_session):
    """No quiet hours (they have their own test below)."""
    settings.put(
        db_session, "notify.sms_quiet_until", settings.get(db_session, "notify.sms_quiet_from")
    )


def resident(session, address, **fields):
    user = factories.make_user(session, language="en", **fields)
    account = factories.make_account(session)
    account.premises.address = address
    factories.link(session, user, account)
    session.flush()
    return user


@pytest.fixture
def street(db_session):
    made = {
        "email": resident(db_session, f"г. Выкса, {STREET}, д. 1, кв. 1"),
        "sms": resident(
            db_session, f"г. Выкса, {STREET}, д. 3, кв. 7", preferred_channel=Channel.SMS
        ),
        "off": resident(db_session, f"г. Выкса, {STREET}, д. 5, кв. 2"),
        "elsewhere": resident(db_session, "г. Выкса, ул. Луговая, д. 2, кв. 4"),
    }
    preferences.save(db_session, made["off"], {"planned_outage": "none"})
    db_session.commit()
    return made


def start(session, staff, request_key="k1", **fields):
    values = {
        "kind": "planned_outage",
        "subject": "Отключение воды 5 декабря",
        "body": "5 декабря с 9:00 до 17:00 не будет холодной воды.\n\nПриносим извинения.",
        "sms_text": "5.12 с 9 до 17 не будет холодной воды.",
        "segment": campaigns.Segment(address="заводская"),
        "staff_id": staff.id,
        "request_key": request_key,
    } | fields
    return campaigns.start(session, **values)


def test_preview_counts_the_segment_by_channel_without_those_who_turned_it_off(db_session, street):
    counts = campaigns.preview(db_session, "planned_outage", campaigns.Segment(address="Заводская"))
    assert counts == {Channel.EMAIL: 1, Channel.SMS: 1}
    everyone = campaigns.preview(db_session, "planned_outage", campaigns.Segment())
    assert everyone[Channel.EMAIL] >= 2  # the other street too (and other tests' people)


def test_sending_plans_each_recipient_once_and_a_second_submit_is_the_same_campaign(
    app, db_session, street
):
    staff = factories.make_staff(db_session, role="supervisor")
    campaign = start(db_session, staff)
    db_session.commit()
    assert campaign.planned == 2
    again = start(db_session, staff)  # the same form sent twice
    assert again.id == campaign.id
    rows = db_session.scalars(select(OutboxMessage).filter_by(campaign_id=campaign.id)).all()
    assert sorted((row.user_id, row.channel.value) for row in rows) == sorted(
        [(street["email"].id, "email"), (street["sms"].id, "sms")]
    )
    letter = next(row for row in rows if row.channel == Channel.EMAIL)
    assert letter.kind == "planned_outage"
    assert letter.subject == "Отключение воды 5 декабря"
    assert "<p>5 декабря с 9:00 до 17:00 не будет холодной воды.</p>" in letter.body_html
    assert "%%unsubscribe%%" in letter.body_text  # an optional kind: the link goes in at sending
    assert dispatch_due(db_session) == 2
    progress = campaigns.progress(db_session, campaign)
    assert (progress.total, progress.sent, progress.finished, progress.percent) == (2, 2, True, 100)


def test_an_sms_of_a_mailing_waits_for_the_end_of_the_quiet_hours(db_session, street):
    settings.put(db_session, "notify.sms_quiet_from", 21)
    settings.put(db_session, "notify.sms_quiet_until", 9)
    staff = factories.make_staff(db_session, role="supervisor")
    # 23:00 in Moscow (20:00 UTC): the letter goes now, the SMS at 9:00 the next morning.
    with time_machine.travel(datetime(2026, 12, 3, 20, 0, tzinfo=UTC), tick=False):
        campaign = start(db_session, staff)
    rows = {
        row.channel: row
        for row in db_session.scalars(select(OutboxMessage).filter_by(campaign_id=campaign.id))
    }
    assert rows[Channel.EMAIL].scheduled_at == datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
    assert rows[Channel.SMS].scheduled_at == datetime(2026, 12, 4, 6, 0, tzinfo=UTC)


def test_pause_holds_resume_sends_cancel_cancels(db_session, street):
    staff = factories.make_staff(db_session, role="supervisor")
    campaign = start(db_session, staff)
    assert campaigns.move(db_session, campaign, "pause", staff.id) == 2
    db_session.commit()
    assert dispatch_due(db_session) == 0
    assert campaigns.progress(db_session, campaign).held == 2
    with pytest.raises(campaigns.DomainError):
        campaigns.move(db_session, campaign, "pause", staff.id)  # paused already
    assert campaigns.move(db_session, campaign, "resume", staff.id) == 2
    db_session.commit()
    sent = dispatch_due(db_session, limit=1)
    assert sent == 1
    assert campaigns.move(db_session, campaign, "cancel", staff.id) == 1
    db_session.commit()
    progress = campaigns.progress(db_session, campaign)
    assert (progress.sent, progress.cancelled, progress.finished) == (1, 1, True)
    assert campaign.status == CampaignStatus.CANCELLED


def test_the_texts_and_the_segment_are_checked(db_session):
    with pytest.raises(campaigns.FieldErrors) as refused:
        campaigns.check_texts("planned_outage", "", "text", "д" * 135)
    assert set(refused.value.errors) == {"subject", "sms_text"}
    assert campaigns.sms_length("д" * 134) == (134, 2, "UCS-2")
    assert campaigns.sms_length("a" * 161) == (161, 2, "GSM-7")
    with pytest.raises(campaigns.FieldErrors):
        campaigns.check_texts("debt_notice", "s", "b", "t")  # not a mailing's kind
    with pytest.raises(campaigns.FieldErrors):
        campaigns.clean_segment({"debt_above": "-5"})


# --- the pages -----------------------------------------------------------------------------


FORM = {
    "kind": "planned_outage",
    "subject": "Отключение воды",
    "body": "Завтра не будет воды.",
    "sms_text": "Завтра не будет воды.",
    "address": "Заводская",
    "request_key": "form-1",
}


def test_staff_preview_send_and_watch_the_progress(client, db_session, street):
    sign_in_staff(client, db_session, "supervisor", language="en")
    assert "New mailing" in page(client.get("/admin/campaigns"))
    preview = post_form(client, "/admin/campaigns/new", FORM | {"action": "preview"})
    html = page(preview)
    assert "2 recipients" in html
    assert "SMS length: 21 characters, segments: 1 (UCS-2)." in html
    assert db_session.scalar(select(func.count(Campaign.id))) == 0  # a preview sends nothing
    sent = post_form(client, "/admin/campaigns/new", FORM | {"action": "send"})
    assert sent.status_code == 303
    again = post_form(client, "/admin/campaigns/new", FORM | {"action": "send"})
    assert again.headers["Location"] == sent.headers["Location"]  # one campaign
    url = sent.headers["Location"]
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 2s"' in page(fragment)
    assert "<h1" not in page(fragment)
    dispatch_due(db_session)
    done = page(client.get(url, headers={"HX-Request": "true"}))
    assert "every 2s" not in done
    assert "2 of 2 handled: 2 sent, 0 failed, 0 waiting." in done


def test_a_refused_form_keeps_what_was_typed(client, db_session):
    sign_in_staff(client, db_session, "supervisor", language="en")
    response = post_form(
        client, "/admin/campaigns/new", FORM | {"sms_text": "д" * 150, "action": "send"}
    )
    assert response.status_code == 200
    assert "two segments" in field_error(response, "sms_text")
    assert "Отключение воды" in page(response)
    assert db_session.scalar(select(func.count(Campaign.id))) == 0


def test_an_unknown_action_or_mailing_is_a_404(client, db_session, street):
    staff = sign_in_staff(client, db_session, "supervisor", language="en")
    campaign = start(db_session, staff)
    db_session.commit()
    assert post_form(client, f"/admin/campaigns/{campaign.id}/explode", {}).status_code == 404
    assert post_form(client, "/admin/campaigns/999999/pause", {}).status_code == 404
    assert client.get("/admin/campaigns/999999").status_code == 404
    assert post_form(client, f"/admin/campaigns/{campaign.id}/pause", {}).status_code == 303
    assert campaign.status == CampaignStatus.PAUSED


def test_operators_may_not_send_mailings(client, db_session):
    sign_in_staff(client, db_session, "operator")
    assert client.get("/admin/campaigns").status_code == 403
    assert post_form(client, "/admin/campaigns/new", FORM | {"action": "send"}).status_code == 403


def test_figures_by_day_kind_and_channel(client, db_session):
    """Moscow days: 22:00 UTC on 1 December is 2 December at 01:00."""

    def message(key, at, status, kind="bill_issued", channel=Channel.EMAIL):
        db_session.add(
            OutboxMessage(
                kind=kind,
                channel=channel,
                recipient="r",
                body_text="t",
                dedup_key=key,
                status=status,
                created_at=at,
                scheduled_at=at,
            )
        )

    first = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    late = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    message("a", first, MessageStatus.SENT)
    message("b", first, MessageStatus.FAILED)
    message("c", first, MessageStatus.DELIVERED, channel=Channel.SMS)
    message("d", late, MessageStatus.PENDING)
    db_session.commit()
    from portal.services.notify.mailbox import figures

    rows = figures(db_session, date(2026, 12, 1), date(2026, 12, 2))
    found = {(row["day"], row["kind"], row["channel"].value): row for row in rows}
    email = found[(date(2026, 12, 1), "bill_issued", "email")]
    assert (email["planned"], email["sent"], email["failed"]) == (2, 1, 1)
    sms = found[(date(2026, 12, 1), "bill_issued", "sms")]
    assert (sms["sent"], sms["delivered"]) == (1, 1)
    assert found[(date(2026, 12, 2), "bill_issued", "email")]["waiting"] == 1
    sign_in_staff(client, db_session, "operator", language="en")
    html = page(client.get("/admin/mailbox/figures?first=2026-12-01&last=2026-12-02"))
    assert "Mailbox figures" in html
    assert "Bill issued" in html
    assert client.get("/admin/mailbox/figures?first=garbage").status_code == 200
    assert timedelta(days=1)
