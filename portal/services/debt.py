"""Debt: balance, overdue debt and its age, the debtor list, and the escalation steps.

Per account, as of a day:
- **balance** = the latest bill's closing balance − the payments no bill has counted yet
  (a payment is counted in the first bill closed after its date, so "after the bill" means
  every payment minus those the bills counted: a registry imported late is never lost);
- **debt by bill**: each bill brings its own charges and penalties (the first bill also its
  opening balance); payments, and bills that bring a credit (recalculations), pay the
  oldest bills first (FIFO). What stays unpaid of a bill whose due date has passed is
  **overdue**;
- **age**: months since the due date of the oldest bill with an overdue remainder, in the
  buckets of 001: <1, 1–2, 2–3, 3–6, 6–12, 12–36, >36 months. A debt of
  ``debt.overdue_months`` (2) months or more is an overdue debt in the sense of 001.

All of it is one set-based SELECT (window functions: SQLite ≥ 3.25 and PostgreSQL), rounded
to kopecks in SQL so SQLite's binary floating point never leaves a phantom kopeck.

Escalation (Постановление Правительства РФ № 354, п. 117–119): debt notice → restriction
warning (delivered with proof) → restriction, no sooner than ``debt.warning_lead_days``
after the warning was delivered → lifted. Each step is a DebtAction the customer sees.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from flask import current_app, render_template
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, Select, and_, case, func, select, type_coerce
from sqlalchemy.orm import Session

from portal.models import (
    Account,
    AccountLink,
    Bill,
    Category,
    Channel,
    Customer,
    DebtAction,
    DebtStep,
    Payment,
    Premises,
    Staff,
    User,
)
from portal.models.audit import AuditAction, AuditObject
from portal.models.billing import Money
from portal.services import audit, exports, settings
from portal.services.clock import local_day_of, local_today, supplier_zone, utcnow
from portal.services.documents import render_pdf
from portal.services.errors import DomainError, NotFound
from portal.services.months import add_months, month_end, period_of
from portal.services.notify.outbox import enqueue_email, enqueue_sms
from portal.services.numbers import money

ZERO = Decimal("0.00")
PAGE_SIZE = 25
MAX_PROOF = 300
MAX_NOTE = 400
MIN_PROOF = 3


@dataclass(frozen=True)
class Bucket:
    key: str
    low: int  # months, inclusive
    high: int | None  # months, exclusive; None: no upper bound
    label: object
    badge: str


BUCKETS = (
    Bucket("0-1", 0, 1, _l("under 1 month"), "text-bg-light border"),
    Bucket("1-2", 1, 2, _l("1–2 months"), "text-bg-light border"),
    Bucket("2-3", 2, 3, _l("2–3 months"), "text-bg-warning"),
    Bucket("3-6", 3, 6, _l("3–6 months"), "text-bg-warning"),
    Bucket("6-12", 6, 12, _l("6–12 months"), "text-bg-danger"),
    Bucket("12-36", 12, 36, _l("12–36 months"), "text-bg-danger"),
    Bucket("36+", 36, None, _l("over 36 months"), "text-bg-dark"),
)
BUCKET_BY_KEY = {bucket.key: bucket for bucket in BUCKETS}

STEP_NONE = "none"  # the filter value for accounts without any step
# The letter of a step that has one (``DebtStep.has_document``): template and file name.
DOCUMENTS = {
    DebtStep.DEBT_NOTICE: ("documents/debt_notice.html", "debt-notice"),
    DebtStep.RESTRICTION_WARNING: ("documents/restriction_warning.html", "restriction-warning"),
}
DEFAULT_SORT = "overdue"
# How the list may be ordered, with what the sort menu says.
SORTS = {
    "overdue": _l("Overdue debt, largest first"),
    "balance": _l("Balance, largest first"),
    "age": _l("Oldest debt first"),
    "number": _l("Account number"),
    "name": _l("Customer name"),
}


# --- dates ----------------------------------------------------------------------------


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day if shorter)."""
    first = add_months(period_of(day), -months)
    return first.replace(day=min(day.day, month_end(first).day))


def bucket_of(oldest_due: date | None, as_of: date) -> str | None:
    """The ageing bucket of a debt whose oldest unpaid bill fell due on ``oldest_due``.

    A debt is n months old or more when it fell due on or before the same day n months ago.
    """
    if oldest_due is None or oldest_due >= as_of:
        return None
    for bucket in BUCKETS:
        if bucket.high is None or oldest_due > months_before(as_of, bucket.high):
            return bucket.key
    return BUCKETS[-1].key  # pragma: no cover (the last bucket has no upper bound)


def _bucket_sql(oldest_due, as_of: date):
    whens = [
        (oldest_due > months_before(as_of, bucket.high), bucket.key)
        for bucket in BUCKETS
        if bucket.high is not None
    ]
    return case((oldest_due.is_(None), None), *whens, else_=BUCKETS[-1].key)


def _bucket_range(key: str, oldest_due, as_of: date):
    bucket = BUCKET_BY_KEY[key]
    conditions = [oldest_due.is_not(None)]
    if bucket.low:
        conditions.append(oldest_due <= months_before(as_of, bucket.low))
    if bucket.high is not None:
        conditions.append(oldest_due > months_before(as_of, bucket.high))
    return and_(*conditions)


# --- the ledger, set-based ------------------------------------------------------------


def _kopecks(expression):
    return type_coerce(func.round(expression, 2), Money)


def per_bill(as_of: date, account_ids: list[int] | None = None) -> Select:
    """One row per bill issued by ``as_of``: its amount, what is unpaid of it (FIFO), and
    the account's latest closing, payments counted by bills and payments to date."""
    lag = func.lag(Bill.period).over(partition_by=Bill.account_id, order_by=Bill.period)
    amount = (
        Bill.charges_total
        + Bill.penalties_total
        + case((lag.is_(None), Bill.opening_balance), else_=0)
    )
    bills = select(
        Bill.account_id,
        Bill.period,
        Bill.due_on,
        Bill.closing_balance,
        Bill.payments_total,
        _kopecks(amount).label("amount"),
    ).where(Bill.issued_on <= as_of)
    paid = (
        select(Payment.account_id, func.sum(Payment.amount).label("paid"))
        .where(Payment.paid_on <= as_of)
        .group_by(Payment.account_id)
    )
    if account_ids is not None:
        bills = bills.where(Bill.account_id.in_(account_ids))
        paid = paid.where(Payment.account_id.in_(account_ids))
    bills = bills.subquery("bills")
    paid = paid.subquery("paid")

    debt = case((bills.c.amount > 0, bills.c.amount), else_=0)
    credit = case((bills.c.amount < 0, -bills.c.amount), else_=0)
    account = {"partition_by": bills.c.account_id}
    ranked = select(
        bills.c.account_id,
        bills.c.period,
        bills.c.due_on,
        bills.c.amount,
        type_coerce(debt, Money).label("debt"),
        func.sum(debt)
        .over(**account, order_by=bills.c.period, rows=(None, 0))
        .label("debt_to_date"),
        func.sum(credit).over(**account).label("credits"),
        func.sum(bills.c.payments_total).over(**account).label("counted"),
        func.first_value(bills.c.closing_balance)
        .over(**account, order_by=bills.c.period.desc())
        .label("last_closing"),
    ).subquery("ranked")

    paid_to_date = func.coalesce(paid.c.paid, 0)
    left = func.round(ranked.c.debt_to_date - paid_to_date - ranked.c.credits, 2)
    unpaid = case((left <= 0, 0), (left >= ranked.c.debt, ranked.c.debt), else_=left)
    return select(
        ranked.c.account_id,
        ranked.c.period,
        ranked.c.due_on,
        type_coerce(ranked.c.amount, Money).label("amount"),
        _kopecks(unpaid).label("unpaid"),
        type_coerce(ranked.c.last_closing, Money).label("last_closing"),
        _kopecks(ranked.c.counted).label("counted"),
        _kopecks(paid_to_date).label("paid"),
    ).outerjoin(paid, paid.c.account_id == ranked.c.account_id)


def account_summary(as_of: date, account_ids: list[int] | None = None) -> Select:
    """Per account with bills: balance, debt, overdue debt and the oldest overdue due date."""
    bills = per_bill(as_of, account_ids).subquery("per_bill")
    past_due = bills.c.due_on < as_of
    return select(
        bills.c.account_id,
        _kopecks(
            func.max(bills.c.last_closing) - func.max(bills.c.paid) + func.max(bills.c.counted)
        ).label("balance"),
        _kopecks(func.sum(bills.c.unpaid)).label("debt"),
        _kopecks(func.sum(case((past_due, bills.c.unpaid), else_=0))).label("overdue"),
        type_coerce(
            func.min(case((and_(past_due, bills.c.unpaid > 0), bills.c.due_on))), Date
        ).label("oldest_due"),
    ).group_by(bills.c.account_id)


def current_steps() -> Select:
    """The latest escalation step of every account that has one."""
    rank = (
        func.row_number()
        .over(
            partition_by=DebtAction.account_id,
            order_by=(DebtAction.acted_on.desc(), DebtAction.id.desc()),
        )
        .label("rank")
    )
    ranked = select(DebtAction.account_id, DebtAction.step, DebtAction.acted_on, rank).subquery(
        "ranked_steps"
    )
    return select(ranked.c.account_id, ranked.c.step, ranked.c.acted_on).where(ranked.c.rank == 1)


# --- the debtor list ------------------------------------------------------------------


@dataclass(frozen=True)
class DebtorFilters:
    min_amount: Decimal | None = None
    bucket: str | None = None
    district: str | None = None
    category: str | None = None
    step: str | None = None
    sort: str = DEFAULT_SORT


def debtors(filters: DebtorFilters, as_of: date | None = None, *, with_bucket=True) -> Select:
    """Accounts with overdue debt matching the filters, as rows ready to show or export.

    One SELECT: the summary and the current step are subqueries; nothing per account."""
    as_of = as_of or local_today()
    summary = account_summary(as_of).subquery("debt")
    step = current_steps().subquery("step")
    query = (
        select(
            Account.id,
            Account.number,
            Account.category,
            Customer.full_name.label("customer"),
            Premises.address,
            Premises.district,
            summary.c.balance,
            summary.c.debt,
            summary.c.overdue,
            summary.c.oldest_due,
            _bucket_sql(summary.c.oldest_due, as_of).label("bucket"),
            step.c.step,
            step.c.acted_on.label("step_on"),
        )
        .join(summary, summary.c.account_id == Account.id)
        .join(Customer, Customer.id == Account.customer_id)
        .join(Premises, Premises.id == Account.premises_id)
        .outerjoin(step, step.c.account_id == Account.id)
        .where(summary.c.overdue > 0)
    )
    if filters.min_amount is not None:
        query = query.where(summary.c.overdue >= filters.min_amount)
    if with_bucket and filters.bucket in BUCKET_BY_KEY:
        query = query.where(_bucket_range(filters.bucket, summary.c.oldest_due, as_of))
    if filters.district:
        query = query.where(Premises.district == filters.district)
    if filters.category:
        query = query.where(Account.category == filters.category)
    if filters.step == STEP_NONE:
        query = query.where(step.c.step.is_(None))
    elif filters.step in DebtStep.values():
        query = query.where(step.c.step == filters.step)
    order = {
        "overdue": [summary.c.overdue.desc()],
        "balance": [summary.c.balance.desc()],
        "age": [summary.c.oldest_due.asc()],
        "number": [],
        "name": [Customer.full_name],
    }.get(filters.sort, [summary.c.overdue.desc()])  # the keys of SORTS
    return query.order_by(*order, Account.number)


@dataclass(frozen=True)
class BucketTotal:
    bucket: Bucket
    count: int
    amount: Decimal


def ageing(session: Session, filters: DebtorFilters, as_of: date | None = None):
    """Count and overdue amount per bucket of the list as filtered, except by bucket (so
    every bucket can be chosen from the table); one query. Returns (buckets, total)."""
    listed = debtors(filters, as_of, with_bucket=False).order_by(None).subquery("listed")
    rows = session.execute(
        select(listed.c.bucket, func.count(), func.sum(listed.c.overdue)).group_by(listed.c.bucket)
    ).all()
    found = {key: (count, money(amount)) for key, count, amount in rows}
    buckets = [BucketTotal(b, *found.get(b.key, (0, ZERO))) for b in BUCKETS]
    total = (sum(b.count for b in buckets), sum((b.amount for b in buckets), ZERO))
    return buckets, total


def districts(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Premises.district)
            .where(Premises.district.is_not(None), Premises.district != "")
            .distinct()
            .order_by(Premises.district)
        )
    )


def record_list_view(session: Session, filters: DebtorFilters, *, staff_id: int, ip) -> None:
    """The list shows names and addresses: audited with the filters used."""
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.SEARCH,
        object_type=AuditObject.DEBTOR,
        object_id=None,
        summary=_filters_text(filters),
        ip_address=ip,
    )


def _filters_text(filters: DebtorFilters) -> str:
    parts = [
        f"{name}={value}"
        for name, value in vars(filters).items()
        if value not in (None, "") and name != "sort"
    ]
    return "debtors: " + (", ".join(parts) or "all")


# --- exports --------------------------------------------------------------------------


# Column widths of the workbook, in characters, in the order of the header.
EXPORT_WIDTHS = (14, 36, 48, 18, 14, 14, 14, 14, 16, 22, 12)


def _export_header() -> list[str]:
    return [
        _("Account"),
        _("Customer"),
        _("Address"),
        _("District"),
        _("Category"),
        _("Balance"),
        _("Overdue debt"),
        _("Oldest unpaid bill due"),
        _("Age"),
        _("Escalation step"),
        _("Step date"),
    ]


def _export_rows(session: Session, filters: DebtorFilters, as_of: date, staff_id, ip, kind):
    """The rows of an export, its audit recorded (the caller commits)."""
    rows = session.execute(debtors(filters, as_of)).all()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.EXPORT,
        object_type=AuditObject.DEBTOR,
        object_id=None,
        summary=f"{_filters_text(filters)}: {len(rows)} rows to {kind}",
        ip_address=ip,
    )
    return [
        [
            row.number,
            row.customer,
            row.address,
            row.district or "",
            str(Category(row.category).label),
            money(row.balance),
            money(row.overdue),
            row.oldest_due,
            str(BUCKET_BY_KEY[row.bucket].label) if row.bucket else "",
            str(DebtStep(row.step).label) if row.step else "",
            row.step_on,
        ]
        for row in rows
    ]


def debtors_csv(
    session: Session, filters: DebtorFilters, *, staff_id: int, ip=None, as_of=None
) -> bytes:
    """The filtered list for Excel (``exports.csv_file``): decimal comma, dates DD.MM.YYYY."""
    as_of = as_of or local_today()
    rows = _export_rows(session, filters, as_of, staff_id, ip, "CSV")
    return exports.csv_file([_export_header(), *rows])


def debtors_xlsx(
    session: Session, filters: DebtorFilters, *, staff_id: int, ip=None, as_of=None
) -> bytes:
    """The filtered list as an Excel workbook (``exports.xlsx_file``): money as numbers
    with two decimals."""
    as_of = as_of or local_today()
    rows = _export_rows(session, filters, as_of, staff_id, ip, "XLSX")
    return exports.xlsx_file(_("Debtors"), _export_header(), rows, widths=EXPORT_WIDTHS)


# --- one account ----------------------------------------------------------------------


@dataclass(frozen=True)
class BillDebt:
    period: date
    due_on: date
    amount: Decimal  # what the bill brought (charges, penalties; first bill: opening)
    unpaid: Decimal
    overdue: bool


@dataclass(frozen=True)
class Position:
    as_of: date
    balance: Decimal
    debt: Decimal
    overdue: Decimal
    oldest_due: date | None
    bucket: str | None
    overdue_debtor: bool  # the debt is ``debt.overdue_months`` old or more (001)
    bills: list[BillDebt]  # bills with something unpaid, oldest first

    @property
    def bucket_label(self):
        return BUCKET_BY_KEY[self.bucket].label if self.bucket else None


def position(session: Session, account_id: int, as_of: date | None = None) -> Position:
    """The account's balance, debt by bill (FIFO), overdue debt and its age."""
    as_of = as_of or local_today()
    rows = session.execute(per_bill(as_of, [account_id]).order_by("period")).all()
    if rows:
        last = rows[0]
        balance = money(last.last_closing - last.paid + last.counted)
    else:
        paid = session.scalar(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.account_id == account_id, Payment.paid_on <= as_of
            )
        )
        balance = -money(paid)
    bills = [
        BillDebt(row.period, row.due_on, money(row.amount), money(row.unpaid), row.due_on < as_of)
        for row in rows
        if row.unpaid and row.unpaid > 0
    ]
    overdue = sum((b.unpaid for b in bills if b.overdue), ZERO)
    oldest_due = min((b.due_on for b in bills if b.overdue), default=None)
    overdue_months = settings.get(session, "debt.overdue_months")
    return Position(
        as_of=as_of,
        balance=balance,
        debt=sum((b.unpaid for b in bills), ZERO),
        overdue=overdue,
        oldest_due=oldest_due,
        bucket=bucket_of(oldest_due, as_of),
        overdue_debtor=oldest_due is not None
        and oldest_due <= months_before(as_of, overdue_months),
        bills=bills,
    )


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound()
    return account


def recent_payments(session: Session, account_id: int, limit: int = 10) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.account_id == account_id)
            .order_by(Payment.paid_on.desc(), Payment.id.desc())
            .limit(limit)
        )
    )


def record_view(session: Session, account: Account, *, staff_id: int, ip) -> None:
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.VIEW,
        object_type=AuditObject.ACCOUNT,
        object_id=account.id,
        summary=f"{account.number}: debt and escalation",
        ip_address=ip,
    )


# --- escalation -----------------------------------------------------------------------


def delivered_on(action: DebtAction) -> date | None:
    """The supplier's calendar day the document was delivered."""
    if action.delivered_at is None:
        return None
    return local_day_of(action.delivered_at)


def _delivery_moment(day: date) -> datetime:
    # Noon in the supplier's zone: the same calendar day in UTC and in any display.
    return datetime.combine(day, time(12, 0), tzinfo=supplier_zone()).astimezone(UTC)


def actions(session: Session, account_id: int) -> list[DebtAction]:
    """The account's steps, oldest first."""
    return list(
        session.scalars(
            select(DebtAction)
            .where(DebtAction.account_id == account_id)
            .order_by(DebtAction.acted_on, DebtAction.id)
        )
    )


@dataclass(frozen=True)
class ActionRow:
    action: DebtAction
    staff_name: str | None
    delivered_on: date | None

    @property
    def has_document(self) -> bool:
        return self.action.step.has_document

    @property
    def awaits_delivery(self) -> bool:
        return self.has_document and self.action.delivered_at is None


def history(session: Session, account_id: int) -> list[ActionRow]:
    """The account's steps with who recorded them, newest first; one query."""
    rows = session.execute(
        select(DebtAction, Staff.full_name)
        .outerjoin(Staff, Staff.id == DebtAction.staff_id)
        .where(DebtAction.account_id == account_id)
        .order_by(DebtAction.acted_on.desc(), DebtAction.id.desc())
    ).all()
    return [ActionRow(action, name, delivered_on(action)) for action, name in rows]


def refusal(
    step: str,
    last: DebtAction | None,
    *,
    acted_on: date,
    overdue: Decimal,
    lead_days: int,
    today: date,
) -> tuple[str | None, date | None]:
    """Why ``step`` may not be taken on ``acted_on`` after the ``last`` step (None: it may),
    and, when only time stands in the way, the first day it may."""
    if step not in DebtStep.values():
        return _("Unknown step."), None
    if acted_on > today:
        return _("The date cannot be in the future."), None
    current = last.step if last else None
    if step == DebtStep.DEBT_NOTICE and current == DebtStep.RESTRICTION:
        return _("The supply is restricted: lift the restriction before a new notice."), None
    if step == DebtStep.RESTRICTION_WARNING and current != DebtStep.DEBT_NOTICE:
        return _("A restriction warning follows a debt notice."), None
    if step == DebtStep.RESTRICTION:
        if current != DebtStep.RESTRICTION_WARNING:
            return _("A restriction follows a delivered restriction warning."), None
        if last.delivered_at is None:
            return _("Record the delivery of the restriction warning first."), None
        earliest = delivered_on(last).toordinal() + lead_days
        if acted_on.toordinal() < earliest:
            day = date.fromordinal(earliest)
            return (
                ngettext(
                    "A restriction is possible from %(date)s: %(num)s day after the warning was delivered.",
                    "A restriction is possible from %(date)s: %(num)s days after the warning was delivered.",
                    lead_days,
                    date=day.strftime("%d.%m.%Y"),
                ),
                day,
            )
    if step == DebtStep.LIFTED and current != DebtStep.RESTRICTION:
        return _("Only a restriction can be lifted."), None
    if last is not None and acted_on < last.acted_on:
        return (
            _(
                "The date is before the previous step (%(date)s).",
                date=last.acted_on.strftime("%d.%m.%Y"),
            ),
            None,
        )
    if step != DebtStep.LIFTED and overdue <= 0:
        return _("The account has no overdue debt."), None
    return None, None


@dataclass(frozen=True)
class StepOption:
    step: DebtStep
    refusal: str | None
    earliest: date | None

    @property
    def label(self):
        return self.step.label

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def next_steps(
    session: Session, account_id: int, position_now: Position, today: date | None = None
) -> list[StepOption]:
    """Every step with whether it may be taken today (and why not)."""
    today = today or local_today()
    last = _last_action(session, account_id)
    lead_days = settings.get(session, "debt.warning_lead_days")
    options = []
    for step in DebtStep:
        reason, earliest = refusal(
            step,
            last,
            acted_on=today,
            overdue=position_now.overdue,
            lead_days=lead_days,
            today=today,
        )
        options.append(StepOption(step, reason, earliest))
    return options


def _last_action(session: Session, account_id: int) -> DebtAction | None:
    return session.scalar(
        select(DebtAction)
        .where(DebtAction.account_id == account_id)
        .order_by(DebtAction.acted_on.desc(), DebtAction.id.desc())
        .limit(1)
    )


def _clean(text: str | None, limit: int) -> str | None:
    cleaned = " ".join((text or "").split())
    return cleaned[:limit] or None


def _check_delivery(
    acted_on: date, day: date | None, proof: str | None, today: date
) -> tuple[date | None, str | None]:
    if day is None and proof is None:
        return None, None
    if day is None:
        raise DomainError(_("Give the day the document was delivered."), "delivered_on")
    if proof is None or len(proof) < MIN_PROOF:
        raise DomainError(
            _(
                "Describe the proof of delivery, for example “registered letter 80081234567890” or “SMS delivered”."
            ),
            "delivery_proof",
        )
    if day > today:
        raise DomainError(_("The delivery date cannot be in the future."), "delivered_on")
    if day < acted_on:
        raise DomainError(_("The document cannot be delivered before it was sent."), "delivered_on")
    return day, proof


def record_action(
    session: Session,
    account_id: int,
    step: str,
    *,
    acted_on: date,
    staff_id: int | None,
    delivered: date | None = None,
    delivery_proof: str | None = None,
    note: str | None = None,
    ip: str | None = None,
    today: date | None = None,
) -> DebtAction:
    """Record the next step of escalation on the rules of п. 117–119. A debt notice also
    plans an e-mail to the customer (once per notice)."""
    today = today or local_today()
    account = get_account(session, account_id)
    last = _last_action(session, account_id)
    at_the_time = position(session, account_id, acted_on)
    reason, _earliest = refusal(
        step,
        last,
        acted_on=acted_on,
        overdue=at_the_time.overdue,
        lead_days=settings.get(session, "debt.warning_lead_days"),
        today=today,
    )
    if reason:
        raise DomainError(reason)
    proof = _clean(delivery_proof, MAX_PROOF)
    delivered, proof = _check_delivery(acted_on, delivered, proof, today)
    step = DebtStep(step)
    if not step.has_document and delivered is not None:
        delivered = None  # a restriction or its lifting is not delivered: the proof is a note
    action = DebtAction(
        account_id=account.id,
        step=step,
        amount=at_the_time.overdue,
        acted_on=acted_on,
        delivered_at=_delivery_moment(delivered) if delivered else None,
        delivery_proof=proof,
        note=_clean(note, MAX_NOTE),
        staff_id=staff_id,
    )
    session.add(action)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=AuditObject.DEBT_ACTION,
        object_id=action.id,
        summary=f"{account.number}: {step} on {acted_on.isoformat()}, {action.amount}",
        ip_address=ip,
    )
    if step == DebtStep.DEBT_NOTICE:
        _plan_notice_email(session, account, action, at_the_time)
    return action


def record_delivery(
    session: Session,
    account_id: int,
    action_id: int,
    *,
    delivered: date | None,
    delivery_proof: str | None,
    staff_id: int | None,
    ip: str | None = None,
    today: date | None = None,
) -> DebtAction:
    """Record when and how a notice or warning reached the customer (once)."""
    today = today or local_today()
    action = get_action(session, account_id, action_id)
    if not action.step.has_document:
        raise DomainError(_("Only a notice or a warning is delivered."))
    if action.delivered_at is not None:
        raise DomainError(_("The delivery of this document is already recorded."))
    day, proof = _check_delivery(
        action.acted_on, delivered, _clean(delivery_proof, MAX_PROOF), today
    )
    if day is None:
        raise DomainError(_("Give the day the document was delivered."), "delivered_on")
    action.delivered_at = _delivery_moment(day)
    action.delivery_proof = proof
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.DEBT_ACTION,
        object_id=action.id,
        summary=f"{action.step} delivered on {day.isoformat()}: {proof}",
        changes={"delivered_at": [None, day.isoformat()], "delivery_proof": [None, proof]},
        ip_address=ip,
    )
    return action


def get_action(session: Session, account_id: int, action_id: int) -> DebtAction:
    action = session.get(DebtAction, action_id)
    if action is None or action.account_id != account_id:
        raise NotFound()
    return action


# --- what the customer sees -----------------------------------------------------------


@dataclass(frozen=True)
class CustomerStep:
    step: DebtStep
    acted_on: date
    amount: Decimal
    delivered_on: date | None

    @property
    def label(self):
        return self.step.label


def steps_for_account(session: Session, account_id: int) -> list[CustomerStep]:
    """The escalation steps of one account, oldest first, as the customer sees them.

    The caller has already made sure the account is the person's to see."""
    return [
        CustomerStep(a.step, a.acted_on, a.amount, delivered_on(a))
        for a in actions(session, account_id)
    ]


# --- documents and the e-mail ---------------------------------------------------------


def _document_context(session: Session, account: Account, action: DebtAction) -> dict:
    """Everything a notice or warning prints: supplier, customer, debt by period as of the
    day of the action, the deadline and the lead time."""
    at_the_time = position(session, account.id, action.acted_on)
    lead_days = settings.get(session, "debt.warning_lead_days")
    config = current_app.config
    supplier = {
        key.removeprefix("SUPPLIER_").lower(): value
        for key, value in config.items()
        if key.startswith("SUPPLIER_")
    }
    overdue_bills = [bill for bill in at_the_time.bills if bill.overdue]
    return {
        "supplier": supplier,
        "account": account,
        "customer": account.customer,
        "premises": account.premises,
        "action": action,
        "bills": overdue_bills,
        "amount": action.amount,
        "deadline": date.fromordinal(action.acted_on.toordinal() + lead_days),
        "lead_days": lead_days,
        "document_number": f"{account.number}-{action.id}",
    }


def document_pdf(
    session: Session, account_id: int, action_id: int, *, staff_id: int, ip: str | None = None
) -> tuple[str, bytes]:
    """The notice or warning of an action as a PDF (filename, bytes), in the supplier's
    language; downloading it is audited (the caller commits)."""
    action = get_action(session, account_id, action_id)
    if not action.step.has_document:
        raise NotFound()
    account = get_account(session, account_id)
    context = _document_context(session, account, action)
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "ru")):
        template, name = DOCUMENTS[action.step]
        html = render_template(template, **context)
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.VIEW,
        object_type=AuditObject.DEBT_ACTION,
        object_id=action.id,
        summary=f"{account.number}: {action.step} document downloaded",
        ip_address=ip,
    )
    return f"{name}-{account.number}-{action.id}.pdf", render_pdf(html)


def _recipient(session: Session, account: Account) -> tuple[str | None, User | None]:
    """The customer's e-mail of record, else that of a portal user who linked the account."""
    user = session.scalar(
        select(User)
        .join(AccountLink, AccountLink.user_id == User.id)
        .where(AccountLink.account_id == account.id, User.email_confirmed_at.is_not(None))
        .order_by(AccountLink.linked_at, User.id)
        .limit(1)
    )
    customer_email = session.scalar(
        select(Customer.email).where(Customer.id == account.customer_id)
    )
    if customer_email:
        same = user if user and user.email.lower() == customer_email.lower() else None
        return customer_email, same
    return (user.email, user) if user else (None, None)


def _plan_notice_email(
    session: Session, account: Account, action: DebtAction, at_the_time: Position
) -> None:
    """The debt notice by e-mail, or by SMS to a user who chose SMS for it (it is mandatory:
    only its channel is theirs to choose, ``preferences``)."""
    from portal.services.notify import preferences
    from portal.services.users import external_url

    email, user = _recipient(session, account)
    if not email:
        return
    language = (
        user.language if user and user.language else current_app.config["BABEL_DEFAULT_LOCALE"]
    )
    lead_days = settings.get(session, "debt.warning_lead_days")
    by_sms = (
        user is not None
        and user.phone
        and preferences.channel_for(session, user.id, DebtStep.DEBT_NOTICE.value, account.id)
        == Channel.SMS
    )
    planned = {
        "kind": DebtStep.DEBT_NOTICE.value,  # the message is named after the step
        "context": {
            "account": account,
            "customer": account.customer,
            "amount": action.amount,
            "bills": [bill for bill in at_the_time.bills if bill.overdue],
            "deadline": date.fromordinal(action.acted_on.toordinal() + lead_days),
            "account_url": external_url("accounts.dashboard", account_id=account.id),
        },
        "scheduled_at": utcnow(),
        "user_id": user.id if user else None,
        "account_id": account.id,
    }
    with force_locale(language):
        if by_sms:
            enqueue_sms(
                session,
                recipient=user.phone,
                dedup_key=f"{DebtStep.DEBT_NOTICE}:{action.id}:sms",
                **planned,
            )
            return
        enqueue_email(
            session,
            recipient=email,
            subject=_("Debt on account %(number)s", number=account.number),
            dedup_key=f"{DebtStep.DEBT_NOTICE}:{action.id}",
            **planned,
        )
