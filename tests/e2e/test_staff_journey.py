"""An operator signs in, finds a customer by typing (htmx live search, and the plain form
without JavaScript), opens the customer card; the back-office pages pass axe-core."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_accessible, staff_sign_in


def a_resident(portal):
    return portal.logins.residents[0]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_operator_finds_a_customer_and_opens_the_card(browser, live_portal, javascript):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    staff_sign_in(page, live_portal)
    resident = a_resident(live_portal)
    surname = resident.full_name.split()[0]

    page.goto(live_portal.url + "/admin/customers")
    if javascript:
        page.locator("#customer-q").press_sequentially(surname.lower(), delay=30)
        expect(page).to_have_url(re.compile(r"/admin/customers\?q="))  # live results, pushed URL
    else:
        page.fill("#customer-q", surname.lower())
        page.locator("#customer-q").press("Enter")
    results = page.locator("#customer-results")
    expect(results).to_contain_text(resident.full_name)

    results.get_by_role("link", name=resident.full_name).first.click()
    expect(page.locator("h1")).to_have_text(resident.full_name)
    expect(page.locator("main")).to_contain_text(resident.account_number)
    context.close()


def test_back_office_pages_are_accessible(browser, live_portal):
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe-core
    page = context.new_page()
    page.goto(live_portal.url + "/admin/login")
    assert_accessible(page, "/admin/login")
    staff_sign_in(page, live_portal, role="admin")
    for path in (
        "/admin/",
        "/admin/customers?q=а",
        "/admin/staff",
        "/admin/audit",
        "/admin/mailbox",
    ):
        page.goto(live_portal.url + path)
        assert_accessible(page, path)
    page.goto(live_portal.url + "/admin/customers?q=" + a_resident(live_portal).account_number)
    page.locator("#customer-results a").first.click()
    assert_accessible(page, "customer card")
    context.close()
