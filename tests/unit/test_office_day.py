"""The office's day (portal.services.office_day) and its figures (visit_figures): tickets
numbered per day, one queue of booked visitors (at their booked time) and walk-ins (at
arrival), call next per window, served and no-show; waits and the nearest-rank 90th
percentile worked out by hand (003: called within 30 minutes)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portal.models import BookingStatus, TicketStatus
from portal.services import office_day, visit_figures, visits
from portal.services.errors import DomainError
from tests.factories import make_office, make_user

MONDAY_0900 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # 09:00 Moscow


def at(minutes: int) -> datetime:
    return MONDAY_0900 + timedelta(minutes=minutes)


def test_walk_in_tickets_are_numbered_per_office_and_day(db_session):
    office, other = make_office(db_session, windows=2), make_office(db_session)
    first = office_day.walk_in(db_session, office.id, "reception", "Петров", now=at(0))
    second = office_day.walk_in(db_session, office.id, "invoices", now=at(1))
    elsewhere = office_day.walk_in(db_session, other.id, "reception", now=at(1))
    next_day = office_day.walk_in(db_session, office.id, "reception", now=at(24 * 60))
    assert [first.label, second.label, elsewhere.label, next_day.label] == [
        "А-001",
        "А-002",
        "А-001",
        "А-001",
    ]
    assert first.day == date(2026, 12, 7)


def test_a_booked_visitor_is_queued_at_the_booked_time_and_called_before_a_later_walk_in(
    db_session,
):
    office = make_office(db_session)
    user = make_user(db_session)
    booking = visits.book(
        db_session,
        user=user,
        office_id=office.id,
        service="reception",
        starts_at=at(30),
        now=at(-3 * 24 * 60),
    )
    walk_in = office_day.walk_in(db_session, office.id, "reception", now=at(10))  # queued 09:10
    checked = office_day.check_in(
        db_session, office.id, booking.code.lower(), now=at(20)
    )  # early: 09:30
    assert checked.label == "З-001"
    assert booking.status == BookingStatus.CHECKED_IN
    assert checked.queue_at == at(30)
    first = office_day.call_next(db_session, office, 1, now=at(25))
    assert first.id == walk_in.id  # 09:10 before 09:30
    office_day.finish(db_session, first, served=True, now=at(35))
    second = office_day.call_next(db_session, office, 1, now=at(36))
    assert second.id == checked.id
    office_day.finish(db_session, second, served=False, now=at(40))
    assert booking.status == BookingStatus.NO_SHOW
    assert office_day.call_next(db_session, office, 1, now=at(41)) is None


def test_check_in_refuses_a_wrong_code_another_day_and_twice(db_session):
    office = make_office(db_session)
    user = make_user(db_session)
    booking = visits.book(
        db_session,
        user=user,
        office_id=office.id,
        service="reception",
        starts_at=at(30),
        now=at(-3 * 24 * 60),
    )
    with pytest.raises(DomainError):
        office_day.check_in(db_session, office.id, "ZZZZZZ", now=at(0))
    with pytest.raises(DomainError):
        office_day.check_in(db_session, office.id, booking.code, now=at(-24 * 60))
    office_day.check_in(db_session, office.id, booking.code, now=at(0))
    with pytest.raises(DomainError):
        office_day.check_in(db_session, office.id, booking.code, now=at(1))


def test_a_window_calls_the_next_only_when_free(db_session):
    office = make_office(db_session, windows=2)
    for minute in range(3):
        office_day.walk_in(db_session, office.id, "reception", now=at(minute))
    office_day.call_next(db_session, office, 1, now=at(5))
    with pytest.raises(DomainError):
        office_day.call_next(db_session, office, 1, now=at(6))
    called = office_day.call_next(db_session, office, 2, now=at(6))
    assert called.label == "А-002"
    with pytest.raises(DomainError):
        office_day.call_next(db_session, office, 3, now=at(6))  # no window 3


def test_a_booking_is_missed_only_once_its_time_has_passed(db_session):
    office = make_office(db_session)
    user = make_user(db_session)
    booking = visits.book(
        db_session,
        user=user,
        office_id=office.id,
        service="reception",
        starts_at=at(30),
        now=at(-3 * 24 * 60),
    )
    with pytest.raises(DomainError):
        office_day.booking_no_show(db_session, office, booking.id, now=at(0))
    office_day.booking_no_show(db_session, office, booking.id, now=at(31))
    assert booking.status == BookingStatus.NO_SHOW


def test_nearest_rank_percentile_by_hand():
    # 10 waits: rank ⌈0.9 × 10⌉ = 9 → the 9th smallest.
    assert visit_figures.percentile_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 40], 0.9) == 9
    # 11 waits: rank ⌈9.9⌉ = 10.
    assert visit_figures.percentile_rank(list(range(1, 12)), 0.9) == 10
    assert visit_figures.percentile_rank([7], 0.9) == 7
    assert visit_figures.percentile_rank([], 0.9) is None


def test_figures_of_an_office_by_hand(db_session):
    """Four walk-ins wait 10, 20, 35 and 45 minutes and are served for 12 minutes each; a
    fifth is never called. Average wait (10+20+35+45)/4 = 27.5; 90th percentile: rank
    ⌈3.6⌉ = 4 → 45; called within 30 minutes: 2 of 4 = 50%. One booking, missed."""
    office = make_office(db_session, windows=4, name="Офис А")
    user = make_user(db_session)
    booking = visits.book(
        db_session,
        user=user,
        office_id=office.id,
        service="reception",
        starts_at=at(0),
        now=at(-3 * 24 * 60),
    )
    office_day.booking_no_show(db_session, office, booking.id, now=at(1))
    tickets = [office_day.walk_in(db_session, office.id, "reception", now=at(0)) for _n in range(5)]
    for ticket, wait in zip(tickets, (10, 20, 35, 45), strict=False):
        ticket.status, ticket.called_at, ticket.window = TicketStatus.CALLED, at(wait), 1
        ticket.finished_at, ticket.status = at(wait + 12), TicketStatus.SERVED
    db_session.flush()
    [row] = visit_figures.figures(db_session, date(2026, 12, 7), date(2026, 12, 7), office.id)
    assert (row.bookings, row.walk_ins, row.no_shows, row.called) == (1, 5, 1, 4)
    assert row.average_wait == Decimal("27.5")
    assert row.p90_wait == Decimal("45.0")
    assert row.within_target == Decimal("0.500")
    assert row.average_service == Decimal("12.0")
    [empty] = visit_figures.figures(db_session, date(2026, 12, 8), date(2026, 12, 8), office.id)
    assert empty.called == 0
    assert empty.average_wait is None
