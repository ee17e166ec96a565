"""Wrong passwords slow down the client that types them, not the owner of the account: per
e-mail and address behind a trusted proxy, per e-mail and known device, and an unlock link
against guessing from many addresses (portal/services/throttle.py). The test app trusts one
proxy, so X-Forwarded-For names each request's client."""

import pytest
from sqlalchemy import func, select

from portal.models import OutboxMessage, SignInFailure
from tests import factories
from tests.conftest import csrf_token, form_alert, link_in, page

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.20"
NEIGHBOUR = ATTACKER  # another customer behind the same mobile operator's NAT


def try_password(client, email: str, password: str, address: str, path: str = "/login"):
    return client.post(
        path,
        data={"csrf_token": csrf_token(client), "email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )


def wait_one_minute(app) -> str:
    from flask_babel import ngettext

    with app.test_request_context():
        return ngettext(
            "Too many failed attempts. Try again in %(num)d minute.",
            "Too many failed attempts. Try again in %(num)d minutes.",
            1,
        )


def signed_in(response) -> bool:
    return response.status_code == 303


@pytest.fixture
def owner(db_session):
    return factories.make_user(db_session)


def test_many_failures_from_one_address_do_not_stop_the_owner_elsewhere_nor_a_neighbour(
    app, client, other_client, db_session, owner
):
    for _ in range(30):
        try_password(client, owner.email, "wrong-pass-1", ATTACKER)
    waiting = try_password(client, owner.email, factories.PASSWORD, ATTACKER)
    assert not signed_in(waiting)  # the attacker's client waits, even with the password

    assert signed_in(try_password(other_client, owner.email, factories.PASSWORD, OWNER))
    neighbour = factories.make_user(db_session)
    fresh = app.test_client()
    assert signed_in(try_password(fresh, neighbour.email, factories.PASSWORD, NEIGHBOUR))


def test_only_the_free_failures_are_counted_then_the_client_waits(client, db_session, owner):
    for _ in range(30):
        try_password(client, owner.email, "wrong-pass-1", ATTACKER)
    counted = db_session.scalar(select(func.count(SignInFailure.id)))
    assert counted == app_free_failures(client)  # waiting attempts check no password


def app_free_failures(client) -> int:
    return client.application.config["LOGIN_FREE_FAILURES"]


def test_the_waiting_client_is_told_how_long_in_words_that_reveal_nothing(
    app, client, db_session, owner
):
    alerts = []
    for email in (owner.email, "nobody-here@example.ru"):
        for _ in range(app.config["LOGIN_FREE_FAILURES"]):
            try_password(client, email, "wrong-pass-1", ATTACKER)
        alerts.append(form_alert(try_password(client, email, "wrong-pass-1", ATTACKER)))
    expected = wait_one_minute(app)
    assert alerts == [expected, expected]


def test_guessing_from_many_addresses_pauses_new_devices_but_not_the_owners_own(
    app, client, other_client, db_session, owner, mailbox
):
    # The owner signed in on this browser before: it carries a device cookie for the e-mail.
    assert signed_in(try_password(other_client, owner.email, factories.PASSWORD, OWNER))
    other_client.post("/logout", data={"csrf_token": csrf_token(other_client)})

    free = app.config["LOGIN_FREE_FAILURES"]
    botnet = [f"192.0.2.{n}" for n in range(1, 30)]
    for address in botnet[: app.config["LOGIN_ACCOUNT_FAILURES"] // free]:
        for _ in range(free):
            try_password(client, owner.email, "wrong-pass-1", address)

    # a new device, from an address that never failed, is paused for the e-mail ...
    newcomer = app.test_client()
    paused = try_password(newcomer, owner.email, factories.PASSWORD, "192.0.2.200")
    assert not signed_in(paused)
    assert "link" in form_alert(paused) or "ссылк" in form_alert(paused)
    # ... the owner's own browser is not, from any address
    assert signed_in(try_password(other_client, owner.email, factories.PASSWORD, "192.0.2.201"))

    # the owner was told once, with a link that makes a new browser a known device
    letters = [m for m in mailbox if owner.email in m["To"]]
    assert len(letters) == 1
    unlock = link_in(letters[0], "/unlock/")
    opened = newcomer.get(unlock)
    assert opened.status_code == 303
    assert opened.headers["Location"] == "/login"
    assert signed_in(try_password(newcomer, owner.email, factories.PASSWORD, "192.0.2.200"))


def test_an_unregistered_e_mail_is_paused_alike_and_nobody_is_mailed(app, client, db_session):
    free = app.config["LOGIN_FREE_FAILURES"]
    for n in range(app.config["LOGIN_ACCOUNT_FAILURES"] // free):
        for _ in range(free):
            try_password(client, "ghost@example.ru", "wrong-pass-1", f"192.0.2.{n + 1}")
    paused = try_password(app.test_client(), "ghost@example.ru", "x-pass-1", "192.0.2.99")
    assert "ссылк" in form_alert(paused) or "link" in form_alert(paused)
    assert (
        db_session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "sign_in_unlock")
        )
        == 0
    )


def test_a_forged_unlock_link_is_refused(client):
    response = client.get("/unlock/not-a-token")
    assert response.status_code == 400
    assert client.get_cookie("portal_device", domain="portal.test") is None


def test_staff_sign_in_is_throttled_alike(app, client, other_client, db_session):
    staff = factories.make_staff(db_session, role="operator")
    for _ in range(app.config["LOGIN_FREE_FAILURES"]):
        try_password(client, staff.email, "wrong-pass-1", ATTACKER, "/admin/login")
    waiting = try_password(client, staff.email, factories.PASSWORD, ATTACKER, "/admin/login")
    assert not signed_in(waiting)
    assert wait_one_minute(app) in page(waiting)
    assert signed_in(
        try_password(other_client, staff.email, factories.PASSWORD, OWNER, "/admin/login")
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "seen"),
    [
        (0, "1.2.3.4", "127.0.0.1"),  # no proxy configured: the header is the client's word
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # what the client forged comes first
    ],
)
def test_only_trusted_proxies_name_the_client(proxies, forwarded, seen):
    from flask import Flask, request

    from portal import trust_proxies

    bare = Flask("bare")
    bare.config["TRUSTED_PROXIES"] = proxies
    trust_proxies(bare)
    bare.get("/")(lambda: request.remote_addr)
    assert bare.test_client().get("/", headers={"X-Forwarded-For": forwarded}).text == seen
