"""Penalties (пени) on overdue debt, day by day — Housing Code art. 155 p. 14 by default:
nothing for the first 30 days of delay, 1/300 of the key rate per day from the 31st day,
1/130 from the 91st day. The days and fractions are settings (``penalties.*``, read by
``ledger.penalty_scheme``); the key rate is a dated table.

Pure functions: the caller supplies debts, payments, the scheme and the key-rate lookup.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Scheme:
    """The penalty settings: no defaults here, they are the settings' (``SPECS``)."""

    free_days: int  # delay days without penalty
    high_from_day: int  # the delay day the higher fraction starts on
    low_divisor: int
    high_divisor: int


@dataclass(frozen=True)
class Debt:
    """An amount that had to be paid by ``due_on`` (inclusive). A bill's due date is
    already a working day (``ledger.bill_dates``, Civil Code art. 193), so the delay counts
    from the day the customer really had."""

    amount: Decimal
    due_on: date


class NoKeyRate(ValueError):
    """The key-rate table has no rate in force on ``day`` (it starts later)."""

    def __init__(self, day: date):
        super().__init__(f"no key rate known for {day}")
        self.day = day


class KeyRates:
    """The key rate in force on a day, from a dated table of (valid_from, percent)."""

    def __init__(self, table: list[tuple[date, Decimal]]):
        self._table = sorted(table)
        self._starts = [start for start, _percent in self._table]

    def on(self, day: date) -> Decimal:
        index = bisect_right(self._starts, day) - 1
        if index < 0:
            raise NoKeyRate(day)
        return self._table[index][1]


@dataclass(frozen=True)
class PenaltyDay:
    day: date
    debt_due_on: date
    base: Decimal
    delay_days: int
    divisor: int
    percent: Decimal
    amount: Decimal  # unrounded


def penalty_days(
    debts: list[Debt],
    payments: list[tuple[date, Decimal]],
    start: date,
    end: date,
    rates: KeyRates,
    scheme: Scheme,
) -> list[PenaltyDay]:
    """Every day's penalty on every debt between ``start`` and ``end`` inclusive.

    Payments pay the oldest debt first; a payment made on a day stops the penalty on what
    it pays from that day on. Payments before ``start`` must already be netted in ``debts``.
    """
    remaining = [[debt.due_on, debt.amount] for debt in sorted(debts, key=lambda d: d.due_on)]
    paid_by_day: dict[date, Decimal] = {}
    for paid_on, amount in payments:
        paid_by_day[paid_on] = paid_by_day.get(paid_on, Decimal(0)) + amount
    days: list[PenaltyDay] = []
    day = start
    while day <= end:
        _apply_payment(remaining, paid_by_day.get(day, Decimal(0)))
        for due_on, base in remaining:
            delay = (day - due_on).days
            if base <= 0 or delay <= scheme.free_days:
                continue
            divisor = scheme.high_divisor if delay >= scheme.high_from_day else scheme.low_divisor
            percent = rates.on(day)
            amount = base * percent / 100 / divisor
            days.append(PenaltyDay(day, due_on, base, delay, divisor, percent, amount))
        day += timedelta(days=1)
    return days


def _apply_payment(remaining: list[list], amount: Decimal) -> None:
    for item in remaining:
        if amount <= 0:
            return
        covered = min(item[1], amount)
        item[1] -= covered
        amount -= covered
