"""The audit log: filters, newest first, readable changes, fragment vs page."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from portal.models import AuditEvent, Staff
from tests import factories
from tests.conftest import sign_in_staff


def add_event(db_session, staff: Staff, **fields) -> AuditEvent:
    values = {
        "staff_id": staff.id,
        "action": "view",
        "object_type": "customer",
        "object_id": 1,
        "summary": "",
        "at": datetime.now(UTC),
        "ip_address": "192.0.2.10",
    } | fields
    event = AuditEvent(**values)
    db_session.add(event)
    db_session.flush()
    return event


def shown(html: str, marker: str) -> list[str]:
    """The markers (unique summaries) in the order the page shows them."""
    return re.findall(rf"{marker}-\d+", html)


@pytest.fixture
def marker() -> str:
    return "m" + uuid.uuid4().hex[:10]


def test_events_are_listed_newest_first_with_who_what_where(client, db_session, marker):
    viewer = sign_in_staff(client, db_session, "supervisor", language="en")
    operator = factories.make_staff(db_session, full_name="Оператор Ольга Ивановна")
    customer = factories.make_customer(db_session)
    now = datetime.now(UTC)
    add_event(
        db_session,
        operator,
        object_id=customer.id,
        summary=f"{marker}-1",
        at=now - timedelta(hours=2),
    )
    add_event(
        db_session,
        operator,
        action="update",
        object_id=customer.id,
        summary=f"{marker}-2",
        changes={"phone": ["+79160000001", "+79160000002"], "is_veteran": ["False", "True"]},
        at=now - timedelta(hours=1),
    )
    html = client.get(f"/admin/audit?q={marker}").get_data(as_text=True)
    assert shown(html, marker) == [f"{marker}-2", f"{marker}-1"]
    assert "Оператор Ольга Ивановна" in html
    assert "changed" in html
    assert "viewed" in html
    assert f'href="/admin/customers/{customer.id}"' in html
    assert "192.0.2.10" in html
    assert "Phone:" in html
    assert "+79160000002" in html
    assert "Veteran:" in html
    assert "yes" in html
    assert viewer.full_name in html  # the navbar at least


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda ctx: f"staff={ctx['other'].id}", ["3"]),
        (lambda ctx: "action=update", ["2"]),
        (lambda ctx: "object_type=staff", ["3"]),
        (lambda ctx: f"object_id={ctx['customer_id']}", ["2", "1"]),
        (lambda ctx: "date_from=" + ctx["yesterday"], ["3", "2"]),
        (lambda ctx: "date_to=" + ctx["two_days_ago"], ["1"]),
        (lambda ctx: "date_from={0}&date_to={0}".format(ctx["yesterday"]), ["2"]),
    ],
    ids=["staff", "action", "object-type", "object-id", "from", "to", "one-day"],
)
def test_filters(client, db_session, marker, query, expected):
    sign_in_staff(client, db_session, "supervisor", language="en")
    one = factories.make_staff(db_session)
    other = factories.make_staff(db_session)
    customer_id = 10_000 + uuid.uuid4().int % 10**6
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    add_event(
        db_session, one, object_id=customer_id, summary=f"{marker}-1", at=now - timedelta(days=3)
    )
    add_event(
        db_session,
        one,
        action="update",
        object_id=customer_id,
        summary=f"{marker}-2",
        at=now - timedelta(days=1),
    )
    add_event(
        db_session, other, object_type="staff", object_id=one.id, summary=f"{marker}-3", at=now
    )
    ctx = {
        "other": other,
        "customer_id": customer_id,
        "yesterday": (now - timedelta(days=1)).date().isoformat(),
        "two_days_ago": (now - timedelta(days=2)).date().isoformat(),
    }
    html = client.get(f"/admin/audit?q={marker}&{query(ctx)}").get_data(as_text=True)
    assert shown(html, marker) == [f"{marker}-{n}" for n in expected]


def test_free_text_matches_cyrillic_in_any_case(client, db_session):
    staff = sign_in_staff(client, db_session, "supervisor", language="en")
    word = "Ёжиков" + uuid.uuid4().hex[:6]
    add_event(db_session, staff, action="search", summary=f"{word} Иван")
    html = client.get("/admin/audit", query_string={"q": word.lower() + " иван"}).get_data(
        as_text=True
    )
    assert f"{word} Иван" in html


def test_same_url_gives_the_fragment_to_htmx(client, db_session, marker):
    staff = sign_in_staff(client, db_session, "supervisor", language="en")
    add_event(db_session, staff, summary=f"{marker}-1")
    page = client.get(f"/admin/audit?q={marker}").get_data(as_text=True)
    fragment = client.get(f"/admin/audit?q={marker}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "<html" in page
    assert 'hx-get="/admin/audit"' in page
    assert 'method="get"' in page
    assert "<html" not in fragment
    assert f"{marker}-1" in fragment


def test_pagination_keeps_the_filters(client, db_session, marker):
    staff = sign_in_staff(client, db_session, "supervisor", language="en")
    for n in range(35):
        add_event(
            db_session, staff, summary=f"{marker}-{n}", at=datetime.now(UTC) - timedelta(minutes=n)
        )
    first = client.get(f"/admin/audit?q={marker}&action=view").get_data(as_text=True)
    second = client.get(f"/admin/audit?q={marker}&action=view&page=2").get_data(as_text=True)
    assert len(shown(first, marker)) == 30
    assert len(shown(second, marker)) == 5
    assert re.search(r'href="/admin/audit\?page=2&amp;[^"]*q=' + marker, first)
    assert "action=view" in first.split("page=2", 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    "query",
    [
        "object_id=abc",
        "object_id=-1",
        "object_id=99999999999999999999999999",
        "date_from=yesterday",
        "date_to=2026-13-45",
        "staff=999999999",
        "staff=abc",
        "action=bogus",
        "object_type=" + "x" * 500,
        "q=" + "ж" * 5000,
        "page=abc",
        "page=-1",
        "_external=1&_scheme=javascript",
    ],
)
def test_malformed_filters_never_fail(client, db_session, query):
    sign_in_staff(client, db_session, "supervisor", language="en")
    assert client.get(f"/admin/audit?{query}").status_code == 200
    assert client.get(f"/admin/audit?{query}", headers={"HX-Request": "true"}).status_code == 200


def test_staff_changes_link_to_the_employee_for_admins(client, db_session, marker):
    admin = sign_in_staff(client, db_session, "admin", language="en")
    employee = factories.make_staff(db_session)
    add_event(
        db_session,
        admin,
        action="update",
        object_type="staff",
        object_id=employee.id,
        summary=f"{marker}-1",
        changes={"role": ["operator", "billing"]},
    )
    html = client.get(f"/admin/audit?q={marker}").get_data(as_text=True)
    assert f'href="/admin/staff/{employee.id}/edit"' in html
    assert "Operator" in html
    assert "Billing specialist" in html
