"""Free times of an office (portal.services.visits): every figure below is counted by hand
from the office's plan (003: Mon–Thu 9–18, Fri 9–17, lunch 13–14), the durations of 004
§8.4 (reception 15 min, contract documents 20 min), the production calendar and the rules
(notice 2 hours, 30 days ahead, 2 booked visits per customer)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from portal.models import Booking, BookingStatus, CalendarDay, OfficeClosure, VisitService
from portal.services import visits
from portal.services.errors import DomainError
from tests.factories import OFFICE_PLAN_003, make_office, make_user

MSK = ZoneInfo("Europe/Moscow")
# A Monday a week before: every day below is within 30 days and past the notice.
MONDAY_BEFORE = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def local_times(office_slots):
    return [slot.local.strftime("%H:%M") for slot in office_slots]


def slots(session, office, service, day, now=MONDAY_BEFORE):
    return visits.availability(session, office, service, now=now).slots(day)


def test_plan_of_003_is_39_hours_a_week_above_the_25_of_002_11_1():
    # 4 days × (9 h − 1 h lunch) + Friday (8 h − 1 h) = 32 + 7 = 39 h.
    assert visits.weekly_minutes(OFFICE_PLAN_003) == 39 * 60


def test_a_monday_has_32_reception_times_around_the_lunch_break(db_session):
    office = make_office(db_session)
    times = local_times(slots(db_session, office, VisitService.RECEPTION, date(2026, 12, 7)))
    # 9:00–13:00 is 16 times of 15 minutes, 14:00–18:00 another 16.
    assert len(times) == 32
    assert times[:2] == ["09:00", "09:15"]
    assert times[15:17] == ["12:45", "14:00"]
    assert times[-1] == "17:45"
    assert "13:00" not in times
    assert "13:30" not in times


def test_contract_documents_take_20_minutes_so_a_monday_has_24(db_session):
    office = make_office(db_session)
    times = local_times(slots(db_session, office, VisitService.CONTRACT, date(2026, 12, 7)))
    # 240 / 20 = 12 before lunch (the last at 12:40 ends at 13:00), 12 after.
    assert len(times) == 24
    assert times[11:13] == ["12:40", "14:00"]
    assert times[-1] == "17:40"


def test_friday_closes_at_17_and_the_weekend_is_shut(db_session):
    office = make_office(db_session)
    friday = local_times(slots(db_session, office, VisitService.RECEPTION, date(2026, 12, 11)))
    assert len(friday) == 16 + 12
    assert friday[-1] == "16:45"
    assert slots(db_session, office, VisitService.RECEPTION, date(2026, 12, 12)) == []
    assert slots(db_session, office, VisitService.RECEPTION, date(2026, 12, 13)) == []


def test_a_plan_without_a_break_keeps_none_for_it():
    plan = visits.parse_plan({"sat": ["10:00", "14:00", None, None]})
    assert plan[5].intervals() == [(time(10), time(14))]
    assert visits.weekly_minutes({"sat": ["10:00", "14:00", None, None]}) == 240


def test_two_breaks_in_a_day(db_session):
    office = make_office(
        db_session, weekly_plan={"mon": ["09:00", "12:00", "10:00", "10:30", "11:00", "11:15"]}
    )
    times = local_times(slots(db_session, office, VisitService.RECEPTION, date(2026, 12, 7)))
    assert times == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:30",
        "10:45",
        "11:15",
        "11:30",
        "11:45",
    ]


def test_moved_days_off_and_a_working_saturday_of_the_decrees(db_session):
    """2026: 31 December is a day off (Decree No. 1466); 2027: Saturday 20 February is a
    working day and Monday 22 February a day off (Decree No. 1187). The Saturday is worked by
    the office's Friday hours: 16 + 12 reception times."""
    office = make_office(db_session)
    now = datetime(2027, 2, 1, 6, 0, tzinfo=UTC)
    assert slots(db_session, office, "reception", date(2027, 2, 22), now) == []
    assert slots(db_session, office, "reception", date(2027, 2, 23), now) == []  # 23 February
    saturday = local_times(slots(db_session, office, "reception", date(2027, 2, 20), now))
    assert len(saturday) == 28
    assert saturday[-1] == "16:45"
    december = datetime(2026, 12, 20, 6, 0, tzinfo=UTC)
    assert slots(db_session, office, "reception", date(2026, 12, 31), december) == []
    assert len(slots(db_session, office, "reception", date(2026, 12, 30), december)) == 32


def test_an_office_open_on_saturdays_is_shut_on_a_holiday_saturday(db_session):
    plan = OFFICE_PLAN_003 | {"sat": ["10:00", "14:00"]}
    office = make_office(db_session, weekly_plan=plan)
    assert (
        len(
            slots(
                db_session,
                office,
                "reception",
                date(2026, 12, 5),
                datetime(2026, 12, 1, tzinfo=UTC),
            )
        )
        == 16
    )
    # 12 June 2027 (Russia Day) is a Saturday.
    assert (
        slots(db_session, office, "reception", date(2027, 6, 12), datetime(2027, 6, 1, tzinfo=UTC))
        == []
    )


def test_a_day_off_administrators_added_to_the_calendar_shuts_the_office(db_session):
    db_session.add(CalendarDay(day=date(2026, 12, 8), working=False, note="Региональный выходной"))
    office = make_office(db_session)
    assert slots(db_session, office, "reception", date(2026, 12, 8)) == []
    assert len(slots(db_session, office, "reception", date(2026, 12, 9))) == 32


def test_closures_shut_the_office_on_their_days_inclusive(db_session):
    office = make_office(db_session)
    db_session.add(
        OfficeClosure(
            office_id=office.id,
            first_day=date(2026, 12, 8),
            last_day=date(2026, 12, 9),
            reason="Ремонт",
        )
    )
    db_session.flush()
    assert len(slots(db_session, office, "reception", date(2026, 12, 7))) == 32
    assert slots(db_session, office, "reception", date(2026, 12, 8)) == []
    assert slots(db_session, office, "reception", date(2026, 12, 9)) == []
    assert len(slots(db_session, office, "reception", date(2026, 12, 10))) == 32


def test_a_service_the_office_does_not_offer_has_no_times(db_session):
    office = make_office(db_session, services=["reception"])
    assert slots(db_session, office, "contract", date(2026, 12, 7)) == []


def _booked(session, office, local_start, minutes=15, status=BookingStatus.BOOKED):
    start = local_start.replace(tzinfo=MSK).astimezone(UTC)
    booking = Booking(
        code=visits._new_code(session),
        office_id=office.id,
        service=VisitService.RECEPTION,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        full_name="Петров Пётр",
        status=status,
    )
    session.add(booking)
    session.flush()
    return booking


def test_each_window_is_a_place(db_session):
    office = make_office(db_session, windows=2)
    _booked(db_session, office, datetime(2026, 12, 7, 9, 0))  # noqa: DTZ001 (local)
    day = slots(db_session, office, "reception", date(2026, 12, 7))
    assert day[0].local.strftime("%H:%M") == "09:00"
    assert day[0].free == 1
    _booked(db_session, office, datetime(2026, 12, 7, 9, 0))  # noqa: DTZ001
    _booked(db_session, office, datetime(2026, 12, 7, 9, 15), status=BookingStatus.CANCELLED)  # noqa: DTZ001
    times = local_times(slots(db_session, office, "reception", date(2026, 12, 7)))
    assert times[:2] == ["09:15", "09:30"]
    assert len(times) == 31


def test_free_places_counts_the_busiest_moment_not_every_overlap():
    def at(hour, minute):
        return datetime(2026, 12, 7, hour, minute, tzinfo=UTC)

    # Two windows; 10:00–10:15 and 10:15–10:30 never overlap each other, so a visit of
    # 10:00–10:20 still fits in the second window.
    taken = [(at(10, 0), at(10, 15)), (at(10, 15), at(10, 30))]
    assert visits.free_places(taken, at(10, 0), at(10, 20), 2) == 1
    # 10:00–10:20 and 10:15–10:30 overlap at 10:15: both windows are busy then.
    taken = [(at(10, 0), at(10, 20)), (at(10, 15), at(10, 30))]
    assert visits.free_places(taken, at(10, 0), at(10, 20), 2) == 0
    assert visits.free_places(taken, at(10, 30), at(10, 45), 1) == 1  # touching is not overlapping


def test_minimum_notice_of_two_hours(db_session):
    office = make_office(db_session)
    now = datetime(2026, 12, 7, 10, 5, tzinfo=MSK)  # Monday 10:05 in the office
    times = local_times(slots(db_session, office, "reception", date(2026, 12, 7), now))
    # From 12:05: 12:15, 12:30, 12:45, then the 16 of the afternoon.
    assert times[:4] == ["12:15", "12:30", "12:45", "14:00"]
    assert len(times) == 19


def test_at_most_30_days_ahead(db_session):
    office = make_office(db_session)
    now = datetime(2026, 11, 16, 9, 0, tzinfo=MSK)  # Monday; 30 days on is Wednesday 16 December
    view = visits.availability(db_session, office, "reception", now=now)
    assert view.days()[0].day == date(2026, 11, 16)
    assert view.days()[-1].day == date(2026, 12, 16)
    assert len(view.slots(date(2026, 12, 16))) == 32
    assert view.slots(date(2026, 12, 17)) == []
    assert view.slots(date(2026, 11, 13)) == []  # the past


def test_the_office_zone_rules_whatever_the_server_zone(db_session):
    """An office in Yekaterinburg (UTC+5) while the server runs in New York and the supplier
    is in Moscow: at 03:30 UTC it is 08:30 there; 2 hours' notice gives 10:30 local first."""
    office = make_office(db_session, timezone="Asia/Yekaterinburg")
    server_now = datetime(2026, 12, 6, 22, 30, tzinfo=ZoneInfo("America/New_York"))
    assert server_now.astimezone(UTC) == datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
    with time_machine.travel(server_now, tick=False):
        assert datetime.now().hour == 22  # noqa: DTZ005 (the server's own zone is New York)
        view = visits.availability(db_session, office, "reception")
        assert view.today == date(2026, 12, 7)  # still Sunday in New York and in Moscow
        first = view.slots(date(2026, 12, 7))[0]
    assert first.local.time() == time(10, 30)
    assert first.starts_at == datetime(2026, 12, 7, 5, 30, tzinfo=UTC)
    assert len(view.slots(date(2026, 12, 7))) == 32 - 6  # 9:00–10:15 gone


def test_the_office_day_starts_at_its_own_midnight(db_session):
    office = make_office(db_session, timezone="Asia/Yekaterinburg")
    # 20:30 UTC Sunday = 01:30 Monday in Yekaterinburg, 23:30 Sunday in Moscow.
    with time_machine.travel(datetime(2026, 12, 6, 20, 30, tzinfo=UTC), tick=False):
        view = visits.availability(db_session, office, "reception")
    assert view.today == date(2026, 12, 7)
    assert view.days()[0].free_times == 32


# --- booking, moving and cancelling -------------------------------------------------------


def _start(hour, minute=0, day=7):
    return datetime(2026, 12, day, hour, minute, tzinfo=MSK).astimezone(UTC)


def test_book_holds_the_place_and_refuses_a_taken_time(db_session):
    office = make_office(db_session)
    first, second = make_user(db_session), make_user(db_session)
    booking = visits.book(
        db_session,
        user=first,
        office_id=office.id,
        service="reception",
        starts_at=_start(9),
        now=MONDAY_BEFORE,
    )
    assert booking.ends_at - booking.starts_at == timedelta(minutes=15)
    assert len(booking.code) == 6
    assert booking.status == BookingStatus.BOOKED
    with pytest.raises(DomainError) as refusal:
        visits.book(
            db_session,
            user=second,
            office_id=office.id,
            service="reception",
            starts_at=_start(9),
            now=MONDAY_BEFORE,
        )
    assert refusal.value.field == "starts_at"
    assert "taken" in refusal.value.message


def test_book_refuses_a_time_off_the_grid_or_in_the_break(db_session):
    office = make_office(db_session)
    user = make_user(db_session)
    for start in (_start(9, 5), _start(13, 0), _start(17, 50), _start(10, day=12)):
        with pytest.raises(DomainError):
            visits.book(
                db_session,
                user=user,
                office_id=office.id,
                service="reception",
                starts_at=start,
                now=MONDAY_BEFORE,
            )


def test_a_customer_holds_at_most_two_booked_visits(db_session):
    office = make_office(db_session, windows=3)
    user = make_user(db_session)
    for hour in (9, 10):
        visits.book(
            db_session,
            user=user,
            office_id=office.id,
            service="reception",
            starts_at=_start(hour),
            now=MONDAY_BEFORE,
        )
    with pytest.raises(DomainError) as refusal:
        visits.book(
            db_session,
            user=user,
            office_id=office.id,
            service="reception",
            starts_at=_start(11),
            now=MONDAY_BEFORE,
        )
    assert "2 booked visits" in refusal.value.message


def test_cancel_and_reschedule_until_two_hours_before(db_session):
    office = make_office(db_session)
    user = make_user(db_session)
    booking = visits.book(
        db_session,
        user=user,
        office_id=office.id,
        service="reception",
        starts_at=_start(12),
        now=MONDAY_BEFORE,
    )
    visits.reschedule(db_session, booking, _start(15), now=MONDAY_BEFORE)
    assert booking.starts_at == _start(15)
    late = _start(13, 1)  # 1 h 59 min before 15:00
    with pytest.raises(DomainError) as refusal:
        visits.cancel(db_session, booking, now=late)
    assert "2 hours" in refusal.value.message
    visits.cancel(db_session, booking, now=_start(13, 0))  # exactly 2 hours before
    assert booking.status == BookingStatus.CANCELLED


def test_reschedule_to_its_own_time_range_overlap_is_allowed(db_session):
    """A visit moved 15 minutes later overlaps its old time, which it no longer holds."""
    office = make_office(db_session)
    user = make_user(db_session)
    booking = visits.book(
        db_session,
        user=user,
        office_id=office.id,
        service="contract",
        starts_at=_start(9),
        now=MONDAY_BEFORE,
    )
    visits.reschedule(db_session, booking, _start(9, 20), now=MONDAY_BEFORE)
    assert booking.starts_at == _start(9, 20)
