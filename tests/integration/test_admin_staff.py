"""Staff management: administrators add employees, change roles, block and reset passwords."""

import uuid

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, Staff
from tests import factories
from tests.conftest import field_error, field_value, post_form, sign_in, sign_in_staff


def new_employee(**changes) -> dict:
    return {
        "email": f"new.{uuid.uuid4().hex[:10]}@staff.example.ru",
        "full_name": "Кузнецова Мария Петровна",
        "phone": "8 (83177) 3-45-67",
        "position": "Специалист по абонентскому обслуживанию",
        "role": "metering",
        "password": "first-pass-2026",
        "password_again": "first-pass-2026",
    } | changes


def edit_form(employee: Staff, **changes) -> dict:
    data = {
        "full_name": employee.full_name,
        "phone": employee.phone or "",
        "position": employee.position or "",
        "role": employee.role,
    }
    if employee.active:
        data["active"] = "y"
    return data | changes


def events_of(db_session, staff: Staff) -> list[AuditEvent]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.staff_id == staff.id,
                AuditEvent.object_type == "staff",
                AuditEvent.action != "sign_in",
            )
            .order_by(AuditEvent.id)
        )
    )


def test_the_list_shows_every_employee(client, db_session):
    admin = sign_in_staff(client, db_session, "admin", language="en")
    blocked = factories.make_staff(db_session, role="billing", active=False, position="Бухгалтер")
    html = client.get("/admin/staff").get_data(as_text=True)
    assert admin.full_name in html
    assert blocked.full_name in html
    assert "Billing specialist" in html
    assert "blocked" in html
    assert "Бухгалтер" in html
    assert f'href="/admin/staff/{blocked.id}/edit"' in html
    assert 'href="/admin/staff/new"' in html


def test_create_an_employee_who_can_then_sign_in(client, db_session):
    admin = sign_in_staff(client, db_session, "admin", language="en")
    data = new_employee()
    response = post_form(client, "/admin/staff/new", data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/staff")
    employee = db_session.scalar(select(Staff).where(Staff.email == data["email"]))
    assert employee.role == "metering"
    assert employee.phone == "+78317734567"
    assert employee.active
    [created] = events_of(db_session, admin)
    assert created.action == "create"
    assert created.object_id == employee.id
    assert created.changes["role"] == [None, "metering"]
    assert "password" not in created.changes
    other = client.application.test_client()
    assert sign_in(other, data["email"], data["password"], staff=True).status_code == 303


def test_create_with_a_taken_e_mail_shows_the_error_next_to_the_field(client, db_session):
    sign_in_staff(client, db_session, "admin", language="en")
    existing = factories.make_staff(db_session)
    data = new_employee(email=existing.email.upper())
    response = post_form(client, "/admin/staff/new", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "An employee with this e-mail already exists." in html
    assert 'id="email-error"' in html
    assert f'value="{data["full_name"]}"' in html  # typed values stay
    assert db_session.scalar(select(Staff.id).where(Staff.full_name == data["full_name"])) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password": "short1", "password_again": "short1"}, "between 8 and 128 characters"),
        ({"password": "onlyletters", "password_again": "onlyletters"}, "letters and digits"),
        ({"password_again": "something-else-1"}, "The passwords differ."),
        ({"role": "superuser"}, "Not a valid choice"),
        ({"phone": "12"}, "Enter a valid phone number"),
        ({"email": "nonsense"}, "Invalid email address"),
        ({"full_name": "Я" * 5000}, "Field cannot be longer than 200 characters"),
    ],
)
def test_create_refuses_bad_input(client, db_session, changes, message):
    sign_in_staff(client, db_session, "admin", language="en")
    response = post_form(client, "/admin/staff/new", new_employee(**changes))
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["<b>Иван</b>", "Иван 😀", "Иванов\u202eвонаВ", "12345"])
def test_an_employee_is_named_by_the_rule_of_sign_up(client, db_session, name):
    """The person rule, next to the field with the typed value kept, on creation and edit."""
    sign_in_staff(client, db_session, "admin", language="en")
    data = new_employee(full_name=name)
    response = post_form(client, "/admin/staff/new", data)
    assert response.status_code == 200
    assert field_error(response, "full_name") == (
        "Write the name in letters: emoji and special symbols are not allowed."
    )
    assert field_value(response, "full_name") == name
    assert db_session.scalar(select(Staff.id).where(Staff.email == data["email"])) is None

    employee = factories.make_staff(db_session, role="operator")
    response = post_form(
        client, f"/admin/staff/{employee.id}/edit", edit_form(employee, full_name=name)
    )
    assert response.status_code == 200
    assert "special symbols" in field_error(response, "full_name")
    db_session.expire_all()
    assert db_session.get(Staff, employee.id).full_name != name


def test_an_employee_name_is_tidied(client, db_session):
    sign_in_staff(client, db_session, "admin", language="en")
    data = new_employee(full_name="  Мария-Луиза   д’Артаньян ")
    assert post_form(client, "/admin/staff/new", data).status_code == 303
    employee = db_session.scalar(select(Staff).where(Staff.email == data["email"]))
    assert employee.full_name == "Мария-Луиза д’Артаньян"


def test_edit_changes_role_and_blocks_and_is_audited(client, db_session):
    admin = sign_in_staff(client, db_session, "admin", language="en")
    employee = factories.make_staff(db_session, role="operator")
    response = post_form(
        client,
        f"/admin/staff/{employee.id}/edit",
        edit_form(employee, role="supervisor", position="Начальник отдела", active=""),
    )
    assert response.status_code == 303
    db_session.expire_all()
    employee = db_session.get(Staff, employee.id)
    assert (employee.role, employee.active, employee.position) == (
        "supervisor",
        False,
        "Начальник отдела",
    )
    [updated] = events_of(db_session, admin)
    assert updated.action == "update"
    assert updated.changes == {
        "role": ["operator", "supervisor"],
        "active": ["True", "False"],
        "position": [None, "Начальник отдела"],
    }


def test_edit_resets_the_password(client, db_session):
    admin = sign_in_staff(client, db_session, "admin", language="en")
    employee = factories.make_staff(db_session, role="billing")
    data = edit_form(employee, new_password="brand-new-77", new_password_again="brand-new-77")
    assert post_form(client, f"/admin/staff/{employee.id}/edit", data).status_code == 303
    db_session.expire_all()
    assert db_session.get(Staff, employee.id).check_password("brand-new-77")
    [updated] = events_of(db_session, admin)
    assert updated.changes == {"password": [None, "reset"]}


def test_a_weak_new_password_is_refused_next_to_its_field(client, db_session):
    sign_in_staff(client, db_session, "admin", language="en")
    employee = factories.make_staff(db_session)
    data = edit_form(employee, new_password="abcdefghij", new_password_again="abcdefghij")
    html = post_form(client, f"/admin/staff/{employee.id}/edit", data).get_data(as_text=True)
    assert "letters and digits" in html
    assert 'id="new_password-error"' in html


def test_an_admin_cannot_block_themselves(client, db_session):
    admin = sign_in_staff(client, db_session, "admin", language="en")
    response = post_form(client, f"/admin/staff/{admin.id}/edit", edit_form(admin, active=""))
    assert response.status_code == 200
    assert "You cannot block your own account." in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Staff, admin.id).active
    assert client.get("/admin/staff").status_code == 200  # still signed in


def test_an_admin_cannot_remove_their_own_admin_role(client, db_session):
    admin = sign_in_staff(client, db_session, "admin", language="en")
    response = post_form(client, f"/admin/staff/{admin.id}/edit", edit_form(admin, role="operator"))
    assert response.status_code == 200
    assert "You cannot remove your own administrator role." in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Staff, admin.id).role == "admin"


def test_an_admin_may_change_their_own_name(client, db_session):
    admin = sign_in_staff(client, db_session, "admin", language="en")
    response = post_form(
        client, f"/admin/staff/{admin.id}/edit", edit_form(admin, full_name="Новое Имя")
    )
    assert response.status_code == 303


def test_unknown_employee_is_404(client, db_session):
    sign_in_staff(client, db_session, "admin", language="en")
    assert client.get("/admin/staff/999999/edit").status_code == 404
    assert client.get("/admin/staff/99999999999999999999999/edit").status_code == 404


@pytest.mark.parametrize("query", ["page=abc", "page=-5", "page=100000000000000000000"])
def test_the_list_survives_malformed_pages(client, db_session, query):
    sign_in_staff(client, db_session, "admin", language="en")
    assert client.get(f"/admin/staff?{query}").status_code == 200
