"""The work calendar in the back office, for administrators: a year's holidays, moved days
and exceptions; an exception added or removed (a plain form, or htmx swapping the
calendar), checked and audited; and an exception really moves a bill's due date and the day
a debt message goes out. Dates as in tests/unit/test_workdays.py."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from admin.access import AREA_ROLES
from portal.models import STAFF_ROLES, AuditEvent, CalendarDay
from portal.services import ledger, workdays
from portal.services.clock import local_today
from portal.services.notify.outbox import earliest_send_time, sending_hours
from tests import factories
from tests.conftest import (
    counted_queries,
    field_error,
    field_value,
    page,
    post_form,
    sign_in_staff,
)

HTMX = {"HX-Request": "true"}
TUESDAY = date(2026, 2, 10)  # due day of the January 2026 bills, an ordinary Tuesday
SATURDAY = date(2026, 10, 10)  # due day of the September 2026 bills, an ordinary Saturday


def add_form(day="2026-02-10", working="off", note="Постановление № 1 от 01.02.2026"):
    return {"day": day, "working": working, "note": note}


def exceptions(session) -> list[CalendarDay]:
    session.expire_all()
    return list(session.scalars(select(CalendarDay).order_by(CalendarDay.day)))


def audit_actions(session) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "calendar_day")
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def exception(db_session):
    """A day off on Tuesday 10 February 2026, kept by an administrator."""
    staff = factories.make_staff(db_session, role="admin")
    return workdays.add_override(
        db_session, day=TUESDAY, working=False, note="Decree No. 1", staff_id=staff.id
    )


# --- who may use it -------------------------------------------------------------------------

ROUTES = [
    ("GET", "/admin/calendar"),
    ("GET", "/admin/calendar?year=2027"),
    ("POST", "/admin/calendar"),
    ("POST", "/admin/calendar/{id}/delete"),
]


def call(client, method, url, row):
    if method == "GET":
        return client.get(url)
    data = add_form(day="2026-10-10", working="working") if url == "/admin/calendar" else {}
    return post_form(client, url.format(id=row.id), data)


def test_only_administrators_keep_the_calendar():
    assert AREA_ROLES["calendar"] == {"admin"}


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize(("method", "url"), ROUTES, ids=[f"{m} {u}" for m, u in ROUTES])
def test_each_role_is_allowed_or_refused(client, db_session, exception, role, method, url):
    sign_in_staff(client, db_session, role)
    response = call(client, method, url, exception)
    if role == "admin":
        assert response.status_code == (200 if method == "GET" else 303), page(response)[:500]
    else:
        assert response.status_code == 403
        assert [row.day for row in exceptions(db_session)] == [TUESDAY]


@pytest.mark.parametrize(("method", "url"), ROUTES, ids=[f"{m} {u}" for m, u in ROUTES])
def test_anonymous_visitors_are_sent_to_the_staff_sign_in(
    client, db_session, exception, method, url
):
    response = call(client, method, url, exception)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


# --- the year ---------------------------------------------------------------------------------


def test_the_year_shows_the_holidays_the_library_knows(client, db_session):
    sign_in_staff(client, db_session, "admin")
    response = client.get("/admin/calendar?year=2026")
    html = page(response)
    assert "<html" in html
    assert "247" in html
    assert "118" in html
    assert "Выходной (перенесено с 03.01.2026)" in html  # the package's name, in Russian
    assert "День защитника Отечества" in html
    assert 'href="/admin/calendar?year=2025"' in html
    assert 'href="/admin/calendar?year=2027"' in html
    assert 'action="/admin/calendar?year=2026"' in html


def test_the_working_saturday_of_2027_is_listed(client, db_session):
    sign_in_staff(client, db_session, "admin")
    html = page(client.get("/admin/calendar?year=2027"))
    row = re.search(r"<tr>\s*<td[^>]*>\s*<span[^>]*>20 февраля</span>.*?</tr>", html, re.S)
    assert row
    assert "text-bg-success" in row.group(0)


def test_a_year_without_a_decree_says_so(client, db_session):
    sign_in_staff(client, db_session, "admin")
    assert "alert-warning" in page(client.get("/admin/calendar?year=2040"))
    assert "alert-warning" not in page(client.get("/admin/calendar?year=2026"))


@pytest.mark.parametrize("year", ["abc", "1800", "2101", "-1", "9" * 30, ""])
def test_a_malformed_year_shows_this_year(client, db_session, year):
    sign_in_staff(client, db_session, "admin")
    response = client.get(f"/admin/calendar?year={year}")
    assert response.status_code == 200
    assert f'<h2 class="h4 mb-0 mx-2">{local_today().year}</h2>' in page(response)


def test_the_page_and_its_fragment_share_one_url(client, db_session):
    sign_in_staff(client, db_session, "admin")
    fragment = client.get("/admin/calendar?year=2027", headers=HTMX)
    body = page(fragment)
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="calendar">')
    assert "2027" in body
    assert 'hx-target="#calendar"' in body
    assert "HX-Request" in fragment.headers.get("Vary", "")


def test_the_page_makes_a_constant_number_of_queries(client, db_session, exception):
    sign_in_staff(client, db_session, "admin")
    client.get("/admin/calendar?year=2026")  # warm up
    with counted_queries() as few:
        assert client.get("/admin/calendar?year=2026").status_code == 200
    for day in (date(2026, 3, 3), date(2026, 4, 7), date(2026, 10, 10)):
        staff = factories.make_staff(db_session, role="admin")
        workdays.add_override(
            db_session, day=day, working=day.weekday() >= 5, note="Decree", staff_id=staff.id
        )
    with counted_queries() as many:
        html = page(client.get("/admin/calendar?year=2026"))
    assert html.count('id="exception-') == 4
    assert len(many) == len(few)


# --- adding and removing an exception -------------------------------------------------------


def test_an_exception_is_added_audited_and_shown(client, db_session):
    staff = sign_in_staff(client, db_session, "admin")
    response = post_form(client, "/admin/calendar?year=2026", add_form())
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/calendar?year=2026")
    [row] = exceptions(db_session)
    assert (row.day, row.working, row.created_by_id) == (TUESDAY, False, staff.id)
    assert audit_actions(db_session) == ["create"]
    html = page(client.get("/admin/calendar?year=2026"))
    assert f'id="exception-{row.id}"' in html
    assert "Постановление № 1 от 01.02.2026" in html
    assert f'action="/admin/calendar/{row.id}/delete"' in html
    assert 'hx-confirm="' in html
    assert 'data-confirm="' in html
    assert "246" in html  # one working day less


def test_an_exception_by_htmx_returns_the_calendar_of_its_year(client, db_session):
    sign_in_staff(client, db_session, "admin")
    response = post_form(
        client,
        "/admin/calendar?year=2026",
        add_form(day="2027-03-09", note="Региональный выходной"),
        headers=HTMX,
    )
    assert response.status_code == 200
    body = page(response)
    assert body.lstrip().startswith('<div id="calendar">')
    assert "<html" not in body
    assert 'role="status"' in body
    assert "Региональный выходной" in body
    assert response.headers["HX-Push-Url"] == "/admin/calendar?year=2027"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (add_form(day=""), "day"),
        (add_form(day="tomorrow"), "day"),
        (add_form(day="2026-02-30"), "day"),
        (add_form(day="0001-01-01"), "day"),
        (add_form(day="2101-01-01"), "day"),
        (add_form(day="9" * 40), "day"),
        (add_form(note=""), "note"),
        (add_form(note="   "), "note"),
        (add_form(note="x" * 201), "note"),
        (add_form(working="holiday"), "working"),
        (add_form(day="2026-03-01"), "working"),  # a Sunday is a day off already
        (add_form(working="working"), "working"),  # a Tuesday is a working day already
    ],
    ids=repr,
)
def test_a_wrong_exception_is_refused_next_to_the_field(client, db_session, data, field):
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, "/admin/calendar?year=2026", data)
    assert response.status_code == 200
    assert "<html" in page(response)
    assert field_error(response, field), page(response)[:3000]
    if field == "note" and data["note"].strip():
        assert field_value(response, "note") == data["note"]
    assert exceptions(db_session) == []
    assert audit_actions(db_session) == []


def test_a_second_exception_for_the_same_day_is_refused(client, db_session, exception):
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, "/admin/calendar?year=2026", add_form(note="Ещё раз"))
    assert response.status_code == 200
    assert "10" in field_error(response, "day")
    assert field_value(response, "day") == "2026-02-10"
    assert len(exceptions(db_session)) == 1


def test_a_wrong_exception_by_htmx_comes_back_in_the_fragment(client, db_session):
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, "/admin/calendar?year=2026", add_form(note=""), headers=HTMX)
    assert response.status_code == 200
    body = page(response)
    assert body.lstrip().startswith('<div id="calendar">')
    assert field_error(response, "note")
    assert "HX-Push-Url" not in response.headers


def test_an_exception_is_removed_and_audited(client, db_session, exception):
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, f"/admin/calendar/{exception.id}/delete", {})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/calendar?year=2026")
    assert exceptions(db_session) == []
    assert audit_actions(db_session) == ["create", "delete"]


def test_removing_by_htmx_returns_the_calendar(client, db_session, exception):
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, f"/admin/calendar/{exception.id}/delete", {}, headers=HTMX)
    assert response.status_code == 200
    body = page(response)
    assert body.lstrip().startswith('<div id="calendar">')
    assert 'role="status"' in body
    assert 'id="exception-' not in body


@pytest.mark.parametrize("override_id", ["987654", "0"])
def test_removing_an_unknown_exception_answers_404(client, db_session, override_id):
    sign_in_staff(client, db_session, "admin")
    assert post_form(client, f"/admin/calendar/{override_id}/delete", {}).status_code == 404


def test_removing_needs_a_post(client, db_session, exception):
    sign_in_staff(client, db_session, "admin")
    assert client.get(f"/admin/calendar/{exception.id}/delete").status_code == 405
    assert len(exceptions(db_session)) == 1


def test_the_audit_log_names_the_calendar_day(client, db_session, exception):
    sign_in_staff(client, db_session, "admin")
    post_form(client, f"/admin/calendar/{exception.id}/delete", {})
    html = page(client.get("/admin/audit?object_type=calendar_day"))
    assert "2026-02-10 day off: Decree No. 1" in html


# --- an exception changes what the portal does ------------------------------------------------


def test_a_day_off_added_here_moves_the_bill_due_date(client, db_session):
    assert ledger.bill_dates(db_session, date(2026, 1, 1))["population"][1] == TUESDAY
    sign_in_staff(client, db_session, "admin")
    post_form(client, "/admin/calendar?year=2026", add_form())
    due = ledger.bill_dates(db_session, date(2026, 1, 1))
    assert due["population"][1] == due["others"][1] == date(2026, 2, 11)


def test_a_working_saturday_added_here_keeps_the_due_date(client, db_session):
    assert ledger.bill_dates(db_session, date(2026, 9, 1))["population"][1] == date(2026, 10, 12)
    sign_in_staff(client, db_session, "admin")
    post_form(client, "/admin/calendar?year=2026", add_form(day="2026-10-10", working="working"))
    assert ledger.bill_dates(db_session, date(2026, 9, 1))["population"][1] == SATURDAY


def test_a_debt_notice_waits_for_the_next_working_day_after_an_exception(
    app, db_session, exception
):
    from datetime import UTC, datetime

    with app.test_request_context():
        hours = sending_hours(db_session)
    at = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, Tuesday, now a day off
    moved = earliest_send_time("debt_notice", "email", at, hours)
    assert moved == datetime(2026, 2, 11, hours.working_day_from - 3, 0, tzinfo=UTC)
    assert earliest_send_time("debt_notice", "email", at, sending_hours_without(hours)) == at


def sending_hours_without(hours):
    from dataclasses import replace

    return replace(hours, calendar=workdays.Calendar())
