"""Estimates and their recalculation by a real reading (ПП 354 п. 59, 60, 61).

One single-rate electricity meter, 5.50 ₽/kWh, norm 100 kWh per resident (2 residents).
Every figure below is worked out by hand from the rules.
"""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.models import (
    AccountService,
    Charge,
    ConsumptionNorm,
    EstimatedVolume,
    KeyRate,
    Reading,
    Tariff,
)
from portal.services import billing, ledger, settings, statements
from tests import factories
from tests.conftest import english_request

OCT, NOV, DEC = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)
JAN, FEB = date(2027, 1, 1), date(2027, 2, 1)


@pytest.fixture
def priced(db_session):
    db_session.add_all(
        [
            Tariff(
                service="electricity",
                zone="total",
                category="population",
                rate=Decimal("5.50"),
                valid_from=date(2026, 1, 1),
            ),
            ConsumptionNorm(
                service="electricity",
                basis="per_resident",
                volume=Decimal("100"),
                valid_from=date(2026, 1, 1),
            ),
            KeyRate(valid_from=date(2026, 1, 1), percent=Decimal("16.00")),
        ]
    )
    db_session.flush()


def read(session, meter, period, value, consumption, day=20):
    session.add(
        Reading(
            meter_id=meter.id,
            zone="total",
            period=period,
            taken_on=period.replace(day=day),
            value=Decimal(value),
            consumption=None if consumption is None else Decimal(consumption),
            source="customer",
            status="accepted",
        )
    )
    session.flush()


def lines(session, account, period):
    """(method, volume, amount) of the period's charges, in id order."""
    return [
        (c.method, c.volume, c.amount)
        for c in session.scalars(
            select(Charge)
            .where(Charge.account_id == account.id, Charge.period == period)
            .order_by(Charge.id)
        )
    ]


@pytest.fixture
def meter_read_to_september(db_session, priced):
    """Readings of June (the span's start, value 1000), July +90, August +120 and September
    +150: by п. 59 the average is (90 + 120 + 150) / 3 months = 120 kWh a month."""
    account = factories.make_account(db_session)
    meter = factories.make_meter(db_session, account, zones=1)
    read(db_session, meter, date(2026, 6, 1), "1000", "80")
    read(db_session, meter, date(2026, 7, 1), "1090", "90")
    read(db_session, meter, date(2026, 8, 1), "1210", "120")
    read(db_session, meter, date(2026, 9, 1), "1360", "150")
    return account, meter


def test_p59_two_months_without_reading_are_estimated_per_meter(
    db_session, meter_read_to_september
):
    """ПП 354 п. 59: October and November by the average, 120 kWh × 5.50 = 660.00 each,
    each recorded as an estimate of the meter, never as a reading."""
    account, meter = meter_read_to_september
    billing.run(db_session, OCT)
    billing.run(db_session, NOV)
    average = ("average", Decimal("120.0000"), Decimal("660.00"))
    assert lines(db_session, account, OCT) == [average]
    assert lines(db_session, account, NOV) == [average]
    estimates = db_session.scalars(
        select(EstimatedVolume).where(EstimatedVolume.meter_id == meter.id)
    ).all()
    assert [(e.period, e.method, e.volume, e.settled_in) for e in estimates] == [
        (OCT, "average", Decimal("120.0000"), None),
        (NOV, "average", Decimal("120.0000"), None),
    ]
    assert db_session.scalar(select(Reading.id).where(Reading.source == "estimated")) is None


def test_p61_a_real_reading_takes_the_estimates_back_as_a_credit(
    db_session, meter_read_to_september
):
    """ПП 354 п. 61: on 14 December the meter shows 1560, 200 kWh since September. December
    charges 200 × 5.50 = 1100.00 by meter and takes back the 240 kWh estimated for October–
    November: −240 × 5.50 = −1320.00, a credit of 220.00 as the estimate was too high. Over
    October–December 120 + 120 + 200 − 240 = 200 kWh are charged: the real consumption."""
    account, meter = meter_read_to_september
    billing.run(db_session, OCT)
    billing.run(db_session, NOV)
    read(db_session, meter, DEC, "1560", "200", day=14)
    billing.run(db_session, DEC)
    assert lines(db_session, account, DEC) == [
        ("meter", Decimal("200.0000"), Decimal("1100.00")),
        ("recalculation", Decimal("-240.0000"), Decimal("-1320.00")),
    ]
    recalculation = db_session.scalar(select(Charge).where(Charge.method == "recalculation"))
    assert (recalculation.estimated_from, recalculation.estimated_to) == (OCT, NOV)
    assert recalculation.read_on == date(2026, 12, 14)
    settled = db_session.scalars(select(EstimatedVolume.settled_in)).all()
    assert settled == [DEC, DEC]


def test_p61_an_estimate_too_low_is_charged_up(db_session, meter_read_to_september):
    """ПП 354 п. 61: 400 kWh since September: 400 × 5.50 = 2200.00 by meter, −240 × 5.50 =
    −1320.00 taken back; 880.00 more for the 160 kWh the estimates missed."""
    account, meter = meter_read_to_september
    billing.run(db_session, OCT)
    billing.run(db_session, NOV)
    read(db_session, meter, DEC, "1760", "400", day=14)
    billing.run(db_session, DEC)
    assert lines(db_session, account, DEC) == [
        ("meter", Decimal("400.0000"), Decimal("2200.00")),
        ("recalculation", Decimal("-240.0000"), Decimal("-1320.00")),
    ]


def test_p60_after_three_periods_by_average_the_norm_then_both_are_taken_back(
    db_session, meter_read_to_september
):
    """ПП 354 п. 60: October, November, December by the average (120 kWh), January by the
    norm, 2 residents × 100 = 200 kWh × 5.50 = 1100.00. The reading of February, 700 kWh
    since September: 700 × 5.50 = 3850.00 by meter, and 120 × 3 + 200 = 560 kWh taken back,
    −560 × 5.50 = −3080.00, for October–January."""
    account, meter = meter_read_to_september
    for period in (OCT, NOV, DEC, JAN):
        billing.run(db_session, period)
    assert lines(db_session, account, DEC) == [("average", Decimal("120.0000"), Decimal("660.00"))]
    assert lines(db_session, account, JAN) == [("norm", Decimal("200.0000"), Decimal("1100.00"))]
    read(db_session, meter, FEB, "2060", "700", day=3)
    billing.run(db_session, FEB)
    assert lines(db_session, account, FEB) == [
        ("meter", Decimal("700.0000"), Decimal("3850.00")),
        ("recalculation", Decimal("-560.0000"), Decimal("-3080.00")),
    ]
    recalculation = db_session.scalar(select(Charge).where(Charge.period == FEB, Charge.volume < 0))
    assert (recalculation.estimated_from, recalculation.estimated_to) == (OCT, JAN)


def test_p60_the_number_of_periods_by_average_is_a_setting(db_session, meter_read_to_september):
    """ПП 354 п. 60 with the limit set to 1 period: October by the average (660.00),
    November by the norm (200 kWh, 1100.00)."""
    account, _meter = meter_read_to_september
    settings.put(db_session, "billing.average_max_periods", 1)
    billing.run(db_session, OCT)
    billing.run(db_session, NOV)
    assert lines(db_session, account, OCT) == [("average", Decimal("120.0000"), Decimal("660.00"))]
    assert lines(db_session, account, NOV) == [("norm", Decimal("200.0000"), Decimal("1100.00"))]


def test_p59_a_reading_covering_two_months_counts_for_two(db_session, priced):
    """ПП 354 п. 59: readings of June (start), August (+240, for July and August) and
    September (+120): (240 + 120) / 3 months = 120 kWh, not (240 + 120) / 2 = 180."""
    account = factories.make_account(db_session)
    meter = factories.make_meter(db_session, account, zones=1)
    read(db_session, meter, date(2026, 6, 1), "1000", None)
    read(db_session, meter, date(2026, 8, 1), "1240", "240")
    read(db_session, meter, date(2026, 9, 1), "1360", "120")
    billing.run(db_session, OCT)
    assert lines(db_session, account, OCT) == [("average", Decimal("120.0000"), Decimal("660.00"))]


def test_p59_at_most_six_months_before_the_last_reading_make_the_average(db_session, priced):
    """ПП 354 п. 59: monthly readings from January; September is the last. Its six months
    before start at March: (30 × 6) / 6 = 30 kWh (January's and February's 900 are older)."""
    account = factories.make_account(db_session)
    meter = factories.make_meter(db_session, account, zones=1)
    read(db_session, meter, date(2026, 1, 1), "100", "900")
    read(db_session, meter, date(2026, 2, 1), "1000", "900")
    value = 1000
    for month in range(3, 10):
        value += 30
        read(db_session, meter, date(2026, month, 1), str(value), "30")
    billing.run(db_session, OCT)
    assert lines(db_session, account, OCT) == [("average", Decimal("30.0000"), Decimal("165.00"))]


def test_p59_a_meter_that_worked_under_three_months_is_charged_by_the_norm(db_session, priced):
    """ПП 354 п. 59: installed in July (first reading), read in August and September: two
    months of readings, fewer than three, so October is by the norm: 200 kWh, 1100.00. With
    a first reading in June it has worked three months: (90 + 150) / 3 = 80 kWh, 440.00."""
    short = factories.make_account(db_session)
    meter = factories.make_meter(db_session, short, zones=1)
    read(db_session, meter, date(2026, 7, 1), "1000", None)
    read(db_session, meter, date(2026, 8, 1), "1090", "90")
    read(db_session, meter, date(2026, 9, 1), "1240", "150")
    enough = factories.make_account(db_session)
    other = factories.make_meter(db_session, enough, zones=1)
    read(db_session, other, date(2026, 6, 1), "1000", None)
    read(db_session, other, date(2026, 8, 1), "1090", "90")
    read(db_session, other, date(2026, 9, 1), "1240", "150")
    billing.run(db_session, OCT)
    assert lines(db_session, short, OCT) == [("norm", Decimal("200.0000"), Decimal("1100.00"))]
    assert lines(db_session, enough, OCT) == [("average", Decimal("80.0000"), Decimal("440.00"))]


def test_p61_re_running_the_period_of_the_reading_gives_the_same_lines(
    db_session, meter_read_to_september
):
    """A draft period run again: the same meter line and recalculation (200 kWh, −240 kWh),
    the estimates settled once; a staff recalculation added meanwhile stays."""
    account, meter = meter_read_to_september
    billing.run(db_session, OCT)
    billing.run(db_session, NOV)
    read(db_session, meter, DEC, "1560", "200", day=14)
    billing.run(db_session, DEC)
    first = lines(db_session, account, DEC)
    billing.run(db_session, DEC)
    billing.run(db_session, NOV)  # November again: its estimate is made anew, still open
    billing.run(db_session, DEC)
    assert lines(db_session, account, DEC) == first
    assert db_session.scalars(select(EstimatedVolume.settled_in)).all() == [DEC, DEC]


def test_the_bill_explains_the_recalculation_in_words(app, db_session, meter_read_to_september):
    """The December bill names the months and the day of the reading and says the estimate
    of 240 kWh is taken back, a credit of 1,320.00."""
    account, meter = meter_read_to_september
    for period in (OCT, NOV):
        billing.run(db_session, period)
        ledger.close_period(db_session, period)
    read(db_session, meter, DEC, "1560", "200", day=14)
    billing.run(db_session, DEC)
    ledger.close_period(db_session, DEC)
    with english_request(app):
        statement = statements.statement(db_session, account.id, DEC)
        recalculation = statement.services[0].lines[1].charge
        words = statements.estimates_taken_back(recalculation)
    assert words == "recalculated for October–November 2026 by the reading of December 14, 2026"
    assert statement.notes[0] == (
        "Electricity for October–November 2026 was charged by an estimate, 240 kWh, because "
        "no reading came. The reading of December 14, 2026 shows the real consumption since "
        "the last reading: it is charged by meter, and the estimate is taken back, a credit "
        "of 1,320.00\u00a0₽."
    )


# --- heat: the average over the heating period (ПП 354 п. 59) ----------------------------


@pytest.fixture
def heat_priced(db_session, priced):
    db_session.add_all(
        [
            Tariff(
                service="heat",
                zone="total",
                category="population",
                rate=Decimal("2500.00"),
                valid_from=date(2026, 1, 1),
            ),
            ConsumptionNorm(
                service="heat",
                basis="per_m2",
                volume=Decimal("0.02"),
                valid_from=date(2026, 1, 1),
            ),
        ]
    )
    db_session.flush()


def heat_meter_read(session, readings):
    """A heat meter of an account (54.30 m²) with readings (period, value, consumption)."""
    account = factories.make_account(session)
    session.add(AccountService(account_id=account.id, service="heat", started_on=date(2020, 1, 1)))
    meter = factories.make_meter(session, account, service="heat", zones=1, fraction_digits=3)
    for period, value, consumption in readings:
        read(session, meter, period, value, consumption)
    return account


def heat_lines(session, account, period):
    return [
        (c.method, c.volume, c.amount)
        for c in session.scalars(
            select(Charge).where(
                Charge.account_id == account.id, Charge.period == period, Charge.service == "heat"
            )
        )
    ]


HEAT_JULY_TO_JANUARY = [
    (date(2026, 7, 1), "10.000", None),
    (date(2026, 8, 1), "10.100", "0.100"),
    (date(2026, 9, 1), "10.300", "0.200"),
    (date(2026, 10, 1), "11.300", "1.000"),
    (date(2026, 11, 1), "12.700", "1.400"),
    (date(2026, 12, 1), "14.300", "1.600"),
    (date(2027, 1, 1), "16.100", "1.800"),
]


def test_p59_heat_is_averaged_over_the_heating_period_months_only(db_session, heat_priced):
    """ПП 354 п. 59 ("для отопления — исходя из среднемесячного за отопительный период"):
    readings July (start) to January; the heating period (October–April) months among them
    are October to January: (1.0 + 1.4 + 1.6 + 1.8) / 4 = 1.45 Gcal × 2500.00 = 3625.00, not
    the calendar average (0.1 + 0.2 + 1.0 + 1.4 + 1.6 + 1.8) / 6 = 1.0167 Gcal."""
    account = heat_meter_read(db_session, HEAT_JULY_TO_JANUARY)
    billing.run(db_session, FEB)
    assert heat_lines(db_session, account, FEB) == [
        ("average", Decimal("1.4500"), Decimal("3625.00"))
    ]


def test_p59_the_heating_period_is_a_setting(db_session, heat_priced):
    """ПП 354 п. 59 with the heating period November–March: November to January count,
    (1.4 + 1.6 + 1.8) / 3 = 1.6 Gcal × 2500.00 = 4000.00."""
    settings.put(db_session, "billing.heating_first_month", 11)
    settings.put(db_session, "billing.heating_last_month", 3)
    account = heat_meter_read(db_session, HEAT_JULY_TO_JANUARY)
    billing.run(db_session, FEB)
    assert heat_lines(db_session, account, FEB) == [
        ("average", Decimal("1.6000"), Decimal("4000.00"))
    ]


def test_p59_heat_with_under_three_heating_months_of_readings_is_by_the_norm(
    db_session, heat_priced
):
    """ПП 354 п. 59, 60: readings May (start) to November span six months, but only two of
    the heating period (October, November): December is by the norm, 54.30 m² × 0.02 Gcal
    = 1.086 Gcal × 2500.00 = 2715.00."""
    account = heat_meter_read(
        db_session,
        [
            (date(2026, 5, 1), "10.000", None),
            (date(2026, 6, 1), "10.100", "0.100"),
            (date(2026, 7, 1), "10.200", "0.100"),
            (date(2026, 8, 1), "10.300", "0.100"),
            (date(2026, 9, 1), "10.500", "0.200"),
            (date(2026, 10, 1), "11.500", "1.000"),
            (date(2026, 11, 1), "13.100", "1.600"),
        ],
    )
    billing.run(db_session, DEC)
    assert heat_lines(db_session, account, DEC) == [("norm", Decimal("1.0860"), Decimal("2715.00"))]
