"""Office visits in a real browser: a resident finds an office without signing in, books a
visit (htmx loads the day's times), receives the confirmation through the real SMTP server,
moves it and cancels it; the same booking with JavaScript disabled; an operator checks a
booked visitor in, calls the next ticket and marks it served, and the hall's screen shows
it; axe-core finds nothing serious on these pages."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import Booking, BookingStatus, Office, User, VisitService
from portal.services import visits
from portal.services.clock import utcnow
from tests.e2e.conftest import assert_accessible, staff_sign_in

OFFICE_NAME = "Офис круглосуточной записи"
ALL_DAY = ["00:00", "23:59"]  # so the journey finds free times whatever the hour it runs


@pytest.fixture(scope="module")
def office(live_portal):
    """An office open all day every day, and the resident's earlier demo bookings cancelled
    (the demo may have given them visits, and a customer holds at most two)."""
    with live_portal.app.app_context():
        place = Office(
            name=OFFICE_NAME, address="г. Выкса, ул. Братьев Баташёвых, д. 1", phones="+7 831 777-00-00",
            weekly_plan={day: list(ALL_DAY) for day in visits.DAY_KEYS}, windows=1, timezone="Europe/Moscow",
            services=list(VisitService.values()), booking_seq=0,
        )  # fmt: skip
        db.session.add(place)
        emails = [resident.email for resident in live_portal.logins.residents[:2]]
        users = select(User.id).where(User.email.in_(emails))
        db.session.execute(
            update(Booking).where(Booking.user_id.in_(users)).values(status=BookingStatus.CANCELLED)
        )
        db.session.commit()
        office_id = place.id
        db.session.remove()
    return office_id


def resident_page(browser, live_portal, javascript=True, index=0):
    resident = live_portal.logins.residents[index]
    context = browser.new_context(java_script_enabled=javascript, locale="ru-RU", bypass_csp=True)
    page = context.new_page()
    page.goto(live_portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    return context, page, resident


def _choose_time_and_book(page, note=""):
    page.locator("#times label.btn").first.click()
    if note:
        page.fill("#note", note)
    page.click("#times button[type=submit]")
    expect(page.locator("#booking-code")).to_be_visible()
    return page.locator("#booking-code").inner_text().strip()


def test_offices_pages_without_signing_in_are_accessible(browser, live_portal, office):
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(live_portal.url + "/")
    page.locator("nav a[href='/offices']").first.click()
    expect(page.get_by_role("heading", name=OFFICE_NAME)).to_be_visible()
    assert_accessible(page, "offices list")
    page.get_by_role("link", name=OFFICE_NAME).click()
    expect(page.locator("h1")).to_have_text(OFFICE_NAME)
    expect(page.locator("a[href^='https://yandex.ru/maps/']")).to_be_visible()
    assert_accessible(page, "office page")
    context.close()


def test_a_resident_books_moves_and_cancels_a_visit(browser, live_portal, office):
    context, page, resident = resident_page(browser, live_portal)
    page.goto(f"{live_portal.url}/offices/{office}")
    page.locator(f"main a[href='/offices/{office}/book']").first.click()
    page.locator("#step-service ~ div a").first.click()
    day_links = page.locator("table.visit-calendar a")
    expect(day_links.first).to_be_visible()
    chosen = day_links.nth(1)
    chosen_day = chosen.get_attribute("href").split("day=")[1].split("&")[0]
    with page.expect_response(
        lambda r: "day=" in r.url and r.request.headers.get("hx-request") == "true"
    ):
        chosen.click()  # htmx swaps the picker and pushes the day's URL
    expect(page).to_have_url(re.compile(rf"/offices/{office}/book\?.*day={chosen_day}"))
    expect(page.locator("table.visit-calendar a[aria-current=date]")).to_have_text(
        str(int(chosen_day[-2:]))
    )
    assert_accessible(page, "booking page")
    code = _choose_time_and_book(page, note="Лицевой счёт 5200130411")
    assert_accessible(page, "booked visit")
    letter = live_portal.wait_for_mail(resident.email)
    assert code in str(letter["Subject"]) or code in letter.as_string()
    page.click("#move-link")
    page.locator("#times label.btn").nth(1).click()
    page.click("#times button[type=submit]")
    expect(page.locator(".alert-success")).to_be_visible()
    page.click("#cancel-button")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "cancelled")
    page.goto(live_portal.url + "/visits")
    expect(page.locator("main table")).to_contain_text(code)
    context.close()


def test_booking_works_with_javascript_disabled(browser, live_portal, office):
    context, page, _resident = resident_page(browser, live_portal, javascript=False, index=1)
    page.goto(f"{live_portal.url}/offices/{office}/book")
    page.locator("#step-service ~ div a").nth(1).click()
    page.locator("table.visit-calendar a").nth(2).click()  # a plain link: the page reloads
    expect(page.locator("#times label.btn").first).to_be_visible()
    code = _choose_time_and_book(page)
    assert len(code) == 6
    page.click("#cancel-button")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "cancelled")
    context.close()


def test_an_operator_checks_in_calls_and_serves(browser, live_portal, office):
    with live_portal.app.app_context():
        user = db.session.scalar(
            select(User).where(User.email == live_portal.logins.residents[1].email)
        )
        starts = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=5)
        booking = Booking(
            code="E2E7KM", office_id=office, user_id=user.id, service=VisitService.RECEPTION,
            starts_at=starts, ends_at=starts + timedelta(minutes=15), full_name=user.full_name,
        )  # fmt: skip
        db.session.add(booking)
        db.session.commit()
        db.session.remove()
    context = browser.new_context(locale="ru-RU", bypass_csp=True)
    page = context.new_page()
    staff_sign_in(page, live_portal, "operator")
    page.locator("nav a[href='/admin/visits']").click()
    page.select_option("#office-choice", label=OFFICE_NAME)
    expect(page.locator("#booked-list")).to_contain_text("E2E7KM")
    assert_accessible(page, "office's day")
    page.fill("#code", "e2e7km")
    page.click("#check-in-submit")
    expect(page.locator(".alert-success")).to_contain_text("З-001")
    page.locator("#queue form[action$='/call'] button").first.click()
    expect(page.locator("#queue")).to_contain_text("З-001")
    screen = context.new_page()
    screen.goto(f"{live_portal.url}/admin/visits/{office}/screen")
    expect(screen.locator("main")).to_contain_text("З-001")
    assert_accessible(screen, "hall screen")
    page.click("#queue button[name=result][value=served]")
    expect(page.locator(".alert-success")).to_be_visible()
    with live_portal.app.app_context():
        assert (
            db.session.scalar(select(Booking.status).where(Booking.code == "E2E7KM"))
            == BookingStatus.SERVED
        )
        db.session.remove()
    context.close()
