"""A bill's due date is a working day (Civil Code art. 193: a term whose last day is a
non-working day ends on the next working day), and the penalty counts from that day.

Dates from the production calendar (tests/unit/test_workdays.py cites the decrees)."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from portal.models import Bill, BillingPeriod, Charge, KeyRate, Payment, Penalty
from portal.services import billing, ledger, months, settings
from portal.services.numbers import money
from tests import factories


@pytest.mark.parametrize(
    ("period", "due_on"),
    [
        (date(2026, 1, 1), date(2026, 2, 10)),  # Tuesday 10 February stays
        (date(2025, 12, 1), date(2026, 1, 12)),  # Sat 10 January, in the New Year holidays
        (date(2026, 4, 1), date(2026, 5, 12)),  # Sun 10 May, Mon 11 May off for 9 May
        (date(2026, 9, 1), date(2026, 10, 12)),  # Sat 10 October
        (date(2025, 7, 1), date(2025, 8, 11)),  # Sun 10 August 2025
    ],
)
def test_the_due_day_moves_to_the_next_working_day(db_session, period, due_on):
    dates = ledger.bill_dates(db_session, period)
    assert dates["population"][1] == dates["others"][1] == due_on
    # Issue days are not terms the customer must keep: they stay as set.
    assert dates["population"][0] == months.add_months(period, 1).replace(day=1)


def test_a_due_day_on_a_working_saturday_stays(db_session):
    settings.put(db_session, "billing.due_day", 20)
    # Saturday 20 February 2027 is a working day by the decree for 2027.
    assert ledger.bill_dates(db_session, date(2027, 1, 1))["population"][1] == date(2027, 2, 20)
    settings.put(db_session, "billing.due_day", 21)
    # Sun 21, Mon 22 (moved from 20 February) and Tue 23 February are off.
    assert ledger.bill_dates(db_session, date(2027, 1, 1))["population"][1] == date(2027, 2, 24)


def test_households_and_legal_entities_have_their_own_days(db_session):
    """DOMAIN.md (004 T2, 001): households' bills of October 2026 issued on the 1st, due on
    the 10th (Tuesday 10 November); legal entities' issued on the 7th and, with their due
    day set to the 18th, due on Wednesday 18 November."""
    settings.put(db_session, "billing.due_day_others", 18)
    dates = ledger.bill_dates(db_session, date(2026, 10, 1))
    assert dates["population"] == (date(2026, 11, 1), date(2026, 11, 10))
    assert dates["others"] == (date(2026, 11, 7), date(2026, 11, 18))


def close(session, period):
    run = billing.get_or_create_period(session, period)
    run.run_started_at = run.run_finished_at = factories.utcnow()
    ledger.close_period(session, period)


def test_the_penalty_counts_from_the_moved_due_date(db_session):
    for model in (Bill, Penalty, Payment, Charge, BillingPeriod, KeyRate):
        db_session.execute(delete(model))
    db_session.add(KeyRate(valid_from=date(2020, 1, 1), percent=Decimal("16.00")))
    account = factories.make_account(db_session)
    db_session.add(
        Charge(
            account_id=account.id,
            period=date(2026, 4, 1),
            service="electricity",
            zone="total",
            method="meter",
            volume=Decimal("1"),
            tariff=Decimal("1000.00"),
            amount=Decimal("1000.00"),
        )
    )
    for period in (date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)):
        close(db_session, period)

    april = db_session.scalar(select(Bill).where(Bill.period == date(2026, 4, 1)))
    assert april.due_on == date(2026, 5, 12)
    june = db_session.scalar(select(Penalty).where(Penalty.period == date(2026, 6, 1)))
    # Due Tuesday 12 May: delay day 31 is 12 June, so June has 19 penalty days (12–30),
    # not the 21 a due date of Sunday 10 May would give. 19 × 1 000 × 16 % / 300 = 10.13.
    [stage] = june.details
    assert stage["due_on"] == "2026-05-12"
    assert stage["days"] == 19
    assert june.amount == money(Decimal("1000") * Decimal("0.16") / 300 * 19)
    assert june.amount == Decimal("10.13")
