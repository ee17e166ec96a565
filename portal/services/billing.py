"""The monthly billing run: charge every account for every service, set-based.

For each account and service of the period:
- by meter: the consumption of the accepted actual readings of the period, per zone;
- else by average: the mean monthly consumption of the readings of up to the last
  ``billing.average_months`` months (a setting), per zone;
- else by norm: the monthly norm per resident (with nobody registered, per owner: ПП 354
  п. 56(2)) or per m² of the premises.
What cannot be charged (no tariff for the service, zone and category; no volume at all) is
listed per account as ``UnchargedService`` rows; the period cannot be closed while it has any.
One charge line per service and zone, at the tariff of the account's category in force on
the period's first day, rounded half-up to kopecks. Re-running a period replaces its draft
charges (recalculations stay); a closed period is frozen.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import (
    Integer,
    Numeric,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from portal.models import (
    Account,
    AccountService,
    BillingPeriod,
    Category,
    Charge,
    ChargeMethod,
    ConsumptionNorm,
    Meter,
    MeterStatus,
    NormBasis,
    PeriodStatus,
    Premises,
    Reading,
    ReadingStatus,
    Tariff,
    UnchargedReason,
    UnchargedService,
    Zone,
)
from portal.services import settings
from portal.services.clock import utcnow
from portal.services.errors import DomainError
from portal.services.months import add_months, month_end
from portal.services.numbers import money
from portal.services.readings import ACTUAL_SOURCES

# Accounts charged per statement: the progress bar moves after each chunk. Measured on
# PostgreSQL with 1 000 000 accounts: 20 000, 50 000 and 100 000 per chunk all took about
# 40 s, so the progress bar decides.
CHUNK_ACCOUNTS = 50_000


class round_money(FunctionElement):  # noqa: N801 (an SQL function)
    """Round a non-negative amount half-up to kopecks, in SQL, on both databases.

    PostgreSQL's numeric round() is exact. SQLite computes in binary floating point, where
    a half-kopeck such as 9.645 is stored as 9.64499999…; the product of a 4-decimal volume
    and a 4-decimal tariff is a multiple of 1e-8, so nudging by half of that (5e-9) restores
    the tie without moving any other value across a kopeck.
    """

    type = Numeric(14, 2)
    inherit_cache = True


@compiles(round_money)
def _round_money_default(element, compiler, **kw):
    return f"round({compiler.process(element.clauses, **kw)}, 2)"


@compiles(round_money, "sqlite")
def _round_money_sqlite(element, compiler, **kw):
    return f"round(({compiler.process(element.clauses, **kw)}) + 0.000000005, 2)"


def get_or_create_period(session: Session, period: date) -> BillingPeriod:
    row = session.scalar(select(BillingPeriod).where(BillingPeriod.period == period))
    if row is None:
        row = BillingPeriod(period=period, status=PeriodStatus.DRAFT)
        session.add(row)
        session.flush()
    return row


# --- the volumes, as SELECTs ----------------------------------------------------------


def _in_force(valid_from, valid_to, day: date):
    return and_(valid_from <= day, or_(valid_to.is_(None), valid_to >= day))


def _open_accounts(period: date, first_id: int, last_id: int, account_id):
    """Accounts of the id range open in the period, joined to a table by ``account_id``.

    The range is repeated on that table's own column: neither database carries a range
    across a join, and without it each chunk would read the whole table, not its share.
    The bounds are written into the SQL text, so each chunk's statement is new to the
    driver: psycopg prepares a statement run five times, and PostgreSQL may then reuse a
    generic plan that guesses the range blindly and nests loops over the anti-joins
    (measured: minutes per chunk instead of seconds).
    """
    first, last = (bindparam(None, n, Integer, literal_execute=True) for n in (first_id, last_id))
    return and_(
        Account.id.between(first, last),
        account_id.between(first, last),
        Account.opened_on <= month_end(period),
        or_(Account.closed_on.is_(None), Account.closed_on >= period),
    )


def _actual_accepted(reading):
    """An accepted actual reading, taken while its meter was in service: from the day after
    the verification due date a meter is out of service (ПП 354 п. 81(12)) and is charged
    as if no reading came (by average, then norm: п. 59, 60). The query joins ``Meter``."""
    return and_(
        reading.status == ReadingStatus.ACCEPTED,
        reading.source.in_(ACTUAL_SOURCES),
        reading.consumption.is_not(None),
        reading.taken_on <= Meter.verification_due,
    )


def _by_meters(method: ChargeMethod, volume, basis):
    """Volumes found from readings, per (account, service, zone, category): the SELECT over
    the readings joined to their meters and accounts, its WHERE still to come."""
    return (
        select(
            *_PER_METERED_ZONE,
            literal(method.value).label("method"),
            volume.label("volume"),
            basis.label("basis"),
        )
        .join(Reading, Reading.meter_id == Meter.id)
        .join(Account, Account.id == Meter.account_id)
    )


_PER_METERED_ZONE = (Meter.account_id, Meter.service, Reading.zone, Account.category)


def metered_volumes(period: date, first_id: int, last_id: int):
    """(account, service, zone, category, volume) from the accepted actual readings of the
    period."""
    volume = func.sum(Reading.consumption)
    return (
        _by_meters(ChargeMethod.METER, volume, cast(null(), Numeric(10, 2)))
        .where(
            _open_accounts(period, first_id, last_id, Meter.account_id),
            Reading.period == period,
            _actual_accepted(Reading),
        )
        .group_by(*_PER_METERED_ZONE)
    )


def _services_of(volumes):
    """The distinct (account, service) pairs a volumes CTE covers, for anti-joins."""
    return select(volumes.c.account_id, volumes.c.service).distinct().cte()


def _not_in(pairs, account_id, service):
    """LEFT JOIN condition and WHERE clause of an anti-join on (account, service)."""
    return and_(
        pairs.c.account_id == account_id, pairs.c.service == service
    ), pairs.c.account_id.is_(None)


def average_volumes(period: date, first_id: int, last_id: int, months: int, metered_services):
    """(account, service, zone, category, volume) by the average of up to ``months``
    earlier months, for active meters of services without a reading this period."""
    readings_count = func.count(Reading.id)
    join_on, missing = _not_in(metered_services, Meter.account_id, Meter.service)
    volume = func.sum(Reading.consumption) / readings_count
    return (
        _by_meters(ChargeMethod.AVERAGE, volume, func.cast(readings_count, Numeric(10, 2)))
        .outerjoin(metered_services, join_on)
        .where(
            _open_accounts(period, first_id, last_id, Meter.account_id),
            missing,
            Meter.status == MeterStatus.ACTIVE,
            Reading.period.between(add_months(period, -months), add_months(period, -1)),
            _actual_accepted(Reading),
        )
        .group_by(*_PER_METERED_ZONE)
    )


def norm_volumes(period: date, first_id: int, last_id: int, metered_services, averaged_services):
    """(account, service, 'total', category, volume) by the norm, for services neither
    metered this period nor billable by an average."""
    basis = case(
        (ConsumptionNorm.basis == NormBasis.PER_M2, func.coalesce(Premises.area_m2, 0)),
        (Premises.residents > 0, Premises.residents),
        # A dwelling with nobody registered: its owners are counted (ПП 354 п. 56(2)).
        (Account.category == Category.POPULATION, Premises.owners),
        else_=Premises.residents,
    )
    metered_on, not_metered = _not_in(
        metered_services, AccountService.account_id, AccountService.service
    )
    averaged_on, not_averaged = _not_in(
        averaged_services, AccountService.account_id, AccountService.service
    )
    return (
        select(
            AccountService.account_id,
            AccountService.service,
            literal(Zone.TOTAL.value).label("zone"),
            Account.category,
            literal(ChargeMethod.NORM.value).label("method"),
            (ConsumptionNorm.volume * basis).label("volume"),
            func.cast(basis, Numeric(10, 2)).label("basis"),
        )
        .join(Account, Account.id == AccountService.account_id)
        .join(Premises, Premises.id == Account.premises_id)
        .join(
            ConsumptionNorm,
            and_(
                ConsumptionNorm.service == AccountService.service,
                _in_force(ConsumptionNorm.valid_from, ConsumptionNorm.valid_to, period),
            ),
        )
        .outerjoin(metered_services, metered_on)
        .outerjoin(averaged_services, averaged_on)
        .where(
            _open_accounts(period, first_id, last_id, AccountService.account_id),
            not_metered,
            not_averaged,
        )
    )


def _volumes(period: date, first_id: int, last_id: int, months: int):
    """(account, service, zone, category, method, volume, basis) of every account and
    service of the id range the rules give a volume: by meter, else average, else norm."""
    metered = metered_volumes(period, first_id, last_id).cte("metered")
    metered_services = _services_of(metered)
    averaged = average_volumes(period, first_id, last_id, months, metered_services).cte("averaged")
    averaged_services = _services_of(averaged)
    normed = norm_volumes(period, first_id, last_id, metered_services, averaged_services)
    return union_all(select(metered), select(averaged), normed)


def _tariff_of(volumes, period: date):
    """The join condition of a volume with its tariff in force on the period's first day."""
    return and_(
        Tariff.service == volumes.c.service,
        Tariff.zone == volumes.c.zone,
        Tariff.category == volumes.c.category,
        _in_force(Tariff.valid_from, Tariff.valid_to, period),
    )


def charges_select(period: date, first_id: int, last_id: int, months: int):
    """Every charge line of the period for accounts in an id range, ready to insert."""
    volumes = _volumes(period, first_id, last_id, months).subquery("volumes")
    volume = func.round(volumes.c.volume, 4)
    # In account order the charges' indexes and foreign-key checks walk the accounts in
    # order rather than at random (measured: a run 10% faster on PostgreSQL).
    return (
        select(
            volumes.c.account_id,
            literal(period).label("period"),
            volumes.c.service,
            volumes.c.zone,
            volumes.c.method,
            volume.label("volume"),
            Tariff.rate.label("tariff"),
            round_money(volume * Tariff.rate).label("amount"),
            volumes.c.basis,
            literal(utcnow()).label("created_at"),
        )
        .join(Tariff, _tariff_of(volumes, period))
        .order_by(volumes.c.account_id)
    )


def uncharged_select(period: date, first_id: int, last_id: int, months: int):
    """What the run cannot charge for accounts in an id range, with the reason, ready to
    insert: a volume without a tariff in force (per zone), and a supplied service with no
    volume at all (no reading this period, no average, no norm in force)."""
    volumes = _volumes(period, first_id, last_id, months).cte("volumes")
    no_tariff = (
        select(
            literal(period).label("period"),
            volumes.c.account_id,
            volumes.c.service,
            volumes.c.zone,
            volumes.c.category,
            literal(UnchargedReason.NO_TARIFF.value).label("reason"),
        )
        .outerjoin(Tariff, _tariff_of(volumes, period))
        .where(Tariff.id.is_(None))
    )
    with_volume = _services_of(volumes)
    join_on, missing = _not_in(with_volume, AccountService.account_id, AccountService.service)
    no_volume = (
        select(
            literal(period).label("period"),
            AccountService.account_id,
            AccountService.service,
            literal(Zone.TOTAL.value).label("zone"),
            Account.category,
            literal(UnchargedReason.NO_VOLUME.value).label("reason"),
        )
        .join(Account, Account.id == AccountService.account_id)
        .outerjoin(with_volume, join_on)
        .where(_open_accounts(period, first_id, last_id, AccountService.account_id), missing)
    )
    return union_all(no_tariff, no_volume)


UNCHARGED_COLUMNS = ["period", "account_id", "service", "zone", "category", "reason"]


CHARGE_COLUMNS = [
    "account_id",
    "period",
    "service",
    "zone",
    "method",
    "volume",
    "tariff",
    "amount",
    "basis",
    "created_at",
]


# --- the run --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunTotals:
    accounts: int
    lines: int
    amount: Decimal
    by_method: dict[str, dict[str, str]]


def run(session: Session, period: date, progress=None) -> RunTotals:
    """Charge the period; safe to repeat while it is a draft. ``progress(done, total)`` is
    called after each chunk of accounts (for the back-office progress bar).

    The run commits after each chunk, on purpose: the progress bar reads the count, and
    a run of a million accounts must not hold one transaction for minutes.
    """
    billing_period = _start_run(session, period)
    first_id, last_id = session.execute(select(func.min(Account.id), func.max(Account.id))).one()
    months = settings.get(session, "billing.average_months")
    done = 0
    for start, stop in _chunks(first_id, last_id):
        _give_memory_for_aggregates(session)
        session.execute(
            insert(Charge).from_select(CHARGE_COLUMNS, charges_select(period, start, stop, months))
        )
        session.execute(
            insert(UnchargedService).from_select(
                UNCHARGED_COLUMNS, uncharged_select(period, start, stop, months)
            )
        )
        # Counted per chunk: a count of every id up to ``stop`` grows with each chunk.
        done += session.scalar(
            select(func.count(Account.id)).where(Account.id.between(start, stop))
        )
        billing_period.processed_accounts = done
        session.commit()
        if progress:
            progress(done, billing_period.total_accounts)
    return _finish_run(session, billing_period)


def _start_run(session: Session, period: date) -> BillingPeriod:
    """The period marked running, its draft charges gone (recalculations stay)."""
    billing_period = get_or_create_period(session, period)
    if billing_period.status == PeriodStatus.CLOSED:
        raise DomainError(
            _(
                "The period %(period)s is closed: its charges are frozen.",
                period=period.strftime("%m.%Y"),
            )
        )
    billing_period.status = PeriodStatus.RUNNING
    billing_period.run_started_at = utcnow()
    billing_period.total_accounts = session.scalar(select(func.count(Account.id))) or 0
    billing_period.processed_accounts = 0
    session.execute(
        delete(Charge).where(Charge.period == period, Charge.method != ChargeMethod.RECALCULATION)
    )
    session.execute(delete(UnchargedService).where(UnchargedService.period == period))
    session.commit()
    return billing_period


def _chunks(first_id: int | None, last_id: int | None):
    """(first, last) account ids of each chunk of CHUNK_ACCOUNTS."""
    if first_id is None:
        return
    for start in range(first_id, last_id + 1, CHUNK_ACCOUNTS):
        yield start, min(start + CHUNK_ACCOUNTS - 1, last_id)


def _finish_run(session: Session, billing_period: BillingPeriod) -> RunTotals:
    totals = period_totals(session, billing_period.period)
    billing_period.status = PeriodStatus.DRAFT
    billing_period.run_finished_at = utcnow()
    billing_period.totals = {
        "accounts": totals.accounts,
        "lines": totals.lines,
        "amount": str(totals.amount),
        "by_method": totals.by_method,
    }
    session.commit()
    return totals


def _give_memory_for_aggregates(session: Session) -> None:
    """PostgreSQL's default 4 MB work_mem spills the run's hash aggregates to disk; this
    transaction may use more (released at commit)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '256MB'"))


def period_totals(session: Session, period: date) -> RunTotals:
    rows = session.execute(
        select(
            Charge.method,
            func.count(Charge.id),
            func.coalesce(func.sum(Charge.amount), 0),
        )
        .where(Charge.period == period)
        .group_by(Charge.method)
    ).all()
    accounts = session.scalar(
        select(func.count(func.distinct(Charge.account_id))).where(Charge.period == period)
    )
    by_method = {
        method: {"lines": str(count), "amount": str(money(amount))}
        for method, count, amount in rows
    }
    amount = sum((Decimal(v["amount"]) for v in by_method.values()), Decimal("0.00"))
    return RunTotals(accounts or 0, sum(count for _m, count, _a in rows), amount, by_method)
