"""The rules of meter readings, as pure functions: the verdict on a value (rollover, decimals,
the review threshold, every refusal), parsing what people type, the window's dates, the
consumption series and what a reading sent without signing in may disclose."""

import calendar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from portal.models import Account, Meter
from portal.services import clock, readings
from portal.services.errors import DomainError
from portal.services.readings import Previous, Verdict, Window, judge

THRESHOLD = Decimal("3")
SHARE = Decimal("0.1")
NOVEMBER = date(2026, 11, 1)


@pytest.fixture(scope="module", autouse=True)
def english(app):
    """judge() words its reasons with Flask-Babel: a request context in English."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        from flask import session

        session["language"] = "en"
        yield


def meter(**fields) -> Meter:
    values = {
        "service": "electricity",
        "zones": 1,
        "whole_digits": 6,
        "fraction_digits": 1,
        "status": "active",
        "remote_read": False,
    } | fields
    return Meter(**values)


def verdict(m: Meter, value, previous=None, *, period=NOVEMBER, source="customer", **kw):
    return judge(
        m,
        Decimal(value),
        previous,
        period=period,
        source=source,
        threshold=kw.pop("threshold", THRESHOLD),
        rollover_share=kw.pop("rollover_share", SHARE),
        **kw,
    )


def previous(value, *, period=date(2026, 10, 1), average=None) -> Previous:
    return Previous(Decimal(value), period.replace(day=20), period, average)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


# --- rollover --------------------------------------------------------------------------

digits = st.integers(min_value=1, max_value=8)
shares = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.5"), places=2)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), whole=digits, share=shares)
def test_a_lower_value_is_a_rollover_iff_the_implied_consumption_is_small(data, whole, share):
    capacity = 10**whole
    before = data.draw(st.integers(min_value=1, max_value=capacity - 1), label="previous")
    after = data.draw(st.integers(min_value=0, max_value=before - 1), label="value")
    m = meter(whole_digits=whole, fraction_digits=0)

    result = verdict(m, after, previous(before), rollover_share=share)

    implied = Decimal(after - before + capacity)
    if implied <= share * capacity:
        assert result.outcome == "accepted"
        assert result.consumption == implied
    else:
        assert result.outcome == "rejected"
        assert result.code == "lower"
        assert result.consumption is None


@given(
    whole=digits,
    data=st.data(),
)
def test_a_value_not_below_the_previous_one_is_never_a_rollover(whole, data):
    capacity = 10**whole
    before = data.draw(st.integers(min_value=0, max_value=capacity - 1))
    after = data.draw(st.integers(min_value=before, max_value=capacity - 1))
    result = verdict(meter(whole_digits=whole, fraction_digits=0), after, previous(before))
    assert result.outcome == "accepted"
    assert result.consumption == after - before


def test_rollover_examples():
    m = meter(whole_digits=5, fraction_digits=0)  # capacity 100000, share 10% = 10000
    assert verdict(m, 500, previous(99_000)).consumption == 1_500
    assert verdict(m, 0, previous(90_000)).consumption == 10_000  # exactly the share: rollover
    lower = verdict(m, 0, previous(89_999))
    assert lower.outcome == "rejected"
    assert "89999" in lower.reason  # the last accepted value, to the signed-in customer


# --- decimals --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    fraction=st.integers(min_value=0, max_value=4),
    places=st.integers(min_value=0, max_value=6),
    whole_part=st.integers(min_value=0, max_value=99_999),
    last_digit=st.integers(min_value=1, max_value=9),
    middle=st.integers(min_value=0, max_value=99_999),
)
def test_decimals_up_to_the_meters_fraction_digits_are_accepted_more_are_rejected(
    fraction, places, whole_part, last_digit, middle
):
    # A value with exactly `places` significant decimals (its last decimal is not 0).
    if places == 0:
        text = str(whole_part)
    else:
        decimals = (str(middle).zfill(places - 1)[-(places - 1) :] if places > 1 else "") + str(
            last_digit
        )
        text = f"{whole_part}.{decimals}"
    result = verdict(meter(fraction_digits=fraction), text)
    if places <= fraction:
        assert result.outcome == "accepted", text
    else:
        assert result.outcome == "rejected", text
        assert result.code == "decimals"


@given(fraction=st.integers(min_value=0, max_value=4), zeros=st.integers(1, 6))
def test_trailing_zeros_are_not_extra_decimals(fraction, zeros):
    assert verdict(meter(fraction_digits=fraction), "123." + "0" * zeros).outcome == "accepted"


# --- the review threshold --------------------------------------------------------------

averages = st.decimals(min_value=Decimal("0.1"), max_value=Decimal("5000"), places=1)
thresholds = st.decimals(min_value=Decimal("1.1"), max_value=Decimal("10"), places=1)


@settings(max_examples=300, deadline=None)
@given(
    average=averages,
    threshold=thresholds,
    months=st.integers(min_value=1, max_value=12),
    consumption=st.decimals(min_value=Decimal("0"), max_value=Decimal("200000"), places=1),
    confirmed=st.booleans(),
)
@example(
    average=Decimal("100"),
    threshold=Decimal("3"),
    months=1,
    consumption=Decimal("300"),
    confirmed=False,
)
@example(
    average=Decimal("100"),
    threshold=Decimal("3"),
    months=1,
    consumption=Decimal("300.1"),
    confirmed=False,
)
def test_consumption_far_above_the_average_needs_confirmation_then_review(
    average, threshold, months, consumption, confirmed
):
    start = Decimal("1000.0")
    value = start + consumption
    assume(value < 10**6)
    earlier = previous(start, period=add_months(NOVEMBER, months), average=average)

    result = verdict(meter(), value, earlier, threshold=threshold, confirmed=confirmed)

    if consumption > average * months * threshold:
        assert result.outcome == ("pending_review" if confirmed else "confirm")
        assert result.code == "above_usual"
        assert result.reason
    else:
        assert result.outcome == "accepted"
        assert result.reason is None
    assert result.consumption == consumption


def test_without_an_average_any_consumption_is_accepted():
    result = verdict(meter(), "999999", previous("1", average=None))
    assert result.outcome == "accepted"
    assert verdict(meter(), "999999", previous("1", average=Decimal(0))).outcome == "accepted"


def test_a_first_reading_is_accepted_without_consumption():
    assert verdict(meter(), "12345.6") == Verdict("accepted")


# --- every refusal --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "value", "source", "code", "words"),
    [
        ({"status": "faulty"}, "10", "customer", "faulty", "faulty"),
        ({"status": "faulty"}, "10", "operator", "faulty", "faulty"),
        ({"status": "removed"}, "10", "customer", "removed", "removed"),
        ({"remote_read": True}, "10", "customer", "remote_read", "read remotely"),
        ({}, "-0.1", "customer", "negative", "negative"),
        ({}, "1000000", "customer", "too_large", "6 whole digits"),
        ({"whole_digits": 4}, "10000.0", "operator", "too_large", "4 whole digits"),
        ({}, "1.25", "customer", "decimals", "at most 1 digit"),
        ({"fraction_digits": 0}, "1.5", "customer", "decimals", "whole numbers only"),
    ],
)
def test_every_refusal_has_its_reason(fields, value, source, code, words):
    result = verdict(meter(**fields), value, source=source)
    assert result.outcome == "rejected"
    assert result.code == code
    assert words in result.reason


def test_lower_than_the_last_reading_is_refused_with_the_last_value_and_date():
    result = verdict(meter(), "500.0", previous("600.0"))
    assert result.outcome == "rejected"
    assert result.code == "lower"
    assert "600" in result.reason


def test_staff_may_enter_readings_of_a_remote_read_meter():
    assert verdict(meter(remote_read=True), "10", source="operator").outcome == "accepted"


def test_the_meter_is_refused_before_the_value_is_looked_at():
    assert verdict(meter(status="faulty"), "-5").code == "faulty"


def test_customer_refusal_covers_closed_accounts():
    open_meter = meter()
    open_meter.account = Account(closed_on=None)
    assert readings.customer_refusal(open_meter) is None
    closed = meter()
    closed.account = Account(closed_on=date(2026, 1, 1))
    assert "closed" in readings.customer_refusal(closed)
    remote = meter(remote_read=True)
    remote.account = Account(closed_on=None)
    assert "remotely" in readings.customer_refusal(remote)


# --- parsing what people type -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345,6", Decimal("12345.6")),
        ("12345.6", Decimal("12345.6")),
        (" 12 345,6 ", Decimal("12345.6")),
        ("12\u00a0345", Decimal("12345")),
        ("007", Decimal("7")),
        ("5.", Decimal("5")),
        ("-3", Decimal("-3")),  # parsed; judge() refuses it as negative
    ],
)
def test_parse_value_reads_what_people_type(raw, expected):
    assert readings.parse_value(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        "abc",
        "12a",
        "1e30",
        "1E5",
        "Infinity",
        "NaN",
        "1_000",
        "12,3,4",
        "1/2",
        "٣٤",
        "9" * 30,
        "0x1F",
        "--5",
    ],
)
def test_parse_value_refuses_what_is_not_a_plain_number(raw):
    with pytest.raises(DomainError) as error:
        readings.parse_value(raw, "day")
    assert error.value.field == "day"
    assert error.value.message


@given(st.text(max_size=40))
def test_parse_value_either_returns_a_finite_number_or_a_domain_error(raw):
    try:
        value = readings.parse_value(raw)
    except DomainError:
        return
    assert value.is_finite()


# --- the window -------------------------------------------------------------------------

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@settings(max_examples=500, deadline=None)
@given(today=days, first=st.integers(1, 28), last=st.integers(1, 31))
def test_window_dates(today, first, last):
    assume(first <= last)
    window = Window(first, last, today)
    month_days = calendar.monthrange(today.year, today.month)[1]

    assert window.opens == today.replace(day=first)
    assert window.closes == today.replace(day=min(last, month_days))
    assert window.is_open == (first <= today.day <= min(last, month_days))
    if not window.is_open:
        opening = window.next_opening
        assert opening > today
        assert opening.day == first
        assert (opening.year, opening.month) in {
            (today.year, today.month),
            (
                (today.replace(day=28) + timedelta(days=4)).year,
                (today.replace(day=28) + timedelta(days=4)).month,
            ),
        }
        # Nothing is open between today and the opening.
        assert not Window(first, last, opening - timedelta(days=1)).is_open


@pytest.mark.parametrize(
    ("today", "is_open", "closes"),
    [
        (date(2026, 2, 28), True, date(2026, 2, 28)),  # last day 31 in February
        (date(2028, 2, 29), True, date(2028, 2, 29)),  # a leap year
        (date(2026, 4, 30), True, date(2026, 4, 30)),
        (date(2026, 2, 14), False, date(2026, 2, 28)),
    ],
)
def test_a_last_day_past_the_month_end_closes_on_the_months_last_day(today, is_open, closes):
    window = Window(15, 31, today)
    assert window.is_open is is_open
    assert window.closes == closes


@pytest.mark.parametrize(
    ("today", "opening"),
    [
        (date(2026, 11, 26), date(2026, 12, 15)),
        (date(2026, 11, 3), date(2026, 11, 15)),
        (date(2026, 12, 31), date(2027, 1, 15)),
        (date(2026, 1, 31), date(2026, 2, 15)),
    ],
)
def test_next_opening(today, opening):
    assert Window(15, 25, today).next_opening == opening


@time_machine.travel(datetime(2026, 11, 14, 22, 30, tzinfo=UTC), tick=False)
def test_the_window_counts_days_in_the_suppliers_zone(db_session):
    # 22:30 UTC on the 14th is 01:30 on the 15th in Moscow: the window is open.
    assert clock.local_today() == date(2026, 11, 15)
    assert readings.window(db_session).is_open


# --- the consumption series -------------------------------------------------------------


def reading(period, zone, consumption, *, source="customer", status="accepted", id_=1):
    return SimpleNamespace(
        id=id_,
        period=period,
        zone=zone,
        consumption=None if consumption is None else Decimal(consumption),
        source=source,
        status=status,
        taken_on=period.replace(day=20),
    )


def test_consumption_series_takes_accepted_readings_per_month_and_marks_estimates():
    m = meter(zones=2)
    sep, oct_, nov = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
    history = [
        reading(nov, "day", "120", id_=9),
        reading(nov, "day", "999", status="superseded", id_=8),
        reading(nov, "night", "40", status="pending_review", id_=7),
        reading(oct_, "day", "100", source="estimated", id_=6),
        reading(oct_, "night", "50", id_=5),
        reading(sep, "day", None, id_=4),  # the first reading: no consumption
        reading(sep, "night", "60", status="rejected", id_=3),
    ]
    series = readings.consumption_series(m, history)
    assert series.periods == [oct_, nov]
    assert series.values == {"day": [Decimal(100), Decimal(120)], "night": [Decimal(50), None]}
    assert series.estimated == {"day": [True, False], "night": [False, False]}
    assert series.any_estimated
    assert list(series.rows())[0] == (nov, [(Decimal(120), False), (None, False)])


def test_consumption_series_keeps_the_last_months():
    m = meter()
    history = [reading(add_months(NOVEMBER, n), "total", n + 1, id_=n) for n in range(30)]
    series = readings.consumption_series(m, history, months=24)
    assert len(series.periods) == 24
    assert series.periods[-1] == NOVEMBER


# --- without signing in -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zones", "tariffs", "expected"),
    [
        (1, {"t1": "5"}, {"total": "5"}),
        (2, {"t1": "5", "t2": "6", "t3": ""}, {"day": "5", "night": "6"}),
        (3, {"t1": "5", "t2": "6", "t3": "7"}, {"peak": "5", "night": "6", "semi_peak": "7"}),
    ],
)
def test_values_typed_as_t1_t2_t3_go_to_the_meters_zones(zones, tariffs, expected):
    assert readings.values_from_tariffs(meter(zones=zones), tariffs) == expected


@pytest.mark.parametrize(
    ("zones", "tariffs"),
    [
        (1, {"t1": "5", "t2": "6"}),
        (1, {"t1": ""}),
        (2, {"t1": "5"}),
        (2, {"t1": "5", "t2": "6", "t3": "7"}),
        (3, {"t1": "5", "t3": "7"}),
    ],
)
def test_the_wrong_number_of_values_is_refused_with_what_to_enter(zones, tariffs):
    with pytest.raises(DomainError) as error:
        readings.values_from_tariffs(meter(zones=zones), tariffs)
    assert "T1" in error.value.message


def test_a_quick_receipt_discloses_neither_the_last_value_nor_the_consumption():
    lower = readings.Receipt("total", Decimal(5), verdict(meter(), "5", previous("612.3")), 1)
    assert "612" in lower.verdict.reason
    safe = readings._undisclosing(lower)
    assert "612" not in safe.verdict.reason
    assert safe.verdict.outcome == "rejected"

    far = verdict(meter(), "5000", previous("1000", average=Decimal("10")))
    assert far.outcome == "confirm"
    assert "4000" in far.reason
    safe = readings._undisclosing(readings.Receipt("total", Decimal(5000), far))
    assert "4000" not in safe.verdict.reason
    assert safe.verdict.consumption is None
    assert safe.verdict.outcome == "confirm"
