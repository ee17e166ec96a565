"""Penalties (пени) on overdue debt, day by day — Housing Code art. 155 p. 14 by default:
nothing for the first 30 days of delay, 1/300 of the key rate per day from the 31st day,
1/130 from the 91st day, at the rate in force on the day of payment (while unpaid, on the
day of calculation). The days and fractions are settings (``penalties.*``, read by
``ledger.penalty_scheme``); the key rate is a dated table.

Pure functions: the caller supplies debts, payments, the scheme and the key-rate lookup.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Stage:
    """From delay day ``from_day`` on (1 = the day after the due date), 1/``divisor`` of the
    key rate per day."""

    from_day: int
    divisor: int


@dataclass(frozen=True)
class Scheme:
    """A penalty scheme: stages by the delay day they start on (no defaults here: they are
    the settings')."""

    stages: tuple[Stage, ...]

    @property
    def free_days(self) -> int:
        """Delay days before the first stage: no penalty."""
        return min(stage.from_day for stage in self.stages) - 1

    def divisor_on(self, delay: int) -> int | None:
        """The divisor of the stage a delay day is in; None before the first stage."""
        divisor = None
        for stage in sorted(self.stages, key=lambda s: s.from_day):
            if delay >= stage.from_day:
                divisor = stage.divisor
        return divisor


def two_stages(free_days: int, high_from_day: int, low_divisor: int, high_divisor: int) -> Scheme:
    """The Housing Code's shape (ЖК РФ ст. 155 п. 14): free days, then 1/low, then 1/high."""
    return Scheme((Stage(free_days + 1, low_divisor), Stage(high_from_day, high_divisor)))


@dataclass(frozen=True)
class Debt:
    """An amount that had to be paid by ``due_on`` (inclusive). A bill's due date is
    already a working day (``ledger.bill_dates``, Civil Code art. 193), so the delay counts
    from the day the customer really had."""

    amount: Decimal
    due_on: date
    scheme: "Scheme | None" = None  # its category's and service's; None: the caller's


class NoKeyRate(ValueError):
    """The key-rate table has no rate in force on ``day`` (it starts later)."""

    def __init__(self, day: date):
        super().__init__(f"no key rate known for {day}")
        self.day = day


class KeyRates:
    """The key rate in force on a day, from a dated table of (valid_from, percent), at most
    the cap in force that day, from (valid_from, valid_to, percent) ranges."""

    def __init__(self, table: list[tuple[date, Decimal]], caps=()):
        self._table = sorted(table)
        self._starts = [start for start, _percent in self._table]
        self._caps = list(caps)

    def on(self, day: date) -> Decimal:
        index = bisect_right(self._starts, day) - 1
        if index < 0:
            raise NoKeyRate(day)
        percent = self._table[index][1]
        for first, last, cap in self._caps:
            if first <= day <= last:
                percent = min(percent, cap)
        return percent


@dataclass(frozen=True)
class PenaltyDay:
    day: date
    debt_due_on: date
    base: Decimal  # the part of the debt this day's penalty is on (paid on one day, or not)
    delay_days: int
    divisor: int
    percent: Decimal
    amount: Decimal  # unrounded


@dataclass(frozen=True)
class Tranche:
    """The part of a debt one payment pays (``paid_on``), or what stays unpaid (None)."""

    due_on: date
    amount: Decimal
    paid_on: date | None
    scheme: Scheme | None = None


def tranches(debts: list[Debt], payments: list[tuple[date, Decimal]]) -> list[Tranche]:
    """Debts split by the payments that pay them, oldest debt first, payments in date order
    (a credit is a payment on the day it is issued)."""
    remaining = [
        [debt.due_on, debt.amount, debt.scheme] for debt in sorted(debts, key=lambda d: d.due_on)
    ]
    found = []
    for paid_on, amount in sorted(payments):
        for item in remaining:
            if amount <= 0:
                break
            covered = min(item[1], amount)
            if covered > 0:
                found.append(Tranche(item[0], covered, paid_on, item[2]))
                item[1] -= covered
                amount -= covered
    found += [Tranche(due, amount, None, own) for due, amount, own in remaining if amount > 0]
    return found


def penalty_days(
    debts: list[Debt],
    payments: list[tuple[date, Decimal]],
    start: date,
    end: date,
    rates: KeyRates,
    scheme: Scheme,
    each_day: bool = False,
) -> list[PenaltyDay]:
    """Every day's penalty on every part of a debt between ``start`` and ``end`` inclusive.

    Payments pay the oldest debt first. The day of a payment still counts at the old debt:
    what it pays stops accruing the day after (ЖК РФ ст. 155 п. 14: "по день фактической
    оплаты"). The key rate is, by the law, the one in force on the day the part is paid, or
    on ``end`` (the day of calculation) while it is unpaid; ``each_day`` takes each day's
    rate instead. Payments before ``start`` must already be netted in ``debts``.
    """
    days: list[PenaltyDay] = []
    for part in tranches(debts, payments):
        last = min(part.paid_on or end, end)
        fixed = None if each_day else rates.on(last)
        day = start
        while day <= last:
            delay = (day - part.due_on).days
            divisor = (part.scheme or scheme).divisor_on(delay)
            if divisor is not None:
                percent = fixed if fixed is not None else rates.on(day)
                amount = part.amount * percent / 100 / divisor
                days.append(
                    PenaltyDay(day, part.due_on, part.amount, delay, divisor, percent, amount)
                )
            day += timedelta(days=1)
    return days
