"""The settings page of the back office, for administrators: every setting by group with
its value, default, range and last change; one value changed in place (htmx) or on its own
page (without JavaScript), checked, audited, reset to the default; a changed setting changes
what the portal does. Through the test client with CSRF on and a real database."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from admin.access import AREA_ROLES
from portal.models import STAFF_ROLES, AuditEvent, Setting
from portal.services import settings
from tests import factories
from tests.conftest import (
    counted_queries,
    field_error,
    field_value,
    login_as,
    page,
    post_form,
    sign_in_staff,
    translated,
)

HTMX = {"HX-Request": "true"}
FIRST_DAY = "readings.window_first_day"
FIRST_DAY_INPUT = "readings-window_first_day-value"  # the form's prefix is the key


def value_field(key: str) -> str:
    return key.replace(".", "-") + "-value"


def audit_events(session) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "setting").order_by(AuditEvent.id)
        )
    )


# --- who may use it -------------------------------------------------------------------------

ROUTES = [
    ("GET", "/admin/settings"),
    ("GET", f"/admin/settings/{FIRST_DAY}"),
    ("POST", f"/admin/settings/{FIRST_DAY}"),
    ("POST", f"/admin/settings/{FIRST_DAY}/reset"),
]


def call(client, method, url):
    if method == "GET":
        return client.get(url)
    return post_form(client, url, {FIRST_DAY_INPUT: "12"})


def test_only_administrators_use_the_settings():
    assert AREA_ROLES["settings"] == {"admin"}


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize(("method", "url"), ROUTES, ids=[f"{m} {u}" for m, u in ROUTES])
def test_each_role_is_allowed_or_refused(client, db_session, role, method, url):
    sign_in_staff(client, db_session, role)
    response = call(client, method, url)
    if role == "admin":
        assert response.status_code == (200 if method == "GET" else 303), page(response)[:500]
    else:
        assert response.status_code == 403
        assert db_session.get(Setting, FIRST_DAY) is None


@pytest.mark.parametrize(("method", "url"), ROUTES, ids=[f"{m} {u}" for m, u in ROUTES])
def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client, db_session, method, url):
    response = call(client, method, url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_residents_are_sent_to_the_staff_sign_in(client, db_session):
    login_as(client, factories.make_user(db_session))
    response = client.get("/admin/settings")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_the_menu_offers_settings_and_the_calendar_to_administrators_only(
    client, other_client, db_session
):
    sign_in_staff(client, db_session, "admin")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/settings"' in html
    assert 'href="/admin/calendar"' in html
    sign_in_staff(other_client, db_session, "supervisor")
    html = other_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/settings"' not in html
    assert 'href="/admin/calendar"' not in html


@pytest.mark.parametrize(
    "url",
    [
        "/admin/settings/readings.window_middle_day",
        "/admin/settings/nothing",
        "/admin/settings/readings",
    ],
)
def test_an_unknown_setting_answers_404(client, db_session, url):
    sign_in_staff(client, db_session, "admin")
    assert client.get(url).status_code == 404
    assert post_form(client, url, {"x-value": "1"}).status_code == 404
    assert post_form(client, f"{url}/reset", {}).status_code == 404


# --- the list ---------------------------------------------------------------------------------


def test_the_page_lists_every_setting_by_group(client, db_session):
    sign_in_staff(client, db_session, "admin")
    html = page(client.get("/admin/settings"))
    for key in settings.SPECS:
        assert f'id="setting-{key.replace(".", "-")}"' in html, key
        assert f'href="/admin/settings/{key}"' in html, key
    for prefix in ("meters", "readings", "billing", "penalties", "debt", "notify"):
        assert f'id="group-{prefix}"' in html
    row = re.search(r'<tr id="setting-readings-window_first_day".*?</tr>', html, re.S).group(0)
    assert "1 – 28" in row
    assert ">15<" in row


def test_the_page_shows_who_changed_a_setting_and_when(client, db_session):
    staff = factories.make_staff(db_session, role="admin", full_name="Лебедева Ольга")
    settings.put(db_session, FIRST_DAY, 12, staff_id=staff.id)
    sign_in_staff(client, db_session, "admin")
    html = page(client.get("/admin/settings"))
    row = re.search(r'<tr id="setting-readings-window_first_day".*?</tr>', html, re.S).group(0)
    assert "Лебедева Ольга" in row
    assert ">12<" in row
    assert "/admin/audit?object_type=setting&q=readings.window_first_day" in row


def test_the_list_makes_a_constant_number_of_queries(client, db_session):
    sign_in_staff(client, db_session, "admin")
    client.get("/admin/settings")  # warm up
    with counted_queries() as few:
        assert client.get("/admin/settings").status_code == 200
    for key in ["meters.verification_warning_days", "debt.overdue_months"]:
        employee = factories.make_staff(db_session, role="admin")
        settings.put(db_session, key, settings.SPECS[key].default + 1, staff_id=employee.id)
    settings.put(db_session, "penalties.low_divisor", 301)
    db_session.flush()
    with counted_queries() as many:
        assert client.get("/admin/settings").status_code == 200
    assert len(many) == len(few)


def test_the_list_and_its_fragment_share_one_url(client, db_session):
    sign_in_staff(client, db_session, "admin")
    full = client.get("/admin/settings")
    fragment = client.get("/admin/settings", headers=HTMX)
    assert "<html" in page(full)
    body = page(fragment)
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="settings-groups"')
    assert 'id="setting-readings-window_first_day"' in body
    assert "HX-Request" in fragment.headers.get("Vary", "")


# --- changing one value ---------------------------------------------------------------------


def test_the_edit_page_and_the_edit_row_share_one_url(app, client, db_session):
    sign_in_staff(client, db_session, "admin")
    full = client.get(f"/admin/settings/{FIRST_DAY}")
    html = page(full)
    assert "<html" in html
    assert field_value(full, FIRST_DAY_INPUT) == "15"
    assert f'action="/admin/settings/{FIRST_DAY}"' in html
    hint = "From %(minimum)s to %(maximum)s; the default is %(default)s."
    assert translated(app, hint, minimum="1", maximum="28", default="15") in html
    row = client.get(f"/admin/settings/{FIRST_DAY}", headers=HTMX)
    body = page(row)
    assert "<html" not in body
    assert body.lstrip().startswith('<tr id="setting-')
    assert f'hx-post="/admin/settings/{FIRST_DAY}"' in body
    assert 'hx-target="closest tr"' in body
    assert field_value(row, FIRST_DAY_INPUT) == "15"


def test_a_change_redirects_to_the_list_and_is_audited(client, db_session):
    staff = sign_in_staff(client, db_session, "admin")
    response = post_form(client, f"/admin/settings/{FIRST_DAY}", {FIRST_DAY_INPUT: " 12 "})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/settings")
    assert settings.get(db_session, FIRST_DAY) == 12
    row = db_session.get(Setting, FIRST_DAY)
    assert row.updated_by_id == staff.id
    [audited] = audit_events(db_session)
    assert audited.staff_id == staff.id
    assert audited.action == "update"
    assert audited.changes == {"value": ["15", "12"]}
    assert audited.ip_address == "127.0.0.1"
    after = page(client.get("/admin/settings"))
    assert "15 → 12" in after  # the flash
    log = page(client.get("/admin/audit?object_type=setting"))
    assert "readings.window_first_day: 15 → 12" in log


def test_a_change_by_htmx_returns_the_row_with_what_happened(client, db_session):
    sign_in_staff(client, db_session, "admin")
    response = post_form(
        client, f"/admin/settings/{FIRST_DAY}", {FIRST_DAY_INPUT: "12"}, headers=HTMX
    )
    assert response.status_code == 200
    body = page(response)
    assert "<html" not in body
    assert body.lstrip().startswith('<tr id="setting-')
    assert 'role="status"' in body
    assert "15 → 12" in body
    assert ">12<" in body
    assert f'href="/admin/settings/{FIRST_DAY}"' in body
    assert settings.get(db_session, FIRST_DAY) == 12


def test_the_same_value_changes_nothing(client, db_session):
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, f"/admin/settings/{FIRST_DAY}", {FIRST_DAY_INPUT: "15"})
    assert response.status_code == 303
    assert db_session.get(Setting, FIRST_DAY) is None
    assert audit_events(db_session) == []


@pytest.mark.parametrize(
    ("key", "typed"),
    [
        (FIRST_DAY, ""),
        (FIRST_DAY, "   "),
        (FIRST_DAY, "abc"),
        (FIRST_DAY, "15.5"),
        (FIRST_DAY, "1e1"),
        (FIRST_DAY, "-3"),
        (FIRST_DAY, "0"),
        (FIRST_DAY, "29"),
        (FIRST_DAY, "9" * 40),
        (FIRST_DAY, "9" * 5000),
        ("readings.review_threshold", "1,05"),
        ("readings.review_threshold", "2,555"),
        ("readings.review_threshold", "Infinity"),
        ("penalties.low_divisor", "10001"),
        ("notify.sms_quiet_from", "24"),
    ],
    ids=repr,
)
def test_a_bad_value_is_refused_next_to_the_field_keeping_what_was_typed(
    client, db_session, key, typed
):
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, f"/admin/settings/{key}", {value_field(key): typed})
    assert response.status_code == 200
    assert "<html" in page(response)
    assert field_error(response, value_field(key))
    if typed.strip() and len(typed) < 100:
        assert field_value(response, value_field(key)) == typed
    assert db_session.get(Setting, key) is None
    assert audit_events(db_session) == []


def test_a_bad_value_by_htmx_comes_back_in_the_row(app, client, db_session):
    sign_in_staff(client, db_session, "admin")
    response = post_form(
        client, f"/admin/settings/{FIRST_DAY}", {FIRST_DAY_INPUT: "31"}, headers=HTMX
    )
    assert response.status_code == 200  # htmx swaps 2xx only
    body = page(response)
    assert body.lstrip().startswith('<tr id="setting-')
    assert "<html" not in body
    message = "Enter a value from %(minimum)s to %(maximum)s."
    assert field_error(response, FIRST_DAY_INPUT) == translated(
        app, message, minimum="1", maximum="28"
    )
    assert field_value(response, FIRST_DAY_INPUT) == "31"
    assert 'aria-invalid="true"' in body


def test_the_window_cannot_open_after_it_closes(client, db_session):
    settings.put(db_session, "readings.window_last_day", 20)
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, f"/admin/settings/{FIRST_DAY}", {FIRST_DAY_INPUT: "21"})
    assert response.status_code == 200
    assert "20" in field_error(response, FIRST_DAY_INPUT)
    assert field_value(response, FIRST_DAY_INPUT) == "21"
    assert settings.get(db_session, FIRST_DAY) == 15


def test_a_form_without_the_csrf_token_is_refused(client, db_session):
    sign_in_staff(client, db_session, "admin")
    response = client.post(f"/admin/settings/{FIRST_DAY}", data={FIRST_DAY_INPUT: "12"})
    assert response.status_code == 400
    assert settings.get(db_session, FIRST_DAY) == 15


# --- reset ------------------------------------------------------------------------------------


def test_reset_goes_back_to_the_default(client, db_session):
    sign_in_staff(client, db_session, "admin")
    post_form(client, f"/admin/settings/{FIRST_DAY}", {FIRST_DAY_INPUT: "12"})
    edit = page(client.get(f"/admin/settings/{FIRST_DAY}"))
    assert f'formaction="/admin/settings/{FIRST_DAY}/reset"' in edit
    response = post_form(client, f"/admin/settings/{FIRST_DAY}/reset", {})
    assert response.status_code == 303
    assert db_session.get(Setting, FIRST_DAY) is None
    assert [e.changes for e in audit_events(db_session)] == [
        {"value": ["15", "12"]},
        {"value": ["12", "15"]},
    ]
    edit = page(client.get(f"/admin/settings/{FIRST_DAY}"))
    assert "/reset" not in edit  # nothing to reset


def test_reset_by_htmx_returns_the_row(client, db_session):
    settings.put(db_session, FIRST_DAY, 12)
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, f"/admin/settings/{FIRST_DAY}/reset", {}, headers=HTMX)
    body = page(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<tr id="setting-')
    assert 'role="status"' in body
    assert ">15<" in body


def test_a_reset_that_breaks_a_rule_is_refused_on_the_form(client, db_session):
    settings.put(db_session, FIRST_DAY, 1)
    settings.put(db_session, "readings.window_last_day", 10)
    sign_in_staff(client, db_session, "admin")
    response = post_form(client, f"/admin/settings/{FIRST_DAY}/reset", {})
    assert response.status_code == 200
    assert "10" in field_error(response, FIRST_DAY_INPUT)
    assert settings.get(db_session, FIRST_DAY) == 1


# --- a changed setting changes what the portal does -------------------------------------------


@time_machine.travel(datetime(2026, 11, 20, 9, tzinfo=UTC), tick=False)
def test_the_readings_window_set_here_is_what_residents_see(client, other_client, db_session):
    resident = factories.make_user(db_session, language="en")
    account = factories.make_account(db_session)
    factories.link(db_session, resident, account)
    factories.make_meter(db_session, account, serial_number="77001122")
    login_as(other_client, resident)
    before = page(other_client.get(f"/accounts/{account.id}"))
    assert "Readings: open until 25 November" in before

    sign_in_staff(client, db_session, "admin")
    post_form(client, f"/admin/settings/{FIRST_DAY}", {FIRST_DAY_INPUT: "1"})
    last = "readings.window_last_day"
    assert (
        post_form(client, f"/admin/settings/{last}", {value_field(last): "10"}).status_code == 303
    )
    after = page(other_client.get(f"/accounts/{account.id}"))
    assert "the window opens on 1 December" in after
