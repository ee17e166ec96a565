"""The work calendar with the exceptions administrators keep: an exception wins over the
calendar library, in every function and in the ``Calendar`` built from the database; adding
and removing one is checked and audited. Dates as in tests/unit/test_workdays.py."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.models import AuditEvent, CalendarDay
from portal.services import workdays
from portal.services.errors import DomainError, NotFound
from portal.services.workdays import (
    Calendar,
    add_working_days,
    is_working_day,
    next_working_day,
)
from tests import factories
from tests.conftest import english_request

TUESDAY = date(2026, 2, 10)  # an ordinary working day
SATURDAY = date(2026, 10, 10)  # an ordinary Saturday


def test_an_exception_wins_over_the_library():
    overrides = {TUESDAY: False, SATURDAY: True}
    assert is_working_day(TUESDAY)
    assert not is_working_day(TUESDAY, overrides)
    assert not is_working_day(SATURDAY)
    assert is_working_day(SATURDAY, overrides)
    assert is_working_day(TUESDAY, {})
    assert is_working_day(TUESDAY, None)


def test_next_and_nth_working_day_follow_the_exceptions():
    off = {TUESDAY: False, TUESDAY + timedelta(days=1): False}
    assert next_working_day(TUESDAY, off) == date(2026, 2, 12)
    assert add_working_days(date(2026, 2, 9), 1, off) == date(2026, 2, 12)
    assert add_working_days(date(2026, 2, 12), -1, off) == date(2026, 2, 9)
    working_saturday = {SATURDAY: True}
    assert next_working_day(SATURDAY, working_saturday) == SATURDAY
    assert add_working_days(date(2026, 10, 9), 1, working_saturday) == SATURDAY


def test_a_calendar_object_answers_like_the_functions():
    calendar = Calendar({TUESDAY: False})
    assert not calendar.is_working_day(TUESDAY)
    assert calendar.next_working_day(TUESDAY) == date(2026, 2, 11)
    assert calendar.add_working_days(TUESDAY, 0) == date(2026, 2, 11)
    assert Calendar().next_working_day(date(2026, 1, 10)) == date(2026, 1, 12)


def test_the_calendar_refuses_a_datetime():
    from datetime import UTC, datetime

    with pytest.raises(TypeError):
        Calendar({TUESDAY: False}).is_working_day(datetime(2026, 2, 10, 12, tzinfo=UTC))


days = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))


@given(day=days, overrides=st.dictionaries(days, st.booleans(), max_size=20))
def test_next_working_day_is_the_first_working_day_with_any_exceptions(day, overrides):
    calendar = Calendar(overrides)
    result = calendar.next_working_day(day)
    assert result >= day
    assert calendar.is_working_day(result)
    assert all(not calendar.is_working_day(day + timedelta(n)) for n in range((result - day).days))
    for exception, working in overrides.items():
        assert calendar.is_working_day(exception) is working


# --- the exceptions in the database ---------------------------------------------------------


def audit_of(session, object_id) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "calendar_day", AuditEvent.object_id == object_id)
            .order_by(AuditEvent.id)
        )
    )


def test_adding_and_removing_an_exception_is_audited(app, db_session):
    staff = factories.make_staff(db_session, role="admin")
    with english_request(app):
        row = workdays.add_override(
            db_session,
            day=TUESDAY,
            working=False,
            note="  Decree   No. 1 of 01.02.2026 ",
            staff_id=staff.id,
            ip="10.0.0.9",
        )
    assert row.note == "Decree No. 1 of 01.02.2026"
    assert row.created_by_id == staff.id
    assert not workdays.calendar(db_session).is_working_day(TUESDAY)
    [created] = audit_of(db_session, row.id)
    assert created.action == "create"
    assert created.ip_address == "10.0.0.9"
    assert created.changes["working"] == [None, "False"]
    assert created.summary == "2026-02-10 day off: Decree No. 1 of 01.02.2026"

    workdays.remove_override(db_session, row.id, staff_id=staff.id)
    assert workdays.calendar(db_session).is_working_day(TUESDAY)
    assert db_session.scalar(select(CalendarDay.id)) is None
    assert [event.action for event in audit_of(db_session, row.id)] == ["create", "delete"]


def test_removing_an_unknown_exception_is_not_found(db_session):
    with pytest.raises(NotFound):
        workdays.remove_override(db_session, 987654)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"day": None}, "day", "Enter the date."),
        ({"day": date(1999, 12, 31)}, "day", "Enter a date from"),
        ({"day": date(2101, 1, 1)}, "day", "Enter a date from"),
        ({"note": "   "}, "note", "Give the basis"),
        ({"note": "x" * 201}, "note", "Keep the reason under 200 characters."),
        ({"day": date(2026, 3, 1)}, "working", "is a day off in the calendar already"),
        ({"day": TUESDAY, "working": True}, "working", "is a working day in the calendar"),
    ],
)
def test_a_wrong_exception_is_refused_next_to_its_field(app, db_session, fields, field, message):
    values = {"day": TUESDAY, "working": False, "note": "Decree"} | fields
    with english_request(app), pytest.raises(DomainError) as refused:
        workdays.add_override(db_session, **values)
    assert refused.value.field == field
    assert message in refused.value.message
    assert db_session.scalar(select(CalendarDay.id)) is None


def test_one_exception_per_day(app, db_session):
    with english_request(app):
        workdays.add_override(db_session, day=SATURDAY, working=True, note="Decree")
        with pytest.raises(DomainError) as refused:
            workdays.add_override(db_session, day=SATURDAY, working=True, note="Again")
    assert refused.value.field == "day"
    assert "already an exception" in refused.value.message


# --- a year as the back office shows it ------------------------------------------------------


def test_the_year_2026_as_the_calendar_sees_it(db_session):
    view = workdays.year_view(db_session, 2026, "en_US")
    assert view.has_decree
    assert view.working_days == 247
    assert view.days_off == 118
    named = {item.day: item for item in view.special_days}
    assert named[date(2026, 1, 9)].name == "Day off (substituted from 01/03/2026)"
    assert not named[date(2026, 3, 8)].working  # a holiday on a Sunday is listed too
    assert SATURDAY not in named  # an ordinary weekend is not special
    assert [len(weeks[0]) for _month, weeks in view.months] == [7] * 12
    january = view.months[0][1]
    assert january[0][:3] == [None, None, None]  # 1 January 2026 is a Thursday
    assert january[0][3].day == date(2026, 1, 1)
    assert not january[0][3].working


def test_the_year_view_names_holidays_in_russian_and_lists_exceptions(app, db_session):
    staff = factories.make_staff(db_session, role="admin")
    with english_request(app):
        workdays.add_override(db_session, day=SATURDAY, working=True, note="D", staff_id=staff.id)
        workdays.add_override(db_session, day=TUESDAY, working=False, note="R")
    view = workdays.year_view(db_session, 2026, "ru")
    named = {item.day: item for item in view.special_days}
    assert named[date(2026, 2, 23)].name == "День защитника Отечества"
    saturday = named[SATURDAY]
    assert saturday.working
    assert not saturday.package_working
    assert saturday.override.created_by.id == staff.id
    assert not named[TUESDAY].working
    assert named[TUESDAY].package_working
    assert view.working_days == 247  # one day off more, one working day more


def test_a_year_without_a_decree_lists_the_statutory_moved_days(db_session):
    view = workdays.year_view(db_session, 2040, "en_US")
    assert not view.has_decree
    moved = {item.day: item for item in view.special_days}[date(2040, 11, 5)]
    assert not moved.working
    assert "art. 112 part 2" in moved.name
