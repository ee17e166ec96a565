"""Tariffs, norms and key rates as dated tables: typed values, versions that close the
previous one, no overlap, nothing backdated into a closed billing period; audited."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.models import AuditEvent, ConsumptionNorm, KeyRate, Tariff
from portal.services import billing, tariffs
from portal.services.errors import DomainError, NotFound
from tests import factories
from tests.conftest import english_request

ELECTRICITY_DAY = {"service": "electricity", "zone": "day", "category": "population"}


def add(session, rate, valid_from, **key):
    return tariffs.add_tariff(session, **(ELECTRICITY_DAY | key), rate=rate, valid_from=valid_from)


def versions(session, **key) -> list[Tariff]:
    key = ELECTRICITY_DAY | key
    return list(
        session.scalars(
            select(Tariff)
            .where(*(getattr(Tariff, name) == value for name, value in key.items()))
            .order_by(Tariff.valid_from)
        )
    )


def close_period(session, period: date) -> None:
    row = billing.get_or_create_period(session, period)
    row.status = "closed"
    session.flush()


# --- typed values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6.43", Decimal("6.4300")),
        ("6,43", Decimal("6.4300")),
        (" 2 950,45 ", Decimal("2950.4500")),
        ("0.0185", Decimal("0.0185")),
        ("7.3800", Decimal("7.3800")),
    ],
)
def test_rates_are_read_as_people_type_them(raw, expected):
    assert tariffs.parse_rate(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "abc", "0", "-1", "6.43215", "1e10", "NaN", "Infinity", "1e-9999", "1e9999"]
)
def test_bad_rates_are_refused_next_to_the_field(app, raw):
    with english_request(app), pytest.raises(DomainError) as refused:
        tariffs.parse_rate(raw)
    assert refused.value.field == "rate"


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999999"), places=4))
def test_any_positive_rate_with_four_decimals_is_kept_exactly(rate):
    assert tariffs.parse_rate(str(rate)) == rate


@pytest.mark.parametrize("raw", ["0", "16.5", "100"])
def test_key_rate_percent_from_0_to_100(raw):
    assert tariffs.parse_percent(raw) == Decimal(raw).quantize(Decimal("0.01"))


@pytest.mark.parametrize("raw", ["-0.01", "100.01", "16.555", "x"])
def test_key_rate_percent_out_of_range_is_refused(app, raw):
    with english_request(app), pytest.raises(DomainError) as refused:
        tariffs.parse_percent(raw)
    assert refused.value.field == "percent"


def test_unknown_keys_are_not_found():
    with pytest.raises(NotFound):
        tariffs.check_key("gas")
    with pytest.raises(NotFound):
        tariffs.check_key("cold_water", "night")
    with pytest.raises(NotFound):
        tariffs.check_key("electricity", "day", "martians")


# --- versions -------------------------------------------------------------------------------


def test_a_new_version_closes_the_previous_one_the_day_before(db_session):
    staff = factories.make_staff(db_session, role="billing")
    first = add(db_session, "7.38", date(2026, 1, 1)).row
    added = tariffs.add_tariff(
        db_session,
        **ELECTRICITY_DAY,
        rate="8,11",
        valid_from=date(2026, 7, 1),
        staff_id=staff.id,
        ip="10.0.0.1",
    )
    assert added.closed.id == first.id
    rows = versions(db_session)
    assert [(r.rate, r.valid_from, r.valid_to) for r in rows] == [
        (Decimal("7.3800"), date(2026, 1, 1), date(2026, 6, 30)),
        (Decimal("8.1100"), date(2026, 7, 1), None),
    ]
    assert rows[1].staff_id == staff.id
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.staff_id == staff.id).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.object_type, e.object_id) for e in events] == [
        ("create", "tariff", rows[1].id),
        ("update", "tariff", rows[0].id),
    ]
    assert events[1].changes == {"valid_to": [None, "2026-06-30"]}
    assert events[0].ip_address == "10.0.0.1"


def test_keys_are_versioned_separately(db_session):
    add(db_session, "7.38", date(2026, 1, 1))
    add(db_session, "3.12", date(2026, 3, 1), zone="night")
    add(db_session, "11.81", date(2026, 2, 1), category="others")
    assert all(r.valid_to is None for r in db_session.scalars(select(Tariff)))


@pytest.mark.parametrize("start", [date(2026, 7, 1), date(2026, 6, 30), date(2026, 3, 1)])
def test_a_version_starting_on_or_before_the_latest_is_refused(db_session, start):
    add(db_session, "7.38", date(2026, 1, 1))
    add(db_session, "8.11", date(2026, 7, 1))
    with pytest.raises(DomainError) as refused:
        add(db_session, "9.00", start)
    assert refused.value.field == "valid_from"
    assert len(versions(db_session)) == 2


def test_a_version_inside_a_closed_range_is_refused(db_session):
    db_session.add(
        Tariff(
            **ELECTRICITY_DAY,
            rate=Decimal("7.38"),
            valid_from=date(2026, 1, 1),
            valid_to=date(2026, 12, 31),
        )
    )
    db_session.flush()
    with pytest.raises(DomainError) as refused:
        add(db_session, "8.00", date(2026, 10, 1))
    assert refused.value.field == "valid_from"
    after = add(db_session, "8.00", date(2027, 1, 1))  # a gap-free continuation is fine
    assert after.closed is None


def test_nothing_may_start_inside_or_before_a_closed_period(db_session):
    add(db_session, "7.38", date(2026, 1, 1))
    close_period(db_session, date(2026, 9, 1))
    for start in (date(2026, 9, 15), date(2026, 9, 1), date(2026, 8, 1)):
        with pytest.raises(DomainError) as refused:
            add(db_session, "8.11", start)
        assert refused.value.field == "valid_from"
    with pytest.raises(DomainError):
        tariffs.add_key_rate(db_session, percent="15", valid_from=date(2026, 9, 30))
    with pytest.raises(DomainError):
        tariffs.add_norm(
            db_session,
            service="cold_water",
            basis="per_resident",
            volume="5",
            valid_from=date(2026, 2, 1),
        )
    assert add(db_session, "8.11", date(2026, 10, 1)).closed.valid_to == date(2026, 9, 30)
    assert tariffs.earliest_start(db_session) == date(2026, 10, 1)


def test_draft_periods_already_charged_are_named_to_run_again(db_session):
    add(db_session, "7.38", date(2026, 1, 1))
    run = billing.get_or_create_period(db_session, date(2026, 11, 1))
    run.run_finished_at = factories.utcnow()
    billing.get_or_create_period(db_session, date(2026, 12, 1))  # never run
    db_session.flush()
    assert add(db_session, "8.11", date(2026, 10, 1)).rerun == [date(2026, 11, 1)]


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1999, 12, 31), date(2101, 1, 1), None])
def test_absurd_dates_are_refused(db_session, day):
    with pytest.raises(DomainError) as refused:
        add(db_session, "7.38", day)
    assert refused.value.field == "valid_from"


# --- norms and key rates --------------------------------------------------------------------


def test_norms_are_versioned_per_service(db_session):
    tariffs.add_norm(
        db_session, service="heat", basis="per_m2", volume="0.0185", valid_from=date(2026, 1, 1)
    )
    added = tariffs.add_norm(
        db_session, service="heat", basis="per_m2", volume="0.02", valid_from=date(2026, 10, 1)
    )
    rows = db_session.scalars(select(ConsumptionNorm).order_by(ConsumptionNorm.valid_from)).all()
    assert [(r.volume, r.valid_to) for r in rows] == [
        (Decimal("0.0185"), date(2026, 9, 30)),
        (Decimal("0.0200"), None),
    ]
    assert added.closed.id == rows[0].id
    with pytest.raises(DomainError) as refused:
        tariffs.add_norm(
            db_session, service="heat", basis="per_yard", volume="1", valid_from=date(2027, 1, 1)
        )
    assert refused.value.field == "basis"


def test_key_rates_hold_until_the_next_and_a_date_is_taken_once(db_session):
    tariffs.add_key_rate(db_session, percent="21", valid_from=date(2024, 10, 28))
    tariffs.add_key_rate(db_session, percent="16,5", valid_from=date(2025, 10, 27))
    tariffs.add_key_rate(db_session, percent="17", valid_from=date(2025, 9, 15))  # in between
    with pytest.raises(DomainError) as refused:
        tariffs.add_key_rate(db_session, percent="18", valid_from=date(2025, 9, 15))
    assert refused.value.field == "valid_from"
    history = tariffs.key_rate_history(db_session)
    assert [(rate.percent, until) for rate, _name, until in history] == [
        (Decimal("16.50"), None),
        (Decimal("17.00"), date(2025, 10, 26)),
        (Decimal("21.00"), date(2025, 9, 14)),
    ]
    assert db_session.scalar(select(KeyRate.id).where(KeyRate.percent == 18)) is None


def test_the_table_shows_current_and_upcoming_values(db_session):
    add(db_session, "7.38", date(2026, 1, 1))
    add(db_session, "8.11", date(2026, 7, 1))
    add(db_session, "8.50", date(2027, 1, 1))
    table = tariffs.tariff_table(db_session, date(2026, 11, 23))
    lines = {(line.service, line.zone, line.category): line for line in table}
    line = lines[("electricity", "day", "population")]
    assert line.current.rate == Decimal("8.1100")
    assert line.upcoming.rate == Decimal("8.5000")
    assert line.versions == 3
    assert lines[("heat", "total", "others")].current is None
    assert len(lines) == 16  # 5 electricity zones and 3 single-rate services, 2 categories
