"""In a real Chromium: an administrator enrols two-factor sign-in (the codes computed with
pyotp, as the phone's app would), signs in with a code, then with a recovery code, which
does not work twice; a resident signs out and the back button shows nothing personal."""

import re
import time

import pyotp
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Staff
from tests.e2e.conftest import assert_accessible

PASSWORD = "Nadezhnyi-2026"


def new_administrator(portal) -> str:
    with portal.app.app_context():
        staff = Staff(
            email=f"admin-2fa-{time.time_ns()}@demo.portal",
            full_name="Орлова Вера Николаевна",
            role="admin",
        )
        staff.set_password(PASSWORD)
        db.session.add(staff)
        db.session.commit()
        email = staff.email
        db.session.remove()
    return email


def password_step(page, portal, email: str) -> None:
    page.goto(portal.url + "/admin/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")


def sign_out(page) -> None:
    page.click("header form[action='/admin/logout'] button")
    expect(page).to_have_url(re.compile(r"/admin/login"))


def test_administrator_enrols_signs_in_with_a_code_and_a_recovery_code_once(browser, live_portal):
    context = browser.new_context(locale="ru-RU", bypass_csp=True)  # bypass: axe-core
    page = context.new_page()
    email = new_administrator(live_portal)

    password_step(page, live_portal, email)
    expect(page).to_have_url(live_portal.url + "/admin/security/enrol")
    expect(page.locator("img[src^='data:image/svg+xml']")).to_be_visible()
    assert_accessible(page, "/admin/security/enrol")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.now())
    page.click("main form button[type=submit]")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.click("main a.btn-primary")
    expect(page).to_have_url(live_portal.url + "/admin/")
    sign_out(page)

    # the next sign-in asks for a code; the one of the next 30 seconds is taken too
    password_step(page, live_portal, email)
    expect(page).to_have_url(live_portal.url + "/admin/login/code")
    page.fill("#code", totp.at(time.time() + 30))
    page.click("main form button[type=submit]")
    expect(page).to_have_url(live_portal.url + "/admin/")
    sign_out(page)

    for attempt in ("first", "second"):
        password_step(page, live_portal, email)
        page.fill("#code", codes[0])
        page.click("main form button[type=submit]")
        if attempt == "first":
            expect(page).to_have_url(live_portal.url + "/admin/")
            sign_out(page)
        else:
            expect(page).to_have_url(live_portal.url + "/admin/login/code")
            expect(page.locator("#code")).to_have_class(re.compile("is-invalid"))
    context.close()


def test_after_signing_out_the_back_button_shows_nothing_personal(browser, live_portal):
    resident = live_portal.logins.residents[0]
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.goto(live_portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    page.goto(live_portal.url + "/profile/")
    expect(page.locator("#full_name")).to_have_value(resident.full_name)

    page.click("form[action='/logout'] button")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/login"))
    assert resident.full_name not in page.content()
    assert resident.email not in page.content()
    context.close()
