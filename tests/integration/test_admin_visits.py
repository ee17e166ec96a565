"""Office visits in the back office: who may use which page; the office's day (walk-in →
call next → served; check-in by code; the hall's screen, refreshed by htmx); an
administrator's change of plan or windows listing the booked visits it made impossible, and
cancelling or moving each with a letter to the customer (real SMTP server); figures with
CSV export."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from portal.models import (
    STAFF_ROLES,
    AuditEvent,
    Booking,
    BookingStatus,
    Office,
    OutboxMessage,
    QueueTicket,
    TicketStatus,
)
from portal.services import visits
from tests.conftest import mail_text, page, post_form
from tests.factories import OFFICE_PLAN_003, downloaded_csv, make_office, make_user

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday 10:00 in Moscow
THURSDAY_NINE = datetime(2026, 12, 10, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def office(db_session):
    return make_office(db_session, name="Центральный офис", windows=2)


PAGES = [
    ("get", "/admin/visits", {"operator", "supervisor", "admin"}),
    ("get", "/admin/visits/{office}/screen", {"operator", "supervisor", "admin"}),
    ("get", "/admin/visits/figures", {"supervisor", "admin"}),
    ("get", "/admin/offices", {"admin"}),
    ("get", "/admin/offices/{office}", {"admin"}),
    ("get", "/admin/offices/{office}/affected", {"admin"}),
    ("get", "/admin/home-visits", {"operator", "supervisor", "admin"}),
]


@pytest.mark.parametrize(("method", "url", "allowed"), PAGES)
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_each_role_is_allowed_or_refused(staff_client, office, method, url, allowed, role):
    browser = staff_client(role)
    response = getattr(browser, method)(url.format(office=office.id))
    assert response.status_code == (200 if role in allowed else 403)


def test_a_walk_in_is_called_and_served(staff_client, office, db_session):
    operator = staff_client("operator")
    response = post_form(
        operator,
        f"/admin/visits/{office.id}/walk-in",
        {"service": "invoices", "full_name": "Петров П."},
    )
    assert response.status_code == 303
    ticket = db_session.scalar(select(QueueTicket))
    assert ticket.label == "А-001"
    assert "А-001" in page(operator.get(f"/admin/visits?office={office.id}"))
    post_form(operator, f"/admin/visits/{office.id}/call", {"window": "2"})
    db_session.refresh(ticket)
    assert (ticket.status, ticket.window, ticket.called_at) == (TicketStatus.CALLED, 2, NOW)
    screen = page(operator.get(f"/admin/visits/{office.id}/screen", headers={"HX-Request": "true"}))
    assert "<html" not in screen
    assert "А-001" in screen
    post_form(
        operator, f"/admin/visits/{office.id}/tickets/{ticket.id}/finish", {"result": "served"}
    )
    db_session.refresh(ticket)
    assert ticket.status == TicketStatus.SERVED
    assert db_session.scalar(
        select(AuditEvent).where(AuditEvent.object_type == "office", AuditEvent.action == "view")
    )


def test_check_in_by_code_and_a_wrong_code_shown_next_to_the_field(
    staff_client, office, db_session
):
    user = make_user(db_session, full_name="Сидорова Анна")
    booking = visits.book(db_session, user=user, office_id=office.id, service="reception",
                          starts_at=NOW + timedelta(hours=4), now=NOW - timedelta(days=2))  # fmt: skip
    operator = staff_client("operator")
    found = page(operator.get(f"/admin/visits?office={office.id}&q=сидорова"))
    assert booking.code in found
    refused = post_form(operator, f"/admin/visits/{office.id}/check-in", {"code": "XXXXXX"})
    assert refused.status_code == 200
    assert 'id="code-error"' in refused.get_data(as_text=True)
    post_form(operator, f"/admin/visits/{office.id}/check-in", {"code": booking.code})
    db_session.refresh(booking)
    assert booking.status == BookingStatus.CHECKED_IN
    assert booking.ticket.label == "З-001"


def test_another_offices_ticket_is_404(staff_client, office, db_session):
    other = make_office(db_session)
    operator = staff_client("operator")
    post_form(operator, f"/admin/visits/{other.id}/walk-in", {"service": "reception"})
    ticket = db_session.scalar(select(QueueTicket))
    response = post_form(
        operator, f"/admin/visits/{office.id}/tickets/{ticket.id}/finish", {"result": "served"}
    )
    assert response.status_code == 404


def _office_form(office: Office, **changes) -> dict:
    values = {"name": office.name, "address": office.address, "phones": office.phones, "district": "",
              "timezone": office.timezone, "windows": str(office.windows), "services": list(office.services)}  # fmt: skip
    for key in visits.DAY_KEYS:
        entry = OFFICE_PLAN_003.get(key, [])
        for index, part in enumerate(("opens", "closes", "break_from", "break_to")):
            values[f"{key}_{part}"] = entry[index] if index < len(entry) else ""
    return values | changes


def test_a_plan_change_lists_the_visits_it_made_impossible_and_each_is_cancelled_with_a_letter(
    staff_client, office, db_session, mailbox
):
    user = make_user(db_session)
    booking = visits.book(
        db_session,
        user=user,
        office_id=office.id,
        service="reception",
        starts_at=THURSDAY_NINE,
        now=NOW,
    )
    admin = staff_client("admin")
    # Thursday now opens at 10:00: the visit at 9:00 no longer fits.
    response = post_form(
        admin, f"/admin/offices/{office.id}", _office_form(office, thu_opens="10:00")
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/offices/{office.id}/affected")
    listing = page(admin.get(f"/admin/offices/{office.id}/affected"))
    assert booking.code in listing
    response = post_form(
        admin,
        f"/admin/offices/{office.id}/affected/{booking.id}/cancel",
        {"reason": "Офис открывается в 10:00."},
    )
    assert response.status_code == 303
    db_session.refresh(booking)
    assert booking.status == BookingStatus.CANCELLED
    [letter] = mailbox
    assert "Офис открывается в 10:00." in mail_text(letter)
    admin.get(f"/admin/offices/{office.id}/affected")  # the flash message shown once
    assert booking.code not in page(admin.get(f"/admin/offices/{office.id}/affected"))


def test_fewer_windows_keep_the_first_booked_and_the_other_is_moved(
    staff_client, office, db_session, mailbox
):
    first, second = make_user(db_session), make_user(db_session)
    kept = visits.book(
        db_session,
        user=first,
        office_id=office.id,
        service="reception",
        starts_at=THURSDAY_NINE,
        now=NOW,
    )
    moved = visits.book(
        db_session,
        user=second,
        office_id=office.id,
        service="reception",
        starts_at=THURSDAY_NINE,
        now=NOW,
    )
    moved.created_at = kept.created_at + timedelta(seconds=1)
    admin = staff_client("admin")
    post_form(admin, f"/admin/offices/{office.id}", _office_form(office, windows="1"))
    listing = page(admin.get(f"/admin/offices/{office.id}/affected"))
    assert moved.code in listing
    assert kept.code not in listing
    later = THURSDAY_NINE + timedelta(minutes=15)
    post_form(
        admin,
        f"/admin/offices/{office.id}/affected/{moved.id}/move",
        {"starts_at": later.isoformat(), "reason": ""},
    )
    db_session.refresh(moved)
    assert moved.starts_at == later
    assert len(mailbox) == 1


def test_a_wrong_plan_is_refused_next_to_its_day_and_keeps_what_was_typed(staff_client, office):
    admin = staff_client("admin", language="en")
    response = post_form(
        admin,
        f"/admin/offices/{office.id}",
        _office_form(office, tue_opens="18:00", tue_closes="09:00", windows="0"),
    )
    assert response.status_code == 200
    body = page(response)
    assert "opening first" in body
    assert "from 1 to 50" in body
    assert 'value="18:00"' in body


def test_a_closure_shuts_the_office_and_shows_on_its_public_page(
    staff_client, client, office, db_session
):
    admin = staff_client("admin")
    post_form(
        admin,
        f"/admin/offices/{office.id}/closures",
        {"first_day": "2026-12-14", "last_day": "2026-12-15", "reason": "Ремонт"},
    )
    assert "Ремонт" in page(client.get(f"/offices/{office.id}"))
    view = visits.availability(db_session, db_session.get(Office, office.id), "reception", now=NOW)
    assert view.slots(date(2026, 12, 14)) == []


def test_figures_download_as_csv(staff_client, office, db_session):
    operator_side = staff_client("operator")
    post_form(operator_side, f"/admin/visits/{office.id}/walk-in", {"service": "reception"})
    supervisor = staff_client("supervisor")
    response = supervisor.get(
        f"/admin/visits/figures?from=2026-12-01&to=2026-12-07&office={office.id}&format=csv"
    )
    rows = downloaded_csv(response, "office-waiting-20261201-20261207.csv")
    assert rows[1][0] == "Центральный офис"
    assert rows[1][2] == "1"  # one walk-in, not called yet
    shown = page(supervisor.get("/admin/visits/figures?from=2026-12-01&to=2026-12-07"))
    assert "visits-chart-data" in shown


def test_an_operator_books_a_visit_for_a_caller_and_the_phone_limit_holds(
    staff_client, office, db_session
):
    """002 §11.2: visitors are received in the queue and by booking by phone."""
    operator = staff_client("operator", language="en")
    listing = page(operator.get(f"/admin/visits/{office.id}/book?service=reception"))
    assert THURSDAY_NINE.isoformat() in listing
    form = {
        "service": "reception",
        "full_name": "Кузнецова Мария",
        "phone": "8 916 555-44-33",
        "email": "",
        "note": "",
    }
    for hour in (0, 1):
        response = post_form(
            operator,
            f"/admin/visits/{office.id}/book",
            form | {"starts_at": (THURSDAY_NINE + timedelta(hours=hour)).isoformat()},
        )
        assert response.status_code == 303
    booking = db_session.scalar(select(Booking).order_by(Booking.id))
    assert (booking.user_id, booking.phone, booking.starts_at) == (
        None,
        "+79165554433",
        THURSDAY_NINE,
    )
    refused = post_form(
        operator,
        f"/admin/visits/{office.id}/book",
        form | {"starts_at": (THURSDAY_NINE + timedelta(hours=2)).isoformat()},
    )
    assert refused.status_code == 200
    assert "as many booked visits" in page(refused)
    bad = post_form(
        operator,
        f"/admin/visits/{office.id}/book",
        form | {"phone": "123", "full_name": "", "starts_at": THURSDAY_NINE.isoformat()},
    )
    assert 'id="phone-error"' in bad.get_data(as_text=True)
    assert 'id="full_name-error"' in bad.get_data(as_text=True)
    sms = db_session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "visit_booked"))
    assert sms.channel == "sms"
    assert booking.code in sms.body_text
