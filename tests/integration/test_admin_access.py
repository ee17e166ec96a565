"""Who may use which back-office page: every route, every role, anonymous and residents."""

import pytest

from admin.access import AREA_ROLES
from portal.models import STAFF_ROLES, OutboxMessage
from tests import factories
from tests.conftest import post_form, sign_in


@pytest.fixture
def objects(db_session):
    customer = factories.make_customer(db_session)
    factories.make_account(db_session, customer)
    employee = factories.make_staff(db_session, role="billing")
    message = OutboxMessage(
        kind="confirm_email",
        channel="email",
        recipient="someone@example.com",
        subject="Confirm",
        body_text="text",
        body_html="<html><head></head><body>html</body></html>",
        dedup_key=f"access-test:{customer.id}",
        status="failed",
    )
    db_session.add(message)
    db_session.flush()
    return {"customer": customer.id, "staff": employee.id, "message": message.id}


# (method, URL pattern, area); POSTs send a form that the allowed roles may submit.
ROUTES = [
    ("GET", "/admin/customers", "customers"),
    ("GET", "/admin/customers?q=test", "customers"),
    ("GET", "/admin/customers/{customer}", "customers"),
    ("GET", "/admin/customers/{customer}/edit", "customers.edit"),
    ("POST", "/admin/customers/{customer}/edit", "customers.edit"),
    ("GET", "/admin/staff", "staff"),
    ("GET", "/admin/staff/new", "staff"),
    ("POST", "/admin/staff/new", "staff"),
    ("GET", "/admin/staff/{staff}/edit", "staff"),
    ("POST", "/admin/staff/{staff}/edit", "staff"),
    ("GET", "/admin/audit", "audit"),
    ("GET", "/admin/mailbox", "mailbox"),
    ("GET", "/admin/mailbox/{message}", "mailbox"),
    ("GET", "/admin/mailbox/{message}/html", "mailbox.body"),
    ("POST", "/admin/mailbox/{message}/retry", "mailbox.retry"),
]
ROUTE_IDS = [f"{method} {url}" for method, url, _area in ROUTES]

FORMS = {
    "/admin/customers/{customer}/edit": {"full_name": "Новое Имя Клиента"},
    "/admin/staff/new": {
        "email": "new.employee@staff.example.ru",
        "full_name": "Новый Сотрудник",
        "role": "operator",
        "password": "long-pass-42",
        "password_again": "long-pass-42",
    },
    "/admin/staff/{staff}/edit": {"full_name": "Другое Имя", "role": "billing", "active": "y"},
    "/admin/mailbox/{message}/retry": {},
}


def request(client, method: str, url: str, objects: dict):
    target = url.format(**objects)
    if method == "GET":
        return client.get(target)
    return post_form(client, target, FORMS[url])


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize(("method", "url", "area"), ROUTES, ids=ROUTE_IDS)
def test_each_role_is_allowed_or_refused(client, db_session, objects, role, method, url, area):
    staff = factories.make_staff(db_session, role=role)
    sign_in(client, staff.email, factories.PASSWORD, staff=True)
    response = request(client, method, url, objects)
    if role in AREA_ROLES[area]:
        expected = (200,) if method == "GET" else (303,)
        assert response.status_code in expected, response.get_data(as_text=True)[:500]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("method", "url", "area"), ROUTES, ids=ROUTE_IDS)
def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client, objects, method, url, area):
    response = request(client, method, url, objects)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


@pytest.mark.parametrize(("method", "url", "area"), ROUTES, ids=ROUTE_IDS)
def test_a_signed_in_resident_sees_no_back_office_data(
    client, db_session, objects, method, url, area
):
    resident = factories.make_user(db_session)
    assert sign_in(client, resident.email, factories.PASSWORD).status_code in (302, 303)
    response = request(client, method, url, objects)
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/admin/login")
    assert "Сидоров" not in response.get_data(as_text=True)


def test_a_blocked_employee_is_not_let_in(client, db_session):
    staff = factories.make_staff(db_session, role="admin", active=False)
    sign_in(client, staff.email, factories.PASSWORD, staff=True)
    assert client.get("/admin/customers").status_code == 302


def test_the_menu_shows_only_what_the_role_may_use(client, db_session):
    staff = factories.make_staff(db_session, role="operator")
    sign_in(client, staff.email, factories.PASSWORD, staff=True)
    html = client.get("/admin/customers").get_data(as_text=True)
    assert 'href="/admin/mailbox"' in html
    assert 'href="/admin/staff"' not in html
    assert 'href="/admin/audit"' not in html
