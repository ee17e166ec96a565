"""The mailbox: the outbox as staff see it, a letter's page, its HTML, sending again; secret
links hidden from staff everywhere but in the demo mailbox."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.formatting import as_datetime
from portal.models import AuditEvent, OutboxMessage
from portal.services import notify, tokens, users
from tests import factories
from tests.conftest import english_request, link_in, page, post_form, sign_in_staff

MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
DEMO_NOTE = "This is the demo mailbox"
HIDDEN_NOTE = "Secret links (password reset, e-mail confirmation, invitations) are hidden"
NO_BODY_NOTE = "Only supervisors and administrators read the text of a message"
LINK = re.compile(r"https?://\S+/password/reset/([A-Za-z0-9_.-]+)")


@pytest.fixture(autouse=True)
def outside_the_demo(app, monkeypatch):
    """Every test here runs as in production unless it asks for the demo mailbox."""
    monkeypatch.setitem(app.config, "DEMO_MODE", False)


@pytest.fixture
def demo_mailbox(app, monkeypatch):
    """`make run`: the demo, no mail server; letters stay in the mailbox, links work there."""
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "")


def add_message(db_session, **fields) -> OutboxMessage:
    tag = uuid.uuid4().hex[:10]
    values = {
        "kind": "confirm_email",
        "channel": "email",
        "recipient": f"{tag}@example.com",
        "subject": f"Confirm your e-mail {tag}",
        "body_text": "Hello!\nConfirm: https://portal.test/confirm/abc",
        "body_html": (
            '<!doctype html><html><head><meta charset="utf-8"><title>x</title></head>'
            '<body><a href="https://portal.test/confirm/abc">Confirm e-mail</a></body></html>'
        ),
        "dedup_key": f"test:{tag}",
        "status": "sent",
        "provider": "devmail",
        "attempts": 1,
    } | fields
    message = OutboxMessage(**values)
    db_session.add(message)
    db_session.flush()
    return message


def message_links(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/admin/mailbox/(\d+)"', html)]


def reset_letter(db_session, status: str = "sent") -> tuple[OutboxMessage, str, str]:
    """A password-reset letter as the portal writes it (sent to the dev mailbox), its link
    and the link's token."""
    user = factories.make_user(db_session)
    users.request_password_reset(db_session, user.email)
    notify.commit_and_send(db_session)
    message = db_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.user_id == user.id, OutboxMessage.kind == "reset_password"
        )
    )
    message.status = status
    db_session.flush()
    link = LINK.search(message.body_text)
    return message, link.group(0), link.group(1)


def hidden_reset_link(app, token: str) -> str:
    """What staff read instead of the link: its kind and until when it works."""
    with english_request(app):
        expiry = as_datetime(tokens.expires_at("reset", token))
    return f"[password reset link hidden; works until {expiry}]"


def test_the_list_shows_messages_newest_first_with_their_status(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    older = add_message(
        db_session, recipient=f"a{tag}@example.com", created_at=now - timedelta(hours=1)
    )
    failed = add_message(
        db_session,
        recipient=f"b{tag}@example.com",
        status="failed",
        attempts=5,
        last_error="Connection refused",
        provider=None,
        created_at=now,
    )
    html = client.get(f"/admin/mailbox?recipient={tag}").get_data(as_text=True)
    assert message_links(html) == [failed.id, older.id]
    assert "failed" in html
    assert "sent" in html
    assert "Connection refused" in html
    assert "devmail" in html
    assert "E-mail confirmation" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [("status=failed", ["failed"]), ("channel=sms", ["sms"]), ("status=sent", ["email"])],
)
def test_filters(client, db_session, query, expected):
    sign_in_staff(client, db_session, "operator", language="en")
    tag = uuid.uuid4().hex[:8]
    made = {
        "email": add_message(db_session, recipient=f"e{tag}@example.com"),
        "failed": add_message(db_session, recipient=f"f{tag}@example.com", status="failed"),
        "sms": add_message(
            db_session,
            kind="debt_notice",
            channel="sms",
            recipient=f"+79165{uuid.uuid4().int % 10**6:06d}",
            subject="",
            body_html=None,
            status="pending",
        ),
    }
    html = client.get(f"/admin/mailbox?{query}").get_data(as_text=True)
    links = message_links(html)
    for name, message in made.items():
        assert (message.id in links) == (name in expected), name


def test_same_url_gives_the_fragment_to_htmx(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    message = add_message(db_session)
    url = f"/admin/mailbox?recipient={message.recipient}"
    assert "<html" in client.get(url).get_data(as_text=True)
    fragment = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment
    assert message_links(fragment) == [message.id]


def test_a_letter_shows_its_text_and_html_in_a_sandboxed_frame(client, db_session, demo_mailbox):
    staff = sign_in_staff(client, db_session, "supervisor", language="en")
    message = add_message(db_session)
    html = client.get(f"/admin/mailbox/{message.id}").get_data(as_text=True)
    assert message.subject in html
    assert message.recipient in html
    assert "https://portal.test/confirm/abc" in html  # the text version
    frame = re.search(r"<iframe[^>]*>", html).group(0)
    assert 'class="mailbox-frame"' in frame
    assert (
        'sandbox="allow-popups allow-popups-to-escape-sandbox '
        'allow-top-navigation-by-user-activation"'
    ) in frame
    assert f'src="/admin/mailbox/{message.id}/html"' in frame
    db_session.expire_all()
    viewed = db_session.scalar(
        select(AuditEvent).where(AuditEvent.staff_id == staff.id, AuditEvent.action == "view")
    )
    assert (viewed.object_type, viewed.object_id) == ("outbox_message", message.id)


def test_the_html_of_a_letter_has_its_own_strict_policy_and_opens_links_on_top(
    client, db_session, demo_mailbox
):
    sign_in_staff(client, db_session, "supervisor", language="en")
    message = add_message(db_session)
    response = client.get(f"/admin/mailbox/{message.id}/html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == MAIL_CSP
    body = response.get_data(as_text=True)
    assert '<head><base target="_top">' in body
    assert 'href="https://portal.test/confirm/abc"' in body


def test_a_letter_without_a_head_still_gets_the_base(client, db_session):
    sign_in_staff(client, db_session, "supervisor", language="en")
    message = add_message(db_session, body_html="<p><a href='https://x.test'>x</a></p>")
    body = client.get(f"/admin/mailbox/{message.id}/html").get_data(as_text=True)
    assert body.startswith('<base target="_top">')


def test_an_sms_has_no_html(client, db_session, demo_mailbox):
    sign_in_staff(client, db_session, "supervisor", language="en")
    message = add_message(db_session, channel="sms", body_html=None, subject="")
    assert client.get(f"/admin/mailbox/{message.id}/html").status_code == 404
    html = client.get(f"/admin/mailbox/{message.id}").get_data(as_text=True)
    assert "<iframe" not in html
    assert "Confirm: https://portal.test/confirm/abc" in html


def test_retry_puts_a_failed_message_back_in_the_queue(client, db_session):
    staff = sign_in_staff(client, db_session, "supervisor", language="en")
    message = add_message(
        db_session,
        status="failed",
        attempts=5,
        last_error="boom",
        scheduled_at=datetime.now(UTC) - timedelta(days=1),
    )
    page = client.get(f"/admin/mailbox/{message.id}").get_data(as_text=True)
    assert f'action="/admin/mailbox/{message.id}/retry"' in page
    response = post_form(client, f"/admin/mailbox/{message.id}/retry", {})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/mailbox/{message.id}")
    db_session.expire_all()
    message = db_session.get(OutboxMessage, message.id)
    assert message.status == "pending"
    assert message.scheduled_at > datetime.now(UTC) - timedelta(minutes=1)
    update = db_session.scalar(
        select(AuditEvent).where(AuditEvent.staff_id == staff.id, AuditEvent.action == "update")
    )
    assert update.changes == {"status": ["failed", "pending"]}


def test_retry_of_a_sent_message_changes_nothing(client, db_session):
    sign_in_staff(client, db_session, "admin", language="en")
    message = add_message(db_session)
    response = post_form(client, f"/admin/mailbox/{message.id}/retry", {}, follow_redirects=True)
    assert "Only a message that failed can be sent again." in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(OutboxMessage, message.id).status == "sent"


def test_operators_see_no_retry_button(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    message = add_message(db_session, status="failed")
    assert "/retry" not in client.get(f"/admin/mailbox/{message.id}").get_data(as_text=True)


def test_unknown_message_is_404(client, db_session):
    sign_in_staff(client, db_session, "admin", language="en")
    for url in ("/admin/mailbox/999999", "/admin/mailbox/999999/html"):
        assert client.get(url).status_code == 404
    assert post_form(client, "/admin/mailbox/999999/retry", {}).status_code == 404


@pytest.mark.parametrize(
    "query",
    ["status=bogus", "channel=fax", "recipient=" + "x" * 5000, "page=abc", "page=-3", "page=1e9"],
)
def test_malformed_filters_never_fail(client, db_session, query):
    sign_in_staff(client, db_session, "operator", language="en")
    assert client.get(f"/admin/mailbox?{query}").status_code == 200
    assert client.get(f"/admin/mailbox?{query}", headers={"HX-Request": "true"}).status_code == 200


# --- secret links ---------------------------------------------------------------------------


def test_an_operator_sees_the_delivery_but_not_the_letter(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    message, _url, token = reset_letter(db_session)
    response = client.get(f"/admin/mailbox/{message.id}")
    text = page(response)
    assert response.status_code == 200
    assert token not in text
    assert message.recipient in text
    assert message.subject in text
    assert "Password reset" in text
    assert "sent" in text
    assert "devmail" in text
    assert "Someone asked to reset the password" not in text  # no body at all
    assert "<iframe" not in text
    assert NO_BODY_NOTE in text
    assert client.get(f"/admin/mailbox/{message.id}/html").status_code == 403
    listing = page(client.get(f"/admin/mailbox?recipient={message.recipient}"))
    assert message_links(listing) == [message.id]
    assert token not in listing


def test_an_operator_reads_no_sms_text_in_the_list(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    message = add_message(
        db_session,
        kind="debt_notice",
        channel="sms",
        subject="",
        body_text="Debt of 1 700,00 RUB on account 5200001234",
        body_html=None,
    )
    listing = page(client.get(f"/admin/mailbox?recipient={message.recipient}"))
    assert message_links(listing) == [message.id]
    assert "5200001234" not in listing
    assert "Debt notice" in listing
    assert "5200001234" not in page(client.get(f"/admin/mailbox/{message.id}"))


def test_the_list_shows_an_sms_with_its_links_hidden(app, client, db_session):
    sign_in_staff(client, db_session, "supervisor", language="en")
    token = tokens.make_token("reset", {"user": 1, "fp": "x"})
    message = add_message(
        db_session,
        channel="sms",
        subject="",
        body_text=f"Reset: https://portal.test/password/reset/{token}",
        body_html=None,
    )
    listing = page(client.get(f"/admin/mailbox?recipient={message.recipient}"))
    assert "Reset: [password reset link hidden" in listing
    assert token not in listing


@pytest.mark.parametrize("status", ["pending", "sent", "failed"])
@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_staff_who_read_letters_see_secret_links_hidden(app, client, db_session, role, status):
    sign_in_staff(client, db_session, role, language="en")
    message, _url, token = reset_letter(db_session, status=status)
    shown = page(client.get(f"/admin/mailbox/{message.id}"))
    assert token not in shown
    assert "Someone asked to reset the password" in shown
    assert hidden_reset_link(app, token) in shown
    assert HIDDEN_NOTE in shown
    assert DEMO_NOTE not in shown
    letter = page(client.get(f"/admin/mailbox/{message.id}/html"))
    assert token not in letter
    assert f'href="{hidden_reset_link(app, token)}"' in letter
    db_session.expire_all()
    stored = db_session.get(OutboxMessage, message.id)
    assert token in stored.body_text  # never sent through a real provider: kept to send it


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("Confirm: /confirm/{token}", "confirm"),
        ("Join: /organisations/invitations/{token}", "invite"),
    ],
)
def test_confirmation_and_invitation_links_are_hidden_too(client, db_session, body, kind):
    sign_in_staff(client, db_session, "admin", language="en")
    token = tokens.make_token(kind, {"user": 1})
    message = add_message(db_session, body_text=body.format(token=token), body_html=None)
    shown = page(client.get(f"/admin/mailbox/{message.id}"))
    assert token not in shown
    assert str(tokens.LINKS[kind].label) + " hidden; works until" in shown


def test_a_forged_link_is_hidden_too(client, db_session):
    sign_in_staff(client, db_session, "admin", language="en")
    message = add_message(db_session)  # https://portal.test/confirm/abc
    shown = page(client.get(f"/admin/mailbox/{message.id}"))
    assert "confirm/abc" not in shown
    assert "Confirm: [e-mail confirmation link hidden; expiry unknown]" in shown
    letter = page(client.get(f"/admin/mailbox/{message.id}/html"))
    assert "confirm/abc" not in letter


def test_after_delivery_through_smtp_only_the_recipient_holds_the_link(
    app, client, other_client, db_session, mailbox
):
    user = factories.make_user(db_session)
    with client.session_transaction() as session:
        session["language"] = "en"  # the letter, and so its stored copy, in English
    assert post_form(client, "/password/forgot", {"email": user.email}).status_code == 200
    [letter] = mailbox
    path = link_in(letter, "/password/reset/")
    token = path.rsplit("/", 1)[1]
    assert client.get(path).status_code == 200  # the letter's link works
    db_session.expire_all()
    stored = db_session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == user.id))
    assert (stored.status, stored.provider) == ("sent", "smtp")
    assert token not in stored.body_text
    assert token not in stored.body_html
    assert hidden_reset_link(app, token) in stored.body_text
    sign_in_staff(other_client, db_session, "admin", language="en")
    assert hidden_reset_link(app, token) in page(other_client.get(f"/admin/mailbox/{stored.id}"))


def test_the_demo_mailbox_keeps_links_clickable_and_says_so(
    client, other_client, db_session, demo_mailbox
):
    sign_in_staff(client, db_session, "admin", language="en")
    message, url, token = reset_letter(db_session)
    shown = page(client.get(f"/admin/mailbox/{message.id}"))
    assert url in shown
    assert DEMO_NOTE in shown
    assert HIDDEN_NOTE not in shown
    assert f'href="{url}"' in page(client.get(f"/admin/mailbox/{message.id}/html"))
    assert DEMO_NOTE in page(client.get("/admin/mailbox"))
    assert other_client.get(f"/password/reset/{token}").status_code == 200


def test_in_the_demo_an_operator_still_reads_no_letter(client, db_session, demo_mailbox):
    sign_in_staff(client, db_session, "operator", language="en")
    message, _url, token = reset_letter(db_session)
    shown = page(client.get(f"/admin/mailbox/{message.id}"))
    assert token not in shown
    assert NO_BODY_NOTE in shown
    assert client.get(f"/admin/mailbox/{message.id}/html").status_code == 403


def test_the_demo_with_a_mail_server_hides_links(app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.example.ru")
    sign_in_staff(client, db_session, "admin", language="en")
    message, _url, token = reset_letter(db_session)
    shown = page(client.get(f"/admin/mailbox/{message.id}"))
    assert token not in shown
    assert hidden_reset_link(app, token) in shown
    assert DEMO_NOTE not in shown
    assert DEMO_NOTE not in page(client.get("/admin/mailbox"))
