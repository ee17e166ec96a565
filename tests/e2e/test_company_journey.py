"""An organisation's accountant (#13): opens the contract in the company cabinet,
downloads the month's invoice and a ZIP of months, requests a reconciliation act for a
quarter, submits readings for the contract's meters; a viewer sees no changing action;
the contract page passes an axe-core check."""

import io
import re
import zipfile

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    Account,
    Bill,
    Contract,
    Meter,
    MeterStatus,
    OrganisationMember,
    Reading,
    User,
)
from portal.services import contract_documents, months, settings
from tests.e2e.conftest import assert_accessible


def prepared_contract(app, email: str) -> tuple[int, int, list]:
    """The accountant's organisation's contract with meters, its last three closed months'
    documents issued, and a readings window open all month (the server runs on today's
    date). Returns (organisation id, contract id, months)."""
    with app.app_context():
        session = db.session
        user = session.scalar(select(User).where(User.email == email))
        organisation_id = session.scalar(
            select(OrganisationMember.organisation_id).where(OrganisationMember.user_id == user.id)
        )
        contract_id = session.scalar(
            select(Contract.id)
            .join(Account, Account.contract_id == Contract.id)
            .join(Meter, Meter.account_id == Account.id)
            .where(Contract.organisation_id == organisation_id, Meter.status == MeterStatus.ACTIVE)
            .order_by(Contract.id)
            .limit(1)
        )
        latest = session.scalar(
            select(func.max(Bill.period))
            .join(Account, Account.id == Bill.account_id)
            .where(Account.contract_id == contract_id)
        )
        periods = [months.add_months(latest, -k) for k in (2, 1, 0)]
        for period in periods:
            contract_documents.issue_period(session, period, only={contract_id})
        settings.put(session, "readings.window_first_day", 1)
        settings.put(session, "readings.window_last_day", 31)
        session.commit()
        db.session.remove()
    return organisation_id, contract_id, periods


def signed_in(browser, portal, email: str, **context_options):
    context = browser.new_context(accept_downloads=True, **context_options)
    page = context.new_page()
    page.goto(portal.url + "/login")
    page.fill("#email", email)
    page.fill("#password", portal.logins.companies[0].password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    return context, page


def pdf_text(path) -> str:
    with open(path, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


def test_an_accountant_downloads_documents_and_sends_readings(browser, live_portal):
    email = "accountant@demo.portal"
    organisation_id, contract_id, periods = prepared_contract(live_portal.app, email)
    context, page = signed_in(browser, live_portal, email, locale="ru-RU")
    page.goto(f"{live_portal.url}/organisations/{organisation_id}")
    page.locator(f"a[href$='/contracts/{contract_id}']").first.click()
    expect(page).to_have_url(re.compile(rf"/contracts/{contract_id}$"))

    invoice = page.locator("#documents-heading ~ * a[href$='.pdf']").first
    with page.expect_download() as download_info:
        invoice.click()
    assert "Счёт на оплату №" in pdf_text(download_info.value.path())

    for period in periods[:2]:
        page.check(f"#zip-{period:%Y-%m}")
    with page.expect_download() as download_info:
        page.get_by_role("button", name=re.compile("ZIP")).click()
    with open(download_info.value.path(), "rb") as handle:
        names = zipfile.ZipFile(io.BytesIO(handle.read())).namelist()
    assert len(names) == 6
    assert {name.split("/")[0] for name in names} == {f"{p:%Y-%m}" for p in periods[:2]}

    page.fill("#date_from", f"{periods[0]:%Y-%m-%d}")
    page.fill("#date_to", f"{months.month_end(periods[2]):%Y-%m-%d}")
    with page.expect_download() as download_info:
        page.locator("#reconciliation-heading ~ form button[type=submit]").click()
    text = pdf_text(download_info.value.path())
    assert "Акт сверки взаимных расчётов" in text
    assert "Сальдо конечное" in text

    inputs = page.locator("input[name^='reading-']")
    count = inputs.count()
    assert count >= 1
    with live_portal.app.app_context():
        before = db.session.scalar(select(func.count(Reading.id)))
        db.session.remove()
    for index in range(count):
        name = inputs.nth(index).get_attribute("name")
        _prefix, meter_id, zone = name.split("-")
        with live_portal.app.app_context():
            last = db.session.scalar(
                select(func.max(Reading.value)).where(
                    Reading.meter_id == int(meter_id), Reading.zone == zone
                )
            )
            db.session.remove()
        inputs.nth(index).fill(str(int((last or 0) + 10)))
    page.locator("#readings form").first.locator("button[type=submit]").click()
    expect(page.locator(".alert-success")).to_be_visible()
    with live_portal.app.app_context():
        after = db.session.scalar(select(func.count(Reading.id)))
        db.session.remove()
    assert after == before + count
    context.close()


def test_a_viewer_sees_no_changing_action_and_the_page_is_accessible(browser, live_portal):
    email = "viewer@demo.portal"
    organisation_id, contract_id, _periods = prepared_contract(live_portal.app, email)
    context, page = signed_in(browser, live_portal, email, bypass_csp=True)
    page.goto(f"{live_portal.url}/organisations/{organisation_id}/contracts/{contract_id}")
    expect(page.locator("#readings-heading")).to_be_visible()
    expect(page.locator("input[name^='reading-']")).to_have_count(0)
    expect(page.locator("input[type=file]")).to_have_count(0)
    assert_accessible(page, "contract page (viewer)")
    # The readings POST itself is refused (403), not only hidden.
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: 'POST', headers: {'X-CSRFToken':
        JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']}})).status""",
        f"/organisations/{organisation_id}/contracts/{contract_id}/readings",
    )
    assert status == 403
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_contract_page_at_desktop_and_phone_width(browser, live_portal, width, tmp_path):
    email = "accountant@demo.portal"
    organisation_id, contract_id, _periods = prepared_contract(live_portal.app, email)
    context, page = signed_in(
        browser, live_portal, email, bypass_csp=True, viewport={"width": width, "height": 900}
    )
    page.goto(f"{live_portal.url}/organisations/{organisation_id}/contracts/{contract_id}")
    assert_accessible(page, f"contract page at {width}px")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(tmp_path / f"contract-{width}.png"), full_page=True)
    context.close()
