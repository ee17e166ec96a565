"""One-click unsubscribe (issue #10; RFC 8058 and RFC 2369): every letter of an optional kind
carries a signed link naming the user and the kind, and the List-Unsubscribe headers; the
mail client's POST unsubscribes at once with no page; the browser's page confirms and undoes.
Mandatory notices (debt notice, restriction warning: ПП 354 п. 119) have neither."""

import re
from datetime import date
from urllib.parse import urlsplit

import pytest
from flask_babel import force_locale
from sqlalchemy import delete, select

from portal.models import Channel, NoticePreference, OutboxMessage
from portal.services import tokens
from portal.services.notify import dispatch_due, enqueue_email, preferences, unsubscribe
from tests import factories
from tests.conftest import mail_html, mail_text, page, post_form, sign_in_staff

BILL = {
    "number": "5200000001",
    "amount": 100,
    "due_on": date(2026, 11, 10),
    "period": date(2026, 10, 1),
    "bill_url": "http://portal.test/accounts/1/bills/2026-10",
}


@pytest.fixture(autouse=True)
def clean(db_session):
    db_session.execute(delete(OutboxMessage))
    db_session.flush()


def letter(session, user, kind="bill_issued", **context):
    return enqueue_email(
        session,
        kind=kind,
        recipient=user.email,
        subject="Your bill",
        context=BILL | context,
        dedup_key=f"{kind}:{user.id}",
        user_id=user.id,
    )


def unsubscribe_path(text: str) -> str:
    url = re.search(r"https?://\S*/unsubscribe/\S+", text).group(0)
    return urlsplit(url).path


def test_the_letter_arrives_with_the_headers_and_its_link(app, db_session, mailbox):
    user = factories.make_user(db_session, language="en")
    with app.test_request_context(), force_locale(user.language):  # as the planner does
        message = letter(db_session, user)
    db_session.commit()
    # Stored with a marker, never a working link: staff reading the outbox cannot use it.
    assert unsubscribe.MARK in message.body_text
    assert "/unsubscribe/" not in message.body_text + message.body_html
    assert dispatch_due(db_session) == 1
    (received,) = mailbox
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header_url = re.fullmatch(r"<(https?://[^>]+)>", received["List-Unsubscribe"]).group(1)
    path = urlsplit(header_url).path
    assert path == unsubscribe_path(mail_text(received))
    assert path in mail_html(received)
    assert "To stop letters of this kind:" in mail_text(received)
    token = path.rsplit("/", 1)[1]
    assert tokens.read_token("unsubscribe", token) == {"user": user.id, "kind": "bill_issued"}


def test_a_mandatory_notice_has_no_unsubscribe(app, db_session, mailbox):
    user = factories.make_user(db_session, language="en")
    account = factories.make_account(db_session)
    with app.test_request_context():
        enqueue_email(
            db_session,
            kind="debt_notice",
            recipient=user.email,
            subject="Debt",
            context={
                "account": account,
                "customer": account.customer,
                "amount": 10,
                "bills": [],
                "deadline": date(2026, 12, 1),
                "account_url": "http://portal.test/",
            },
            dedup_key="debt:1",
            user_id=user.id,
        )
        db_session.execute(
            OutboxMessage.__table__.update().values(scheduled_at=OutboxMessage.created_at)
        )
    db_session.commit()
    dispatch_due(db_session, now=None)
    (received,) = mailbox
    assert received["List-Unsubscribe"] is None
    assert "/unsubscribe/" not in mail_text(received)


def token_of(user, kind="bill_issued"):
    return unsubscribe.token_for(user.id, kind)


def test_one_click_post_unsubscribes_at_once_with_no_page_and_no_csrf(app, client, db_session):
    user = factories.make_user(db_session)
    with app.test_request_context():
        token = token_of(user)
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert preferences.channel_for(db_session, user.id, "bill_issued") is None
    # Repeated (a client retrying): the same answer, nothing else changes.
    assert (
        client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code
        == 204
    )
    assert preferences.channel_for(db_session, user.id, "window_opened") == Channel.EMAIL
    with app.test_request_context():
        assert letter(db_session, user) is None  # the next bill letter is not planned


def test_the_browser_page_confirms_then_offers_undo(app, client, db_session):
    user = factories.make_user(db_session, language="en")
    preferences.save(db_session, user, {"bill_issued": "sms"}, None)
    account = factories.make_account(db_session)
    factories.link(db_session, user, account)
    preferences.save(db_session, user, {"bill_issued": "email"}, account.id)
    db_session.commit()
    with app.test_request_context():
        token = token_of(user)
    with client.session_transaction() as flask_session:
        flask_session["language"] = "en"
    html = page(client.get(f"/unsubscribe/{token}"))
    assert "Stop letters “A new bill”?" in html, html[html.find("<h1") :][:300]
    # Opening the page changed nothing (mail scanners open links).
    assert preferences.channel_for(db_session, user.id, "bill_issued", account.id) == Channel.EMAIL
    response = client.post(f"/unsubscribe/{token}", data={})
    assert response.status_code == 303
    assert preferences.channel_for(db_session, user.id, "bill_issued", account.id) == Channel.SMS
    done = client.get(response.headers["Location"])
    undo = re.search(r'name="undo" value="([^"]+)"', page(done)).group(1)
    assert post_form(client, f"/unsubscribe/{token}/undo", {"undo": undo}).status_code == 303
    assert {
        (row.account_id, row.channel)
        for row in db_session.scalars(select(NoticePreference).filter_by(user_id=user.id))
    } == {(None, "sms"), (account.id, "email")}


def test_send_again_without_undo_and_undo_needs_csrf(app, client, db_session):
    user = factories.make_user(db_session)
    preferences.save(db_session, user, {"window_opened": "none"})
    db_session.commit()
    with app.test_request_context():
        token = token_of(user, "window_opened")
    assert client.post(f"/unsubscribe/{token}/undo", data={}).status_code == 400
    assert post_form(client, f"/unsubscribe/{token}/undo", {}).status_code == 303
    assert preferences.channel_for(db_session, user.id, "window_opened") == Channel.EMAIL


def test_forged_expired_mandatory_and_other_tokens_change_nothing(app, client, db_session):
    user = factories.make_user(db_session)
    with app.test_request_context():
        genuine = token_of(user)
        mandatory = tokens.make_token("unsubscribe", {"user": user.id, "kind": "debt_notice"})
        reset = tokens.make_token("reset", {"user": user.id, "kind": "bill_issued"})
    for token in (genuine[:-2] + "xx", mandatory, reset, "nonsense"):
        assert client.get(f"/unsubscribe/{token}").status_code == 404
        response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404
    assert db_session.scalars(select(NoticePreference).filter_by(user_id=user.id)).all() == []


def test_staff_see_what_the_link_is_not_the_link(app, db_session, client):
    user = factories.make_user(db_session, language="en")
    with app.test_request_context(), force_locale(user.language):  # as the planner does
        message = letter(db_session, user)
    db_session.commit()
    sign_in_staff(client, db_session, "supervisor", language="en")
    html = page(client.get(f"/admin/mailbox/{message.id}"))
    assert "To stop letters of this kind: [unsubscribe link]" in html
    assert "/unsubscribe/" not in html
