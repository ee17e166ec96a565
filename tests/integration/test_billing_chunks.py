"""The billing run in chunks of accounts: any chunk size gives the same charges.

Each chunk's statement narrows every table to the chunk's accounts, so a range applied
to the wrong column would lose or double charges at a chunk's edge.
"""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.models import Account, Charge, ConsumptionNorm, Reading, Tariff
from portal.services import billing
from tests import factories

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def accounts(db_session):
    """Eight accounts in both categories, billed by meter, by average and by norm; one of
    them closed before October."""
    for category, factor in (("population", 1), ("others", 2)):
        for zone, rate in (("total", "5.50"), ("day", "6.43"), ("night", "2.91")):
            db_session.add(
                Tariff(
                    service="electricity",
                    zone=zone,
                    category=category,
                    rate=Decimal(rate) * factor,
                    valid_from=date(2026, 1, 1),
                )
            )
    db_session.add(
        ConsumptionNorm(
            service="electricity",
            basis="per_resident",
            volume=Decimal("100"),
            valid_from=date(2026, 1, 1),
        )
    )
    made = []
    for n in range(8):
        category = "others" if n % 2 else "population"
        closed_on = date(2026, 9, 30) if n == 5 else None
        account = factories.make_account(db_session, category=category, closed_on=closed_on)
        made.append(account)
        if n % 4 == 3:
            continue  # no meter: by norm
        meter = factories.make_meter(db_session, account, zones=2 if n % 4 == 0 else 1)
        for zone in meter.zone_names:
            for month in (6, 7, 8, 9, 10):  # June starts the average's span (ПП 354 п. 59)
                if month == 10 and n % 4 == 2:
                    continue  # no October reading: by average
                db_session.add(
                    Reading(
                        meter_id=meter.id,
                        zone=zone,
                        period=date(2026, month, 1),
                        taken_on=date(2026, month, 20),
                        value=Decimal(1000 + month),
                        consumption=Decimal(10 * month + n),
                        source="customer",
                        status="accepted",
                    )
                )
    db_session.flush()
    return made


def charge_lines(session):
    return sorted(
        session.execute(
            select(
                Charge.account_id,
                Charge.service,
                Charge.zone,
                Charge.method,
                Charge.volume,
                Charge.tariff,
                Charge.amount,
                Charge.basis,
            ).where(Charge.period == OCTOBER)
        ).all()
    )


@pytest.mark.parametrize("size", [1, 3])
def test_any_chunk_size_gives_the_same_charges(db_session, accounts, monkeypatch, size):
    whole = billing.run(db_session, OCTOBER)
    expected = charge_lines(db_session)

    monkeypatch.setattr(billing, "CHUNK_ACCOUNTS", size)
    calls = []
    totals = billing.run(db_session, OCTOBER, progress=lambda done, _total: calls.append(done))
    assert charge_lines(db_session) == expected
    assert totals == whole
    first, last = db_session.execute(select(func.min(Account.id), func.max(Account.id))).one()
    assert calls == [
        db_session.scalar(select(func.count(Account.id)).where(Account.id <= stop))
        for stop in (min(start + size - 1, last) for start in range(first, last + 1, size))
    ]

    methods = {}
    for line in expected:
        methods.setdefault(line.account_id, set()).add(line.method)
    assert [methods.get(a.id) for a in accounts] == [
        {"meter"},
        {"meter"},
        {"average"},
        {"norm"},
        {"meter"},
        None,  # closed before October
        {"average"},
        {"norm"},
    ]
    assert whole.lines == len(expected) == 9  # two zones on accounts 0 and 4


def test_the_tariff_follows_the_account_category(db_session, accounts):
    billing.run(db_session, OCTOBER)
    lines = {(line.account_id, line.zone): line for line in charge_lines(db_session)}
    population, others, others_by_norm = accounts[0], accounts[1], accounts[3]
    assert lines[(population.id, "day")].tariff == Decimal("6.4300")
    assert lines[(others.id, "total")].tariff == Decimal("11.0000")
    norm = lines[(others_by_norm.id, "total")]
    assert (norm.method, norm.volume, norm.tariff, norm.amount) == (
        "norm",
        Decimal("200.0000"),  # 2 residents × 100
        Decimal("11.0000"),
        Decimal("2200.00"),
    )
