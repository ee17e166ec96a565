"""The public offices pages and booking a visit through the Flask test client: pages without
sign-in, the calendar without JavaScript and its htmx fragment, the confirmation letter
through the real SMTP server, the .ics file, moving and cancelling in the portal and through
the letter's signed link, another customer's visit answering 404, and the reminder the day
before."""

from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest
import time_machine
from sqlalchemy import select

from portal.models import Booking, BookingStatus, OfficeClosure, OutboxMessage
from portal.services import office_day, visits
from portal.services.notify import reminders
from tests.conftest import link_in, mail_subject, mail_text, page, post_form
from tests.factories import make_office, make_user

# Tuesday 1 December 2026, 09:00 in Moscow: Monday 7 December is within the 30 days.
NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
NINE_ON_MONDAY = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 09:00 Moscow
ELEVEN_TODAY = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 11:00 Moscow on the day of NOW


@pytest.fixture(autouse=True)
def fixed_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def office(db_session):
    place = make_office(db_session, name="Центральный офис", windows=1)
    db_session.add(
        OfficeClosure(
            office_id=place.id,
            first_day=date(2026, 12, 9),
            last_day=date(2026, 12, 10),
            reason="Санитарные дни",
        )
    )
    db_session.flush()
    return place


def _book(client, office, starts_at=NINE_ON_MONDAY, service="reception"):
    return post_form(
        client,
        f"/offices/{office.id}/book",
        {
            "service": service,
            "day": "2026-12-07",
            "starts_at": starts_at.isoformat(),
            "note": "Счёт 5200130411",
        },
    )


def test_offices_pages_need_no_sign_in(client, office):
    listing = page(client.get("/offices"))
    assert "Центральный офис" in listing
    assert "09:00–18:00" in listing
    one = page(client.get(f"/offices/{office.id}"))
    assert "13:00–14:00" in one  # the lunch break
    assert "Санитарные дни" in one  # the closure ahead
    assert "https://yandex.ru/maps/?text=" in one
    assert "<script" not in one.split("</main>")[0].split("<main")[1]  # no map script
    assert client.get("/offices/99999").status_code == 404


def test_booking_needs_a_signed_in_customer(client, office):
    response = client.get(f"/offices/{office.id}/book?service=reception")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_the_calendar_is_links_and_a_day_is_a_fragment_for_htmx(resident_client, office):
    full = page(resident_client.get(f"/offices/{office.id}/book?service=reception&day=2026-12-07"))
    assert "<html" in full
    assert f"/offices/{office.id}/book?service=reception&day=2026-12-08" in full
    assert "day=2026-12-09" not in full  # closed: no link
    assert 'value="2026-12-07T06:00:00+00:00"' in full  # 09:00 Moscow
    fragment = page(
        resident_client.get(
            f"/offices/{office.id}/book?service=reception&day=2026-12-07",
            headers={"HX-Request": "true"},
        )
    )
    assert "<html" not in fragment
    assert 'id="picker"' in fragment


def test_booking_sends_the_confirmation_through_smtp_and_gives_an_ics(
    resident_client, office, mailbox, db_session
):
    response = _book(resident_client, office)
    assert response.status_code == 303
    booking = db_session.scalar(select(Booking))
    assert response.headers["Location"].endswith(f"/visits/{booking.id}")
    assert booking.note == "Счёт 5200130411"
    [letter] = mailbox
    assert booking.code in mail_subject(letter)
    text = mail_text(letter)
    assert "09:00" in text
    assert booking.code in text
    shown = page(resident_client.get(f"/visits/{booking.id}"))
    assert booking.code in shown
    ics = resident_client.get(f"/visits/{booking.id}/calendar.ics")
    assert ics.mimetype == "text/calendar"
    event = icalendar.Calendar.from_ical(ics.data).walk("VEVENT")[0]
    assert event.decoded("dtstart") == NINE_ON_MONDAY
    assert event.decoded("dtend") == NINE_ON_MONDAY + timedelta(minutes=15)
    assert str(event["location"]) == office.address


def test_a_taken_time_is_refused_with_fresh_times(resident_client, office, db_session):
    other = make_user(db_session)
    visits.book(
        db_session, user=other, office_id=office.id, service="reception", starts_at=NINE_ON_MONDAY
    )
    response = _book(resident_client, office)
    assert response.status_code == 200
    body = page(response)
    assert "just been taken" in body or "только что заняли" in body
    assert 'value="2026-12-07T06:00:00+00:00"' not in body
    assert 'value="2026-12-07T06:15:00+00:00"' in body
    assert "Счёт 5200130411" in body  # the note typed is kept


def test_another_customers_visit_is_404(resident_client, office, db_session):
    other = make_user(db_session)
    booking = visits.book(
        db_session, user=other, office_id=office.id, service="reception", starts_at=NINE_ON_MONDAY
    )
    for path in (
        f"/visits/{booking.id}",
        f"/visits/{booking.id}/calendar.ics",
        f"/visits/{booking.id}/move",
    ):
        assert resident_client.get(path).status_code == 404
    assert post_form(resident_client, f"/visits/{booking.id}/cancel", {}).status_code == 404
    assert db_session.get(Booking, booking.id).status == BookingStatus.BOOKED


def test_move_and_cancel_in_the_portal(resident_client, office, db_session, mailbox):
    _book(resident_client, office)
    booking = db_session.scalar(select(Booking))
    later = NINE_ON_MONDAY + timedelta(hours=1)
    response = post_form(
        resident_client,
        f"/visits/{booking.id}/move",
        {"starts_at": later.isoformat(), "day": "2026-12-07"},
    )
    assert response.status_code == 303
    assert db_session.get(Booking, booking.id).starts_at == later
    response = post_form(resident_client, f"/visits/{booking.id}/cancel", {})
    assert response.status_code == 303
    assert db_session.get(Booking, booking.id).status == BookingStatus.CANCELLED
    assert len(mailbox) == 3  # booked, moved, cancelled
    assert all(booking.code in mail_subject(letter) for letter in mailbox)
    assert "10:00" in mail_text(mailbox[1])


def test_the_letters_signed_link_moves_and_cancels_without_signing_in(
    resident_client, client, office, db_session, mailbox
):
    _book(resident_client, office)
    booking = db_session.scalar(select(Booking))
    manage = link_in(mailbox[0], "/visits/manage/")
    assert booking.code in page(client.get(manage))
    assert client.get(manage + "/calendar.ics").mimetype == "text/calendar"
    later = NINE_ON_MONDAY + timedelta(hours=2)
    response = post_form(
        client, manage + "/move", {"starts_at": later.isoformat(), "day": "2026-12-07"}
    )
    assert response.status_code == 303
    assert db_session.get(Booking, booking.id).starts_at == later
    assert post_form(client, manage, {}).status_code == 303
    assert db_session.get(Booking, booking.id).status == BookingStatus.CANCELLED
    forged = manage[:-3] + ("abc" if not manage.endswith("abc") else "xyz")
    assert client.get(forged).status_code == 404


def test_too_late_to_cancel_online(resident_client, office, db_session):
    _book(resident_client, office)
    booking = db_session.scalar(select(Booking))
    with time_machine.travel(NINE_ON_MONDAY - timedelta(hours=1, minutes=59), tick=False):
        post_form(resident_client, f"/visits/{booking.id}/cancel", {})
    assert db_session.get(Booking, booking.id).status == BookingStatus.BOOKED


def test_the_reminder_goes_the_day_before(db_session, office, app):
    user = make_user(db_session)
    booking = visits.book(
        db_session, user=user, office_id=office.id, service="reception", starts_at=NINE_ON_MONDAY
    )
    with app.test_request_context():
        assert (
            _planned(db_session, datetime(2026, 12, 5, 7, 0, tzinfo=UTC)) == 0
        )  # Saturday: two days before
        assert _planned(db_session, datetime(2026, 12, 6, 7, 0, tzinfo=UTC)) == 1  # Sunday
        assert _planned(db_session, datetime(2026, 12, 6, 8, 0, tzinfo=UTC)) == 0  # planned once
    message = db_session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "visit_reminder"))
    assert booking.code in message.body_text
    assert "7 декабря 2026, 09:00" in message.subject  # the user reads Russian


def _planned(session, moment) -> int:
    with time_machine.travel(moment, tick=False):
        planned = reminders.plan(session, rule="visit_reminder", now=moment)
    return sum(item.count for item in planned)


def test_list_pages_run_a_constant_number_of_queries(
    client, resident_client, staff_client, office, db_session
):
    from tests.conftest import counted_queries

    operator = staff_client("operator")
    pages = (
        (client, "/offices"),
        (resident_client, "/visits"),
        (operator, f"/admin/visits?office={office.id}"),
    )
    visits.book(
        db_session,
        user=resident_client.user,
        office_id=office.id,
        service="reception",
        starts_at=NINE_ON_MONDAY,
    )
    first_today = visits.book(db_session, user=make_user(db_session), office_id=office.id,
                              service="invoices", starts_at=ELEVEN_TODAY + timedelta(hours=4))  # fmt: skip
    office_day.check_in(db_session, office.id, first_today.code)
    for browser, url in pages:
        browser.get(url)  # warm up
    few = []
    for browser, url in pages:
        with counted_queries() as statements:
            assert browser.get(url).status_code == 200
        few.append(len(statements))
    for n in range(3):
        other = make_office(db_session, name=f"Офис {n}")
        db_session.add(
            OfficeClosure(
                office_id=other.id, first_day=date(2026, 12, 20), last_day=date(2026, 12, 21)
            )
        )
        visits.book(db_session, user=resident_client.user if n == 0 else make_user(db_session), office_id=other.id,
                    service="reception", starts_at=NINE_ON_MONDAY)  # fmt: skip
        today = visits.book(db_session, user=make_user(db_session), office_id=office.id, service="reception",
                            starts_at=ELEVEN_TODAY + timedelta(minutes=15 * n))  # fmt: skip
        if n == 1:
            office_day.check_in(db_session, office.id, today.code)
    many = []
    for browser, url in pages:
        with counted_queries() as statements:
            assert browser.get(url).status_code == 200
        many.append(len(statements))
    assert many == few


def test_no_time_or_a_malformed_time_is_refused_with_a_message(resident_client, office, db_session):
    for starts_at in ("", "not a time", "2026-12-07T09:00:00", "2026-12-07T06:05:00+00:00"):
        response = post_form(resident_client, f"/offices/{office.id}/book",
                             {"service": "reception", "day": "2026-12-07", "starts_at": starts_at})  # fmt: skip
        assert response.status_code == 200, starts_at
        assert 'id="starts_at-error"' in response.get_data(as_text=True)
    assert db_session.scalar(select(Booking)) is None
