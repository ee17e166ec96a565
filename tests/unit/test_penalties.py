"""Penalties worked out by hand (key rate 16 %), and properties of the day-by-day rule."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from portal.services import penalties
from portal.services.numbers import money
from portal.services.penalties import Debt, KeyRates
from tests.factories import default_penalty_scheme

RATE_16 = KeyRates([(date(2020, 1, 1), Decimal("16"))])
SCHEME = default_penalty_scheme()  # Housing Code art. 155 p. 14: the settings' defaults


def penalty(debts, payments, start, end, rates):
    """The penalty for the days from ``start`` to ``end``, rounded half-up to kopecks, as
    the ledger charges it."""
    return money(sum((d.amount for d in penalty_days(debts, payments, start, end, rates)), 0))


def penalty_days(debts, payments, start, end, rates):
    return penalties.penalty_days(debts, payments, start, end, rates, SCHEME)


def test_short_delay_pays_1_300_from_the_31st_day_to_the_day_of_payment():
    # ЖК РФ ст. 155 п. 14, "по день фактической оплаты": 1 000 ₽ due 10 January, paid
    # 25 February (delay day 46): delay days 31..46 are charged, the day of payment too
    # (16 days). 16 × 1 000 × 16 % / 300 = 8.5333… → 8.53 ₽.
    debts = [Debt(Decimal("1000.00"), date(2026, 1, 10))]
    payments = [(date(2026, 2, 25), Decimal("1000.00"))]
    assert penalty(debts, payments, date(2026, 1, 11), date(2026, 2, 28), RATE_16) == Decimal(
        "8.53"
    )


def test_crossing_day_91_switches_to_1_130():
    # 3 000 ₽ due 10 January, unpaid by 31 May (delay day 141).
    # Days 31..90: 60 × 3 000 × 0.16 / 300 = 96.00; days 91..141: 51 × 3 000 × 0.16 / 130
    # = 188.3076… Together 284.3076… → 284.31 ₽.
    debts = [Debt(Decimal("3000.00"), date(2026, 1, 10))]
    assert penalty(debts, [], date(2026, 1, 11), date(2026, 5, 31), RATE_16) == Decimal("284.31")


def test_partial_payment_reduces_the_base_from_the_day_after():
    # ЖК РФ ст. 155 п. 14: 2 000 ₽ due 10 January; 1 500 ₽ paid on 20 February (delay day
    # 41), the rest never. Days 31..41 on 2 000: 11 × 2 000 × 0.16 / 300 = 11.7333…
    # Days 42..51 (2 March is delay day 51) on 500: 10 × 500 × 0.16 / 300 = 2.6666…
    # Together 14.4000 → 14.40 ₽.
    debts = [Debt(Decimal("2000.00"), date(2026, 1, 10))]
    payments = [(date(2026, 2, 20), Decimal("1500.00"))]
    assert penalty(debts, payments, date(2026, 1, 11), date(2026, 3, 2), RATE_16) == Decimal(
        "14.40"
    )


def test_payment_goes_to_the_oldest_debt_first():
    debts = [Debt(Decimal("100"), date(2026, 2, 10)), Debt(Decimal("100"), date(2026, 1, 10))]
    days = penalty_days(
        debts, [(date(2026, 1, 11), Decimal("100"))], date(2026, 1, 11), date(2026, 4, 30), RATE_16
    )
    assert {d.debt_due_on for d in days} == {date(2026, 2, 10)}


def test_each_days_rate_when_the_setting_asks_for_it():
    rates = KeyRates([(date(2020, 1, 1), Decimal("15")), (date(2026, 2, 15), Decimal("30"))])
    days = penalties.penalty_days(
        [Debt(Decimal("300"), date(2026, 1, 1))],
        [],
        date(2026, 2, 10),
        date(2026, 2, 20),
        rates,
        SCHEME,
        each_day=True,
    )
    assert {d.day: d.percent for d in days}[date(2026, 2, 14)] == Decimal("15")
    assert {d.day: d.percent for d in days}[date(2026, 2, 15)] == Decimal("30")


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)
delays = st.integers(min_value=0, max_value=400)


@given(amounts, delays)
def test_no_penalty_within_the_free_days(amount, extra):
    due = date(2026, 1, 10)
    end = due + timedelta(days=min(extra, SCHEME.free_days))
    assert penalty([Debt(amount, due)], [], due, end, RATE_16) == Decimal("0.00")


@given(amounts, delays, delays)
def test_penalty_never_decreases_with_time(amount, first, second):
    due = date(2026, 1, 10)
    shorter, longer = sorted((first, second))
    debt = [Debt(amount, due)]
    assert penalty(debt, [], due, due + timedelta(days=shorter), RATE_16) <= penalty(
        debt, [], due, due + timedelta(days=longer), RATE_16
    )


@given(amounts, st.integers(min_value=31, max_value=400))
def test_paying_in_full_stops_the_penalty_after_the_day_of_payment(amount, pay_day):
    due = date(2026, 1, 10)
    paid_on = due + timedelta(days=pay_day)
    debt = [Debt(amount, due)]
    with_payment = penalty(debt, [(paid_on, amount)], due, paid_on + timedelta(days=100), RATE_16)
    until_payment = penalty(debt, [], due, paid_on, RATE_16)
    assert with_payment == until_payment
