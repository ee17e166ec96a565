"""Sessions live on the server: signing out, a password change or reset, an administrator's
reset and the absolute lifetime end them for good, whatever copies of the cookies exist."""

from datetime import timedelta

from sqlalchemy import select

from portal.models import SignInSession, utcnow
from tests import factories
from tests.conftest import link_in, login_as, page, post_form, sign_in, translated

DOMAIN = "portal.test"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
SAFARI_IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"


def copy_cookies(source, target, *names) -> None:
    """What an attacker who copied the browser's cookies has."""
    for name in names:
        cookie = source.get_cookie(name, domain=DOMAIN)
        if cookie is not None:
            target.set_cookie(name, cookie.value, domain=DOMAIN)


def rows_of(db_session, user=None, staff=None) -> list[SignInSession]:
    where = SignInSession.user_id == user.id if user else SignInSession.staff_id == staff.id
    return list(db_session.scalars(select(SignInSession).where(where)))


def test_a_session_cookie_copied_before_sign_out_is_refused_after(client, app, db_session):
    user = factories.make_user(db_session)
    login_as(client, user)
    thief = app.test_client()
    copy_cookies(client, thief, "session")
    assert thief.get("/profile/").status_code == 200  # the copy works while the session lives

    assert post_form(client, "/logout", {}).status_code == 303

    replayed = thief.get("/profile/")
    assert replayed.status_code == 302
    assert "/login" in replayed.headers["Location"]
    assert rows_of(db_session, user=user) == []


def test_a_remember_me_cookie_copied_before_sign_out_is_refused_after(client, app, db_session):
    user = factories.make_user(db_session)
    sign_in(client, user.email, factories.PASSWORD, remember="y")
    assert client.get_cookie("remember_token", domain=DOMAIN) is not None
    thief = app.test_client()
    copy_cookies(client, thief, "remember_token")  # no session cookie: "remember me" alone
    assert thief.get("/profile/").status_code == 200

    post_form(client, "/logout", {})

    fresh = app.test_client()
    copy_cookies(thief, fresh, "remember_token")
    assert fresh.get("/profile/").status_code == 302


def test_a_staff_cookie_copied_before_sign_out_is_refused_after(client, app, db_session):
    staff = factories.make_staff(db_session, role="operator")
    login_as(client, staff, staff=True)
    thief = app.test_client()
    copy_cookies(client, thief, "session")
    assert thief.get("/admin/").status_code == 200
    post_form(client, "/admin/logout", {})
    assert thief.get("/admin/").status_code == 302


def test_changing_the_password_signs_out_other_devices(client, other_client, db_session):
    user = factories.make_user(db_session)
    sign_in(client, user.email, factories.PASSWORD)
    sign_in(other_client, user.email, factories.PASSWORD)
    assert other_client.get("/profile/").status_code == 200

    response = post_form(
        client,
        "/profile/password",
        {
            "current_password": factories.PASSWORD,
            "password": "Novyi-parol-7",
            "password_again": "Novyi-parol-7",
        },
    )

    assert response.status_code == 303
    assert client.get("/profile/").status_code == 200  # this device stays signed in
    assert other_client.get("/profile/").status_code == 302  # the other one is signed out


def test_a_password_reset_ends_every_session(client, other_client, app, db_session, mailbox):
    user = factories.make_user(db_session)
    sign_in(other_client, user.email, factories.PASSWORD, remember="y")
    assert other_client.get("/profile/").status_code == 200
    post_form(client, "/password/forgot", {"email": user.email})
    path = link_in(mailbox[-1], "/password/reset/")
    post_form(client, path, {"password": "Novyi-parol-7", "password_again": "Novyi-parol-7"})

    assert other_client.get("/profile/").status_code == 302  # remembered or not
    assert rows_of(db_session, user=user) == []
    assert sign_in(client, user.email, "Novyi-parol-7").status_code == 303


def test_an_administrator_resetting_a_password_ends_that_employees_sessions(
    client, other_client, db_session
):
    admin = factories.make_staff(db_session, role="admin")
    operator = factories.make_staff(db_session, role="operator")
    login_as(other_client, operator, staff=True)
    login_as(client, admin, staff=True)
    assert other_client.get("/admin/").status_code == 200
    response = post_form(
        client,
        f"/admin/staff/{operator.id}/edit",
        {
            "full_name": operator.full_name,
            "role": "operator",
            "active": "y",
            "new_password": "Drugoi-parol-8",
            "new_password_again": "Drugoi-parol-8",
        },
    )
    assert response.status_code == 303
    assert other_client.get("/admin/").status_code == 302
    assert client.get("/admin/").status_code == 200  # the administrator's own goes on


def test_every_session_has_an_absolute_lifetime(app, client, other_client, db_session):
    user = factories.make_user(db_session)
    sign_in(client, user.email, factories.PASSWORD)
    sign_in(other_client, user.email, factories.PASSWORD, remember="y")
    plain, remembered = sorted(rows_of(db_session, user=user), key=lambda row: row.remember)
    hours = app.config["SESSION_MAX_HOURS"]
    days = app.config["REMEMBER_COOKIE_DURATION"].days
    assert (plain.expires_at - plain.created_at) == timedelta(hours=hours)
    assert (remembered.expires_at - remembered.created_at) == timedelta(days=days)

    # in use all along, but past the lifetime: both end
    for row in (plain, remembered):
        row.expires_at = utcnow() - timedelta(seconds=1)
    db_session.flush()
    assert client.get("/profile/").status_code == 302
    assert other_client.get("/profile/").status_code == 302


def test_an_idle_session_ends_on_the_server_whatever_the_cookie(app, client, db_session):
    user = factories.make_user(db_session)
    sign_in(client, user.email, factories.PASSWORD)
    [row] = rows_of(db_session, user=user)
    row.last_seen_at = utcnow() - app.config["PERMANENT_SESSION_LIFETIME"] - timedelta(seconds=1)
    db_session.flush()
    assert client.get("/profile/").status_code == 302


def test_the_profile_lists_the_devices_and_signs_out_everywhere_else(app, db_session):
    user = factories.make_user(db_session)
    laptop = app.test_client()
    phone = app.test_client()
    laptop.environ_base.update(HTTP_USER_AGENT=CHROME, REMOTE_ADDR="203.0.113.5")
    phone.environ_base.update(HTTP_USER_AGENT=SAFARI_IPHONE, REMOTE_ADDR="198.51.100.77")
    login_as(laptop, user)
    login_as(phone, user)

    profile = page(laptop.get("/profile/"))
    assert "Chrome 131" in profile
    assert "Windows" in profile
    assert "203.0.113.5" in profile
    assert "Mobile Safari 17" in profile
    assert "iOS" in profile
    assert "198.51.100.77" in profile

    response = post_form(laptop, "/profile/devices/others/end", {})
    assert response.status_code == 303
    assert phone.get("/profile/").status_code == 302
    assert laptop.get("/profile/").status_code == 200
    assert "198.51.100.77" not in page(laptop.get("/profile/"))


def test_one_device_can_be_signed_out_but_not_another_persons(app, db_session):
    user, stranger = factories.make_user(db_session), factories.make_user(db_session)
    mine, theirs = app.test_client(), app.test_client()
    login_as(mine, user)
    login_as(theirs, stranger)
    [their_row] = rows_of(db_session, user=stranger)
    assert post_form(mine, f"/profile/devices/{their_row.id}/end", {}).status_code == 404
    assert theirs.get("/profile/").status_code == 200

    second = app.test_client()
    login_as(second, user)
    other_row = max(rows_of(db_session, user=user), key=lambda row: row.id)  # the second's
    assert post_form(mine, f"/profile/devices/{other_row.id}/end", {}).status_code == 303
    assert second.get("/profile/").status_code == 302
    assert mine.get("/profile/").status_code == 200


def test_staff_see_and_end_their_devices(app, db_session):
    staff = factories.make_staff(db_session, role="operator")
    desk, home = app.test_client(), app.test_client()
    login_as(desk, staff, staff=True)
    login_as(home, staff, staff=True)
    assert translated(app, "Sign out everywhere else") in page(desk.get("/admin/security"))
    post_form(desk, "/admin/security/devices/others/end", {})
    assert home.get("/admin/").status_code == 302
    assert desk.get("/admin/").status_code == 200


def test_only_a_hash_of_the_session_key_is_stored(client, db_session):
    user = factories.make_user(db_session)
    login_as(client, user)
    [row] = rows_of(db_session, user=user)
    cookie = client.get_cookie("session", domain=DOMAIN).value
    assert row.key_hash not in cookie
    assert len(row.key_hash) == 64


def test_a_static_file_never_carries_the_session_cookie(client, db_session):
    """A favicon fetched while the sign-in's response is on its way must not overwrite the
    new session cookie with the old one."""
    user = factories.make_user(db_session)
    login_as(client, user)
    static = client.get("/static/img/favicon.svg")
    assert static.status_code == 200
    assert "session=" not in static.headers.get("Set-Cookie", "")
    page_response = client.get("/profile/")
    assert "session=" in page_response.headers.get("Set-Cookie", "")  # refreshed when idle ends
