"""A resident opens the latest bill from the account page, sees its payment QR code and
downloads the PDF; the bills and payments pages pass an axe-core check."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Account, Bill, BillingPeriod, Charge, KeyRate, Payment, utcnow
from portal.services import billing, ledger, months
from portal.services.clock import local_today
from tests.e2e.conftest import assert_accessible


def ensure_a_bill(app, account_number: str) -> tuple[int, date]:
    """The account's id and latest billed month; when the demo has no billing history yet,
    close last month with a charge and a payment for this account."""
    with app.app_context():
        session = db.session
        account = session.scalar(select(Account).where(Account.number == account_number))
        latest = session.scalar(select(func.max(Bill.period)).where(Bill.account_id == account.id))
        if latest is None:
            period = months.add_months(local_today().replace(day=1), -1)
            row = session.scalar(select(BillingPeriod).where(BillingPeriod.period == period))
            assert row is None or row.status != "closed", "a closed period with no bill"
            if session.scalar(select(func.count(KeyRate.id))) == 0:
                session.add(KeyRate(valid_from=date(2020, 1, 1), percent=Decimal("21.00")))
            session.add_all(
                [
                    Charge(
                        account_id=account.id,
                        period=period,
                        service="electricity",
                        zone=zone,
                        method="meter",
                        volume=volume,
                        tariff=tariff,
                        amount=(volume * tariff).quantize(Decimal("0.01")),
                    )
                    for zone, volume, tariff in (
                        ("day", Decimal("150"), Decimal("6.43")),
                        ("night", Decimal("70"), Decimal("3.21")),
                    )
                ]
                + [
                    Payment(
                        account_id=account.id,
                        amount=Decimal("500.00"),
                        paid_on=period + timedelta(days=9),
                        agent="ПАО Сбербанк",
                        reference=f"e2e-bills-{account.id}-{period:%Y%m}",
                    )
                ]
            )
            run = billing.get_or_create_period(session, period)
            run.run_started_at = run.run_finished_at = utcnow()
            ledger.close_period(session, period)
            latest = period
        account_id = account.id
        db.session.remove()
    return account_id, latest


@pytest.fixture
def resident_page(browser, live_portal):
    resident = live_portal.logins.residents[0]
    account_id, latest = ensure_a_bill(live_portal.app, resident.account_number)
    context = browser.new_context(accept_downloads=True, locale="ru-RU")
    page = context.new_page()
    page.goto(live_portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    yield page, account_id, latest
    context.close()


def test_open_the_latest_bill_and_download_its_pdf(resident_page, live_portal):
    page, account_id, latest = resident_page
    page.goto(f"{live_portal.url}/accounts/{account_id}")
    card = page.locator("section.billing-card")
    expect(card.locator("[data-summary]").first).to_be_visible()

    card.locator(f"a[href$='/bills/{latest:%Y-%m}']").click()
    expect(page).to_have_url(re.compile(rf"/accounts/{account_id}/bills/{latest:%Y-%m}$"))
    expect(page.locator("#charges-heading")).to_be_visible()
    qr = page.locator("img.payment-qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")

    with page.expect_download() as download_info:
        page.locator("a[href$='.pdf']").first.click()
    download = download_info.value
    assert (
        download.suggested_filename
        == f"kvitantsiya-{live_portal.logins.residents[0].account_number}-{latest:%Y-%m}.pdf"
    )
    with open(download.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"


def test_bills_and_payments_pages_with_the_chart(resident_page, live_portal):
    page, account_id, latest = resident_page
    page.goto(f"{live_portal.url}/accounts/{account_id}")
    page.locator("nav.account-nav").get_by_role("link").nth(1).click()
    expect(page).to_have_url(re.compile(rf"/accounts/{account_id}/bills$"))
    expect(page.locator(f"tr[data-bill='{latest:%Y-%m}']")).to_be_visible()

    page.locator("nav.account-nav").get_by_role("link").nth(2).click()
    expect(page).to_have_url(re.compile(rf"/accounts/{account_id}/payments$"))
    # Chart.js drew the charges chart from the JSON element (the CSP forbids inline code).
    chart = page.locator("#charges-chart")
    expect(chart).to_be_visible()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('charges-chart'))"
    )
    expect(page.locator("details[data-chart-table]").first).not_to_have_attribute("open", "")


def test_bills_pages_are_accessible(browser, live_portal):
    resident = live_portal.logins.residents[0]
    account_id, latest = ensure_a_bill(live_portal.app, resident.account_number)
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe-core
    page = context.new_page()
    page.goto(live_portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    for path in (
        f"/accounts/{account_id}",
        f"/accounts/{account_id}/bills",
        f"/accounts/{account_id}/bills/{latest:%Y-%m}",
        f"/accounts/{account_id}/payments",
    ):
        page.goto(live_portal.url + path)
        assert_accessible(page, path)
    context.close()
