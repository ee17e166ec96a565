"""The monthly billing run: charge every account for every service, set-based.

For each account and service of the period:
- by meter: the consumption of the accepted actual readings of the period, per zone;
- else by average (ПП 354 п. 59): per meter zone, the monthly consumption over the readings
  of up to ``billing.average_months`` months before its last reading, spanning at least
  ``billing.average_min_months``; for at most ``billing.average_max_periods`` periods in a
  row (п. 60), each recorded as an ``EstimatedVolume`` of the meter; for heat, only the
  months of the heating period (``billing.heating_first_month`` to ``_last_month``) count;
- else by norm: the monthly norm per resident (with nobody registered, per owner: ПП 354
  п. 56(2)) or per m² of the premises; for a metered service, an estimate of the meter too.
When a meter is read after periods charged by estimate, its consumption since the last real
reading is charged by meter and the estimates are taken back in a recalculation line that
names the months and the day of the reading (п. 61): a credit when they were too high.
What cannot be charged (no tariff for the service, zone and category; no volume at all) is
listed per account as ``UnchargedService`` rows; the period cannot be closed while it has any.
One charge line per service and zone, at the tariff of the account's category in force on
the period's first day, rounded half-up to kopecks. Re-running a period replaces its draft
charges, estimates and recalculations by readings (staff's recalculations stay); a closed
period is frozen.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import (
    Date,
    Integer,
    Numeric,
    and_,
    bindparam,
    case,
    cast,
    delete,
    extract,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from portal.models import (
    Account,
    AccountService,
    Bill,
    BillingPeriod,
    Category,
    Charge,
    ChargeMethod,
    ConsumptionNorm,
    EstimatedVolume,
    Meter,
    MeterStatus,
    NormBasis,
    Payment,
    PeriodStatus,
    Premises,
    Reading,
    ReadingStatus,
    Service,
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


def _chunk_readings(first_id: int, last_id: int):
    """The readings of the meters of the id range's accounts, bounded by meter id: the
    readings' (period, meter) index then reads the chunk's share of a period, not the whole
    period for every chunk (measured: each chunk scanned all meters' readings, so a run's
    work grew with the square of the accounts). The bounds are the chunk's smallest and
    largest meter ids, so the condition only narrows what the account range selects (``+ 0``
    keeps PostgreSQL from walking the primary key for them, which grows with each chunk)."""
    first, last = (bindparam(None, n, Integer, literal_execute=True) for n in (first_id, last_id))
    of_chunk = Meter.__table__.alias("chunk_meters")
    bounds = select(of_chunk.c.id).where(of_chunk.c.account_id.between(first, last))
    return Reading.meter_id.between(
        bounds.with_only_columns(func.min(of_chunk.c.id + 0)).scalar_subquery(),
        bounds.with_only_columns(func.max(of_chunk.c.id + 0)).scalar_subquery(),
    )


def _actual_in_service(reading):
    """An accepted actual reading (an initial one too), taken while its meter was in
    service: from the day after the verification due date a meter is out of service (ПП 354
    п. 81(12)) and is charged as if no reading came (by average, then norm: п. 59, 60). The
    query joins ``Meter``."""
    return and_(
        reading.status == ReadingStatus.ACCEPTED,
        reading.source.in_(ACTUAL_SOURCES),
        reading.taken_on <= Meter.verification_due,
    )


def _actual_accepted(reading):
    """An actual reading in service with a consumption (not the meter's first reading)."""
    return and_(_actual_in_service(reading), reading.consumption.is_not(None))


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
            _chunk_readings(first_id, last_id),
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


# --- the average (ПП 354 п. 59, 60) ---------------------------------------------------


@dataclass(frozen=True)
class AverageRule:
    """How a missing reading is estimated; the values are the settings' (``SPECS``)."""

    months: int  # the readings of up to this many months before the last one make it
    min_months: int  # they must span at least this many months, else the norm
    max_periods: int  # periods in a row by the average, then the norm
    heating_first_month: int = 10  # the heating period, from this month of the year
    heating_last_month: int = 4  # to this one (across the new year when it is earlier)

    @property
    def heating_months(self) -> tuple[int, ...]:
        """The months of the year in the heating period, in calendar order."""
        first, last = self.heating_first_month, self.heating_last_month
        if first <= last:
            return tuple(range(first, last + 1))
        return tuple(m for m in range(1, 13) if m >= first or m <= last)


def average_rule(session: Session) -> AverageRule:
    return AverageRule(
        months=settings.get(session, "billing.average_months"),
        min_months=settings.get(session, "billing.average_min_months"),
        max_periods=settings.get(session, "billing.average_max_periods"),
        heating_first_month=settings.get(session, "billing.heating_first_month"),
        heating_last_month=settings.get(session, "billing.heating_last_month"),
    )


def _month_number(column):
    """Months since year 0 of a date column, in SQL on both databases."""
    return extract("year", column) * 12 + extract("month", column)


def _heating_month_number(column, rule: AverageRule):
    """Heating-period months since year 0 up to and including a date column's month: the
    difference of two is the number of heating months between them (п. 59 for heat)."""
    months = rule.heating_months
    so_far = case(
        *(
            (extract("month", column) == m, literal(sum(1 for h in months if h <= m)))
            for m in range(1, 13)
        ),
    )
    return extract("year", column) * len(months) + so_far


def _in_heating_period(column, rule: AverageRule):
    return extract("month", column).in_(rule.heating_months)


def _last_readings(period: date, first_id: int, last_id: int, rule: AverageRule, metered):
    """Per active meter zone of a service without a reading this period: the period of its
    last actual reading, if it came within ``max_periods`` periods (else the norm: п. 60)."""
    join_on, missing = _not_in(metered, Meter.account_id, Meter.service)
    return (
        select(
            Meter.id.label("meter_id"),
            Meter.account_id,
            Meter.service,
            Reading.zone,
            func.max(Reading.period).label("last_period"),
        )
        .join(Reading, Reading.meter_id == Meter.id)
        .join(Account, Account.id == Meter.account_id)
        .outerjoin(metered, join_on)
        .where(
            _open_accounts(period, first_id, last_id, Meter.account_id),
            missing,
            Meter.status == MeterStatus.ACTIVE,
            Reading.period.between(add_months(period, -rule.max_periods), add_months(period, -1)),
            _chunk_readings(first_id, last_id),
            _actual_in_service(Reading),
        )
        .group_by(Meter.id, Meter.account_id, Meter.service, Reading.zone)
        .cte("last_read")
    )


def _spanned_readings(period: date, rule: AverageRule, last):
    """The readings of each meter zone's span (from ``months`` before its last reading to
    it), each row with its span's first period: one pass over a literal range of months,
    so the period index serves it."""
    window_start = case(
        *(
            (
                last.c.last_period == literal(add_months(period, -k), Date),
                literal(add_months(period, -k - rule.months), Date),
            )
            for k in range(1, rule.max_periods + 1)
        ),
    )
    return (
        select(
            last,
            Reading.period,
            Reading.consumption,
            func.min(Reading.period)
            .over(partition_by=(last.c.meter_id, last.c.zone))
            .label("first_period"),
        )
        .join(Reading, and_(Reading.meter_id == last.c.meter_id, Reading.zone == last.c.zone))
        .join(Meter, Meter.id == Reading.meter_id)
        .where(
            Reading.period.between(
                add_months(period, -rule.max_periods - rule.months), add_months(period, -1)
            ),
            Reading.period >= window_start,
            Reading.period <= last.c.last_period,
            _actual_in_service(Reading),
        )
        .subquery("spanned")
    )


def meter_averages(period: date, first_id: int, last_id: int, rule: AverageRule, metered):
    """(account, meter, service, zone, volume, basis) by the average, per meter zone.

    ПП 354 п. 59: the monthly consumption over the readings of ``months`` months before the
    last reading — the consumption from the earliest reading of that span to the last one,
    divided by the months between them (a reading covering two months counts for two), or
    over the months the meter has worked if fewer, but at least ``min_months``. For heat
    (п. 59: "для отопления — исходя из среднемесячного за отопительный период") only the
    heating period's months count, both the readings' consumption and the months.
    """
    spanned = _spanned_readings(
        period, rule, _last_readings(period, first_id, last_id, rule, metered)
    )
    is_heat = spanned.c.service == Service.HEAT.value
    span = case(
        (
            is_heat,
            _heating_month_number(spanned.c.last_period, rule)
            - _heating_month_number(spanned.c.first_period, rule),
        ),
        else_=_month_number(spanned.c.last_period) - _month_number(spanned.c.first_period),
    )
    counted = and_(
        spanned.c.period > spanned.c.first_period,
        or_(~is_heat, _in_heating_period(spanned.c.period, rule)),
    )
    after_first = case((counted, spanned.c.consumption), else_=None)
    return (
        select(
            spanned.c.account_id,
            spanned.c.meter_id,
            spanned.c.service,
            spanned.c.zone,
            # × 1.0: SQLite keeps whole volumes as integers and would divide them as such.
            (func.sum(after_first) * literal(Decimal("1.0"), Numeric(2, 1)) / span).label("volume"),
            cast(span, Numeric(10, 2)).label("basis"),
        )
        .where(span >= rule.min_months)
        .group_by(
            spanned.c.account_id,
            spanned.c.meter_id,
            spanned.c.service,
            spanned.c.zone,
            spanned.c.first_period,
            spanned.c.last_period,
        )
        .having(func.count(after_first) > 0)
    )


ESTIMATE_COLUMNS = [
    "account_id",
    "meter_id",
    "service",
    "zone",
    "period",
    "method",
    "volume",
    "basis",
]


def average_estimates_select(period: date, first_id: int, last_id: int, rule: AverageRule):
    """The period's estimates by the average per meter zone, ready to insert."""
    metered = _services_of(metered_volumes(period, first_id, last_id).cte("metered"))
    averages = meter_averages(period, first_id, last_id, rule, metered).subquery("averages")
    return select(
        averages.c.account_id,
        averages.c.meter_id,
        averages.c.service,
        averages.c.zone,
        literal(period).label("period"),
        literal(ChargeMethod.AVERAGE.value).label("method"),
        func.round(averages.c.volume, 4),
        averages.c.basis,
    )


def average_volumes(period: date, first_id: int, last_id: int):
    """(account, service, zone, category, volume) by the average: the sum of the period's
    estimates of the account's meters (``average_estimates_select``, inserted first)."""
    estimate = EstimatedVolume
    return (
        select(
            estimate.account_id,
            estimate.service,
            estimate.zone,
            Account.category,
            literal(ChargeMethod.AVERAGE.value).label("method"),
            func.sum(estimate.volume).label("volume"),
            func.max(estimate.basis).label("basis"),
        )
        .join(Account, Account.id == estimate.account_id)
        .where(
            estimate.period == period,
            estimate.method == ChargeMethod.AVERAGE,
            estimate.account_id.between(first_id, last_id),
        )
        .group_by(estimate.account_id, estimate.service, estimate.zone, Account.category)
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


def _volumes(period: date, first_id: int, last_id: int):
    """(account, service, zone, category, method, volume, basis) of every account and
    service of the id range the rules give a volume: by meter, else average, else norm."""
    metered = metered_volumes(period, first_id, last_id).cte("metered")
    metered_services = _services_of(metered)
    averaged = average_volumes(period, first_id, last_id).cte("averaged")
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


def charges_select(period: date, first_id: int, last_id: int):
    """Every charge line of the period for accounts in an id range, ready to insert."""
    volumes = _volumes(period, first_id, last_id).subquery("volumes")
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


def uncharged_select(period: date, first_id: int, last_id: int):
    """What the run cannot charge for accounts in an id range, with the reason, ready to
    insert: a volume without a tariff in force (per zone), and a supplied service with no
    volume at all (no reading this period, no average, no norm in force)."""
    volumes = _volumes(period, first_id, last_id).cte("volumes")
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


# --- estimates taken back when the meter is read (ПП 354 п. 61) -----------------------


def _read_meters(period: date, first_id: int, last_id: int):
    """(meter, day of its last reading) of the meters with a real consumption this period."""
    return (
        select(Reading.meter_id, func.max(Reading.taken_on).label("read_on"))
        .join(Meter, Meter.id == Reading.meter_id)
        .where(
            Meter.account_id.between(first_id, last_id),
            Reading.period == period,
            _chunk_readings(first_id, last_id),
            _actual_accepted(Reading),
        )
        .group_by(Reading.meter_id)
    )


def _open_estimates(period: date, first_id: int, last_id: int):
    estimate = EstimatedVolume
    return and_(
        estimate.account_id.between(first_id, last_id),
        estimate.period < period,
        estimate.settled_in.is_(None),
    )


def recalculations_select(period: date, first_id: int, last_id: int):
    """A recalculation line per (account, service, zone) whose meters were read this period
    after periods charged by estimate: the estimated volume taken back at the period's
    tariff (the reading's consumption, charged by meter, covers those months), with the
    months and the day of the reading for the bill to explain. Ready to insert."""
    read = _read_meters(period, first_id, last_id).subquery("read")
    estimate = EstimatedVolume
    taken_back = (
        select(
            estimate.account_id,
            estimate.service,
            estimate.zone,
            Account.category,
            func.round(func.sum(estimate.volume), 4).label("volume"),
            func.min(estimate.period).label("estimated_from"),
            func.max(estimate.period).label("estimated_to"),
            func.max(read.c.read_on).label("read_on"),
        )
        .join(read, read.c.meter_id == estimate.meter_id)
        .join(Account, Account.id == estimate.account_id)
        .where(_open_estimates(period, first_id, last_id))
        .group_by(estimate.account_id, estimate.service, estimate.zone, Account.category)
        .subquery("taken_back")
    )
    return select(
        taken_back.c.account_id,
        literal(period).label("period"),
        taken_back.c.service,
        taken_back.c.zone,
        literal(ChargeMethod.RECALCULATION.value).label("method"),
        -taken_back.c.volume,
        Tariff.rate,
        # Rounded as the positive amount it takes back: half-up is away from zero.
        -round_money(taken_back.c.volume * Tariff.rate),
        cast(null(), Numeric(10, 2)),
        literal(utcnow()).label("created_at"),
        taken_back.c.estimated_from,
        taken_back.c.estimated_to,
        taken_back.c.read_on,
    ).join(Tariff, _tariff_of(taken_back, period))


RECALCULATION_COLUMNS = [*CHARGE_COLUMNS, "estimated_from", "estimated_to", "read_on"]


def norm_estimates_select(period: date, first_id: int, last_id: int):
    """The period's charges by norm of a metered service, recorded as estimates of the
    account's first active meter of it that has been read (so its next reading takes them
    back too), ready to insert. Runs after the period's charges are inserted."""
    been_read = (
        select(Reading.id)
        .where(Reading.meter_id == Meter.id, Reading.period < period, _actual_in_service(Reading))
        .exists()
    )
    return (
        select(
            Charge.account_id,
            func.min(Meter.id),
            Charge.service,
            Charge.zone,
            Charge.period,
            Charge.method,
            Charge.volume,
            Charge.basis,
        )
        .join(
            Meter,
            and_(
                Meter.account_id == Charge.account_id,
                Meter.service == Charge.service,
                Meter.status == MeterStatus.ACTIVE,
            ),
        )
        .where(
            Charge.account_id.between(first_id, last_id),
            Charge.period == period,
            Charge.method == ChargeMethod.NORM,
            been_read,
        )
        .group_by(
            Charge.account_id,
            Charge.service,
            Charge.zone,
            Charge.period,
            Charge.method,
            Charge.volume,
            Charge.basis,
        )
    )


def settle_estimates(session: Session, period: date, first_id: int, last_id: int) -> None:
    """Mark the estimates the period's readings took back as settled by the period."""
    read = _read_meters(period, first_id, last_id).with_only_columns(Reading.meter_id)
    session.execute(
        update(EstimatedVolume)
        .where(_open_estimates(period, first_id, last_id), EstimatedVolume.meter_id.in_(read))
        .values(settled_in=period)
        .execution_options(synchronize_session=False)
    )


def _charge_chunk(session: Session, period: date, start: int, stop: int, rule: AverageRule):
    """Estimates, charges, recalculations and what cannot be charged, for an id range."""
    session.execute(
        insert(EstimatedVolume).from_select(
            ESTIMATE_COLUMNS, average_estimates_select(period, start, stop, rule)
        )
    )
    session.execute(insert(Charge).from_select(CHARGE_COLUMNS, charges_select(period, start, stop)))
    session.execute(
        insert(Charge).from_select(
            RECALCULATION_COLUMNS, recalculations_select(period, start, stop)
        )
    )
    settle_estimates(session, period, start, stop)
    session.execute(
        insert(EstimatedVolume).from_select(
            ESTIMATE_COLUMNS, norm_estimates_select(period, start, stop)
        )
    )
    session.execute(
        insert(UnchargedService).from_select(
            UNCHARGED_COLUMNS, uncharged_select(period, start, stop)
        )
    )


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
    rule = average_rule(session)
    done = 0
    for start, stop in _chunks(first_id, last_id):
        _give_memory_for_aggregates(session)
        _charge_chunk(session, period, start, stop, rule)
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
    _forget_the_last_run(session, period)
    session.commit()
    return billing_period


def _forget_the_last_run(session: Session, period: date) -> None:
    """The period's draft charges, its estimates and what its readings settled undone; a
    recalculation staff added stays."""
    session.execute(
        delete(Charge).where(
            Charge.period == period,
            or_(Charge.method != ChargeMethod.RECALCULATION, Charge.read_on.is_not(None)),
        )
    )
    session.execute(delete(EstimatedVolume).where(EstimatedVolume.period == period))
    session.execute(
        update(EstimatedVolume)
        .where(EstimatedVolume.settled_in == period)
        .values(settled_in=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(UnchargedService).where(UnchargedService.period == period))


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


# --- cash collection (001 Table 5 No. 2) -------------------------------------------------


@dataclass(frozen=True)
class Collection:
    """Кд = Сфакт × 100 % / Сплан: the money paid in the months over what their bills asked."""

    billed: Decimal
    paid: Decimal

    @property
    def share(self) -> Decimal | None:
        if not self.billed:
            return None
        return (self.paid * 100 / self.billed).quantize(Decimal("0.1"))


def collection(session: Session, first: date, last: date) -> Collection:
    """Bills of the periods from ``first`` to ``last`` (charges and penalties) against the
    payments made in those months; two aggregates."""
    billed = session.scalar(
        select(func.coalesce(func.sum(Bill.charges_total + Bill.penalties_total), 0)).where(
            Bill.period.between(first, last)
        )
    )
    paid = session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.paid_on.between(first, month_end(last))
        )
    )
    return Collection(money(Decimal(billed)), money(Decimal(paid)))
