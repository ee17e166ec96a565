"""The everyday helpers every feature uses: the clock, months, numbers typed by people,
money, and the Choice enums. Expected figures are worked out by hand."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from portal.models import MeterStatus, Reading, ReadingStatus
from portal.services import clock, months, numbers
from portal.services.errors import DomainError
from tests.conftest import english_request


def test_the_suppliers_day_is_not_the_utc_day(app):
    with app.app_context(), time_machine.travel(datetime(2026, 11, 19, 22, 30, tzinfo=UTC)):
        assert clock.utcnow() == datetime(2026, 11, 19, 22, 30, tzinfo=UTC)
        assert clock.local_today() == date(2026, 11, 20)  # 01:30 in Moscow (UTC+3)
        assert clock.local_now().hour == 1


@pytest.mark.parametrize(
    ("period", "shift", "expected"),
    [
        (date(2026, 1, 1), -1, date(2025, 12, 1)),
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
        (date(2026, 3, 31), -1, date(2026, 2, 1)),  # a period is the 1st, whatever the day
        (date(2026, 10, 1), -22, date(2024, 12, 1)),
        (date(2024, 2, 29), 12, date(2025, 2, 1)),
    ],
)
def test_add_months(period, shift, expected):
    assert months.add_months(period, shift) == expected


def test_month_helpers():
    assert months.month_end(date(2028, 2, 1)) == date(2028, 2, 29)
    assert months.months_between(date(2025, 11, 20), date(2026, 2, 3)) == 3
    assert months.months_back(date(2026, 2, 1), 3) == [
        date(2026, 2, 1),
        date(2026, 1, 1),
        date(2025, 12, 1),
    ]
    assert list(months.months_from(date(2025, 11, 5), date(2026, 1, 1))) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
    ]
    assert months.iso(date(2026, 3, 1)) == "2026-03"


@pytest.mark.parametrize(
    ("text", "expected"), [("2026-10", date(2026, 10, 1)), (" 2026-3 ", date(2026, 3, 1))]
)
def test_parse_period(text, expected):
    assert months.parse_period(text) == expected


@pytest.mark.parametrize(
    "text", ["", "2026", "2026-13", "2026-00", "10-2026", "1999-12", "2026-10-01", None]
)
def test_a_period_that_is_no_month_is_refused(app, text):
    with english_request(app), pytest.raises(DomainError) as refused:
        months.parse_period(text)
    assert refused.value.field == "period"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234,5", Decimal("1234.5")),
        ("1 234.50", Decimal("1234.50")),
        ("1\u00a0234,5", Decimal("1234.5")),
        ("1\u202f234", Decimal("1234")),
        ("-12,5", Decimal("-12.5")),
        (",5", Decimal("0.5")),
        ("7", Decimal("7")),
    ],
)
def test_parse_decimal_reads_what_people_type(app, text, expected):
    with english_request(app):
        assert numbers.parse_decimal(text) == expected


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("", {}),
        ("abc", {}),
        ("1,2,3", {}),
        ("1e5", {}),
        ("9" * 30, {}),
        ("1,234", {"places": 2}),
        ("1,5", {"places": 0}),
        ("-1", {"minimum": 0}),
        ("101", {"maximum": 100}),
        ("5", {"minimum": 10, "maximum": 20}),
    ],
)
def test_parse_decimal_refuses_with_a_message_next_to_the_field(app, text, options):
    with english_request(app), pytest.raises(DomainError) as refused:
        numbers.parse_decimal(text, field="amount", **options)
    assert refused.value.field == "amount"
    assert refused.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("10.005"), Decimal("10.01")),  # half-up, not half-even (10.00)
        (Decimal("10.015"), Decimal("10.02")),
        (Decimal("-10.005"), Decimal("-10.01")),
        ("0.125", Decimal("0.13")),
        (None, Decimal("0.00")),
        (7, Decimal("7.00")),
    ],
)
def test_money_rounds_half_up_to_kopecks(value, expected):
    assert numbers.money(value) == expected


def test_kopecks():
    assert numbers.to_kopecks(Decimal("1234.565")) == 123457
    assert numbers.from_kopecks(123457) == Decimal("1234.57")


def test_a_choice_is_its_stored_string_with_a_label_and_a_badge(app):
    assert ReadingStatus.PENDING_REVIEW == "pending_review"
    assert ReadingStatus("accepted") is ReadingStatus.ACCEPTED
    with english_request(app):
        assert str(ReadingStatus.PENDING_REVIEW.label) == "under review"
    assert MeterStatus.FAULTY.badge == "text-bg-danger"
    assert ("faulty", MeterStatus.FAULTY.label) in MeterStatus.options()


def test_a_choice_column_gives_back_members(db_session):
    from tests import factories

    meter = factories.make_meter(db_session, factories.make_account(db_session))
    reading = factories.make_reading(db_session, meter, status="pending_review")
    db_session.expire(reading)
    assert db_session.get(Reading, reading.id).status is ReadingStatus.PENDING_REVIEW


def test_the_signed_in_fixtures(resident_client, staff_client):
    assert resident_client.get("/profile/").status_code == 200
    supervisor = staff_client("supervisor")
    assert supervisor.get("/admin/audit").status_code == 200
    assert staff_client("operator").get("/admin/audit").status_code == 403
    assert supervisor.staff.role == "supervisor"


def test_digits_of_other_scripts_are_no_number(app):
    with english_request(app), pytest.raises(DomainError):
        numbers.parse_decimal("١٢٣")
