"""Penalties to the letter (ЖК РФ ст. 155 п. 14): the rate of the day of payment, the day of
payment at the old debt, credits first on the oldest debt, rows that add up to the total.

Every figure is worked out by hand; bills are due on the 10th of the next month.
"""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.models import BillingPeriod, KeyRate, Penalty
from portal.services import ledger, penalties, settings, statements
from portal.services.clock import utcnow
from portal.services.numbers import money
from portal.services.penalties import Debt, KeyRates
from tests import factories
from tests.conftest import english_request

APRIL = date(2026, 4, 1)
RATES = KeyRates([(date(2020, 1, 1), Decimal("15")), (date(2026, 2, 15), Decimal("30"))])
SCHEME = factories.default_penalty_scheme()


def total(days) -> Decimal:
    return money(sum((d.amount for d in days), Decimal(0)))


def test_art_155_p14_unpaid_takes_the_rate_of_the_day_of_calculation():
    """300.00 due 1 January, unpaid; 10–20 February calculated (delay days 40..50, 1/300).
    The rate on the day of calculation, 20 February, is 30 %: 11 × 300 × 0.30 / 300 =
    3.30. Each day's rate would give 5 × 0.15 + 6 × 0.30 = 2.55."""
    debts = [Debt(Decimal("300.00"), date(2026, 1, 1))]
    start, end = date(2026, 2, 10), date(2026, 2, 20)
    law = penalties.penalty_days(debts, [], start, end, RATES, SCHEME)
    per_day = penalties.penalty_days(debts, [], start, end, RATES, SCHEME, each_day=True)
    assert total(law) == Decimal("3.30")
    assert total(per_day) == Decimal("2.55")


def test_art_155_p14_paid_takes_the_rate_of_the_day_of_payment():
    """300.00 due 1 January, paid on 12 February when the rate was 15 %: days 10–12 February
    (3 days, the day of payment included) × 300 × 0.15 / 300 = 0.45, though the rate is
    30 % on the day of calculation."""
    debts = [Debt(Decimal("300.00"), date(2026, 1, 1))]
    payments = [(date(2026, 2, 12), Decimal("300.00"))]
    days = penalties.penalty_days(
        debts, payments, date(2026, 2, 10), date(2026, 2, 20), RATES, SCHEME
    )
    assert total(days) == Decimal("0.45")
    assert {d.day for d in days} == {date(2026, 2, 10), date(2026, 2, 11), date(2026, 2, 12)}


def test_art_155_p14_the_base_falls_from_the_day_after_the_payment():
    """1000.00 due 10 January, 600.00 paid on 14 February (delay day 35, rate 15 %), February
    calculated. The 600.00 accrues on delay days 31..35 (10–14 February, its day of payment
    included) at the rate of that day: 5 × 600 × 0.15 / 300 = 1.50. The 400.00 still unpaid
    accrues on days 31..49 (10–28 February) at the rate of the day of calculation, 30 %:
    19 × 400 × 0.30 / 300 = 7.60. Together 9.10."""
    debts = [Debt(Decimal("1000.00"), date(2026, 1, 10))]
    payments = [(date(2026, 2, 14), Decimal("600.00"))]
    days = penalties.penalty_days(
        debts, payments, date(2026, 2, 1), date(2026, 2, 28), RATES, SCHEME
    )
    assert total(days) == Decimal("9.10")
    assert max(d.day for d in days if d.base == Decimal("600.00")) == date(2026, 2, 14)


def keyed(session):
    session.add(KeyRate(valid_from=date(2020, 1, 1), percent=Decimal("16.00")))
    session.flush()


def test_art_155_p14_a_credit_settles_the_oldest_debt_first(db_session):
    """January's 1000.00 is due on 10 February; February's bill is a credit of 400.00
    (a recalculation), issued 1 March. April's penalty is on what is still overdue,
    600.00: delay days 50..79 (30 days) × 600 × 0.16 / 300 = 9.60, not 16.00 on 1000."""
    keyed(db_session)
    account = factories.make_account(db_session)
    factories.make_bills(db_session, account, ["1000.00", "-400.00", "0.00"])
    ledger.compute_penalties(db_session, APRIL)
    penalty = db_session.scalar(select(Penalty).where(Penalty.account_id == account.id))
    assert penalty.amount == Decimal("9.60")
    assert [row["base"] for row in penalty.details] == ["600.00"]


def test_the_penalty_rows_add_up_to_the_penalty_total(db_session):
    """125.00 due 10 January, unpaid, April: delay days 81..90 (1–10 April) at 1/300:
    10 × 125 × 0.16 / 300 = 0.6666… → 0.67; days 91..110 (11–30 April) at 1/130:
    20 × 125 × 0.16 / 130 = 3.0769… → 3.08. The bill's total is the rows' 3.75 (the
    unrounded sum, 3.7435…, would be 3.74)."""
    keyed(db_session)
    account = factories.make_account(db_session)
    factories.make_bills(
        db_session, account, ["125.00", "0.00", "0.00", "0.00"], first=date(2025, 12, 1)
    )
    ledger.compute_penalties(db_session, APRIL)
    penalty = db_session.scalar(select(Penalty).where(Penalty.account_id == account.id))
    assert [(row["divisor"], row["days"], row["amount"]) for row in penalty.details] == [
        (300, 10, "0.67"),
        (130, 20, "3.08"),
    ]
    assert penalty.amount == Decimal("3.75")


def test_the_rule_of_the_rate_is_a_setting_with_the_law_as_default(db_session):
    assert settings.get(db_session, "penalties.rate_each_day") == 0


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
days = st.integers(min_value=0, max_value=120)


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(days, amounts), min_size=1, max_size=4),
    st.lists(st.tuples(days, amounts), max_size=5),
)
def test_no_penalty_accrues_on_a_kopeck_that_is_not_overdue(debt_specs, payment_specs):
    """Property: on every day, the bases the penalty accrues on add up to no more than what
    is overdue that day — the debts past their free days less every payment and credit
    made before that day (the payment's own day still counts at the old debt)."""
    origin = date(2026, 1, 1)
    debts = [Debt(amount, origin + timedelta(days=offset)) for offset, amount in debt_specs]
    payments = [(origin + timedelta(days=offset), amount) for offset, amount in payment_specs]
    start, end = origin, origin + timedelta(days=240)
    found = penalties.penalty_days(debts, payments, start, end, RATES, SCHEME)
    by_day: dict[date, Decimal] = {}
    for day in found:
        by_day[day.day] = by_day.get(day.day, Decimal(0)) + day.base
    for day, base in by_day.items():
        paid_before = sum((a for d, a in payments if d < day), Decimal(0))
        owed_then = sum((debt.amount for debt in debts), Decimal(0))
        overdue = sum(
            (debt.amount for debt in debts if (day - debt.due_on).days > SCHEME.free_days),
            Decimal(0),
        )
        assert base <= overdue
        assert base <= max(owed_then - paid_before, Decimal(0))


def test_art_155_p14_a_cap_on_the_rate_applies_on_its_days():
    """A decree caps the rate at 9.5 % through February: 300.00 due 1 January, unpaid, 10–20
    February (11 days at 1/300) at min(30 %, 9.5 %): 11 × 300 × 0.095 / 300 = 1.045 →
    1.05 (half-up). From 1 March the cap is over: 30 % again."""
    capped = KeyRates(
        [(date(2020, 1, 1), Decimal("15")), (date(2026, 2, 15), Decimal("30"))],
        [(date(2026, 2, 1), date(2026, 2, 28), Decimal("9.5"))],
    )
    debts = [Debt(Decimal("300.00"), date(2026, 1, 1))]
    days = penalties.penalty_days(debts, [], date(2026, 2, 10), date(2026, 2, 20), capped, SCHEME)
    assert total(days) == Decimal("1.05")
    assert capped.on(date(2026, 3, 1)) == Decimal("30")
    assert capped.on(date(2026, 2, 10)) == Decimal("9.5")


def test_art_155_p14_a_payment_imported_late_corrects_the_closed_months_penalty(app, db_session):
    """December 2025's 1000.00 is due on 10 January 2026. March is closed (penalty: delay
    days 50..80, 31 × 1000 × 0.16 / 300 = 16.5333… → 16.53) before the registry with a
    payment of 1000.00 dated 15 March arrives. Penalties follow the real payment dates:
    March should have been 15 days (1–15 March, the day of payment included) × 1000 × 0.16
    / 300 = 8.00, so April's bill carries a correction of 8.00 − 16.53 = −8.53 (April
    itself owes none: the debt was paid in March)."""
    keyed(db_session)
    account = factories.make_account(db_session)
    factories.make_bills(
        db_session, account, ["1000.00", "0.00", "0.00", "0.00"], first=date(2025, 12, 1)
    )
    march = date(2026, 3, 1)
    ledger.compute_penalties(db_session, march)
    assert db_session.scalar(select(Penalty.amount).where(Penalty.period == march)) == Decimal(
        "16.53"
    )
    db_session.add(
        BillingPeriod(period=march, status="closed", closed_at=utcnow() - timedelta(minutes=5))
    )
    factories.make_payment(db_session, account, date(2026, 3, 15), "1000.00")
    ledger.compute_penalties(db_session, APRIL)
    penalty = db_session.scalar(select(Penalty).where(Penalty.period == APRIL))
    assert penalty.amount == Decimal("-8.53")
    assert penalty.details == [{"corrects": "2026-03-01", "amount": "-8.53"}]
    ledger.issue_bills(db_session, APRIL)
    with english_request(app):
        statement = statements.statement(db_session, account.id, APRIL)
    assert statement.penalty_corrections == [{"month": march, "amount": Decimal("-8.53")}]
    assert statement.penalty_details == []
    assert statement.bill.penalties_total == Decimal("-8.53")


def test_a_payment_known_at_the_close_corrects_nothing(db_session):
    """The same payment, received before March closed: March's penalty already counted it,
    April carries no correction and no penalty row."""
    keyed(db_session)
    account = factories.make_account(db_session)
    factories.make_bills(
        db_session, account, ["1000.00", "0.00", "0.00", "0.00"], first=date(2025, 12, 1)
    )
    factories.make_payment(db_session, account, date(2026, 3, 15), "1000.00")
    db_session.add(
        BillingPeriod(
            period=date(2026, 3, 1), status="closed", closed_at=utcnow() + timedelta(minutes=5)
        )
    )
    ledger.compute_penalties(db_session, APRIL)
    assert db_session.scalar(select(Penalty).where(Penalty.period == APRIL)) is None
