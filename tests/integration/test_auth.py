"""Sign-up, e-mail confirmation, sign-in and out, sessions and password reset, through the
Flask test client with CSRF on, a real database and a real SMTP server."""

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from portal.models import Consent, User, utcnow
from portal.services.tokens import make_token
from tests import factories
from tests.conftest import (
    csrf_token,
    field_error,
    field_value,
    form_alert,
    link_in,
    login_as,
    mail_html,
    mail_text,
    page,
    post_form,
    sign_in,
    strip_token,
    translated,
)

SIGNUP = {
    "full_name": "Смирнова Ольга Петровна",
    "email": "olga@example.ru",
    "phone": "8 (916) 123-45-67",
    "password": "svetlyi-den-42",
    "password_again": "svetlyi-den-42",
    "consent": "y",
}


def signup(client, **changes):
    data = {key: value for key, value in (SIGNUP | changes).items() if value is not None}
    return post_form(client, "/signup", data)


def users_with_email(session, email: str) -> list[User]:
    return list(session.scalars(select(User).where(func.lower(User.email) == email.lower())))


def signed_in(client) -> bool:
    """A page for signed-in users answers 200; for visitors it redirects to sign-in."""
    return client.get("/accounts/").status_code == 200


def set_cookies(response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0]
        cookies[name] = header
    return cookies


def remember_cookie(client):
    return client.get_cookie("remember_token", domain="portal.test")


class ClockAhead:
    """Moves every clock (signed tokens and cookies, sessions on the server) ``delta`` ahead
    of the real time, with time-machine, without sleeping."""

    def __init__(self):
        self.traveller = None

    def by(self, delta: timedelta) -> None:
        self.stop()
        self.traveller = time_machine.travel(datetime.now(UTC) + delta)
        self.traveller.start()

    def stop(self) -> None:
        if self.traveller is not None:
            self.traveller.stop()
            self.traveller = None


@pytest.fixture
def clock():
    ahead = ClockAhead()
    yield ahead
    ahead.stop()


# --- Sign-up -------------------------------------------------------------------------


def test_signup_page_renders_form(client):
    response = client.get("/signup")
    assert response.status_code == 200
    for field in ("full_name", "email", "phone", "password", "password_again", "consent"):
        assert f'name="{field}"' in response.get_data(as_text=True)


def test_signup_creates_unconfirmed_user_with_consent_and_mails_a_working_link(
    app, client, db_session, mailbox
):
    before = utcnow()
    response = signup(client)

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/signup/check-email")
    [user] = users_with_email(db_session, "olga@example.ru")
    assert user.email_confirmed_at is None
    assert user.phone == "+79161234567"
    assert user.full_name == "Смирнова Ольга Петровна"
    assert user.check_password("svetlyi-den-42")
    [consent] = db_session.scalars(select(Consent).where(Consent.user_id == user.id)).all()
    assert consent.text_version == app.config["CONSENT_TEXT_VERSION"]
    assert before - timedelta(seconds=1) <= consent.given_at <= utcnow()
    assert consent.ip_address == "127.0.0.1"
    assert consent.withdrawn_at is None

    check = client.get("/signup/check-email")
    assert "olga@example.ru" in page(check)

    [letter] = mailbox
    assert letter["To"] == "olga@example.ru"
    assert "Смирнова Ольга Петровна" in mail_text(letter)
    confirm_path = link_in(letter, "/confirm/")
    assert confirm_path in mail_html(letter)

    confirmed = client.get(confirm_path)
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"].endswith("/accounts/link")
    db_session.refresh(user)
    assert user.email_confirmed_at is not None
    assert signed_in(client)  # following the link signs the new user in


def test_signup_sends_mail_through_smtp_not_the_dev_outbox(client, db_session, mailbox):
    from portal.models import OutboxMessage

    signup(client)
    message = db_session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "confirm_email"))
    assert message.status == "sent"
    assert message.provider == "smtp"
    assert len(mailbox) == 1
    assert mailbox[0]["X-Portal-Message"] == str(message.id)


def test_a_confirmation_link_reused_in_a_fresh_browser_signs_nobody_in(
    app, client, db_session, mailbox
):
    signup(client)
    path = link_in(mailbox[0], "/confirm/")
    assert client.get(path).status_code == 303
    assert signed_in(client)  # the browser that signed up, the first time

    for browser in (app.test_client(), app.test_client()):  # forwarded, scanned, history
        reused = browser.get(path)
        assert reused.status_code == 303
        assert reused.headers["Location"].startswith("/login")
        assert not signed_in(browser)
        assert translated(
            app, "This confirmation link has been used already: your e-mail is confirmed. Sign in."
        ) in page(browser.get("/login"))


def test_a_confirmation_link_opened_first_in_another_browser_confirms_but_signs_nobody_in(
    app, client, db_session, mailbox
):
    signup(client)
    path = link_in(mailbox[0], "/confirm/")
    elsewhere = app.test_client()
    opened = elsewhere.get(path)
    assert opened.status_code == 303
    assert opened.headers["Location"].startswith("/login")
    assert users_with_email(db_session, SIGNUP["email"])[0].is_confirmed
    assert not signed_in(elsewhere)
    # the browser that signed up is not signed in by a link already used either
    assert client.get(path).headers["Location"].startswith("/login")
    assert not signed_in(client)


def test_a_confirmation_link_signs_nobody_in_after_a_password_change(
    app, client, db_session, mailbox
):
    signup(client)
    path = link_in(mailbox[0], "/confirm/")
    client.get(path)
    post_form(
        client,
        "/profile/password",
        {
            "current_password": SIGNUP["password"],
            "password": "Novyi-parol-77",
            "password_again": "Novyi-parol-77",
        },
    )
    post_form(client, "/logout", {})
    assert client.get(path).status_code == 303
    assert not signed_in(client)


def test_confirmation_link_works_twice_without_harm(client, db_session, mailbox):
    signup(client)
    path = link_in(mailbox[0], "/confirm/")
    assert client.get(path).status_code == 303
    first = users_with_email(db_session, "olga@example.ru")[0].email_confirmed_at
    assert client.get(path).status_code == 303
    assert users_with_email(db_session, "olga@example.ru")[0].email_confirmed_at == first


@pytest.mark.parametrize(
    "raw",
    ["8 (916) 123-45-67", "+7 916 1234567", "89161234567", "+7(916)123-45-67", "9161234567"],
)
def test_signup_normalises_phone_to_e164(client, db_session, raw):
    response = signup(client, phone=raw)
    assert response.status_code == 303
    assert users_with_email(db_session, SIGNUP["email"])[0].phone == "+79161234567"


def assert_rerendered(response, field: str, db_session, keep=("full_name", "email", "phone")):
    """The form is shown again with an error next to ``field``, typed values kept, no user."""
    assert response.status_code == 200
    assert field_error(response, field), f"no error next to {field}"
    assert f'id="{field}"' in response.get_data(as_text=True)
    assert "is-invalid" in response.get_data(as_text=True)
    assert not users_with_email(db_session, SIGNUP["email"])
    body = response.get_data(as_text=True)
    assert SIGNUP["password"] not in body  # passwords are never sent back
    return {name: field_value(response, name) for name in keep}


def test_signup_with_invalid_phone_keeps_typed_values(client, db_session):
    response = signup(client, phone="12-34")
    kept = assert_rerendered(response, "phone", db_session)
    assert kept == {"full_name": SIGNUP["full_name"], "email": SIGNUP["email"], "phone": "12-34"}
    assert not field_value(response, "password")
    assert not field_value(response, "password_again")


def test_signup_refuses_a_landline_number(client, db_session):
    assert_rerendered(signup(client, phone="+7 495 123-45-67"), "phone", db_session)


@pytest.mark.parametrize("weak", ["12345678", "abcdefghij", "Пароль-без-цифр"])
def test_signup_with_weak_password(client, db_session, weak):
    response = signup(client, password=weak, password_again=weak)
    kept = assert_rerendered(response, "password", db_session)
    assert kept["email"] == SIGNUP["email"]
    assert weak not in response.get_data(as_text=True)


def test_signup_with_short_password(client, db_session):
    response = signup(client, password="ab1", password_again="ab1")
    assert_rerendered(response, "password", db_session)


def test_signup_with_mismatched_passwords(client, db_session):
    response = signup(client, password_again="svetlyi-den-43")
    assert_rerendered(response, "password_again", db_session)


def test_signup_without_consent(client, db_session):
    response = signup(client, consent=None)
    kept = assert_rerendered(response, "consent", db_session)
    assert kept["full_name"] == SIGNUP["full_name"]


def test_signup_with_empty_fields(client, db_session):
    response = post_form(client, "/signup", {})
    assert response.status_code == 200
    for field in ("full_name", "email", "phone", "password", "password_again", "consent"):
        assert field_error(response, field), field
    assert db_session.scalar(select(func.count(User.id))) == 0


def test_signup_with_blank_name(client, db_session):
    assert_rerendered(signup(client, full_name="    "), "full_name", db_session)


def test_signup_with_5000_character_name(client, db_session):
    response = signup(client, full_name="Я" * 5000)
    kept = assert_rerendered(response, "full_name", db_session)
    assert kept["email"] == SIGNUP["email"]


@pytest.mark.parametrize("name", ["Иван 😀 Петров", "Иван\x00Петров", "Иван\u202eПетров"])
def test_signup_refuses_emoji_and_control_characters_in_the_name(client, db_session, name):
    response = signup(client, full_name=name)
    kept = assert_rerendered(response, "full_name", db_session)
    assert kept["email"] == SIGNUP["email"]


def test_signup_accepts_names_of_real_people(client, db_session):
    response = signup(client, full_name="  Мария-Луиза  д’Артаньян-Петрова  ")
    assert response.status_code == 303
    assert users_with_email(db_session, SIGNUP["email"])[0].full_name == (
        "Мария-Луиза д’Артаньян-Петрова"
    )


def test_signup_with_urlencoded_bytes_that_are_not_utf8(client, db_session):
    body = (
        f"csrf_token={csrf_token(client)}&full_name=%D0%98%D0%B2%D0%B0%D0%BD&email=olga%40example.ru"
        "&phone=%C0%AF%FF&password=svetlyi-den-42&password_again=svetlyi-den-42&consent=y"
    )
    response = client.post("/signup", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert field_error(response, "phone")
    assert field_value(response, "full_name") == "Иван"
    assert field_value(response, "email") == "olga@example.ru"
    assert not users_with_email(db_session, "olga@example.ru")


def test_signup_with_multipart_bytes_that_are_not_utf8(client, db_session):
    boundary = "XyZ"
    fields = {
        "csrf_token": csrf_token(client).encode(),
        "full_name": b"\xff\xfe\xc0\xaf",
        "email": b"olga@example.ru",
        "phone": b"8 916 123 45 67",
        "password": b"svetlyi-den-42",
        "password_again": b"svetlyi-den-42",
        "consent": b"y",
    }
    body = (
        b"".join(
            b'--XyZ\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
            % (name.encode(), value)
            for name, value in fields.items()
        )
        + b"--XyZ--\r\n"
    )
    response = client.post(
        "/signup", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200
    assert field_error(response, "full_name")
    assert field_value(response, "phone") == "8 916 123 45 67"
    assert not users_with_email(db_session, "olga@example.ru")


def test_signup_with_emoji_email_or_phone(client, db_session):
    response = signup(client, email="😀@example.ru", phone="☎ 916 123 45 67")
    assert response.status_code == 200
    assert field_error(response, "email")
    assert field_error(response, "phone")
    assert db_session.scalar(select(func.count(User.id))) == 0


def test_signup_with_existing_email_looks_the_same_and_warns_the_owner(
    client, other_client, db_session, mailbox
):
    owner = factories.make_user(db_session, email="olga@example.ru", full_name="Ольга")

    first = signup(other_client, email="someone@example.ru")
    fresh_page = other_client.get(first.headers["Location"])
    mailbox.clear()

    response = signup(client, email="OLGA@example.ru")
    assert response.status_code == first.status_code == 303
    assert response.headers["Location"] == first.headers["Location"]
    existing_page = client.get(response.headers["Location"])
    assert strip_token(page(existing_page)).replace("olga@example.ru", "X") == strip_token(
        page(fresh_page)
    ).replace("someone@example.ru", "X")

    assert [u.id for u in users_with_email(db_session, "olga@example.ru")] == [owner.id]
    [letter] = mailbox
    assert letter["To"] == "olga@example.ru"
    assert "/confirm/" not in mail_text(letter)
    assert "/login" in mail_text(letter)


def test_double_submit_creates_one_user(client, db_session, mailbox):
    assert signup(client).status_code == 303
    assert signup(client).status_code == 303
    assert len(users_with_email(db_session, SIGNUP["email"])) == 1
    assert db_session.scalar(select(func.count(Consent.id))) == 1


def test_signed_in_user_is_sent_home_from_signup(client, db_session):
    user = factories.make_user(db_session)
    login_as(client, user)
    assert client.get("/signup").status_code == 302


# --- Confirmation links ---------------------------------------------------------------


def confirm_token(app, user, **payload):
    with app.test_request_context():
        return make_token("confirm", {"user": user.id, "email": user.email} | payload)


def test_expired_confirmation_link(app, client, db_session, clock):
    user = factories.make_user(db_session, email_confirmed_at=None)
    token = confirm_token(app, user)
    clock.by(timedelta(hours=app.config["LINK_LIFETIME_HOURS"]["confirm"], minutes=1))
    response = client.get(f"/confirm/{token}")
    assert response.status_code == 400
    assert translated(app, "The confirmation link is invalid or has expired.") in page(response)
    assert 'href="/password/forgot"' not in response.get_data(as_text=True)  # not a reset link
    db_session.refresh(user)
    assert user.email_confirmed_at is None


@pytest.mark.parametrize("mangle", ["tamper", "forge", "garbage", "other-purpose"])
def test_bad_confirmation_links(app, client, db_session, mangle):
    user = factories.make_user(db_session, email_confirmed_at=None)
    token = confirm_token(app, user)
    if mangle == "tamper":
        token = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    elif mangle == "forge":
        token = URLSafeTimedSerializer("guessed-key", salt="portal.confirm").dumps(
            {"user": user.id, "email": user.email}
        )
    elif mangle == "garbage":
        token = "not-a-token"
    else:
        with app.test_request_context():
            token = make_token("reset", {"user": user.id, "email": user.email})
    response = client.get(f"/confirm/{token}")
    assert response.status_code == 400
    assert translated(app, "The confirmation link is invalid or has expired.") in page(response)
    db_session.refresh(user)
    assert user.email_confirmed_at is None
    assert not signed_in(client)


def test_confirmation_link_for_a_changed_address_is_invalid(app, client, db_session):
    user = factories.make_user(db_session, email_confirmed_at=None)
    token = confirm_token(app, user, email="old@example.ru")
    assert client.get(f"/confirm/{token}").status_code == 400


def test_resend_confirmation(client, db_session, mailbox):
    user = factories.make_user(db_session, email_confirmed_at=None)
    login_as(client, user)
    response = post_form(client, "/confirm/resend", {})
    assert response.status_code == 303
    [letter] = mailbox
    assert letter["To"] == user.email
    assert client.get(link_in(letter, "/confirm/")).status_code == 303
    db_session.refresh(user)
    assert user.is_confirmed


# --- Sign-in ---------------------------------------------------------------------------


def test_wrong_password_and_unknown_email_give_the_same_answer(client, db_session):
    user = factories.make_user(db_session)
    wrong = sign_in(client, user.email, "wrong-pass-1")
    unknown = sign_in(client, "nobody@example.ru", "wrong-pass-1")
    assert wrong.status_code == unknown.status_code == 200
    assert form_alert(wrong)
    assert form_alert(wrong) == form_alert(unknown)
    assert field_error(wrong, "email") is None
    assert field_error(unknown, "email") is None
    assert field_error(wrong, "password") is None
    assert not signed_in(client)


def test_sign_in_and_home_redirect(client, db_session):
    user = factories.make_user(db_session)
    response = sign_in(client, user.email.upper(), factories.PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert signed_in(client)
    db_session.refresh(user)
    assert user.last_login_at is not None


def test_session_cookie_is_httponly_and_lax(client, db_session):
    user = factories.make_user(db_session)
    response = login_as(client, user)
    cookie = set_cookies(response)["session"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_remember_me_sets_a_remember_cookie(client, db_session):
    user = factories.make_user(db_session)
    response = sign_in(client, user.email, factories.PASSWORD, remember="y")
    assert response.status_code == 303
    cookie = set_cookies(response)["remember_token"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert remember_cookie(client) is not None


def test_without_remember_me_there_is_no_remember_cookie(client, db_session):
    user = factories.make_user(db_session)
    response = login_as(client, user)
    assert "remember_token" not in set_cookies(response)
    assert remember_cookie(client) is None


def test_session_cookie_expires_after_the_idle_time(app, client, db_session):
    user = factories.make_user(db_session)
    response = login_as(client, user)
    morsel = SimpleCookie(set_cookies(response)["session"])["session"]
    from email.utils import parsedate_to_datetime

    expires = parsedate_to_datetime(morsel["expires"])
    lifetime = app.config["PERMANENT_SESSION_LIFETIME"]
    assert abs((expires - utcnow()) - lifetime) < timedelta(minutes=1)


def test_session_ends_after_inactivity_unless_remembered(
    app, client, other_client, db_session, clock
):
    user = factories.make_user(db_session)
    login_as(client, user)
    sign_in(other_client, user.email, factories.PASSWORD, remember="y")
    assert signed_in(client)
    assert signed_in(other_client)

    clock.by(app.config["PERMANENT_SESSION_LIFETIME"] - timedelta(minutes=1))
    assert signed_in(client)  # activity keeps the session alive

    clock.by(app.config["PERMANENT_SESSION_LIFETIME"] * 2 + timedelta(minutes=1))
    assert not signed_in(client)
    assert signed_in(other_client)  # "remember me" signs the user in again


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/accounts/", "/accounts/"),
        ("/profile/?tab=1", "/profile/?tab=1"),
        ("//evil.com", "/"),
        ("//evil.com/accounts", "/"),
        ("https://evil.com", "/"),
        ("http://portal.test.evil.com/", "/"),
        ("/\\evil.com", "/"),
        ("\\\\evil.com", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t/evil.com", "/"),
        ("", "/"),
    ],
)
def test_next_only_follows_local_paths(client, db_session, next_url, expected):
    user = factories.make_user(db_session)
    response = client.post(
        "/login",
        query_string={"next": next_url},
        data={
            "csrf_token": csrf_token(client),
            "email": user.email,
            "password": factories.PASSWORD,
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_next_is_kept_in_the_login_form(client):
    response = client.get("/login?next=/profile/")
    assert 'action="/login?next=/profile/"' in response.get_data(as_text=True)


def test_protected_page_sends_visitor_to_login_and_back(client, db_session):
    user = factories.make_user(db_session)
    response = client.get("/profile/")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]
    login_url = response.headers["Location"].replace("http://portal.test", "")
    signed = client.post(
        login_url,
        data={
            "csrf_token": csrf_token(client),
            "email": user.email,
            "password": factories.PASSWORD,
        },
    )
    assert signed.headers["Location"].startswith("/profile/")


def test_sign_out_needs_post(client, db_session):
    user = factories.make_user(db_session)
    login_as(client, user)
    assert client.get("/logout").status_code == 405
    assert signed_in(client)


def test_sign_out_needs_csrf(client, db_session):
    user = factories.make_user(db_session)
    login_as(client, user)
    response = client.post("/logout")
    assert response.status_code == 400
    assert signed_in(client)


def test_sign_out(client, db_session):
    user = factories.make_user(db_session)
    login_as(client, user)
    response = post_form(client, "/logout", {})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login")
    assert not signed_in(client)


def test_sign_out_forgets_remember_me(client, db_session):
    user = factories.make_user(db_session)
    sign_in(client, user.email, factories.PASSWORD, remember="y")
    assert remember_cookie(client) is not None
    post_form(client, "/logout", {})
    assert remember_cookie(client) is None
    assert not signed_in(client)


def test_staff_cannot_sign_in_on_the_portal_form(client, db_session):
    staff = factories.make_staff(db_session)
    response = sign_in(client, staff.email, factories.PASSWORD)
    assert response.status_code == 200
    assert form_alert(response)
    assert client.get("/admin/").status_code == 302  # not signed in as staff either


def test_resident_cannot_sign_in_on_the_staff_form(client, db_session):
    user = factories.make_user(db_session)
    response = sign_in(client, user.email, factories.PASSWORD, staff=True)
    assert response.status_code == 200
    assert not signed_in(client)


def test_staff_session_does_not_open_resident_pages(client, db_session):
    staff = factories.make_staff(db_session)
    login_as(client, staff, staff=True)
    assert client.get("/accounts/").status_code == 403
    assert client.get("/").status_code == 302


def test_sign_in_with_empty_fields(client):
    response = post_form(client, "/login", {})
    assert response.status_code == 200
    assert field_error(response, "email")
    assert field_error(response, "password")


# --- Password reset -------------------------------------------------------------------


def forgot(client, email: str):
    return post_form(client, "/password/forgot", {"email": email})


def test_password_reset_mail_and_link_work_once(app, client, db_session, mailbox):
    user = factories.make_user(db_session)
    response = forgot(client, user.email)
    assert response.status_code == 200
    [letter] = mailbox
    assert letter["To"] == user.email
    path = link_in(letter, "/password/reset/")

    assert client.get(path).status_code == 200
    done = post_form(client, path, {"password": "novyi-parol-7", "password_again": "novyi-parol-7"})
    assert done.status_code == 303
    assert done.headers["Location"].endswith("/login")
    assert sign_in(client, user.email, "novyi-parol-7").status_code == 303

    again = client.get(path)
    assert again.status_code == 400
    message = translated(app, "The password reset link is invalid, expired or already used.")
    assert message in page(again)
    assert 'href="/password/forgot"' in again.get_data(as_text=True)  # ask for a new one
    replay = post_form(
        client, path, {"password": "drugoi-parol-8", "password_again": "drugoi-parol-8"}
    )
    assert replay.status_code == 400
    db_session.refresh(user)
    assert user.check_password("novyi-parol-7")


def test_password_reset_link_expires(app, client, db_session, mailbox, clock):
    user = factories.make_user(db_session)
    forgot(client, user.email)
    path = link_in(mailbox[0], "/password/reset/")
    clock.by(timedelta(hours=2, minutes=1))
    assert client.get(path).status_code == 400


def test_password_reset_for_unknown_email_looks_the_same_and_sends_nothing(
    client, other_client, db_session, mailbox
):
    user = factories.make_user(db_session, email="known@example.ru")
    known = forgot(client, user.email)
    unknown = forgot(other_client, "unknown@example.ru")
    assert known.status_code == unknown.status_code == 200
    assert strip_token(page(known)).replace("known@example.ru", "X") == strip_token(
        page(unknown)
    ).replace("unknown@example.ru", "X")
    assert [letter["To"] for letter in mailbox] == ["known@example.ru"]


def test_password_reset_with_weak_password_rerenders(client, db_session, mailbox):
    user = factories.make_user(db_session)
    forgot(client, user.email)
    path = link_in(mailbox[0], "/password/reset/")
    response = post_form(client, path, {"password": "abcdefghij", "password_again": "abcdefghij"})
    assert response.status_code == 200
    assert field_error(response, "password")
    mismatch = post_form(client, path, {"password": "novyi-parol-7", "password_again": "x"})
    assert field_error(mismatch, "password_again")
    db_session.refresh(user)
    assert user.check_password(factories.PASSWORD)
    # the link still works after a refused attempt
    assert (
        post_form(
            client, path, {"password": "novyi-parol-7", "password_again": "novyi-parol-7"}
        ).status_code
        == 303
    )


def test_password_reset_forgets_failed_sign_ins_and_confirms(app, client, db_session, mailbox):
    user = factories.make_user(db_session, email_confirmed_at=None)
    for _ in range(app.config["LOGIN_FREE_FAILURES"]):
        sign_in(client, user.email, "wrong-pass-1")
    assert not signed_in(client)
    forgot(client, user.email)
    path = link_in(mailbox[0], "/password/reset/")
    post_form(client, path, {"password": "novyi-parol-7", "password_again": "novyi-parol-7"})
    db_session.refresh(user)
    assert user.is_confirmed
    # the throttle of this browser is gone with the failures: no wait before signing in
    assert sign_in(client, user.email, "novyi-parol-7").status_code == 303


@pytest.mark.parametrize("token", ["garbage", "a" * 3000, "..", "%00"])
def test_bad_reset_links(client, token):
    assert client.get(f"/password/reset/{token}").status_code in (400, 404)


def test_forgot_password_with_invalid_email(client, mailbox):
    response = forgot(client, "not an e-mail")
    assert response.status_code == 200
    assert field_error(response, "email")
    assert field_value(response, "email") == "not an e-mail"
    assert mailbox == []


# --- Language ----------------------------------------------------------------------------


def test_visitor_can_switch_language(client):
    assert '<html lang="ru">' in client.get("/").get_data(as_text=True)
    response = post_form(client, "/language/en", {}, query_string={"next": "/privacy"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/privacy"
    assert '<html lang="en">' in client.get("/privacy").get_data(as_text=True)


def test_unknown_language_is_ignored(client):
    post_form(client, "/language/xx", {})
    assert '<html lang="ru">' in client.get("/").get_data(as_text=True)
