"""Closing periods keeps the ledger: closing = opening + charges + penalties − payments."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from portal.models import Bill, BillingPeriod, Charge, KeyRate, Payment, Penalty
from portal.services import billing, ledger, months
from portal.services.errors import DomainError
from tests import factories

PERIODS = [date(2026, month, 1) for month in range(1, 8)]
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("20000"), places=2)


def charge(session, account, period, amount):
    session.add(
        Charge(
            account_id=account.id,
            period=period,
            service="electricity",
            zone="total",
            method="meter",
            volume=Decimal("1"),
            tariff=amount,
            amount=amount,
        )
    )


def mark_run(session, period):
    row = billing.get_or_create_period(session, period)
    row.run_finished_at = row.run_started_at = factories.utcnow()


@given(
    charges=st.lists(money, min_size=len(PERIODS), max_size=len(PERIODS)),
    payments=st.lists(st.tuples(st.integers(0, 200), money), max_size=8),
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_ledger_invariant_on_generated_history(db_session, charges, payments):
    for model in (Bill, Penalty, Payment, Charge, BillingPeriod, KeyRate):
        db_session.execute(delete(model))
    db_session.add(KeyRate(valid_from=date(2020, 1, 1), percent=Decimal("16.00")))
    account = factories.make_account(db_session)
    for period, amount in zip(PERIODS, charges, strict=True):
        charge(db_session, account, period, amount)
    for n, (day, amount) in enumerate(payments):
        db_session.add(
            Payment(
                account_id=account.id,
                amount=amount,
                paid_on=PERIODS[0] + timedelta(days=day),
                agent="bank",
                reference=f"p{n}",
            )
        )
    db_session.flush()

    for period in PERIODS:
        mark_run(db_session, period)
        ledger.close_period(db_session, period)

    bills = db_session.scalars(
        select(Bill).where(Bill.account_id == account.id).order_by(Bill.period)
    ).all()
    assert [b.period for b in bills] == PERIODS
    opening = Decimal("0.00")
    for bill in bills:
        assert bill.opening_balance == opening
        assert (
            bill.closing_balance
            == bill.opening_balance
            + bill.charges_total
            + bill.penalties_total
            - bill.payments_total
        )
        opening = bill.closing_balance
    counted = [
        (d, a)
        for d, a in payments
        if PERIODS[0] + timedelta(days=d) <= months.month_end(PERIODS[-1])
    ]
    assert sum(b.payments_total for b in bills) == sum((a for _d, a in counted), Decimal(0))
    assert sum(b.charges_total for b in bills) == sum(charges, Decimal(0))
    penalties = sum(b.penalties_total for b in bills)
    assert bills[-1].closing_balance == sum(charges, Decimal(0)) + penalties - sum(
        (a for _d, a in counted), Decimal(0)
    )
    # January's bill is months overdue by July; on less than a rouble the penalty of each
    # month rounds to nothing (0.01 ₽ at 16 % × 1/300 a day is a thousandth of a kopeck).
    if not payments and charges[0] >= Decimal("1.00"):
        assert penalties > 0


def test_late_registry_payment_lands_in_the_next_bill(db_session):
    db_session.add(KeyRate(valid_from=date(2020, 1, 1), percent=Decimal("16.00")))
    account = factories.make_account(db_session)
    charge(db_session, account, PERIODS[0], Decimal("100.00"))
    mark_run(db_session, PERIODS[0])
    ledger.close_period(db_session, PERIODS[0])
    db_session.add(
        Payment(
            account_id=account.id,
            amount=Decimal("100.00"),
            paid_on=date(2026, 1, 31),
            agent="bank",
            reference="late",
        )
    )
    mark_run(db_session, PERIODS[1])
    ledger.close_period(db_session, PERIODS[1])
    february = db_session.scalar(select(Bill).where(Bill.period == PERIODS[1]))
    assert february.payments_total == Decimal("100.00")
    assert february.closing_balance == Decimal("0.00")


def test_periods_close_in_order_and_once(db_session):
    account = factories.make_account(db_session)
    charge(db_session, account, PERIODS[0], Decimal("10.00"))
    with pytest.raises(DomainError):
        ledger.close_period(db_session, PERIODS[0])  # not run yet
    mark_run(db_session, PERIODS[0])
    ledger.close_period(db_session, PERIODS[0])
    with pytest.raises(DomainError):
        ledger.close_period(db_session, PERIODS[0])
    mark_run(db_session, PERIODS[2])
    with pytest.raises(DomainError):
        ledger.close_period(db_session, PERIODS[2])  # February is still open


def test_contract_accounts_bill_is_due_on_the_contracts_due_day(db_session):
    """An organisation's account under a contract is due on the contract's due day of the
    following month, moved off a day off (Civil Code art. 193): the 15th of February 2026
    is a Sunday, so the January bill is due on Monday the 16th. The contract's invoice
    names the same date; a household account keeps its category's due day."""
    from portal.services import contract_documents

    organisation = factories.make_organisation(db_session, factories.make_user(db_session))
    contract = factories.make_contract(db_session, organisation, due_day=15)
    company = factories.make_account(db_session, contract_id=contract.id, category="others")
    household = factories.make_account(db_session)
    for account in (company, household):
        charge(db_session, account, PERIODS[0], Decimal("10.00"))
    mark_run(db_session, PERIODS[0])
    ledger.close_period(db_session, PERIODS[0])
    bills = {b.account_id: b for b in db_session.scalars(select(Bill))}
    assert bills[company.id].due_on == date(2026, 2, 16)
    assert contract_documents.due_date(contract, PERIODS[0]) == date(2026, 2, 16)
    household_due = ledger.bill_dates(db_session, PERIODS[0])["population"][1]
    assert bills[household.id].due_on == household_due != date(2026, 2, 16)
