"""Journeys across the back office and the resident's pages, in a real Chromium:
a metering specialist reviews a flagged reading and the resident sees the outcome;
a billing specialist imports a payment registry and the resident sees the payment;
a billing specialist runs billing for a period and sees its totals."""

import re
import uuid
from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Account, Meter, Reading
from portal.services import billing_periods, readings
from portal.services.clock import local_today
from portal.services.months import period_of
from tests.e2e.conftest import assert_accessible, staff_sign_in


def resident_sign_in(page, portal, resident):
    page.goto(portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()


def residents_meter(portal, resident):
    """An active, hand-read meter on the resident's account: (account id, meter id)."""
    with portal.app.app_context():
        account = db.session.scalar(
            select(Account).where(Account.number == resident.account_number)
        )
        meter = db.session.scalar(
            select(Meter).where(
                Meter.account_id == account.id,
                Meter.status == "active",
                Meter.remote_read.is_(False),
            )
        )
        return account.id, meter.id, meter.zone_names[0]


def flag_a_reading(portal, meter_id: int, zone: str) -> int:
    """A customer's reading far above the usual, waiting for review."""
    with portal.app.app_context():
        today = local_today()
        last = readings.last_readings(db.session, [meter_id]).get((meter_id, zone))
        value = (last.value if last else Decimal(0)) + Decimal(5000)
        reading = Reading(
            meter_id=meter_id,
            zone=zone,
            period=period_of(today),
            taken_on=today,
            value=value,
            consumption=Decimal(5000),
            source="customer",
            status="pending_review",
            reason="Consumption far above the usual: sent for review.",
        )
        db.session.add(reading)
        db.session.commit()
        return reading.id


def test_rejected_reading_reaches_the_resident(browser, live_portal):
    resident = live_portal.logins.residents[1]
    account_id, meter_id, zone = residents_meter(live_portal, resident)
    reading_id = flag_a_reading(live_portal, meter_id, zone)

    staff = browser.new_context()
    page = staff.new_page()
    staff_sign_in(page, live_portal, role="metering")
    page.goto(live_portal.url + "/admin/readings/review")
    row = page.locator(f"#reading-{reading_id}")
    row.locator(
        "details.review-action summary", has_text=re.compile("Reject|Отклонить")
    ).first.click()
    page.fill(f"#reject-reason-{reading_id}", "Фото счётчика не совпадает с показанием")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("form[action$='/reject'] button[type=submit]").click()
    expect(page.locator(f"#reading-{reading_id}")).to_contain_text("Фото счётчика не совпадает")
    staff.close()

    own = browser.new_context()
    page = own.new_page()
    resident_sign_in(page, live_portal, resident)
    page.goto(f"{live_portal.url}/accounts/{account_id}/meters/{meter_id}/history")
    expect(page.locator("main")).to_contain_text("Фото счётчика не совпадает с показанием")
    own.close()


def test_registry_import_shows_the_payment_to_the_resident(browser, live_portal, tmp_path):
    resident = live_portal.logins.residents[2]
    reference = f"E2E-{uuid.uuid4().hex[:10]}"
    registry = tmp_path / "sber-registry.csv"
    registry.write_text(
        "account;amount;date;reference;agent\n"
        f"{resident.account_number};1234,56;{local_today():%d.%m.%Y};{reference};Сбербанк\n",
        encoding="cp1251",
    )
    staff = browser.new_context()
    page = staff.new_page()
    staff_sign_in(page, live_portal, role="billing")
    page.goto(live_portal.url + "/admin/payments/registries")
    page.set_input_files("#file", str(registry))
    page.click("main form[enctype] button[type=submit]")
    expect(page.locator("#valid-lines")).to_have_text("1")
    page.click("main form[action$='/import'] button[type=submit]")
    expect(page.locator("main")).to_contain_text("1 234,56 ₽")
    staff.close()

    own = browser.new_context()
    page = own.new_page()
    resident_sign_in(page, live_portal, resident)
    account_id, _meter, _zone = residents_meter(live_portal, resident)
    page.goto(f"{live_portal.url}/accounts/{account_id}/payments")
    expect(page.locator("main")).to_contain_text(reference)
    expect(page.locator("main")).to_contain_text("1 234,56")
    own.close()


def test_billing_specialist_runs_a_period_and_sees_totals(browser, live_portal):
    context = browser.new_context()
    page = context.new_page()
    staff_sign_in(page, live_portal, role="billing")
    period = local_today().strftime("%Y-%m")
    page.goto(live_portal.url + "/admin/billing/periods")
    page.fill("#period", period)
    page.click("main form[action$='/periods'] button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/admin/billing/periods/{period}$"))
    expect(page.locator("#progress-heading")).to_be_visible()  # queued for the worker

    with live_portal.app.app_context():  # the background worker's turn
        billing_periods.process_queued_billing(db.session)
        db.session.remove()

    expect(page.locator("#methods-heading")).to_be_visible(timeout=10_000)  # htmx polling
    expect(page.locator("#period-status")).to_contain_text("₽")
    context.close()


def test_key_rate_caps_and_penalty_schemes_are_accessible_and_save(browser, live_portal):
    """The billing specialist's pages of #9: a cap on the key rate and a penalty scheme
    (typed with a mistake first: the message is next to the field and the text stays)."""
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe-core
    page = context.new_page()
    staff_sign_in(page, live_portal, role="billing")
    page.goto(live_portal.url + "/admin/billing/key-rates")
    assert_accessible(page, "/admin/billing/key-rates")
    page.fill("#cap-percent", "9,5")
    page.fill("#cap-valid_from", "2031-01-01")
    page.fill("#cap-valid_to", "2031-06-30")
    page.click("#new-cap button[type=submit]")
    expect(page.locator("main")).to_contain_text("9,5 %")
    page.goto(live_portal.url + "/admin/billing/penalty-schemes")
    assert_accessible(page, "/admin/billing/penalty-schemes")
    page.select_option("#category", "others")
    page.fill("#stages", "91: 1/130, 31: 1/300")
    page.fill("#valid_from", "2031-01-01")
    page.click("#new button[type=submit]")
    expect(page.locator("#stages")).to_have_value("91: 1/130, 31: 1/300")
    expect(page.locator("#stages")).to_have_attribute("aria-invalid", "true")
    page.fill("#stages", "1: 1/300, 61: 1/170, 91: 1/130")
    page.click("#new button[type=submit]")
    expect(page.locator("main table")).to_contain_text("1: 1/300, 61: 1/170, 91: 1/130")
    context.close()
