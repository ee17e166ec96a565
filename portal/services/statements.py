"""What a customer owes and the bills and payments behind it, for the resident's pages.

Only closed periods are shown: a period's bill is made when it closes
(``portal.services.ledger``), and charges of a draft period may still change.

Every function runs a fixed number of queries, however many bills or payments there are.
The caller has already checked that the account is the user's to see
(``portal.services.accounts.get_account_for``).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from portal.formatting import as_date, as_date_ending, as_money, as_month_range
from portal.models import (
    Bill,
    Charge,
    ChargeMethod,
    ConsumptionNorm,
    Meter,
    MeterStatus,
    NormBasis,
    Payment,
    Penalty,
    Service,
    Zone,
)
from portal.services.errors import NotFound
from portal.services.months import month_end
from portal.services.numbers import money

ZERO = Decimal("0.00")
ZONE_ORDER = tuple(Zone)
SERVICE_ORDER = {service: index for index, service in enumerate(Service)}
CHART_MONTHS = 12
PAYMENTS_PER_PAGE = 20


# --- the dashboard card ---------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSummary:
    """The latest bill and what is owed today.

    ``amount_due`` is the latest bill's closing balance less the payments received since
    (negative: an overpayment). ``overdue`` is the part of it whose due date has passed:
    payments settle the oldest debt first, so what the bills not yet due added is the last
    to be paid. ``penalties`` are those charged on the latest bill.
    """

    bill: Bill | None
    paid_since: Decimal
    amount_due: Decimal
    overdue: Decimal
    penalties: Decimal

    @property
    def to_pay(self) -> Decimal:
        return max(self.amount_due, ZERO)

    @property
    def overpaid(self) -> Decimal:
        return max(-self.amount_due, ZERO)

    @property
    def due_on(self) -> date | None:
        return self.bill.due_on if self.bill else None


def account_summary(session: Session, account_id: int, today: date) -> AccountSummary:
    """Two queries: the latest bill, then three sums over the account's ledger."""
    bill = session.scalar(
        select(Bill).where(Bill.account_id == account_id).order_by(Bill.period.desc()).limit(1)
    )
    paid_total = (
        select(func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.account_id == account_id)
        .scalar_subquery()
    )
    counted_in_bills = (
        select(func.coalesce(func.sum(Bill.payments_total), 0))
        .where(Bill.account_id == account_id)
        .scalar_subquery()
    )
    not_yet_due = (
        select(func.coalesce(func.sum(Bill.charges_total + Bill.penalties_total), 0))
        .where(Bill.account_id == account_id, Bill.due_on >= today)
        .scalar_subquery()
    )
    paid, counted, pending = session.execute(
        select(paid_total, counted_in_bills, not_yet_due)
    ).one()
    paid_since = money(paid) - money(counted)
    if bill is None:
        return AccountSummary(None, paid_since, -paid_since, ZERO, ZERO)
    amount_due = bill.closing_balance - paid_since
    overdue = max(amount_due - max(money(pending), ZERO), ZERO)
    return AccountSummary(bill, paid_since, amount_due, overdue, bill.penalties_total)


# --- the list of bills ----------------------------------------------------------------------


@dataclass(frozen=True)
class BillsOfYear:
    year: int | None
    years: list[int]  # every year with a bill, newest first
    bills: list[Bill]  # of ``year``, newest first


def bills_of_year(session: Session, account_id: int, year: int | None = None) -> BillsOfYear:
    """The account's bills of one year (by default the latest year with a bill)."""
    year_of = func.extract("year", Bill.period)
    years = [
        int(y)
        for y in session.scalars(
            select(year_of).where(Bill.account_id == account_id).distinct().order_by(year_of.desc())
        )
    ]
    if not years:
        return BillsOfYear(None, [], [])
    if year is None:
        year = years[0]
    if year not in years:
        raise NotFound()
    bills = list(
        session.scalars(
            select(Bill)
            .where(
                Bill.account_id == account_id,
                Bill.period.between(date(year, 1, 1), date(year, 12, 1)),
            )
            .order_by(Bill.period.desc())
        )
    )
    return BillsOfYear(year, years, bills)


# --- one bill -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeLine:
    charge: Charge
    norm_basis: NormBasis | None  # for charges by norm


@dataclass(frozen=True)
class ServiceCharges:
    service: str
    lines: list[ChargeLine]
    total: Decimal


@dataclass(frozen=True)
class Statement:
    """A bill with everything it adds up: charges, penalty, payments of the period."""

    bill: Bill
    services: list[ServiceCharges]
    penalty: Penalty | None
    payments: list[Payment]  # dated within the period
    previous_period: date | None = None
    next_period: date | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def period(self) -> date:
        return self.bill.period

    @property
    def to_pay(self) -> Decimal:
        return max(self.bill.closing_balance, ZERO)

    @property
    def overpaid(self) -> Decimal:
        return max(-self.bill.closing_balance, ZERO)

    @property
    def payments_listed(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)

    @property
    def penalty_corrections(self) -> list[dict]:
        """Corrections of earlier months' penalties by a payment received late: the month
        and the amount (negative: taken off)."""
        if self.penalty is None:
            return []
        return [
            {"month": date.fromisoformat(item["corrects"]), "amount": Decimal(item["amount"])}
            for item in self.penalty.details or []
            if "corrects" in item
        ]

    @property
    def penalty_details(self) -> list[dict]:
        """Per overdue debt and stage: due date, base, key rate, share, days, amount."""
        if self.penalty is None:
            return []
        rows = []
        for item in self.penalty.details or []:
            if "corrects" in item:
                continue
            rows.append(
                {
                    "due_on": date.fromisoformat(item["due_on"]),
                    "base": Decimal(item["base"]),
                    "percent": Decimal(item["percent"]),
                    "divisor": int(item["divisor"]),
                    "days": int(item["days"]),
                    "amount": Decimal(item["amount"]),
                }
            )
        # Stable: within a debt the stages stay in the order their days came.
        return sorted(rows, key=lambda row: row["due_on"])


def _charge_order(charge: Charge) -> tuple:
    return (
        charge.method == ChargeMethod.RECALCULATION,
        ZONE_ORDER.index(charge.zone) if charge.zone in ZONE_ORDER else len(ZONE_ORDER),
        charge.id,
    )


def _service_order(service) -> tuple:
    return (SERVICE_ORDER.get(service, len(SERVICE_ORDER)), service)


def group_charges(charges: list[Charge], norm_bases: dict[str, str]) -> list[ServiceCharges]:
    """Charges by service (in the usual order), regular lines by zone, then recalculations."""
    by_service: dict[str, list[Charge]] = {}
    for charge in charges:
        by_service.setdefault(charge.service, []).append(charge)
    groups = []
    for service in sorted(by_service, key=_service_order):
        lines = sorted(by_service[service], key=_charge_order)
        groups.append(
            ServiceCharges(
                service,
                [
                    ChargeLine(
                        c, norm_bases.get(c.service) if c.method == ChargeMethod.NORM else None
                    )
                    for c in lines
                ],
                sum((c.amount for c in lines), ZERO),
            )
        )
    return groups


def statement(session: Session, account_id: int, period: date) -> Statement:
    """The bill of one month with its lines; NotFound when there is no such bill."""
    bill = session.scalar(select(Bill).where(Bill.account_id == account_id, Bill.period == period))
    if bill is None:
        raise NotFound()
    charges = list(
        session.scalars(
            select(Charge).where(Charge.account_id == account_id, Charge.period == period)
        )
    )
    norm_bases: dict[str, str] = {}
    if any(c.method == ChargeMethod.NORM for c in charges):
        norm_bases = {
            service: basis
            for service, basis in session.execute(
                select(ConsumptionNorm.service, ConsumptionNorm.basis).where(
                    ConsumptionNorm.valid_from <= period,
                    or_(ConsumptionNorm.valid_to.is_(None), ConsumptionNorm.valid_to >= period),
                )
            )
        }
    penalty = session.scalar(
        select(Penalty).where(Penalty.account_id == account_id, Penalty.period == period)
    )
    payments = list(
        session.scalars(
            select(Payment)
            .where(
                Payment.account_id == account_id,
                Payment.paid_on.between(period, month_end(period)),
            )
            .order_by(Payment.paid_on, Payment.id)
        )
    )
    neighbours = session.execute(
        select(
            select(func.max(Bill.period))
            .where(Bill.account_id == account_id, Bill.period < period)
            .scalar_subquery(),
            select(func.min(Bill.period))
            .where(Bill.account_id == account_id, Bill.period > period)
            .scalar_subquery(),
        )
    ).one()
    return Statement(
        bill=bill,
        services=group_charges(charges, norm_bases),
        penalty=penalty,
        payments=payments,
        previous_period=neighbours[0],
        next_period=neighbours[1],
        notes=estimate_notes(charges)
        + out_of_service_notes(
            session,
            account_id,
            period,
            metered={c.service for c in charges if c.method == ChargeMethod.METER},
        ),
    )


def estimates_taken_back(charge: Charge) -> str:
    """A recalculation the run made when the meter was read, in words (ПП 354 п. 61)."""
    return _(
        "recalculated for %(months)s by the reading of %(date)s",
        months=as_month_range(charge.estimated_from, charge.estimated_to),
        date=as_date(charge.read_on, "long"),
    )


def estimate_notes(charges: list[Charge]) -> list[str]:
    """What each recalculation by a reading means for the customer, in words."""
    notes = []
    for charge in charges:
        if not charge.takes_back_estimates:
            continue
        words = {
            "months": as_month_range(charge.estimated_from, charge.estimated_to),
            "date": as_date_ending(charge.read_on),
            "service": Service(charge.service).label,
            "volume": format_decimal(-charge.volume, format="#,##0.####"),
            "unit": Service(charge.service).unit,
            "amount": as_money(abs(charge.amount)),
        }
        if charge.amount < 0:
            text = _(
                "%(service)s for %(months)s was charged by an estimate, %(volume)s %(unit)s, "
                "because no reading came. The reading of %(date)s shows the real "
                "consumption since the last reading: it is charged by meter, and the "
                "estimate is taken back, a credit of %(amount)s.",
                **words,
            )
        else:
            text = _(
                "%(service)s for %(months)s was charged by an estimate, %(volume)s %(unit)s, "
                "because no reading came. The reading of %(date)s shows the real "
                "consumption since the last reading: it is charged by meter, and the "
                "estimate is taken back.",
                **words,
            )
        notes.append(text)
    return notes


def out_of_service_notes(
    session: Session, account_id: int, period: date, metered: set[str] = frozenset()
) -> list[str]:
    """A note per meter of the account whose state verification had lapsed by the month's
    end: out of service from the day after the due date (ПП 354 п. 81(12)), so its service
    is charged as if no reading came, by average, then by the norm (п. 59, 60). Services
    the bill charges by meter (read while it was in service) get no note. One query."""
    meters = session.execute(
        select(Meter.serial_number, Meter.service, Meter.verification_due)
        .where(
            Meter.account_id == account_id,
            Meter.status != MeterStatus.REMOVED,
            Meter.verification_due < month_end(period),
        )
        .order_by(Meter.service, Meter.serial_number)
    ).all()
    return [
        _(
            "Meter No. %(serial)s (%(service)s) is out of service: its state verification was "
            "due by %(date)s. Until it is verified its readings are not accepted and the "
            "service is charged by your average consumption, then by the norm.",
            serial=serial,
            service=Service(service).label,
            date=as_date_ending(due),
        )
        for serial, service, due in meters
        if service not in metered
    ]


# --- payments and the chart -----------------------------------------------------------------


def payments_of(account_id: int) -> Select:
    """The account's payments, newest first (the view pages them)."""
    return (
        select(Payment)
        .where(Payment.account_id == account_id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
    )


@dataclass(frozen=True)
class MonthlySeries:
    """Charges (₽) and consumption by month and service over the latest billed months."""

    periods: list[date]  # oldest first
    services: list[str]
    charges: dict[tuple[date, str], Decimal]
    volumes: dict[tuple[date, str], Decimal]

    def charges_of(self, period: date) -> list[Decimal | None]:
        return [self.charges.get((period, s)) for s in self.services]

    def volumes_of(self, period: date) -> list[Decimal | None]:
        return [self.volumes.get((period, s)) for s in self.services]

    def total_of(self, period: date) -> Decimal:
        return sum((v for v in self.charges_of(period) if v is not None), ZERO)


def monthly_series(session: Session, account_id: int, months: int = CHART_MONTHS) -> MonthlySeries:
    """Two queries: the latest billed months, then charges summed by month and service.

    Consumption leaves recalculations out (they correct other months); charges include them.
    """
    periods = sorted(
        session.scalars(
            select(Bill.period)
            .where(Bill.account_id == account_id)
            .order_by(Bill.period.desc())
            .limit(months)
        )
    )
    if not periods:
        return MonthlySeries([], [], {}, {})
    regular = Charge.method != ChargeMethod.RECALCULATION
    rows = session.execute(
        select(
            Charge.period,
            Charge.service,
            func.sum(Charge.amount),
            func.sum(case((regular, Charge.volume))),
        )
        .where(Charge.account_id == account_id, Charge.period.in_(periods))
        .group_by(Charge.period, Charge.service)
    ).all()
    charges: dict[tuple[date, str], Decimal] = {}
    volumes: dict[tuple[date, str], Decimal] = {}
    seen: set[str] = set()
    for period, service, amount, volume in rows:
        seen.add(service)
        charges[(period, service)] = money(amount)
        if volume is not None:
            volumes[(period, service)] = Decimal(str(volume)).quantize(Decimal("0.001"))
    services = sorted(seen, key=_service_order)
    return MonthlySeries(periods, services, charges, volumes)
