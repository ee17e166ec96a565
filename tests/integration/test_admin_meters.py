"""The back office's meters: the card and its history, registration, replacement, faulty
and back in service, seal and verification, and the list of meters due for verification."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from admin.access import AREA_ROLES
from portal.models import STAFF_ROLES, AccountService, AuditEvent, Meter, Reading
from portal.services import clock, months, readings, settings
from portal.services.errors import DomainError
from tests import factories
from tests.conftest import (
    counted_queries,
    field_error,
    field_value,
    form_alert,
    page,
    post_form,
    sign_in_staff,
)
from tests.factories import downloaded_csv, meter_with_history


def today():
    return clock.local_today()


def months_ago(count: int, day: int = 20):
    return months.add_months(today(), -count).replace(day=day)


def audit_events(session, object_type, **filters) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.object_type == object_type)
    for name, value in filters.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(session.scalars(query.order_by(AuditEvent.id)))


def yesterday():
    return today() - timedelta(days=1)


def register_data(**changes) -> dict:
    return {
        "service": "electricity",
        "installed_on": yesterday().isoformat(),
        "serial_number": "NEW-000111",
        "model": "Меркурий 201.8",
        "zones": "2",
        "whole_digits": "6",
        "fraction_digits": "1",
        "verification_due": (today() + timedelta(days=16 * 365)).isoformat(),
        "seal_number": "П-7788",
        "initial_day": "12,5",
        "initial_night": "3",
    } | changes


def replace_data(**changes) -> dict:
    data = register_data(serial_number="REPL-4242", zones="1", initial_total="0,4")
    data.pop("service")
    data.pop("initial_day")
    data.pop("initial_night")
    return data | {"final_total": "1 550"} | changes


# --- who may use what -----------------------------------------------------------------------


@pytest.fixture
def objects(db_session):
    meter = meter_with_history(db_session)
    faulty = meter_with_history(db_session, status="faulty")
    return {"meter": meter.id, "faulty": faulty.id, "account": meter.account_id}


ROUTES = [
    ("GET", "/admin/meters/verification", "meters"),
    ("GET", "/admin/meters/verification.csv", "meters"),
    ("GET", "/admin/meters/{meter}", "meters"),
    ("GET", "/admin/accounts/{account}/meters/new", "meters.manage"),
    ("POST", "/admin/accounts/{account}/meters/new", "meters.manage"),
    ("GET", "/admin/meters/{meter}/replace", "meters.manage"),
    ("POST", "/admin/meters/{meter}/replace", "meters.manage"),
    ("GET", "/admin/meters/{meter}/faulty", "meters.manage"),
    ("POST", "/admin/meters/{meter}/faulty", "meters.manage"),
    ("GET", "/admin/meters/{faulty}/repaired", "meters.manage"),
    ("POST", "/admin/meters/{faulty}/repaired", "meters.manage"),
    ("GET", "/admin/meters/{meter}/verification", "meters.manage"),
    ("POST", "/admin/meters/{meter}/verification", "meters.manage"),
]
ROUTE_IDS = [f"{method} {url}" for method, url, _area in ROUTES]


def form_for(url: str) -> dict:
    if url.endswith("/new"):
        return register_data(serial_number="ROLE-1")
    if url.endswith("/replace"):
        return replace_data()
    if url.endswith(("/faulty", "/repaired")):
        return {"reason": "Checked on a site visit."}
    if url.endswith("/verification"):
        return {
            "seal_number": "S-1",
            "verification_due": (today() + timedelta(days=3000)).isoformat(),
        }
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
        assert response.status_code == expected, page(response)[:1500]
        if method == "POST":
            assert response.headers["Location"].startswith("/admin/meters/")
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("method", "url", "area"), ROUTES, ids=ROUTE_IDS)
def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client, objects, method, url, area):
    response = call(client, method, url, objects)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_the_roles_of_the_meter_areas():
    assert AREA_ROLES["meters"] == {"operator", "metering", "supervisor", "admin"}
    assert AREA_ROLES["meters.manage"] == {"metering", "supervisor", "admin"}


@pytest.mark.parametrize(
    "url",
    [
        "/admin/meters/999999",
        "/admin/meters/99999999999999999999999",
        "/admin/meters/999999/replace",
        "/admin/meters/999999/faulty",
        "/admin/meters/999999/repaired",
        "/admin/meters/999999/verification",
        "/admin/accounts/999999/meters/new",
        "/admin/accounts/99999999999999999999999/meters/new",
    ],
)
def test_unknown_meters_and_accounts_answer_404(client, db_session, url):
    sign_in_staff(client, db_session, "admin")
    assert client.get(url).status_code == 404


# --- the card -------------------------------------------------------------------------------


def test_the_card_shows_the_meter_its_account_and_history(client, db_session):
    meter = meter_with_history(db_session, seal_number="PL-5566")
    staff = sign_in_staff(client, db_session, "operator")
    response = client.get(f"/admin/meters/{meter.id}")
    html = page(response).replace("\u00a0", " ")
    assert meter.serial_number in html
    assert "PL-5566" in html
    assert meter.account.number in html
    assert meter.account.premises.address in html
    assert meter.account.customer.full_name in html
    assert html.count("<tr>") >= 6  # six readings
    assert "1 500" in html
    # An operator sees the card but not the management actions.
    assert f"/admin/meters/{meter.id}/replace" not in html
    assert f"/admin/readings/enter/{meter.id}" in html
    views = audit_events(db_session, object_type="meter", action="view", object_id=meter.id)
    assert [event.staff_id for event in views] == [staff.id]


def test_a_metering_specialist_sees_every_action(client, db_session):
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "metering")
    html = page(client.get(f"/admin/meters/{meter.id}"))
    for action in ("replace", "verification", "faulty"):
        assert f"/admin/meters/{meter.id}/{action}" in html
    assert f"/admin/accounts/{meter.account_id}/meters/new" in html


def test_the_card_needs_a_constant_number_of_queries(client, db_session):
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "metering")
    url = f"/admin/meters/{meter.id}"
    client.get(url)
    with counted_queries() as few:
        client.get(url)
    for ago in range(8, 20):
        enterer = factories.make_staff(db_session, role="operator")
        reviewer = factories.make_staff(db_session, role="metering")
        factories.make_reading(
            db_session,
            meter,
            100 + ago,
            months_ago(ago),
            source="operator",
            entered_by_staff_id=enterer.id,
            reviewed_by_staff_id=reviewer.id,
        )
    factories.make_meter(db_session, meter.account)
    post_form(client, f"{url}/verification", form_for("/verification"))
    post_form(client, f"{url}/faulty", {"reason": "Display blank"})
    db_session.flush()
    with counted_queries() as many:
        response = client.get(url)
    assert response.status_code == 200
    assert len(many) == len(few)


# --- registering ----------------------------------------------------------------------------


def test_register_a_meter_with_its_initial_reading(client, db_session):
    account = factories.make_account(db_session)
    staff = sign_in_staff(client, db_session, "metering")
    response = post_form(client, f"/admin/accounts/{account.id}/meters/new", register_data())
    assert response.status_code == 303
    meter = db_session.scalars(select(Meter).where(Meter.serial_number == "NEW-000111")).one()
    assert response.headers["Location"] == f"/admin/meters/{meter.id}"
    assert (meter.zones, meter.status, meter.seal_number) == (2, "active", "П-7788")
    stored = {
        r.zone: r for r in db_session.scalars(select(Reading).where(Reading.meter_id == meter.id))
    }
    assert {zone: r.value for zone, r in stored.items()} == {
        "day": Decimal("12.5"),
        "night": Decimal("3"),
    }
    for reading in stored.values():
        assert (reading.source, reading.status) == ("operator", "accepted")
        assert (reading.taken_on, reading.entered_by_staff_id) == (yesterday(), staff.id)
    event = audit_events(db_session, object_type="meter", action="create", object_id=meter.id)
    assert event[0].changes["serial_number"] == [None, "NEW-000111"]
    assert "NEW-000111" in page(client.get(response.headers["Location"]))


@pytest.mark.parametrize(
    ("changes", "field", "kept"),
    [
        ({"serial_number": ""}, "serial_number", None),
        ({"whole_digits": "abc"}, "whole_digits", "abc"),
        ({"whole_digits": "13"}, "whole_digits", "13"),
        ({"fraction_digits": "7"}, "fraction_digits", "7"),
        ({"zones": "9"}, "zones", None),
        ({"installed_on": "not a date"}, "installed_on", "not a date"),
        ({"installed_on": "2999-01-01"}, "installed_on", "2999-01-01"),
        ({"verification_due": "2000-01-01"}, "verification_due", "2000-01-01"),
        ({"initial_night": ""}, "initial_night", None),
        ({"initial_total": "5"}, "initial_total", "5"),
        ({"initial_day": "12,55"}, "initial_day", "12,55"),
        ({"initial_day": "x1"}, "initial_day", "x1"),
        ({"initial_day": "9999999"}, "initial_day", "9999999"),
        ({"service": "heat"}, "service", None),
    ],
)
def test_register_errors_show_next_to_the_field(client, db_session, changes, field, kept):
    account = factories.make_account(db_session)
    sign_in_staff(client, db_session, "metering")
    data = register_data(serial_number="ERR-1") | changes
    response = post_form(client, f"/admin/accounts/{account.id}/meters/new", data)
    assert response.status_code == 200
    assert field_error(response, field), page(response)[-3000:]
    if kept is not None:
        assert field_value(response, field) == kept
    assert (
        field_value(response, "serial_number") == data["serial_number"] or not data["serial_number"]
    )
    assert db_session.scalar(select(Meter).where(Meter.serial_number == "ERR-1")) is None


def test_register_refuses_zones_for_water_and_a_serial_in_service(client, db_session):
    account = factories.make_account(db_session)
    db_session.add(AccountService(account_id=account.id, service="cold_water", started_on=today()))
    existing = factories.make_meter(db_session, account, serial_number="TAKEN-1")
    sign_in_staff(client, db_session, "metering")
    url = f"/admin/accounts/{account.id}/meters/new"
    water = post_form(client, url, register_data(service="cold_water"))
    assert field_error(water, "zones")
    taken = post_form(client, url, register_data(serial_number=existing.serial_number))
    assert field_error(taken, "serial_number")


def test_a_closed_account_takes_no_new_meter(client, db_session):
    account = factories.make_account(db_session, closed_on=today())
    sign_in_staff(client, db_session, "metering")
    response = client.get(f"/admin/accounts/{account.id}/meters/new")
    assert response.status_code == 303


# --- replacing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "consumption"),
    [
        # 20 November: the final reading (the 19th) follows October's, the last one.
        (datetime(2026, 11, 20, 9, 0, tzinfo=UTC), Decimal("50")),
        # 00:30 on 1 December in Moscow: "yesterday" is 30 November, the period of the last
        # reading (the 20th, 1500), which the final reading supersedes: its consumption
        # counts from October's (1400).
        (datetime(2026, 11, 30, 21, 30, tzinfo=UTC), Decimal("150")),
    ],
)
def test_replace_records_final_and_initial_readings_the_same_day(
    client, db_session, now, consumption
):
    with time_machine.travel(now, tick=False):
        replace_and_check(client, db_session, consumption)


def replace_and_check(client, db_session, consumption):
    old = meter_with_history(db_session)
    staff = sign_in_staff(client, db_session, "metering")
    response = post_form(client, f"/admin/meters/{old.id}/replace", replace_data())
    assert response.status_code == 303, page(response)[-2000:]
    new = db_session.scalars(select(Meter).where(Meter.serial_number == "REPL-4242")).one()
    assert response.headers["Location"] == f"/admin/meters/{new.id}"
    db_session.refresh(old)
    assert (old.status, new.status) == ("removed", "active")
    assert (new.account_id, new.service, new.installed_on) == (
        old.account_id,
        old.service,
        yesterday(),
    )
    final = db_session.scalars(
        select(Reading).where(Reading.meter_id == old.id, Reading.source == "operator")
    ).one()
    initial = db_session.scalars(select(Reading).where(Reading.meter_id == new.id)).one()
    assert final.taken_on == initial.taken_on == yesterday()
    assert (final.value, final.status, final.consumption) == (
        Decimal("1550"),
        "accepted",
        consumption,
    )
    assert (initial.value, initial.status) == (Decimal("0.4"), "accepted")
    assert final.entered_by_staff_id == initial.entered_by_staff_id == staff.id
    changes = audit_events(db_session, object_type="meter", action="update", object_id=old.id)
    assert changes[0].changes["status"] == ["active", "removed"]
    old_card = page(client.get(f"/admin/meters/{old.id}"))
    assert f"/admin/meters/{old.id}/replace" not in old_card
    assert f"/admin/meters/{new.id}" in old_card  # the account's other meters
    assert client.get(f"/admin/meters/{old.id}/replace").status_code == 303


def test_replace_errors_store_nothing(client, db_session):
    old = meter_with_history(db_session)
    sign_in_staff(client, db_session, "metering")
    url = f"/admin/meters/{old.id}/replace"
    lower = post_form(client, url, replace_data(final_total="1000"))
    assert field_error(lower, "final_total")
    assert field_value(lower, "final_total") == "1000"
    missing = post_form(client, url, replace_data(final_total=""))
    assert field_error(missing, "final_total")
    early = post_form(client, url, replace_data(installed_on=months_ago(2).isoformat()))
    assert field_error(early, "installed_on")
    db_session.refresh(old)
    assert old.status == "active"
    assert db_session.scalar(select(Meter).where(Meter.serial_number == "REPL-4242")) is None
    assert db_session.scalar(select(Reading).where(Reading.source == "operator")) is None


def test_a_faulty_meter_is_replaced_without_a_final_reading(client, db_session):
    old = meter_with_history(db_session, status="faulty")
    sign_in_staff(client, db_session, "metering")
    form = page(client.get(f"/admin/meters/{old.id}/replace"))
    assert 'name="final_total"' not in form
    response = post_form(client, f"/admin/meters/{old.id}/replace", replace_data(final_total=""))
    assert response.status_code == 303
    db_session.refresh(old)
    assert old.status == "removed"
    assert (
        db_session.scalar(
            select(Reading).where(Reading.meter_id == old.id, Reading.source == "operator")
        )
        is None
    )


# --- faulty, repaired, seal and verification ------------------------------------------------


def test_a_faulty_meter_refuses_customer_readings_until_repaired(client, db_session):
    meter = meter_with_history(db_session)
    settings.put(db_session, "readings.window_first_day", 1)
    settings.put(db_session, "readings.window_last_day", 31)
    staff = sign_in_staff(client, db_session, "metering")
    empty = post_form(client, f"/admin/meters/{meter.id}/faulty", {"reason": " "})
    assert field_error(empty, "reason")
    response = post_form(client, f"/admin/meters/{meter.id}/faulty", {"reason": "Display blank"})
    assert response.status_code == 303
    db_session.refresh(meter)
    assert meter.status == "faulty"
    event = audit_events(db_session, object_type="meter", action="update", object_id=meter.id)[0]
    assert (event.staff_id, event.summary) == (staff.id, "Display blank")
    assert event.changes == {"status": ["active", "faulty"]}

    with pytest.raises(DomainError):
        readings.submit(db_session, meter, {"total": "1600"}, source="customer")
    assert readings.check(db_session, meter, "total", "1600", "customer").outcome == "rejected"
    again = post_form(client, f"/admin/meters/{meter.id}/faulty", {"reason": "again"})
    assert again.status_code == 303  # already faulty: back to the card with a message

    post_form(client, f"/admin/meters/{meter.id}/repaired", {"reason": "Repaired on site"})
    db_session.refresh(meter)
    assert meter.status == "active"
    [receipt] = readings.submit(db_session, meter, {"total": "1600"}, source="customer")
    assert receipt.verdict.outcome == "accepted"


def test_seal_and_verification_dates_are_saved_and_audited(client, db_session):
    meter = meter_with_history(db_session, seal_number="OLD-1")
    sign_in_staff(client, db_session, "metering")
    url = f"/admin/meters/{meter.id}/verification"
    assert field_value(client.get(url), "seal_number") == "OLD-1"
    due = today() + timedelta(days=365 * 6)
    verified = yesterday()
    response = post_form(
        client,
        url,
        {
            "seal_number": "NEW-2",
            "verified_on": verified.isoformat(),
            "verification_due": due.isoformat(),
        },
    )
    assert response.status_code == 303
    db_session.refresh(meter)
    assert (meter.seal_number, meter.verification_due) == ("NEW-2", due)
    event = audit_events(db_session, object_type="meter", action="update", object_id=meter.id)[0]
    assert event.changes["seal_number"] == ["OLD-1", "NEW-2"]
    assert event.changes["verified_on"] == [None, verified.isoformat()]
    unchanged = post_form(
        client, url, {"seal_number": "NEW-2", "verification_due": due.isoformat()}
    )
    assert unchanged.status_code == 303
    assert len(audit_events(db_session, object_type="meter", action="update")) == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"verification_due": ""}, "verification_due"),
        ({"verification_due": "2001-01-01"}, "verification_due"),
        ({"verification_due": "2030-01-01", "verified_on": "2999-01-01"}, "verified_on"),
        ({"verification_due": "garbage"}, "verification_due"),
        ({"verification_due": "2030-01-01", "seal_number": "x" * 41}, "seal_number"),
    ],
)
def test_verification_errors_show_next_to_the_field(client, db_session, data, field):
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "metering")
    response = post_form(client, f"/admin/meters/{meter.id}/verification", data)
    assert response.status_code == 200
    assert field_error(response, field)


# --- verification due -----------------------------------------------------------------------


@pytest.fixture
def due_meters(db_session):
    settings.put(db_session, "meters.verification_warning_days", 30)
    account = factories.make_account(db_session)
    make = factories.make_meter
    return {
        "overdue": make(db_session, account, verification_due=today() - timedelta(days=3)),
        "soon": make(db_session, account, verification_due=today() + timedelta(days=30)),
        "later": make(db_session, account, verification_due=today() + timedelta(days=31)),
        "removed": make(
            db_session, account, verification_due=today() - timedelta(days=3), status="removed"
        ),
        "faulty": make(
            db_session, account, verification_due=today() + timedelta(days=2), status="faulty"
        ),
    }


def test_the_list_has_due_soon_and_overdue_meters_only(client, db_session, due_meters):
    sign_in_staff(client, db_session, "operator")
    html = page(client.get("/admin/meters/verification"))
    serials = {name: meter.serial_number for name, meter in due_meters.items()}
    for name in ("overdue", "soon", "faulty"):
        assert serials[name] in html
    for name in ("later", "removed"):
        assert serials[name] not in html
    assert (
        html.index(serials["overdue"]) < html.index(serials["faulty"]) < html.index(serials["soon"])
    )
    fragment = client.get("/admin/meters/verification?page=abc", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)


def test_the_csv_export_lists_the_same_meters(client, db_session, due_meters):
    staff = sign_in_staff(client, db_session, "metering")
    response = client.get("/admin/meters/verification.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    serials = [row[5] for row in rows[1:]]
    assert serials == [due_meters[name].serial_number for name in ("overdue", "faulty", "soon")]
    account = due_meters["soon"].account
    assert rows[1][0] == account.number
    assert rows[1][1] == account.premises.address
    exports = audit_events(db_session, object_type="meter", action="export")
    assert [event.staff_id for event in exports] == [staff.id]


def test_the_csv_export_neutralises_formulas_and_keeps_numbers(client, db_session):
    sign_in_staff(client, db_session, "metering")
    customer = factories.make_customer(
        db_session, full_name='=HYPERLINK("http://x")', phone="+79161234567"
    )
    account = factories.make_account(db_session, customer)
    account.premises.address = "@SUM(A1)"
    due = today() - timedelta(days=400)  # before every other test's meters
    factories.make_meter(
        db_session, account, verification_due=due, serial_number="-2+3", model="\tx"
    )
    rows = downloaded_csv(
        client.get("/admin/meters/verification.csv"),
        f"verification-due-{today().isoformat()}.csv",
    )
    assert rows[1][:4] == [account.number, "'@SUM(A1)", '\'=HYPERLINK("http://x")', "'+79161234567"]
    assert rows[1][5:7] == ["'-2+3", "'\tx"]
    assert rows[1][8] == due.isoformat()


def test_the_list_needs_a_constant_number_of_queries(client, db_session):
    sign_in_staff(client, db_session, "operator")
    account = factories.make_account(db_session)
    factories.make_meter(db_session, account, verification_due=today())
    client.get("/admin/meters/verification")
    with counted_queries() as few:
        client.get("/admin/meters/verification")
    for _ in range(6):
        factories.make_meter(
            db_session, factories.make_account(db_session), verification_due=today()
        )
    db_session.flush()
    with counted_queries() as many:
        client.get("/admin/meters/verification")
    assert len(many) == len(few)


# --- the customer's card links here ---------------------------------------------------------


def test_the_customer_card_links_to_the_meter_card_and_entry(client, db_session):
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "metering")
    html = page(client.get(f"/admin/customers/{meter.account.customer_id}"))
    assert f'href="/admin/meters/{meter.id}"' in html
    assert f'href="/admin/readings/enter/{meter.id}"' in html


def test_form_alerts_name_no_problem_on_a_clean_form(client, db_session):
    meter = meter_with_history(db_session)
    sign_in_staff(client, db_session, "metering")
    assert form_alert(client.get(f"/admin/meters/{meter.id}/replace")) is None
    assert re.search(
        r'name="initial_total"',
        client.get(f"/admin/meters/{meter.id}/replace").get_data(as_text=True),
    )


def test_the_history_on_the_card_is_paginated(client, db_session):
    meter = meter_with_history(db_session)  # six readings
    for ago in range(7, 31):
        factories.make_reading(db_session, meter, 100 + ago, months_ago(ago))
    sign_in_staff(client, db_session, "operator")
    url = f"/admin/meters/{meter.id}"

    def rows(response):
        body = response.get_data(as_text=True)
        history = body[body.index('id="meter-history"') :]
        return history.count("<tr>") - 1  # minus the header row

    assert rows(client.get(url)) == 24
    assert rows(client.get(f"{url}?page=2")) == 6
    assert rows(client.get(f"{url}?page=99")) == 6
    assert client.get(f"{url}?page=abc").status_code == 200
    fragment = client.get(f"{url}?page=2", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert fragment.status_code == 200
