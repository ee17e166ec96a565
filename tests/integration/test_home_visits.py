"""Home visits for vulnerable customers (004 §8.4): only a customer registered as
vulnerable may ask; once a calendar year; due no later than 30 working days after the
request (counted by hand on the 2026 production calendar); scheduled at least 10 days
ahead, by the due date, on a working day, with the visitor's name and phone, and the
customer told by a letter through the real SMTP server."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from portal.models import HomeVisit, HomeVisitStatus
from portal.services import home_visits
from portal.services.errors import DomainError, FieldErrors
from tests.conftest import mail_text, page, post_form
from tests.factories import link, make_account, make_customer

MONDAY = date(2026, 11, 2)


@pytest.fixture(autouse=True)
def fixed_time():
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def vulnerable_account(db_session):
    customer = make_customer(db_session, is_veteran=True, email="veteran@example.ru")
    return make_account(db_session, customer)


def test_30_working_days_from_2_november_2026_is_15_december(db_session, vulnerable_account):
    """3 Nov is the 1st working day, 4 Nov a holiday; then 5–6, 9–13, 16–20, 23–27 Nov, 30
    Nov, 1–4, 7–11 Dec make 29, and 14 Dec… the 30th is 15 December."""
    visit = home_visits.request_visit(
        db_session, account=vulnerable_account, reason="Показания", phone="", today=MONDAY
    )
    assert visit.due_by == date(2026, 12, 15)
    assert visit.address == vulnerable_account.premises.address


def test_only_vulnerable_customers_and_once_a_calendar_year(db_session, vulnerable_account):
    ordinary = make_account(db_session, make_customer(db_session))
    with pytest.raises(DomainError):
        home_visits.request_visit(
            db_session, account=ordinary, reason="Вопрос", phone="", today=MONDAY
        )
    first = home_visits.request_visit(
        db_session, account=vulnerable_account, reason="Вопрос", phone="", today=MONDAY
    )
    with pytest.raises(DomainError) as refusal:
        home_visits.request_visit(
            db_session, account=vulnerable_account, reason="Ещё", phone="", today=date(2026, 12, 20)
        )
    assert "once a calendar year" in refusal.value.message
    first.status = HomeVisitStatus.CANCELLED  # a cancelled request does not count
    home_visits.request_visit(
        db_session, account=vulnerable_account, reason="Ещё", phone="", today=date(2026, 12, 20)
    )
    next_year = home_visits.request_visit(
        db_session, account=vulnerable_account, reason="Снова", phone="", today=date(2027, 1, 11)
    )
    assert next_year.id


def test_scheduling_rules(db_session, vulnerable_account):
    visit = home_visits.request_visit(
        db_session, account=vulnerable_account, reason="Вопрос", phone="", today=MONDAY
    )
    good = {
        "window_from": "10:00",
        "window_to": "12:00",
        "visitor_name": "Орлов И.",
        "visitor_phone": "+79160000001",
    }
    for day, field in (
        (date(2026, 11, 11), "visit_day"),
        (date(2026, 12, 16), "visit_day"),
        (date(2026, 11, 14), "visit_day"),
    ):
        with pytest.raises(FieldErrors) as refusal:  # 9 days' notice; past the due date; a Saturday
            home_visits.schedule(db_session, visit, day=day, staff_id=None, today=MONDAY, **good)
        assert field in refusal.value.errors
    with pytest.raises(FieldErrors) as refusal:
        home_visits.schedule(db_session, visit, day=date(2026, 11, 12), staff_id=None, today=MONDAY,
                             **(good | {"window_to": "09:00", "visitor_name": ""}))  # fmt: skip
    assert set(refusal.value.errors) == {"window_from", "visitor_name"}
    home_visits.schedule(
        db_session, visit, day=date(2026, 11, 12), staff_id=None, today=MONDAY, **good
    )  # 10 days ahead
    assert visit.status == HomeVisitStatus.SCHEDULED


def test_a_resident_asks_and_staff_schedule_with_a_letter(
    resident_client, staff_client, db_session, vulnerable_account, mailbox
):
    link(db_session, resident_client.user, vulnerable_account)
    assert "/visits/home" in page(resident_client.get("/visits"))
    response = post_form(
        resident_client,
        "/visits/home",
        {"account_id": vulnerable_account.id, "reason": "Не могу прийти в офис", "phone": ""},
    )
    assert response.status_code == 303
    visit = db_session.scalar(select(HomeVisit))
    assert visit.user_id == resident_client.user.id
    operator = staff_client("operator")
    assert visit.customer.full_name in page(operator.get("/admin/home-visits"))
    response = post_form(operator, f"/admin/home-visits/{visit.id}", {
        "visit_day": "2026-11-20", "window_from": "10:00", "window_to": "12:00",
        "visitor_name": "Орлов Иван", "visitor_phone": "+7 916 000-00-01",
    })  # fmt: skip
    assert response.status_code == 303
    [letter] = mailbox
    text = mail_text(letter)
    assert "20.11.2026" in text
    assert "Орлов Иван" in text
    assert "+7 916 000-00-01" in text
    assert "10:00" in text


def test_a_customer_not_vulnerable_sees_no_form(resident_client, db_session):
    link(db_session, resident_client.user, make_account(db_session, make_customer(db_session)))
    assert "/visits/home" not in page(resident_client.get("/visits"))
    response = post_form(resident_client, "/visits/home", {"account_id": "1", "reason": "x"})
    assert response.status_code == 200
    assert db_session.scalar(select(HomeVisit)) is None


def test_a_phone_request_by_account_number(staff_client, db_session, vulnerable_account):
    operator = staff_client("operator")
    response = post_form(
        operator,
        "/admin/home-visits",
        {"account_number": vulnerable_account.number, "reason": "Позвонила дочь", "phone": ""},
    )
    assert response.status_code == 303
    visit = db_session.scalar(select(HomeVisit))
    assert visit.phone == vulnerable_account.customer.phone
    refused = post_form(
        operator, "/admin/home-visits", {"account_number": "0000000000", "reason": "x"}
    )
    assert refused.status_code == 200
