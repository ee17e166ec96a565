"""A resident sends meter readings in the window — with JavaScript on (validation as they
type) and off — sees the receipt and the history with its chart; a visitor sends a reading
without signing in; the readings pages pass an axe-core check."""

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Account, Meter, Reading, ReadingStatus, Setting
from portal.services import clock, months, readings, settings
from tests.e2e.conftest import assert_accessible

WINDOW_KEYS = ("readings.window_first_day", "readings.window_last_day")


@dataclass(frozen=True)
class MeterInfo:
    account_id: int
    meter_id: int
    serial_number: str
    account_number: str
    zones: tuple[str, ...]
    fraction_digits: int

    @property
    def base(self) -> str:
        return f"/accounts/{self.account_id}/meters/{self.meter_id}"


@pytest.fixture(scope="module")
def open_window(live_portal):
    """The readings window is open whatever today's date: the whole month, for this module.
    The settings rows are put back as they were afterwards."""
    with live_portal.app.app_context():
        saved = {key: db.session.get(Setting, key) for key in WINDOW_KEYS}
        saved = {key: (row.value if row else None) for key, row in saved.items()}
        settings.put(db.session, "readings.window_first_day", 1)
        settings.put(db.session, "readings.window_last_day", 31)
        db.session.commit()
        db.session.remove()
    yield
    with live_portal.app.app_context():
        for key, value in saved.items():
            if value is None:
                row = db.session.get(Setting, key)
                if row is not None:
                    db.session.delete(row)
                db.session.commit()
            else:
                settings.put(db.session, key, value)
                db.session.commit()
        db.session.remove()


def customer_meter(app, account_number: str) -> MeterInfo:
    """An active meter of the account that takes customers' readings, with three months of
    accepted history before this one (so the history page has a chart)."""
    with app.app_context():
        session = db.session
        account = session.scalar(select(Account).where(Account.number == account_number))
        meter = next(
            m
            for m in sorted(account.meters, key=lambda m: -m.zones)
            if m.status == "active" and not m.remote_read
        )
        this_period = months.period_of(clock.local_today())
        has_history = session.scalar(
            select(Reading.id).where(Reading.meter_id == meter.id, Reading.period < this_period)
        )
        if has_history is None:
            previous = None
            for ago, value in ((3, Decimal(1000)), (2, Decimal(1150)), (1, Decimal(1290))):
                period = months.add_months(this_period, -ago)
                for zone in meter.zone_names:
                    session.add(
                        Reading(
                            meter_id=meter.id,
                            zone=zone,
                            period=period,
                            taken_on=period.replace(day=20),
                            value=value,
                            consumption=None if previous is None else value - previous,
                            source="controller",
                            status="accepted",
                        )
                    )
                previous = value
            session.commit()
        info = MeterInfo(
            account.id,
            meter.id,
            meter.serial_number,
            account.number,
            meter.zone_names,
            meter.fraction_digits,
        )
        db.session.remove()
    return info


def last_values(app, meter_id: int) -> dict[str, Decimal]:
    with app.app_context():
        last = readings.last_readings(db.session, [meter_id])
        values = {zone: reading.value for (_m, zone), reading in last.items()}
        db.session.remove()
    return values


def typed(value: Decimal, fraction_digits: int) -> str:
    """A value as a person types it: a comma before the decimals."""
    return f"{value:.{fraction_digits}f}".replace(".", ",")


def shown(value: Decimal, fraction_digits: int) -> re.Pattern:
    """The value as a page shows it: digits may be grouped with (non-breaking) spaces."""
    return re.compile(r"\s?".join(map(re.escape, typed(value, fraction_digits))))


def sign_in(browser, live_portal, javascript: bool = True, **context_options):
    resident = live_portal.logins.residents[0]
    context = browser.new_context(java_script_enabled=javascript, **context_options)
    page = context.new_page()
    page.goto(live_portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    return context, page


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_resident_sends_readings_sees_the_receipt_and_the_history(
    browser, live_portal, open_window, javascript
):
    resident = live_portal.logins.residents[0]
    meter = customer_meter(live_portal.app, resident.account_number)
    before = last_values(live_portal.app, meter.meter_id)
    new = {zone: before.get(zone, Decimal(1000)) + Decimal(7) for zone in meter.zones}
    context, page = sign_in(browser, live_portal, javascript, locale="ru-RU")

    page.goto(f"{live_portal.url}/accounts/{meter.account_id}")
    card = page.locator("article", has_text=meter.serial_number)
    expect(card.locator("[data-window=open]")).to_be_visible()
    card.locator(f"a[href='{meter.base}/submit']").click()
    expect(page).to_have_url(live_portal.url + meter.base + "/submit")

    first_zone = meter.zones[0]
    if javascript:
        # Validation as you type: a value with too many decimals is explained at once.
        page.fill(f"#{first_zone}", "1,23456")
        expect(page.locator(f"#{first_zone}-error")).to_be_visible()
        expect(page.locator(f"#{first_zone}")).to_have_value("1,23456")
    for zone, value in new.items():
        page.fill(f"#{zone}", typed(value, meter.fraction_digits))
    if javascript:
        expect(page.locator(f"#feedback-{first_zone} .valid-feedback")).to_be_visible()
        expect(page.locator(f"#{first_zone}-error")).to_have_count(0)
    page.locator("form.reading-form button[type=submit]").click()

    expect(page).to_have_url(re.compile(re.escape(meter.base) + r"/receipt\?r=\d+"))
    expect(page.locator(".receipt-line[data-status=accepted]")).to_have_count(len(meter.zones))
    expect(page.locator(".receipt")).to_contain_text(shown(new[first_zone], meter.fraction_digits))

    page.locator(f"a[href='{meter.base}/history']").first.click()
    expect(page).to_have_url(live_portal.url + meter.base + "/history")
    expect(page.locator("table.readings-table tbody")).to_contain_text(
        shown(new[first_zone], meter.fraction_digits)
    )
    if javascript:
        expect(page.locator("#consumption-chart")).to_be_visible()
        expect(page.locator("details[data-chart-table]")).not_to_have_attribute("open", "")
    else:
        expect(page.locator("details[data-chart-table] table")).to_be_visible()
    context.close()


def test_a_second_reading_supersedes_the_first(browser, live_portal, open_window):
    resident = live_portal.logins.residents[0]
    meter = customer_meter(live_portal.app, resident.account_number)
    context, page = sign_in(browser, live_portal, True)
    for step in (Decimal(11), Decimal(12)):
        before = last_values(live_portal.app, meter.meter_id)
        page.goto(live_portal.url + meter.base + "/submit")
        for zone in meter.zones:
            page.fill(f"#{zone}", typed(before[zone] + step, meter.fraction_digits))
        page.locator("form.reading-form button[type=submit]").click()
        expect(page.locator(".receipt-line[data-status=accepted]").first).to_be_visible()
    page.goto(live_portal.url + meter.base + "/history")
    superseded = ".badge." + ReadingStatus.SUPERSEDED.badge.replace(" ", ".")
    expect(page.locator(f"table.readings-table {superseded}").first).to_be_visible()
    context.close()


def test_a_visitor_sends_a_reading_without_signing_in(browser, live_portal, open_window):
    spare = live_portal.logins.spare_accounts[-1]
    with live_portal.app.app_context():
        account = db.session.scalar(select(Account).where(Account.number == spare.account_number))
        meter = db.session.scalar(
            select(Meter).where(Meter.account_id == account.id).order_by(Meter.zones)
        )
        zones, serial, fraction = meter.zones, meter.serial_number, meter.fraction_digits
        meter_id = meter.id
        db.session.remove()
    last = last_values(live_portal.app, meter_id)
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_portal.url + "/")
    page.locator("a[href='/readings/quick']").click()
    page.fill("#account_number", spare.account_number)
    page.fill("#serial_number", serial)
    # T1, T2, T3 in the order the meter's display numbers its registers.
    for index, zone in enumerate(readings.TARIFF_ZONES[zones]):
        page.fill(f"#t{index + 1}", typed(last.get(zone, Decimal(100)) + 3, fraction))
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(live_portal.url + "/readings/quick/result")
    expect(page.locator(".receipt-line[data-status=accepted]")).to_have_count(zones)
    expect(page.locator("main")).not_to_contain_text(spare.address)
    context.close()


def test_readings_pages_are_accessible(browser, live_portal, open_window):
    resident = live_portal.logins.residents[0]
    meter = customer_meter(live_portal.app, resident.account_number)
    context, page = sign_in(browser, live_portal, True, bypass_csp=True)
    page.goto(live_portal.url + meter.base + "/submit")
    assert_accessible(page, "submit readings")
    page.fill(f"#{meter.zones[0]}", "abc")
    page.locator("form.reading-form button[type=submit]").click()
    expect(page.locator(f"#{meter.zones[0]}-error")).to_be_visible()
    assert_accessible(page, "submit readings with an error")
    page.goto(live_portal.url + meter.base + "/history")
    assert_accessible(page, "readings history")
    page.goto(f"{live_portal.url}/accounts/{meter.account_id}")
    assert_accessible(page, "account page with meters")
    context.close()
    visitor = browser.new_context(bypass_csp=True)
    page = visitor.new_page()
    page.goto(live_portal.url + "/readings/quick")
    assert_accessible(page, "quick readings")
    visitor.close()
