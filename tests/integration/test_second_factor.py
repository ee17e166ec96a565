"""Two-factor sign-in of staff: required of administrators and supervisors (and of everyone
by a setting), enforced before any back-office page, codes used once, recovery codes,
an administrator's audited reset, and the demo's logins without it."""

import re

import pyotp
import pytest
from sqlalchemy import select

from portal.models import AuditEvent, RecoveryCode, SignInSession
from portal.services import settings
from tests import factories
from tests.conftest import csrf_token, field_error, page, post_form, sign_in, totp_code_for


def password_only(client, staff):
    return post_form(client, "/admin/login", {"email": staff.email, "password": factories.PASSWORD})


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_senior_roles_must_enrol_before_any_back_office_page(client, db_session, role):
    staff = factories.make_staff(db_session, role=role, second_factor=False)
    response = password_only(client, staff)
    assert response.headers["Location"] == "/admin/security/enrol"
    # not signed in yet: every page sends back to sign-in
    for url in ("/admin/", "/admin/customers", "/admin/audit", "/admin/security"):
        assert client.get(url).headers["Location"].startswith("/admin/login")
    assert db_session.scalars(select(SignInSession)).all() == []


def test_an_operator_needs_no_second_factor_unless_the_setting_says_so(client, db_session):
    operator = factories.make_staff(db_session, role="operator")
    assert password_only(client, operator).headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200

    settings.put(db_session, "security.second_factor_for_all_staff", 1)
    # signed in already: the next page asks for enrolment before anything else
    assert client.get("/admin/customers").headers["Location"] == "/admin/security/enrol"
    fresh = client.application.test_client()
    assert password_only(fresh, operator).headers["Location"] == "/admin/security/enrol"


def enrol(client, db_session):
    """Open the enrolment page, read the key like an app would, confirm with its code."""
    enrol_page = page(client.get("/admin/security/enrol"))
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', enrol_page).group(1).replace(" ", "")
    assert 'src="data:image/svg+xml' in enrol_page  # the QR code, drawn here
    response = post_form(client, "/admin/security/enrol", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    codes = re.findall(r"<li class=\"col\">([2-9A-Z]{5}-[2-9A-Z]{5})</li>", page(response))
    return secret, codes


def test_enrolment_signs_in_with_the_second_factor_and_shows_ten_codes(client, db_session):
    staff = factories.make_staff(db_session, role="admin", second_factor=False)
    password_only(client, staff)
    secret, codes = enrol(client, db_session)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert client.get("/admin/audit").status_code == 200
    db_session.refresh(staff)
    assert staff.totp_secret == secret
    assert staff.totp_enabled_at is not None
    stored = db_session.scalars(select(RecoveryCode.code_hash)).all()
    assert all(code.replace("-", "") not in "".join(stored) for code in codes)  # hashes only
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == staff.id)
    ).all()
    assert "second_factor_enabled" in actions
    assert "sign_in" in actions


def test_a_wrong_enrolment_code_is_refused_next_to_the_field(client, db_session):
    staff = factories.make_staff(db_session, role="admin", second_factor=False)
    password_only(client, staff)
    client.get("/admin/security/enrol")
    response = post_form(client, "/admin/security/enrol", {"code": "000000"})
    assert response.status_code == 200
    assert field_error(response, "code")
    assert client.get("/admin/").status_code == 302


def test_an_enrolled_employee_types_a_code_and_each_code_works_once(app, db_session):
    staff = factories.make_staff(db_session, role="supervisor")
    first, second = app.test_client(), app.test_client()
    assert password_only(first, staff).headers["Location"] == "/admin/login/code"
    assert first.get("/admin/").status_code == 302  # the password alone signs nobody in
    code = totp_code_for(staff.email)
    assert post_form(first, "/admin/login/code", {"code": code}).headers["Location"] == "/admin/"
    assert first.get("/admin/").status_code == 200

    password_only(second, staff)
    replayed = post_form(second, "/admin/login/code", {"code": code})  # the same code again
    assert replayed.status_code == 200
    assert field_error(replayed, "code")
    assert second.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(app, client, db_session):
    staff = factories.make_staff(db_session, role="admin", second_factor=False)
    password_only(client, staff)
    _secret, codes = enrol(client, db_session)
    post_form(client, "/admin/logout", {})

    browser = app.test_client()
    password_only(browser, staff)
    assert post_form(browser, "/admin/login/code", {"code": codes[3].lower()}).status_code == 303
    post_form(browser, "/admin/logout", {})

    password_only(browser, staff)
    again = post_form(browser, "/admin/login/code", {"code": codes[3]})
    assert again.status_code == 200
    assert field_error(again, "code")
    assert browser.get("/admin/").status_code == 302


def test_five_wrong_codes_end_the_pending_sign_in(client, db_session):
    staff = factories.make_staff(db_session, role="admin")
    password_only(client, staff)
    for _ in range(5):
        post_form(client, "/admin/login/code", {"code": "123456"})
    assert client.get("/admin/login/code").headers["Location"] == "/admin/login"
    right = post_form(client, "/admin/login/code", {"code": totp_code_for(staff.email)})
    assert right.headers["Location"] == "/admin/login"  # start again with the password


def test_an_administrator_resets_a_colleagues_second_factor(app, client, db_session):
    admin = factories.make_staff(db_session, role="admin")
    colleague = factories.make_staff(db_session, role="supervisor")
    theirs = app.test_client()
    sign_in(theirs, colleague.email, factories.PASSWORD, staff=True)
    sign_in(client, admin.email, factories.PASSWORD, staff=True)
    assert theirs.get("/admin/").status_code == 200

    edit = page(client.get(f"/admin/staff/{colleague.id}/edit"))
    assert f"/admin/staff/{colleague.id}/second-factor/reset" in edit
    response = post_form(client, f"/admin/staff/{colleague.id}/second-factor/reset", {})
    assert response.status_code == 303

    db_session.refresh(colleague)
    assert colleague.totp_secret is None
    assert theirs.get("/admin/").status_code == 302  # signed out everywhere
    assert password_only(theirs, colleague).headers["Location"] == "/admin/security/enrol"
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "second_factor_reset"))
    assert event.staff_id == admin.id
    assert event.object_id == colleague.id


def test_only_administrators_reset_a_second_factor_and_never_their_own(client, db_session):
    supervisor = factories.make_staff(db_session, role="supervisor")
    sign_in(client, supervisor.email, factories.PASSWORD, staff=True)
    other = factories.make_staff(db_session, role="admin")
    assert post_form(client, f"/admin/staff/{other.id}/second-factor/reset", {}).status_code == 403

    admin = factories.make_staff(db_session, role="admin")
    mine = client.application.test_client()
    sign_in(mine, admin.email, factories.PASSWORD, staff=True)
    post_form(mine, f"/admin/staff/{admin.id}/second-factor/reset", {})
    db_session.refresh(admin)
    assert admin.totp_secret is not None


def test_the_demo_logins_work_without_a_second_factor(app, client, db_session):
    staff = factories.make_staff(db_session, role="admin", second_factor=False)
    app.config["DEMO_MODE"] = True
    try:
        assert password_only(client, staff).headers["Location"] == "/admin/"
        assert client.get("/admin/audit").status_code == 200
    finally:
        app.config["DEMO_MODE"] = False
    # outside the demo the same session must give the second factor first
    assert client.get("/admin/audit").headers["Location"] == "/admin/security/enrol"


def test_the_pending_sign_in_lapses(app, client, db_session):
    staff = factories.make_staff(db_session, role="admin")
    password_only(client, staff)
    with client.session_transaction() as flask_session:
        pending = dict(flask_session["pending_staff_sign_in"])
        flask_session["pending_staff_sign_in"] = pending | {"at": "2020-01-01T00:00:00+00:00"}
    response = post_form(client, "/admin/login/code", {"code": totp_code_for(staff.email)})
    assert response.headers["Location"] == "/admin/login"
    assert csrf_token(client)  # the page still works
