"""Closing a billing period: penalties on overdue debt, then one bill per account.

Every bill keeps the ledger invariant  closing = opening + charges + penalties − payments,
and its opening is the previous bill's closing. Payments are counted in the first bill
closed after their date, so a registry imported late is never lost.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from portal.models import (
    Account,
    Bill,
    BillingPeriod,
    Category,
    Charge,
    Contract,
    KeyRate,
    KeyRateCap,
    Payment,
    Penalty,
    PeriodStatus,
    UnchargedService,
)
from portal.services import penalty_schemes, settings, workdays
from portal.services.billing import get_or_create_period
from portal.services.clock import utcnow
from portal.services.errors import DomainError
from portal.services.months import add_months, month_end, period_of
from portal.services.numbers import money
from portal.services.penalties import (
    Debt,
    KeyRates,
    NoKeyRate,
    Scheme,
    penalty_days,
    two_stages,
)

ZERO = Decimal("0.00")


def penalty_scheme(session: Session) -> Scheme:
    return two_stages(
        free_days=settings.get(session, "penalties.free_days"),
        high_from_day=settings.get(session, "penalties.high_from_day"),
        low_divisor=settings.get(session, "penalties.low_divisor"),
        high_divisor=settings.get(session, "penalties.high_divisor"),
    )


def key_rates(session: Session) -> KeyRates:
    table = [(row.valid_from, row.percent) for row in session.scalars(select(KeyRate))]
    if not table:
        raise DomainError(_("Enter the key rate table before penalties can be charged."))
    caps = [
        (row.valid_from, row.valid_to, row.percent) for row in session.scalars(select(KeyRateCap))
    ]
    return KeyRates(table, caps)


def bill_dates(session: Session, period: date) -> dict[str, tuple[date, date]]:
    """(issued on, due on) per customer category for the bill of ``period``: households and
    legal entities each have their issue day and due day (settings).

    A due day that falls on a non-working day moves to the next working day (Civil Code
    art. 193), exceptions administrators keep in the work calendar included, and
    penalties count from the moved date.
    """
    following = add_months(period, 1)
    calendar = workdays.calendar(session)
    days = {
        Category.POPULATION: ("billing.issue_day_population", "billing.due_day"),
        Category.OTHERS: ("billing.issue_day_others", "billing.due_day_others"),
    }
    return {
        category: (
            following.replace(day=settings.get(session, issue_key)),
            calendar.next_working_day(following.replace(day=settings.get(session, due_key))),
        )
        for category, (issue_key, due_key) in days.items()
    }


# --- penalties ------------------------------------------------------------------------


def _debtors(session: Session, period: date, among: list[int] | None = None) -> list[int]:
    """Accounts whose last closed bill before the period still shows a debt."""
    previous = add_months(period, -1)
    query = select(Bill.account_id).where(Bill.period == previous, Bill.closing_balance > 0)
    if among is not None:
        query = query.where(Bill.account_id.in_(among))
    return list(session.scalars(query))


@dataclass
class _Owed:
    """An account's debts (bills with a charge) and what pays them: payments, and credits
    (bills whose charges are negative: a recalculation in the customer's favour), each as
    a payment on its day — the one rule the debt ageing follows too: oldest debt first."""

    debts: list[Debt]
    payments: list[tuple[date, Decimal]]


def _owed(session: Session, debtors: list[int], period: date, known_by=None) -> dict[int, _Owed]:
    """Per account, its debts before the period and what paid them by the period's end;
    with ``known_by``, only the payments the portal had received by then.

    A bill's debt is split by service (its charge lines), each with the penalty scheme of
    the account's category and the service; what the lines do not explain (a bill without
    them) takes the category's scheme for all services. A negative share is a credit."""
    owed = {account_id: _Owed([], []) for account_id in debtors}
    schemes = penalty_schemes.load(session)
    by_service = _charged_by_service(session, debtors, period)
    for account_id, category, bill_period, amount, due_on, issued_on in session.execute(
        select(
            Bill.account_id,
            Account.category,
            Bill.period,
            Bill.charges_total,
            Bill.due_on,
            Bill.issued_on,
        )
        .join(Account, Account.id == Bill.account_id)
        .where(Bill.account_id.in_(debtors), Bill.period < period)
    ):
        shares = by_service.get((account_id, bill_period), {})
        shares[None] = amount - sum(shares.values(), ZERO)
        for service, share in shares.items():
            if share > 0:
                scheme = schemes.on(category, service, period)
                owed[account_id].debts.append(Debt(share, due_on, scheme))
            elif share < 0:
                owed[account_id].payments.append((issued_on, -share))
    payments = select(Payment.account_id, Payment.paid_on, Payment.amount).where(
        Payment.account_id.in_(debtors), Payment.paid_on <= month_end(period)
    )
    if known_by is not None:
        payments = payments.where(Payment.created_at <= known_by)
    for account_id, paid_on, amount in session.execute(payments):
        owed[account_id].payments.append((paid_on, amount))
    return owed


def _charged_by_service(session: Session, debtors: list[int], period: date) -> dict:
    """{(account, period): {service: amount}} of the debtors' bills before the period."""
    found: dict = {}
    for account_id, charged_in, service, amount in session.execute(
        select(Charge.account_id, Charge.period, Charge.service, func.sum(Charge.amount))
        .where(Charge.account_id.in_(debtors), Charge.period < period)
        .group_by(Charge.account_id, Charge.period, Charge.service)
    ):
        found.setdefault((account_id, charged_in), {})[service] = money(amount)
    return found


@dataclass(frozen=True)
class _Rules:
    rates: KeyRates
    scheme: Scheme
    each_day: bool


def _rules(session: Session) -> _Rules:
    return _Rules(
        key_rates(session),
        penalty_scheme(session),
        bool(settings.get(session, "penalties.rate_each_day")),
    )


def _details_of(owed: _Owed, period: date, rules: _Rules) -> list[dict]:
    """The period's penalty rows of one account, each rounded half-up."""
    days = _penalty_days(
        _net_before(owed.debts, owed.payments, period),
        [(d, a) for d, a in owed.payments if d >= period],
        period,
        month_end(period),
        rules.rates,
        rules.scheme,
        rules.each_day,
    )
    return _summary(days)


def _total(details: list[dict]) -> Decimal:
    """The sum of the rows the bill shows, each rounded half-up: they add up to it exactly."""
    return sum((Decimal(row["amount"]) for row in details), ZERO)


def compute_penalties(session: Session, period: date) -> int:
    """Replace the period's penalty rows; returns how many accounts have one (a penalty, or
    a correction of an earlier one)."""
    session.execute(delete(Penalty).where(Penalty.period == period))
    debtors = _debtors(session, period)
    corrections = late_payment_corrections(session, period)
    if not debtors and not corrections:
        return 0
    rules = _rules(session)
    details = {
        account_id: _details_of(owed, period, rules)
        for account_id, owed in _owed(session, debtors, period).items()
    }
    for account_id, rows in corrections.items():
        details.setdefault(account_id, []).extend(rows)
    rows = [
        {
            "account_id": account_id,
            "period": period,
            "amount": _total(found),
            "details": found,
            "created_at": utcnow(),
        }
        for account_id, found in details.items()
        if _total(found) != 0
    ]
    if rows:
        session.execute(insert(Penalty), rows)
    return len(rows)


def late_payment_corrections(session: Session, period: date) -> dict[int, list[dict]]:
    """Correction rows for the penalties of closed periods that a payment received since
    the previous period closed, but dated in or before it, would have lowered: penalties
    follow the real payment dates (ЖК РФ ст. 155 п. 14), so the period's bill carries the
    difference, one row per earlier month. A few accounts each month: one query each."""
    previous = session.scalar(
        select(BillingPeriod.closed_at).where(
            BillingPeriod.period == add_months(period, -1),
            BillingPeriod.status == PeriodStatus.CLOSED,
        )
    )
    if previous is None:
        return {}
    late = session.execute(
        select(Payment.account_id, func.min(Payment.paid_on))
        .where(Payment.paid_on < period, Payment.created_at > previous)
        .group_by(Payment.account_id)
    ).all()
    if not late:
        return {}
    rules = _rules(session)
    corrections: dict[int, list[dict]] = {}
    for account_id, first_paid in late:
        month = period_of(first_paid)
        while month < period:
            if account_id in _debtors(session, month, [account_id]):
                before = _owed(session, [account_id], month, known_by=previous)[account_id]
                after = _owed(session, [account_id], month)[account_id]
                change = _total(_details_of(after, month, rules)) - _total(
                    _details_of(before, month, rules)
                )
                if change:
                    corrections.setdefault(account_id, []).append(
                        {"corrects": month.isoformat(), "amount": str(change)}
                    )
            month = add_months(month, 1)
    return corrections


def _penalty_days(
    debts, payments, start: date, end: date, rates: KeyRates, scheme: Scheme, each_day
):
    """``penalty_days``, or a refusal naming the first day the key-rate table misses."""
    try:
        return penalty_days(debts, payments, start, end, rates, scheme, each_day)
    except NoKeyRate as missing:
        raise DomainError(
            _(
                "No key rate in force on %(day)s: add it under Tariffs → Key rate, then "
                "close the period.",
                day=format_date(missing.day, "d MMMM yyyy"),
            )
        ) from None


def _net_before(
    debts: list[Debt], payments: list[tuple[date, Decimal]], period: date
) -> list[Debt]:
    """The debts still unpaid at the start of the period, oldest paid first."""
    paid = sum((a for d, a in payments if d < period), Decimal(0))
    remaining = []
    for debt in sorted(debts, key=lambda d: d.due_on):
        covered = min(debt.amount, paid)
        paid -= covered
        if debt.amount - covered > 0:
            remaining.append(Debt(debt.amount - covered, debt.due_on, debt.scheme))
    return remaining


def _summary(days) -> list[dict]:
    """Per debt and stage: days, base, rate and amount — what the bill explains."""
    groups: dict[tuple, dict] = {}
    for day in days:
        key = (day.debt_due_on, day.divisor, day.base, day.percent)
        group = groups.setdefault(
            key,
            {
                "due_on": day.debt_due_on.isoformat(),
                "divisor": day.divisor,
                "base": str(day.base),
                "percent": str(day.percent),
                "days": 0,
                "amount": Decimal(0),
            },
        )
        group["days"] += 1
        group["amount"] += day.amount
    return [{**g, "amount": str(money(g["amount"]))} for g in groups.values()]


# --- bills ----------------------------------------------------------------------------


BILL_COLUMNS = [
    "account_id",
    "period",
    "opening_balance",
    "charges_total",
    "penalties_total",
    "payments_total",
    "closing_balance",
    "issued_on",
    "due_on",
    "created_at",
]


def issue_bills(session: Session, period: date) -> int:
    """Replace the period's bills with the ledger of every open account. Set-based."""
    session.execute(delete(Bill).where(Bill.period == period))
    session.execute(insert(Bill).from_select(BILL_COLUMNS, _bills_select(session, period)))
    # Counted, not taken from rowcount: drivers need not report it for INSERT … SELECT.
    return session.scalar(select(func.count(Bill.id)).where(Bill.period == period))


@dataclass(frozen=True)
class _Ledger:
    """Per account, the sums a bill adds up, as subqueries to join on ``account_id``."""

    previous: object  # the closing balance of the previous bill
    charges: object
    penalties: object
    paid_to_date: object  # every payment up to the period's end
    counted_before: object  # the payments earlier bills counted

    @property
    def tables(self):
        return (self.previous, self.charges, self.penalties, self.paid_to_date, self.counted_before)


def _ledger(period: date) -> _Ledger:
    return _Ledger(
        previous=select(Bill.account_id, Bill.closing_balance.label("amount"))
        .where(Bill.period == add_months(period, -1))
        .subquery(),
        charges=select(Charge.account_id, func.sum(Charge.amount).label("amount"))
        .where(Charge.period == period)
        .group_by(Charge.account_id)
        .subquery(),
        penalties=select(Penalty.account_id, Penalty.amount)
        .where(Penalty.period == period)
        .subquery(),
        paid_to_date=select(Payment.account_id, func.sum(Payment.amount).label("amount"))
        .where(Payment.paid_on <= month_end(period))
        .group_by(Payment.account_id)
        .subquery(),
        counted_before=select(Bill.account_id, func.sum(Bill.payments_total).label("amount"))
        .where(Bill.period < period)
        .group_by(Bill.account_id)
        .subquery(),
    )


def _by_category(dates: dict, which: int):
    """The issue (0) or due (1) date of a bill by the account's category, in SQL."""
    return case(
        (Account.category == Category.OTHERS, literal(dates[Category.OTHERS][which])),
        else_=literal(dates[Category.POPULATION][which]),
    )


def contract_due_on(session: Session, due_day: int, period: date) -> date:
    """The due date of a contract's bill for ``period``: the contract's due day of the
    following month (its last day in a shorter month), moved to the next working day
    (Civil Code art. 193), the same rule as the settings' due days."""
    following = add_months(period, 1)
    day = following.replace(day=min(due_day, month_end(following).day))
    return workdays.calendar(session).next_working_day(day)


def _due_on(session: Session, period: date, dates: dict):
    """The due date of a bill, in SQL: an organisation's account under a contract is due on
    the contract's due day (the one rule for it, also on its invoices); any other account,
    on its category's due day."""
    due_day = select(Contract.due_day).where(Contract.id == Account.contract_id)
    days = session.scalars(select(Contract.due_day).distinct()).all()
    if not days:
        return _by_category(dates, 1)
    return case(
        *[
            (due_day.scalar_subquery() == day, literal(contract_due_on(session, day, period)))
            for day in days
        ],
        else_=_by_category(dates, 1),
    )


def _bills_select(session: Session, period: date):
    """One bill row per account opened by the period's end, ready to insert."""
    ledger = _ledger(period)
    # Sums of kopecks are exact in PostgreSQL; SQLite adds them as binary floats
    # (760.86 + … = 760.860000000001): rounding keeps the stored money to kopecks.
    opening = func.round(func.coalesce(ledger.previous.c.amount, 0), 2)
    charged = func.round(func.coalesce(ledger.charges.c.amount, 0), 2)
    penalised = func.round(func.coalesce(ledger.penalties.c.amount, 0), 2)
    paid = func.round(
        func.coalesce(ledger.paid_to_date.c.amount, 0)
        - func.coalesce(ledger.counted_before.c.amount, 0),
        2,
    )
    dates = bill_dates(session, period)
    rows = select(
        Account.id,
        literal(period),
        opening,
        charged,
        penalised,
        paid,
        func.round(opening + charged + penalised - paid, 2),
        _by_category(dates, 0),
        _due_on(session, period, dates),
        literal(utcnow()),
    )
    for table in ledger.tables:
        rows = rows.outerjoin(table, table.c.account_id == Account.id)
    return rows.where(Account.opened_on <= month_end(period))


@dataclass(frozen=True)
class Closing:
    bills: int
    penalised_accounts: int


def close_period(session: Session, period: date, staff_id: int | None = None) -> Closing:
    """Freeze the period: penalties, bills, status closed. Earlier periods must be closed.
    The caller commits."""
    billing_period = get_or_create_period(session, period)
    _check_closable(session, billing_period)
    _check_all_charged(session, period)
    penalised = compute_penalties(session, period)
    bills = issue_bills(session, period)
    billing_period.status = PeriodStatus.CLOSED
    billing_period.closed_at = utcnow()
    billing_period.closed_by_id = staff_id
    session.flush()
    return Closing(bills, penalised)


def _check_all_charged(session: Session, period: date) -> None:
    """Refused while the period's run left an account's service uncharged."""
    count = session.scalar(
        select(func.count(UnchargedService.id)).where(UnchargedService.period == period)
    )
    if count:
        raise DomainError(
            ngettext(
                "The run could not charge %(num)s account service (listed on the period's "
                "page): add the missing tariff or norm, run the period again, then close it.",
                "The run could not charge %(num)s account services (listed on the period's "
                "page): add the missing tariffs or norms, run the period again, then close it.",
                count,
            )
        )


def _check_closable(session: Session, billing_period: BillingPeriod) -> None:
    period = billing_period.period
    if billing_period.status == PeriodStatus.CLOSED:
        raise DomainError(_("The period is already closed."))
    if billing_period.status in (PeriodStatus.QUEUED, PeriodStatus.RUNNING):
        raise DomainError(_("The period is being charged: wait for the run to finish."))
    if billing_period.run_finished_at is None or billing_period.status == PeriodStatus.FAILED:
        raise DomainError(_("Run billing for the period before closing it."))
    later_closed = session.scalar(
        select(func.count(BillingPeriod.id)).where(
            BillingPeriod.period > period, BillingPeriod.status == PeriodStatus.CLOSED
        )
    )
    if later_closed:
        raise DomainError(
            _("A later period is already closed, so this one can no longer be closed.")
        )
    previous_status = session.scalar(
        select(BillingPeriod.status).where(BillingPeriod.period == add_months(period, -1))
    )
    has_earlier_bills = session.scalar(select(func.count(Bill.id)).where(Bill.period < period))
    if has_earlier_bills and previous_status != PeriodStatus.CLOSED:
        raise DomainError(_("Close the previous period first."))
