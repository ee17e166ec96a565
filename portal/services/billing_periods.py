"""Billing periods in the back office: queue a run, let a background worker do it, follow its
progress, close the period, and add recalculations with a reason.

A run asked for on the web only queues the period (status ``queued``). The work is done by
a Celery task (``portal.tasks.run_billing``) when a broker is configured, else by the
embedded ``flask scheduler`` loop, which calls :func:`process_queued_billing`. Whoever
runs a period first claims it atomically (queued → running), so two workers never charge
one period at once. The command line (`flask billing run`) claims it the same way.

Statuses: draft (may be re-run) · queued · running · failed (the last run broke: run it
again) · closed (frozen: penalties and bills issued).
"""

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from portal.models import (
    Account,
    AccountService,
    Bill,
    BillingPeriod,
    Charge,
    ChargeMethod,
    Penalty,
    PeriodStatus,
    Service,
    Staff,
    UnchargedService,
)
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, billing, ledger
from portal.services.clock import utcnow
from portal.services.errors import DomainError, NotFound
from portal.services.months import EARLIEST_PERIOD, add_months, iso, period_of
from portal.services.numbers import money, parse_decimal
from portal.services.tariffs import SERVICE_ZONES, last_closed_period, parse_rate

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (PeriodStatus.QUEUED, PeriodStatus.RUNNING)
# A run that has said nothing for this long was lost with its worker: it may be queued again.
STALE_RUN = timedelta(minutes=30)
MAX_VOLUME = Decimal("1e12")  # Numeric(16, 4)
MAX_AMOUNT = Decimal("1e12")  # Numeric(14, 2)
MAX_REASON = 400
PAGE_SIZE = 24
ZERO = Decimal("0.00")
HALF_KOPECK = Decimal("0.005")


def period_label(period: date) -> str:
    return format_date(period, "LLLL yyyy")


def get_period(session: Session, period: date) -> BillingPeriod:
    row = session.scalar(select(BillingPeriod).where(BillingPeriod.period == period))
    if row is None:
        raise NotFound()
    return row


def is_stale(row: BillingPeriod) -> bool:
    started = row.run_started_at
    return row.status == PeriodStatus.RUNNING and (
        started is None or utcnow() - started > STALE_RUN
    )


def _account_count(session: Session) -> int:
    return session.scalar(select(func.count(Account.id))) or 0


# --- queueing and running ------------------------------------------------------------------


def check_runnable(session: Session, period: date, today: date) -> BillingPeriod | None:
    """The period's row (None if it has none yet), or a DomainError why it cannot run."""
    if period > period_of(today):
        raise DomainError(_("The month has not started yet: it cannot be charged."), "period")
    if period < EARLIEST_PERIOD:
        raise DomainError(_("Choose a month from January 2000 on."), "period")
    row = session.scalar(select(BillingPeriod).where(BillingPeriod.period == period))
    if row is not None and row.status == PeriodStatus.CLOSED:
        raise DomainError(
            _(
                "The period %(period)s is closed: its charges are frozen.",
                period=period_label(period),
            ),
            "period",
        )
    last_closed = last_closed_period(session)
    if last_closed is not None and period < last_closed:
        raise DomainError(
            _(
                "Billing is closed up to %(month)s: choose a later month.",
                month=period_label(last_closed),
            ),
            "period",
        )
    if row is not None and row.status in ACTIVE_STATUSES and not is_stale(row):
        raise DomainError(
            _("The period %(period)s is already being charged.", period=period_label(period)),
            "period",
        )
    return row


def queue_run(
    session: Session,
    period: date,
    *,
    today: date,
    staff_id: int | None = None,
    ip: str | None = None,
) -> BillingPeriod:
    """Mark the period to be charged by a background worker; nothing is charged yet (the
    caller commits, then hands the period to a worker)."""
    row = check_runnable(session, period, today) or billing.get_or_create_period(session, period)
    previous = row.status
    row.status = PeriodStatus.QUEUED
    row.processed_accounts = 0
    row.total_accounts = _account_count(session)
    _audit_status(
        session, row, previous, f"billing run queued for {iso(period)}", staff_id=staff_id, ip=ip
    )
    return row


def _audit_status(session: Session, row: BillingPeriod, previous, summary: str, *, staff_id, ip):
    """The audit record of a period's change of status (to the one it has now)."""
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.BILLING_PERIOD,
        object_id=row.id,
        summary=summary,
        changes={"status": [previous, row.status]},
        ip_address=ip,
    )


def send_to_worker(broker_url: str | None, period: date) -> bool:
    """Hand the queued period to a Celery worker; False when there is no broker or it is
    unreachable (the embedded scheduler, or the periodic Celery task, picks it up then)."""
    if not broker_url:
        return False
    from celery import Celery

    try:
        Celery("portal", broker=broker_url).send_task(
            "portal.tasks.run_billing", args=[iso(period)], retry=False
        )
    except Exception:  # noqa: BLE001 (any broker failure: the period stays queued)
        logger.warning("could not send the billing run of %s to a worker", iso(period))
        return False
    return True


def _claim(session: Session, period: date, statuses: tuple[PeriodStatus, ...]) -> bool:
    """Atomically move the period from one of ``statuses`` to running (committed at once:
    another worker must see the claim)."""
    result = session.execute(
        update(BillingPeriod)
        .where(BillingPeriod.period == period, BillingPeriod.status.in_(statuses))
        .values(status=PeriodStatus.RUNNING, run_started_at=utcnow(), processed_accounts=0)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def _run_claimed(session: Session, period: date, progress=None) -> billing.RunTotals:
    try:
        return billing.run(session, period, progress)
    except Exception:
        session.rollback()
        session.execute(
            update(BillingPeriod)
            .where(BillingPeriod.period == period, BillingPeriod.status == PeriodStatus.RUNNING)
            .values(status=PeriodStatus.FAILED)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        raise


def run_queued(session: Session, period: date) -> billing.RunTotals | None:
    """Charge one queued period, or None when it is not queued (another worker has it)."""
    session.expire_all()
    if not _claim(session, period, (PeriodStatus.QUEUED,)):
        return None
    return _run_claimed(session, period)


def process_queued_billing(session: Session) -> list[tuple[date, billing.RunTotals]]:
    """Charge every queued period, oldest first: the embedded scheduler's hook.

    A failing period is marked failed and logged; the others still run.
    """
    done = []
    while True:
        period = session.scalar(
            select(BillingPeriod.period)
            .where(BillingPeriod.status == PeriodStatus.QUEUED)
            .order_by(BillingPeriod.period)
            .limit(1)
        )
        if period is None:
            return done
        try:
            totals = run_queued(session, period)
        except Exception:  # noqa: BLE001 (marked failed; the loop goes on)
            logger.exception("the billing run of %s failed", iso(period))
            continue
        if totals is not None:
            done.append((period, totals))


def run_now(session: Session, period: date, progress=None) -> billing.RunTotals:
    """Charge the period here and now (the command line), claiming it like a worker."""
    if period < EARLIEST_PERIOD:
        raise DomainError(_("Choose a month from January 2000 on."), "period")
    row = billing.get_or_create_period(session, period)
    if row.status == PeriodStatus.CLOSED:
        raise DomainError(
            _(
                "The period %(period)s is closed: its charges are frozen.",
                period=period_label(period),
            )
        )
    session.commit()
    if not _claim(session, period, (PeriodStatus.DRAFT, PeriodStatus.QUEUED, PeriodStatus.FAILED)):
        raise DomainError(
            _("The period %(period)s is already being charged.", period=period_label(period))
        )
    return _run_claimed(session, period, progress)


def close(
    session: Session, period: date, *, staff_id: int | None = None, ip: str | None = None
) -> ledger.Closing:
    """Penalties and bills for the period, which is frozen from then on (the caller
    commits)."""
    row = get_period(session, period)
    closing = ledger.close_period(session, period, staff_id)
    _issue_contract_documents(session, period, staff_id)
    summary = f"period {iso(period)} closed: {closing.bills} bills"
    _audit_status(session, row, PeriodStatus.DRAFT, summary, staff_id=staff_id, ip=ip)
    return closing


def _issue_contract_documents(session: Session, period: date, staff_id: int | None) -> None:
    """Legal-entity customers' documents (invoice, VAT invoice and act or УПД, #13) for the
    period just closed: a separate step, kept out of the ledger (see
    ``portal.services.contract_documents.on_period_closed``)."""
    from portal.services import contract_documents

    contract_documents.on_period_closed(session, period, staff_id=staff_id)


# --- recalculations ------------------------------------------------------------------------


def parse_volume(raw) -> Decimal:
    """A recalculated volume: may be negative (a refund), never zero, four decimals at most."""
    number = parse_decimal(raw, places=4, field="volume")
    if number == 0:
        raise DomainError(_("Enter the volume to add, or a negative one to take off."), "volume")
    if abs(number) >= MAX_VOLUME:
        raise DomainError(_("The value is too large."), "volume")
    return number.quantize(Decimal("0.0001"))


def check_reason(raw: str | None) -> str:
    reason = " ".join((raw or "").split())
    if not reason:
        raise DomainError(_("Say why: the reason stays with the charge."), "reason")
    if len(reason) > MAX_REASON:
        raise DomainError(
            ngettext(
                "Keep the reason under %(num)s character.",
                "Keep the reason under %(num)s characters.",
                MAX_REASON,
            ),
            "reason",
        )
    return reason


def add_recalculation(
    session: Session,
    *,
    period: date,
    account_number: str,
    service: str,
    zone: str,
    volume,
    tariff,
    reason: str | None,
    today: date,
    staff_id: int | None = None,
    ip: str | None = None,
) -> Charge:
    """A recalculation line of an open period: amount = volume × tariff, half-up to kopecks."""
    row = _open_for_recalculation(session, period, today)
    account = _supplied_account(session, account_number, service, zone)
    volume = parse_volume(volume)
    tariff = parse_rate(tariff, "tariff")
    amount = money(volume * tariff)
    if abs(amount) >= MAX_AMOUNT:
        raise DomainError(_("The value is too large."), "volume")
    reason = check_reason(reason)
    if row is None:
        billing.get_or_create_period(session, period)
    charge = Charge(
        account_id=account.id,
        period=period,
        service=service,
        zone=zone,
        method=ChargeMethod.RECALCULATION,
        volume=volume,
        tariff=tariff,
        amount=amount,
        reason=reason,
        staff_id=staff_id,
    )
    session.add(charge)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=AuditObject.CHARGE,
        object_id=charge.id,
        summary=f"recalculation {iso(period)} {account.number} {service}/{zone}: {amount}",
        changes={
            name: [None, str(getattr(charge, name))]
            for name in ("volume", "tariff", "amount", "reason")
        },
        ip_address=ip,
    )
    return charge


def _open_for_recalculation(session: Session, period: date, today: date):
    """The period's row (None when it has none yet), if a recalculation may go there."""
    row = session.scalar(select(BillingPeriod).where(BillingPeriod.period == period))
    if row is not None and row.status == PeriodStatus.CLOSED:
        raise DomainError(
            _(
                "The period %(period)s is closed: add the recalculation to an open period.",
                period=period_label(period),
            )
        )
    if period > period_of(today):
        raise DomainError(_("The month has not started yet: it cannot be charged."))
    return row


def _supplied_account(session: Session, account_number: str | None, service: str, zone: str):
    """The account a recalculation is for, supplied with the service in that zone."""
    number = " ".join((account_number or "").split())
    account = session.scalar(select(Account).where(Account.number == number)) if number else None
    if account is None:
        raise DomainError(_("There is no account with this number."), "account_number")
    if service not in SERVICE_ZONES:
        raise DomainError(_("Choose a service."), "service")
    supplied = session.scalar(
        select(AccountService.id).where(
            AccountService.account_id == account.id, AccountService.service == service
        )
    )
    if supplied is None:
        raise DomainError(_("The account is not supplied with this service."), "service")
    if zone not in SERVICE_ZONES[service]:
        raise DomainError(_("This service has no such tariff zone."), "zone")
    return account


# --- what the pages show ---------------------------------------------------------------------


@dataclass
class Figures:
    lines: int = 0
    amount: Decimal = ZERO


@dataclass
class Closing:
    """The bills of a closed period: what they ask for, and the arrears carried in them."""

    bills: int = 0
    penalties: Decimal = ZERO
    penalised: int = 0
    payments: Decimal = ZERO
    payable: int = 0  # bills with an amount to pay
    due: Decimal = ZERO
    debtors: int = 0  # accounts whose earlier balance was not paid during the month
    debt: Decimal = ZERO


@dataclass
class Summary:
    row: BillingPeriod
    by_method: dict[str, Figures] = field(default_factory=dict)
    accounts: int = 0
    closed_by: str | None = None
    closing: Closing | None = None

    @property
    def period(self) -> date:
        return self.row.period

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.by_method.values())

    @property
    def amount(self) -> Decimal:
        return sum((f.amount for f in self.by_method.values()), ZERO)

    @property
    def share(self) -> int:
        """Per cent of the accounts processed by the run under way."""
        total = self.row.total_accounts or 0
        return 0 if not total else min(100, round(100 * (self.row.processed_accounts or 0) / total))

    @property
    def seconds(self) -> float | None:
        started, finished = self.row.run_started_at, self.row.run_finished_at
        if started is None or finished is None or finished < started:
            return None
        return round((finished - started).total_seconds(), 2)

    @property
    def active(self) -> bool:
        return self.row.status in ACTIVE_STATUSES


def summaries(session: Session, rows: list[BillingPeriod]) -> list[Summary]:
    """Totals of each period: lines and amount by method, accounts, bills once closed.

    Four queries whatever the number of periods.
    """
    result = {row.period: Summary(row) for row in rows}
    if not result:
        return []
    periods = list(result)
    for period, method, lines, amount in session.execute(
        select(Charge.period, Charge.method, func.count(Charge.id), func.sum(Charge.amount))
        .where(Charge.period.in_(periods))
        .group_by(Charge.period, Charge.method)
    ):
        result[period].by_method[method] = Figures(lines, money(amount))
    for period, accounts in session.execute(
        select(Charge.period, func.count(func.distinct(Charge.account_id)))
        .where(Charge.period.in_(periods))
        .group_by(Charge.period)
    ):
        result[period].accounts = accounts
    _add_closings(
        session, result, [row.period for row in rows if row.status == PeriodStatus.CLOSED]
    )
    _add_closed_by(session, result)
    return list(result.values())


def _add_closings(session: Session, result: dict[date, Summary], closed: list[date]) -> None:
    """The bills of the closed periods: what they ask for and the arrears in them."""
    if closed:
        # Half a kopeck of tolerance: SQLite compares money as binary floats.
        payable = Bill.closing_balance > HALF_KOPECK
        arrears = Bill.opening_balance - Bill.payments_total
        for period, *figures in session.execute(
            select(
                Bill.period,
                func.count(Bill.id),
                func.sum(Bill.penalties_total),
                func.sum(case((Bill.penalties_total > 0, 1), else_=0)),
                func.sum(Bill.payments_total),
                func.sum(case((payable, 1), else_=0)),
                func.sum(case((payable, Bill.closing_balance), else_=0)),
                func.sum(case((arrears > HALF_KOPECK, 1), else_=0)),
                func.sum(case((arrears > HALF_KOPECK, arrears), else_=0)),
            )
            .where(Bill.period.in_(closed))
            .group_by(Bill.period)
        ):
            bills, penalties, penalised, payments, payable_bills, due, debtors, debt = figures
            result[period].closing = Closing(
                bills=bills,
                penalties=money(penalties),
                penalised=penalised or 0,
                payments=money(payments),
                payable=payable_bills or 0,
                due=money(due),
                debtors=debtors or 0,
                debt=money(debt),
            )
        for period in closed:
            if result[period].closing is None:
                result[period].closing = Closing()


def _add_closed_by(session: Session, result: dict[date, Summary]) -> None:
    staff_ids = {
        summary.row.closed_by_id for summary in result.values() if summary.row.closed_by_id
    }
    if staff_ids:
        names = {
            staff_id: name
            for staff_id, name in session.execute(
                select(Staff.id, Staff.full_name).where(Staff.id.in_(staff_ids))
            )
        }
        for summary in result.values():
            summary.closed_by = names.get(summary.row.closed_by_id)


def period_list():
    """The query of the periods page, newest first (the view paginates it)."""
    return select(BillingPeriod).order_by(BillingPeriod.period.desc())


def summary(session: Session, period: date) -> Summary:
    return summaries(session, [get_period(session, period)])[0]


def by_service(session: Session, period: date) -> dict[str, Figures]:
    """Lines and amount per service, in the order services are listed everywhere."""
    found = {
        service: Figures(lines, money(amount))
        for service, lines, amount in session.execute(
            select(Charge.service, func.count(Charge.id), func.sum(Charge.amount))
            .where(Charge.period == period)
            .group_by(Charge.service)
        )
    }
    order = list(Service)
    return dict(
        sorted(found.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)
    )


def recalculations(session: Session, period: date) -> list[tuple]:
    """(charge, account number, staff name) of the period's recalculations, newest first."""
    return list(
        session.execute(
            select(Charge, Account.number, Staff.full_name)
            .join(Account, Account.id == Charge.account_id)
            .outerjoin(Staff, Staff.id == Charge.staff_id)
            .where(Charge.period == period, Charge.method == ChargeMethod.RECALCULATION)
            .order_by(Charge.id.desc())
        )
    )


UNCHARGED_SHOWN = 200


def uncharged(session: Session, period: date, limit: int = UNCHARGED_SHOWN) -> tuple[list, int]:
    """(rows of (uncharged service, account number), how many in all) the period's last run
    could not charge, by account number: two queries whatever their number."""
    total = session.scalar(
        select(func.count(UnchargedService.id)).where(UnchargedService.period == period)
    )
    rows = session.execute(
        select(UnchargedService, Account.number)
        .join(Account, Account.id == UnchargedService.account_id)
        .where(UnchargedService.period == period)
        .order_by(Account.number, UnchargedService.service, UnchargedService.zone)
        .limit(limit)
    ).all()
    return list(rows), total or 0


def penalties_total(session: Session, period: date) -> Decimal:
    return money(session.scalar(select(func.sum(Penalty.amount)).where(Penalty.period == period)))


def suggested_period(session: Session, today: date) -> date:
    """What the run form offers: the month after the last closed one, else this month."""
    last_closed = last_closed_period(session)
    current = period_of(today)
    if last_closed is None:
        return current
    return min(add_months(last_closed, 1), current)
