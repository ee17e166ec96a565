"""The back office's readings: operator entry, the review queue and the acceptance figure,
through the test client with CSRF on and a real database."""

import html
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask_babel import ngettext
from sqlalchemy import select

from admin.access import AREA_ROLES
from portal.models import STAFF_ROLES, AuditEvent, Reading, ReadingStatus
from portal.services import clock, months, readings, settings
from portal.services.errors import DomainError
from tests import factories
from tests.conftest import (
    counted_queries,
    field_error,
    field_value,
    page,
    post_form,
    sign_in_staff,
    translated,
)
from tests.factories import meter_with_history

HTMX = {"HX-Request": "true"}


# --- helpers --------------------------------------------------------------------------------


def today() -> date:
    return clock.local_today()


def months_ago(count: int, day: int = 20) -> date:
    return months.add_months(today(), -count).replace(day=day)


def pending_reading(session, meter=None, value="5000"):
    meter = meter or meter_with_history(session)
    last = session.scalars(
        select(Reading).where(Reading.meter_id == meter.id).order_by(Reading.taken_on.desc())
    ).first()
    return factories.make_reading(
        session,
        meter,
        Decimal(value),
        today() - timedelta(days=1) if today().day > 1 else today(),
        status=ReadingStatus.PENDING_REVIEW,
        consumption=Decimal(value) - last.value,
        reason="Consumption far above the usual: sent for review.",
    )


def audit_events(session, object_type="reading", **filters):
    query = select(AuditEvent).where(AuditEvent.object_type == object_type)
    for name, value in filters.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(session.scalars(query.order_by(AuditEvent.id)))


def close_the_window(session) -> None:
    """Make today fall outside the customers' window."""
    first, last = (1, 2) if today().day > 3 else (26, 28)
    settings.put(session, "readings.window_first_day", first)
    settings.put(session, "readings.window_last_day", last)


# --- who may use what -----------------------------------------------------------------------


@pytest.fixture
def objects(db_session):
    meter = meter_with_history(db_session)
    reading = pending_reading(db_session, meter)
    return {"meter": meter.id, "reading": reading.id}


ROUTES = [
    ("GET", "/admin/readings/enter", "readings.enter"),
    ("GET", "/admin/readings/enter?q=SN", "readings.enter"),
    ("GET", "/admin/readings/enter/{meter}", "readings.enter"),
    ("POST", "/admin/readings/enter/{meter}", "readings.enter"),
    ("GET", "/admin/readings/review", "readings.review"),
    ("POST", "/admin/readings/{reading}/accept", "readings.review"),
    ("POST", "/admin/readings/{reading}/reject", "readings.review"),
    ("POST", "/admin/readings/{reading}/correct", "readings.review"),
    ("GET", "/admin/readings/acceptance", "readings.acceptance"),
    ("GET", "/admin/readings/acceptance?period=2026-01", "readings.acceptance"),
]
ROUTE_IDS = [f"{method} {url}" for method, url, _area in ROUTES]


def form_for(url: str) -> dict:
    if url.endswith("/reject"):
        return {"reason": "The photo shows another value."}
    if url.endswith("/correct"):
        return {"value": "1610", "reason": "The customer misread a digit."}
    if "/enter/" in url:
        return {"value_total": "1610", "source": "operator", "taken_on": today().isoformat()}
    return {}


def call(client, method, url, objects):
    target = url.format(**objects)
    if method == "GET":
        return client.get(target)
    return post_form(client, target, form_for(url))


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize(("method", "url", "area"), ROUTES, ids=ROUTE_IDS)
def test_each_role_is_allowed_or_refused(client, db_session, objects, role, method, url, area):
    sign_in_staff(client, db_session, role)
    response = call(client, method, url, objects)
    if role in AREA_ROLES[area]:
        expected = 200 if method == "GET" else 303
        assert response.status_code == expected, page(response)[:800]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("method", "url", "area"), ROUTES, ids=ROUTE_IDS)
def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client, objects, method, url, area):
    response = call(client, method, url, objects)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_the_roles_of_the_readings_areas():
    assert AREA_ROLES["readings.enter"] == {"operator", "metering", "supervisor", "admin"}
    assert AREA_ROLES["readings.review"] == {"metering", "supervisor", "admin"}
    assert AREA_ROLES["readings.acceptance"] == {"metering", "supervisor", "admin"}


def test_the_menu_offers_readings_by_role(client, db_session):
    sign_in_staff(client, db_session, "operator")
    html = client.get("/admin/readings/enter").get_data(as_text=True)
    assert 'href="/admin/readings/enter"' in html
    assert 'href="/admin/readings/review"' not in html
    client.post("/admin/logout", data={"csrf_token": ""})


def test_the_menu_of_a_metering_specialist_has_the_review_queue(client, db_session):
    sign_in_staff(client, db_session, "metering")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/readings/review"' in html
    assert 'href="/admin/meters/verification"' in html


# --- operator entry -------------------------------------------------------------------------


def test_search_finds_a_meter_by_account_number_or_serial(client, db_session):
    sign_in_staff(client, db_session, "operator")
    meter = meter_with_history(db_session, serial_number="ZX-778899")
    other = meter_with_history(db_session)
    by_account = page(client.get(f"/admin/readings/enter?q={meter.account.number}"))
    assert "ZX-778899" in by_account
    assert other.serial_number not in by_account
    by_serial = page(client.get("/admin/readings/enter?q=zx-7788"))
    assert meter.account.number in by_serial
    assert other.account.number not in by_serial
    assert "1 500" in by_serial.replace("\u00a0", " ")  # the last accepted reading
    searches = audit_events(db_session, object_type="meter", action="search")
    assert [event.summary for event in searches] == [meter.account.number, "zx-7788"]


def test_search_fragment_for_htmx_and_nothing_for_an_empty_term(client, db_session):
    sign_in_staff(client, db_session, "operator")
    meter = meter_with_history(db_session)
    fragment = client.get(f"/admin/readings/enter?q={meter.serial_number}", headers=HTMX)
    assert "<html" not in fragment.get_data(as_text=True)
    assert meter.serial_number in page(fragment)
    assert client.get("/admin/readings/enter?q=&page=abc").status_code == 200


def test_operator_enters_a_reading_outside_the_window(app, client, db_session):
    # Before any service speaks in this app context (Flask-Babel keeps the first locale).
    closed = translated(
        app,
        "The window for customers is closed; readings entered by staff are accepted all the same.",
    )
    meter = meter_with_history(db_session)
    close_the_window(db_session)
    with pytest.raises(DomainError):
        readings.submit(db_session, meter, {"total": "1650"}, source="customer")
    staff = sign_in_staff(client, db_session, "operator")
    url = f"/admin/readings/enter/{meter.id}"
    form = client.get(url)
    assert closed in page(form)
    response = post_form(
        client,
        url,
        {"value_total": "1 650,5", "source": "operator", "taken_on": today().isoformat()},
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/admin/readings/receipt?id=")
    stored = db_session.scalars(
        select(Reading).where(Reading.meter_id == meter.id, Reading.source == "operator")
    ).one()
    assert stored.value == Decimal("1650.5")
    assert stored.status == "accepted"
    assert stored.entered_by_staff_id == staff.id
    assert stored.submitted_by_user_id is None
    assert stored.consumption == Decimal("150.5")
    event = audit_events(db_session, action="create", object_id=stored.id)[0]
    assert event.staff_id == staff.id
    receipt = client.get(response.headers["Location"])
    assert receipt.status_code == 200
    assert "1 650,5" in page(receipt).replace("\u00a0", " ")


def test_a_controller_reading_keeps_its_source_and_date(client, db_session):
    meter = meter_with_history(db_session)
    staff = sign_in_staff(client, db_session, "metering")
    taken = today() - timedelta(days=1)
    post_form(
        client,
        f"/admin/readings/enter/{meter.id}",
        {"value_total": "1620", "source": "controller", "taken_on": taken.isoformat()},
    )
    stored = db_session.scalars(
        select(Reading).where(Reading.meter_id == meter.id, Reading.source == "controller")
    ).one()
    assert (stored.taken_on, stored.entered_by_staff_id) == (taken, staff.id)


@pytest.mark.parametrize(
    ("values", "field", "kept"),
    [
        ({"value_total": "12a"}, "value_total", "12a"),
        ({"value_total": ""}, "value_total", None),
        ({"value_total": "1620", "taken_on": "2099-01-01"}, "taken_on", "2099-01-01"),
        ({"value_total": "1620", "taken_on": "31.02.2026x"}, "taken_on", "31.02.2026x"),
    ],
)
def test_entry_errors_show_next_to_the_field(client, db_session, values, field, kept):
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "operator")
    data = {"source": "operator", "taken_on": today().isoformat()} | values
    response = post_form(client, f"/admin/readings/enter/{meter.id}", data)
    assert response.status_code == 200
    assert field_error(response, field)
    if kept is not None:
        assert field_value(response, field) == kept
    assert (
        db_session.scalar(
            select(Reading).where(Reading.meter_id == meter.id, Reading.source == "operator")
        )
        is None
    )


def confirmed_values(response) -> str:
    """The values the page asks to confirm (its hidden field), as the browser sends them."""
    body = response.get_data(as_text=True)
    return html.unescape(
        re.search(r'name="confirmed_values" type="hidden" value="([^"]*)"', body).group(1)
    )


def test_a_far_too_high_value_is_confirmed_then_goes_to_review(client, db_session):
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "operator")
    url = f"/admin/readings/enter/{meter.id}"
    data = {"value_total": "9000", "source": "operator", "taken_on": today().isoformat()}
    asked = post_form(client, url, data)
    assert asked.status_code == 200
    assert 'name="confirmed"' in asked.get_data(as_text=True)
    assert field_value(asked, "value_total") == "9000"
    assert db_session.scalar(select(Reading).where(Reading.source == "operator")) is None
    confirmed = post_form(
        client, url, data | {"confirmed": "y", "confirmed_values": confirmed_values(asked)}
    )
    assert confirmed.status_code == 303
    stored = db_session.scalars(select(Reading).where(Reading.source == "operator")).one()
    assert stored.status == "pending_review"


def test_a_confirmation_holds_only_for_the_values_it_was_given_for(client, db_session):
    """Confirmed for 9 000, a value typed afterwards (90 000) is asked about again."""
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "operator")
    url = f"/admin/readings/enter/{meter.id}"
    data = {"value_total": "9000", "source": "operator", "taken_on": today().isoformat()}
    asked = post_form(client, url, data)
    changed = data | {"value_total": "90000", "confirmed": "y"}
    again = post_form(client, url, changed | {"confirmed_values": confirmed_values(asked)})
    assert again.status_code == 200
    assert 'name="confirmed"' in again.get_data(as_text=True)
    assert field_value(again, "value_total") == "90000"
    assert db_session.scalar(select(Reading).where(Reading.source == "operator")) is None
    confirmed = post_form(client, url, changed | {"confirmed_values": confirmed_values(again)})
    assert confirmed.status_code == 303
    stored = db_session.scalars(select(Reading).where(Reading.source == "operator")).one()
    assert (stored.value, stored.status) == (Decimal("90000"), "pending_review")


def test_a_value_lower_than_the_last_is_recorded_as_rejected_on_the_receipt(client, db_session):
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "operator")
    response = post_form(
        client,
        f"/admin/readings/enter/{meter.id}",
        {"value_total": "1400", "source": "operator", "taken_on": today().isoformat()},
    )
    receipt = page(client.get(response.headers["Location"]))
    stored = db_session.scalars(select(Reading).where(Reading.source == "operator")).one()
    assert stored.status == "rejected"
    assert stored.reason in receipt


def test_a_faulty_meter_offers_no_entry_form(client, db_session):
    meter = meter_with_history(db_session, status="faulty")
    sign_in_staff(client, db_session, "operator")
    html = page(client.get(f"/admin/readings/enter/{meter.id}"))
    assert 'name="value_total"' not in html


@pytest.mark.parametrize(
    "url",
    [
        "/admin/readings/enter/999999",
        "/admin/readings/enter/99999999999999999999999",
        "/admin/readings/receipt",
        "/admin/readings/receipt?id=abc",
        "/admin/readings/receipt?id=999999",
        "/admin/readings/receipt?id=99999999999999999999999",
    ],
)
def test_unknown_meters_and_receipts_answer_404(client, db_session, url):
    sign_in_staff(client, db_session, "operator")
    assert client.get(url).status_code == 404


def test_the_receipt_refuses_readings_of_several_meters(client, db_session):
    first = pending_reading(db_session)
    second = pending_reading(db_session)
    sign_in_staff(client, db_session, "operator")
    assert client.get(f"/admin/readings/receipt?id={first.id}&id={second.id}").status_code == 404


def test_the_search_page_needs_a_constant_number_of_queries(client, db_session):
    sign_in_staff(client, db_session, "operator")
    account = factories.make_account(db_session)
    factories.make_meter(db_session, account)
    url = f"/admin/readings/enter?q={account.number}"
    client.get(url)
    with counted_queries() as few:
        client.get(url)
    for _ in range(8):
        factories.make_meter(db_session, account)
    db_session.flush()
    with counted_queries() as many:
        client.get(url)
    assert len(many) == len(few)


# --- the review queue -----------------------------------------------------------------------


def test_the_queue_shows_previous_new_consumption_and_average(app, client, db_session):
    reading = pending_reading(db_session, value="5000")
    meter = reading.meter
    sign_in_staff(client, db_session, "metering")
    response = client.get("/admin/readings/review")
    html = page(response).replace("\u00a0", " ")
    row = re.search(rf'<tr id="reading-{reading.id}">.*?</tr>', html, re.S).group(0)
    assert meter.account.number in row
    assert meter.account.premises.address in row
    assert meter.serial_number in row
    assert "1 500" in row  # the previous accepted value
    assert "5 000" in row  # the new value
    assert "3 500" in row  # the consumption
    assert re.search(r">\s*100\s*<span", row)  # the monthly average
    assert 'hx-confirm="' in row
    with app.test_request_context():
        awaiting = ngettext("%(num)d reading awaits review", "%(num)d readings await review", 1)
    assert awaiting in html


def test_accept_from_a_browser_redirects_and_is_audited(client, db_session):
    reading = pending_reading(db_session)
    staff = sign_in_staff(client, db_session, "metering")
    response = post_form(client, f"/admin/readings/{reading.id}/accept", {})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/admin/readings/review")
    db_session.refresh(reading)
    assert reading.status == "accepted"
    assert reading.reviewed_by_staff_id == staff.id
    assert reading.reason  # the customer reads "accepted after review"
    event = audit_events(db_session, action="update", object_id=reading.id)[0]
    assert event.staff_id == staff.id
    assert event.changes["status"] == ["pending_review", "accepted"]
    assert reading.id not in [r.id for r in db_session.scalars(readings.review_queue(db_session))]


def test_accept_with_htmx_returns_the_row(client, db_session):
    reading = pending_reading(db_session)
    sign_in_staff(client, db_session, "supervisor")
    response = post_form(client, f"/admin/readings/{reading.id}/accept", {}, headers=HTMX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith("<tr")
    assert "<html" not in body
    assert f'id="reading-{reading.id}"' in body
    assert "/accept" not in body  # no more actions on a decided reading


def test_reject_needs_a_reason_then_the_customer_sees_it(client, db_session):
    reading = pending_reading(db_session)
    staff = sign_in_staff(client, db_session, "metering")
    url = f"/admin/readings/{reading.id}/reject"
    refused = post_form(client, url, {"reason": "   "}, headers=HTMX)
    assert refused.status_code == 200
    assert f'id="reject-reason-{reading.id}-error"' in refused.get_data(as_text=True)
    db_session.refresh(reading)
    assert reading.status == "pending_review"

    full = post_form(client, url, {"reason": ""})
    assert full.status_code == 422
    assert f'id="reject-reason-{reading.id}-error"' in full.get_data(as_text=True)

    done = post_form(client, url, {"reason": "The photo shows 1 650."}, headers=HTMX)
    assert done.status_code == 200
    db_session.refresh(reading)
    assert (reading.status, reading.reason) == ("rejected", "The photo shows 1 650.")
    assert reading.reviewed_by_staff_id == staff.id
    event = audit_events(db_session, action="update", object_id=reading.id)[0]
    assert event.changes["status"] == ["pending_review", "rejected"]
    assert "The photo shows 1 650." in page(done)


def test_correct_keeps_the_original_and_accepts_the_new_value(client, db_session):
    reading = pending_reading(db_session)
    staff = sign_in_staff(client, db_session, "metering")
    url = f"/admin/readings/{reading.id}/correct"
    bad = post_form(client, url, {"value": "abc", "reason": "Misread"}, headers=HTMX)
    assert f'id="correct-value-{reading.id}-error"' in bad.get_data(as_text=True)
    assert 'value="abc"' in bad.get_data(as_text=True)  # the typed value is kept
    lower = post_form(client, url, {"value": "1000", "reason": "Misread"}, headers=HTMX)
    assert f'id="correct-value-{reading.id}-error"' in lower.get_data(as_text=True)

    response = post_form(client, url, {"value": "1700", "reason": "Misread a digit"})
    assert response.status_code == 303
    db_session.refresh(reading)
    assert reading.status == "superseded"
    corrected = db_session.scalars(select(Reading).where(Reading.corrects_id == reading.id)).one()
    assert (corrected.value, corrected.status) == (Decimal("1700"), "accepted")
    assert corrected.consumption == Decimal("200")
    assert "Misread a digit" in corrected.reason
    assert corrected.reviewed_by_staff_id == staff.id
    event = audit_events(db_session, action="update", object_id=reading.id)[0]
    assert event.changes["value"] == [str(reading.value), "1700"]


def test_reviewing_twice_gives_a_clear_message(app, client, db_session):
    reading = pending_reading(db_session)
    sign_in_staff(client, db_session, "metering")
    post_form(client, f"/admin/readings/{reading.id}/accept", {})
    again = post_form(client, f"/admin/readings/{reading.id}/reject", {"reason": "x"}, headers=HTMX)
    assert again.status_code == 200
    message = translated(app, "This reading has already been reviewed.")
    assert message in page(again)
    full = post_form(client, f"/admin/readings/{reading.id}/accept", {}, follow_redirects=True)
    assert message in page(full)
    db_session.refresh(reading)
    assert reading.status == "accepted"
    assert len(audit_events(db_session, action="update", object_id=reading.id)) == 1


@pytest.mark.parametrize("reading_id", ["999999", "99999999999999999999999"])
def test_reviewing_an_unknown_reading_answers_404(client, db_session, reading_id):
    sign_in_staff(client, db_session, "metering")
    assert post_form(client, f"/admin/readings/{reading_id}/accept", {}).status_code == 404


def test_the_queue_is_paginated_and_forgives_a_bad_page(client, db_session):
    sign_in_staff(client, db_session, "metering")
    pending_reading(db_session)
    assert client.get("/admin/readings/review?page=abc").status_code == 200
    assert client.get("/admin/readings/review?page=-4").status_code == 200
    assert client.get("/admin/readings/review?page=99999999999999").status_code == 200


def test_the_queue_needs_a_constant_number_of_queries(client, db_session):
    sign_in_staff(client, db_session, "metering")
    pending_reading(db_session)
    client.get("/admin/readings/review")
    with counted_queries() as few:
        assert client.get("/admin/readings/review").status_code == 200
    for ago in range(2, 8):  # readings of other periods and other meters
        reading = pending_reading(db_session)
        reading.period = months_ago(ago, 1)
    db_session.flush()
    with counted_queries() as many:
        response = client.get("/admin/readings/review")
    assert response.status_code == 200
    assert len(many) == len(few)


# --- the acceptance figure ------------------------------------------------------------------


@pytest.fixture
def acceptance_data(db_session):
    """Four metered accounts for the period 2026-09 (window 15–25): two with a reading in
    the window, one only outside it, one only with a rejected reading; plus an account with
    no meter and one whose only meter was removed, which do not count."""
    settings.put(db_session, "readings.window_first_day", 15)
    settings.put(db_session, "readings.window_last_day", 25)
    period = date(2026, 9, 1)
    accounts = [factories.make_account(db_session) for _ in range(4)]
    meters = [factories.make_meter(db_session, account, zones=1) for account in accounts]
    factories.make_reading(db_session, meters[0], 100, date(2026, 9, 15))
    factories.make_reading(db_session, meters[1], 100, date(2026, 9, 25), status="pending_review")
    factories.make_reading(db_session, meters[2], 100, date(2026, 9, 27))
    factories.make_reading(db_session, meters[3], 100, date(2026, 9, 20), status="rejected")
    factories.make_account(db_session)
    removed = factories.make_meter(
        db_session, factories.make_account(db_session), zones=1, status="removed"
    )
    factories.make_reading(db_session, removed, 100, date(2026, 9, 20))
    return period


def test_the_acceptance_figure_of_a_constructed_month(db_session, acceptance_data):
    figure = readings.acceptance(db_session, acceptance_data)
    assert (figure.metered_accounts, figure.with_reading) == (4, 2)
    assert figure.share == Decimal("50.0")


def test_the_acceptance_page_shows_the_month_and_five_before(client, db_session, acceptance_data):
    sign_in_staff(client, db_session, "supervisor")
    response = client.get("/admin/readings/acceptance?period=2026-09")
    assert response.status_code == 200
    html = page(response).replace("\u00a0", " ")
    rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\".*?</tr>", html, re.S)
    assert len(rows) == 6
    assert "50" in rows[0]
    assert "2026" in rows[0]
    assert 'value="2026-09"' in html


@pytest.mark.parametrize("period", ["abc", "2026-13", "2026", "1999-12", "2999-01", "-1-1"])
def test_a_malformed_month_shows_an_error_not_a_crash(client, db_session, period):
    sign_in_staff(client, db_session, "metering")
    response = client.get(f"/admin/readings/acceptance?period={period}")
    assert response.status_code == 200
    assert 'id="period-error"' in response.get_data(as_text=True)
