"""A resident signs up, confirms the e-mail from a real SMTP server, links an account and
sees its dashboard — with JavaScript on and off — and the pages pass an axe-core check."""

import itertools
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible

_emails = itertools.count(1)


def sign_up(page, portal, email: str) -> None:
    page.goto(portal.url + "/signup")
    page.fill("#full_name", "Смирнова Ольга Петровна")
    page.fill("#email", email)
    page.fill("#phone", "8 (916) 555-12-34")
    page.fill("#password", "Berezka-2026")
    page.fill("#password_again", "Berezka-2026")
    page.check("#consent")
    page.click("form[action='/signup'] button[type=submit]")
    expect(page).to_have_url(portal.url + "/signup/check-email")
    expect(page.locator("main")).to_contain_text(email)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_sign_up_confirm_link_and_see_dashboard(browser, live_portal, javascript):
    context = browser.new_context(java_script_enabled=javascript, locale="ru-RU")
    page = context.new_page()
    email = f"olga{next(_emails)}-{'js' if javascript else 'nojs'}@example.ru"
    spare = live_portal.logins.spare_accounts[0 if javascript else 1]

    sign_up(page, live_portal, email)
    page.goto(live_portal.link_in_mail(email, "/confirm/"))
    expect(page).to_have_url(live_portal.url + "/accounts/link")

    page.fill("#number", spare.account_number)
    page.fill("#secret_code", spare.secret_code.lower())
    page.click("main form button[type=submit]")

    expect(page).to_have_url(re.compile(r"/accounts/\d+$"))
    expect(page.locator("h1")).to_have_text(spare.account_number)
    expect(page.locator("main")).to_contain_text(spare.address)
    expect(page.locator("#meters-heading")).to_be_visible()
    context.close()


def test_wrong_code_keeps_the_number_and_explains(browser, live_portal):
    context = browser.new_context()
    page = context.new_page()
    email = f"petr{next(_emails)}@example.ru"
    sign_up(page, live_portal, email)
    page.goto(live_portal.link_in_mail(email, "/confirm/"))
    page.fill("#number", live_portal.logins.spare_accounts[2].account_number)
    page.fill("#secret_code", "WRONG1")
    page.click("main form button[type=submit]")
    expect(page.locator("#number")).to_have_value(
        live_portal.logins.spare_accounts[2].account_number
    )
    expect(page.locator("#number-error")).to_be_visible()
    context.close()


def test_resident_pages_are_accessible(browser, live_portal):
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe-core
    page = context.new_page()
    for path in ("/", "/signup", "/login", "/password/forgot"):
        page.goto(live_portal.url + path)
        assert_accessible(page, path)
    resident = live_portal.logins.residents[0]
    page.goto(live_portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    for path in ("/accounts/", "/accounts/link", "/profile/"):
        page.goto(live_portal.url + path)
        assert_accessible(page, path)
    page.goto(live_portal.url + "/")
    assert_accessible(page, "account dashboard")
    context.close()
