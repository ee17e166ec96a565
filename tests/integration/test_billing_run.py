"""The billing run on a real database: by meter, by average, by norm; re-runs replace."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.models import AccountService, Charge, ConsumptionNorm, Reading, Tariff
from portal.services import billing, months
from portal.services.errors import DomainError
from tests import factories

OCTOBER = date(2026, 10, 1)


def reading(session, meter, zone, period, value, consumption, **fields):
    row = Reading(
        meter_id=meter.id,
        zone=zone,
        period=period,
        taken_on=period.replace(day=20),
        value=Decimal(value),
        consumption=None if consumption is None else Decimal(consumption),
        source=fields.pop("source", "customer"),
        status=fields.pop("status", "accepted"),
        **fields,
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def tariffs(db_session):
    rows = [
        Tariff(
            service="electricity",
            zone="day",
            category="population",
            rate=Decimal("6.43"),
            valid_from=date(2026, 1, 1),
        ),
        Tariff(
            service="electricity",
            zone="night",
            category="population",
            rate=Decimal("2.91"),
            valid_from=date(2026, 1, 1),
        ),
        Tariff(
            service="electricity",
            zone="total",
            category="population",
            rate=Decimal("5.50"),
            valid_from=date(2026, 1, 1),
        ),
        Tariff(
            service="cold_water",
            zone="total",
            category="population",
            rate=Decimal("45.12"),
            valid_from=date(2026, 1, 1),
            valid_to=date(2026, 6, 30),
        ),
        Tariff(
            service="cold_water",
            zone="total",
            category="population",
            rate=Decimal("48.00"),
            valid_from=date(2026, 7, 1),
        ),
        ConsumptionNorm(
            service="cold_water",
            basis="per_resident",
            volume=Decimal("4.8500"),
            valid_from=date(2026, 1, 1),
        ),
        ConsumptionNorm(
            service="electricity",
            basis="per_resident",
            volume=Decimal("100"),
            valid_from=date(2026, 1, 1),
        ),
    ]
    db_session.add_all(rows)
    db_session.flush()


def charges_of(session, account):
    return {
        (c.service, c.zone): c
        for c in session.scalars(
            select(Charge).where(Charge.account_id == account.id, Charge.period == OCTOBER)
        )
    }


def test_meter_average_and_norm(db_session, tariffs):
    """ПП 354 п. 59: the average is the consumption after the earliest reading of the span
    (May) up to the last one (September) over the months between them: (90 + 120 + 150) / 4
    = 90 kWh (May's own 9999 was used before the span); 90 × 5.50 = 495.00."""
    metered = factories.make_account(db_session)
    meter = factories.make_meter(db_session, metered, zones=2)
    reading(db_session, meter, "day", OCTOBER, "1001.5", "1.5")  # 1.5 × 6.43 = 9.645 → 9.65
    reading(db_session, meter, "night", OCTOBER, "500", "40")
    reading(db_session, meter, "day", date(2026, 9, 1), "1000", "999", status="superseded")

    averaged = factories.make_account(db_session)
    meter2 = factories.make_meter(db_session, averaged, zones=1)
    for month, consumption in ((7, "90"), (8, "120"), (9, "150")):
        reading(db_session, meter2, "total", date(2026, month, 1), "1", consumption)
    reading(db_session, meter2, "total", date(2026, 5, 1), "1", "9999")  # the span's start

    by_norm = factories.make_account(db_session)  # 2 residents, no meter
    db_session.add(
        AccountService(account_id=by_norm.id, service="cold_water", started_on=date(2020, 1, 1))
    )
    db_session.flush()

    totals = billing.run(db_session, OCTOBER)

    metered_charges = charges_of(db_session, metered)
    assert metered_charges[("electricity", "day")].amount == Decimal("9.65")
    assert metered_charges[("electricity", "night")].amount == Decimal("116.40")
    assert {c.method for c in metered_charges.values()} == {"meter"}

    averaged_charges = charges_of(db_session, averaged)
    assert averaged_charges[("electricity", "total")].method == "average"
    assert averaged_charges[("electricity", "total")].volume == Decimal("90.0000")
    assert averaged_charges[("electricity", "total")].amount == Decimal("495.00")
    assert averaged_charges[("electricity", "total")].basis == Decimal("4.00")

    norm_charges = charges_of(db_session, by_norm)
    assert norm_charges[("cold_water", "total")].method == "norm"
    assert norm_charges[("cold_water", "total")].volume == Decimal("9.7000")
    assert norm_charges[("cold_water", "total")].tariff == Decimal("48.0000")  # July tariff
    assert norm_charges[("cold_water", "total")].amount == Decimal("465.60")
    assert norm_charges[("electricity", "total")].amount == Decimal("1100.00")  # 2 × 100 × 5.50
    assert totals.lines == 5


def test_rerun_replaces_draft_charges_and_keeps_recalculations(db_session, tariffs):
    account = factories.make_account(db_session)
    db_session.add(
        Charge(
            account_id=account.id,
            period=OCTOBER,
            service="electricity",
            zone="total",
            method="recalculation",
            volume=Decimal("-10"),
            tariff=Decimal("5.50"),
            amount=Decimal("-55.00"),
            reason="meter check",
        )
    )
    db_session.flush()
    billing.run(db_session, OCTOBER)
    first = db_session.scalars(select(Charge).where(Charge.period == OCTOBER)).all()
    billing.run(db_session, OCTOBER)
    second = db_session.scalars(select(Charge).where(Charge.period == OCTOBER)).all()
    assert len(first) == len(second) == 2
    assert sum(c.amount for c in second) == Decimal("1045.00")


def test_closed_period_is_frozen(db_session, tariffs):
    period = billing.get_or_create_period(db_session, OCTOBER)
    period.status = "closed"
    db_session.flush()
    with pytest.raises(DomainError):
        billing.run(db_session, OCTOBER)


@pytest.mark.parametrize("text", ["2026-13", "abc", "", "2026", "2026-10-01"])
def test_bad_period_text(text):
    with pytest.raises(DomainError):
        months.parse_period(text)
