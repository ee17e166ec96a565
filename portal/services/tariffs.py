"""Tariffs, consumption norms and key rates: dated tables that staff extend with new values.

A tariff is kept per (service, zone, customer category), a norm per service; each row is
valid from a day to a day (inclusive) or open-ended. A new value starts on a date and
closes the previous open-ended row the day before, so history is never rewritten. The key
rate is a table of (date, percent): each rate holds until the next one starts.

A new value may not start inside or before a closed billing period: what was billed and
penalised there is frozen. Overlapping an existing version is refused too.

The services flush; the caller commits (the audit records go with the change).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.formatting import as_date_ending
from portal.models import (
    BillingPeriod,
    Category,
    ConsumptionNorm,
    KeyRate,
    KeyRateCap,
    NormBasis,
    PeriodStatus,
    Service,
    Staff,
    Tariff,
    Zone,
)
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit
from portal.services.errors import DomainError, NotFound
from portal.services.months import add_months
from portal.services.numbers import parse_decimal

# The services in the order the tariff pages list them.
TABLE_ORDER = (Service.ELECTRICITY, Service.COLD_WATER, Service.HOT_WATER, Service.HEAT)
# The zones a service is priced in: by time of day where it has zones, else one rate.
SERVICE_ZONES = {
    service: tuple(Zone) if service.has_zones else (Zone.TOTAL,) for service in TABLE_ORDER
}
# The basis a service's norm usually rests on (the form's default).
NORM_BASIS_DEFAULTS = {
    Service.ELECTRICITY: NormBasis.PER_RESIDENT,
    Service.COLD_WATER: NormBasis.PER_RESIDENT,
    Service.HOT_WATER: NormBasis.PER_RESIDENT,
    Service.HEAT: NormBasis.PER_M2,
}
RATE_DECIMALS = 4
MAX_RATE = Decimal("1e10")  # Numeric(14, 4): ten digits before the point
PERCENT_DECIMALS = 2
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


# --- parsing typed values ----------------------------------------------------------------


def parse_rate(raw, field_name: str | None = "rate") -> Decimal:
    """A price or a norm: above zero, at most four decimals."""
    number = parse_decimal(raw, places=RATE_DECIMALS, field=field_name)
    if number <= 0:
        raise DomainError(_("The value must be above zero."), field_name)
    if number >= MAX_RATE:
        raise DomainError(_("The value is too large."), field_name)
    return number.quantize(Decimal(1).scaleb(-RATE_DECIMALS))


def parse_percent(raw, field_name: str | None = "percent") -> Decimal:
    """The key rate: from 0 to 100 %, at most two decimals."""
    number = parse_decimal(raw, places=PERCENT_DECIMALS, field=field_name)
    if number < 0 or number > 100:
        raise DomainError(_("The key rate is a percentage from 0 to 100."), field_name)
    return number.quantize(Decimal("0.01"))


def check_date(day: date | None, field_name: str = "valid_from") -> date:
    if day is None:
        raise DomainError(_("Enter the date the value starts on."), field_name)
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise DomainError(
            _(
                "Enter a date from %(first)s to %(last)s.",
                first=format_date(EARLIEST_DATE),
                last=as_date_ending(LATEST_DATE, "medium"),
            ),
            field_name,
        )
    return day


def check_key(service: str, zone: str | None = None, category: str | None = None) -> None:
    """NotFound for a service, zone or category that has no tariff (a mistyped URL)."""
    if service not in Service.values():
        raise NotFound()
    if zone is not None and zone not in SERVICE_ZONES[service]:
        raise NotFound()
    if category is not None and category not in Category.values():
        raise NotFound()


# --- closed periods ----------------------------------------------------------------------


def last_closed_period(session: Session) -> date | None:
    return session.scalar(
        select(func.max(BillingPeriod.period)).where(BillingPeriod.status == PeriodStatus.CLOSED)
    )


def earliest_start(session: Session) -> date | None:
    """The first day a new value may start on: the month after the last closed period."""
    closed = last_closed_period(session)
    return None if closed is None else add_months(closed, 1)


def _refuse_closed(session: Session, valid_from: date) -> None:
    earliest = earliest_start(session)
    if earliest is not None and valid_from < earliest:
        raise DomainError(
            _(
                "Billing is closed up to %(month)s: a new value can start on %(date)s at the earliest.",
                month=format_date(add_months(earliest, -1), "LLLL yyyy"),
                date=format_date(earliest),
            ),
            "valid_from",
        )


def periods_to_rerun(session: Session, valid_from: date) -> list[date]:
    """Draft periods already charged that a value from ``valid_from`` changes."""
    return list(
        session.scalars(
            select(BillingPeriod.period)
            .where(
                BillingPeriod.status.in_((PeriodStatus.DRAFT, PeriodStatus.FAILED)),
                BillingPeriod.run_finished_at.is_not(None),
                BillingPeriod.period >= valid_from,
            )
            .order_by(BillingPeriod.period)
        )
    )


# --- versions ----------------------------------------------------------------------------


@dataclass
class Added:
    """A new value, the previous version it closed (if any) and the periods to run again."""

    row: object
    closed: object | None = None
    rerun: list[date] = field(default_factory=list)


def _add_version(session: Session, model, key: dict, row, *, staff_id, ip, label: str) -> Added:
    """Insert ``row`` after the key's latest version, closing that version the day before."""
    valid_from = check_date(row.valid_from)
    _refuse_closed(session, valid_from)
    latest = session.scalar(
        select(model)
        .where(*(getattr(model, name) == value for name, value in key.items()))
        .order_by(model.valid_from.desc())
        .limit(1)
    )
    _check_after(latest, valid_from)
    closed = None
    if latest is not None and latest.valid_to is None:
        latest.valid_to = valid_from - timedelta(days=1)
        closed = latest
    row.staff_id = staff_id
    session.add(row)
    session.flush()
    _audit_version(session, model, row, closed, staff_id=staff_id, ip=ip, label=label)
    return Added(row, closed, periods_to_rerun(session, valid_from))


def _check_after(latest, valid_from: date) -> None:
    """A new version starts after the latest one, and after the day it is valid until."""
    if latest is not None and valid_from <= latest.valid_from:
        raise DomainError(
            _(
                "A value from %(date)s already exists: a new value must start after it.",
                date=format_date(latest.valid_from),
            ),
            "valid_from",
        )
    if latest is not None and latest.valid_to is not None and valid_from <= latest.valid_to:
        raise DomainError(
            _(
                "The value from %(start)s is valid until %(end)s: a new value must start after that.",
                start=format_date(latest.valid_from),
                end=format_date(latest.valid_to),
            ),
            "valid_from",
        )


def _audit_version(session: Session, model, row, closed, *, staff_id, ip, label: str) -> None:
    object_type = AuditObject(model.__tablename__.removesuffix("s"))
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=object_type,
        object_id=row.id,
        summary=f"{label} from {row.valid_from.isoformat()}",
        changes={
            name: [None, str(getattr(row, name))]
            for name in ("rate", "basis", "volume", "valid_from")
            if hasattr(row, name)
        },
        ip_address=ip,
    )
    if closed is not None:
        audit.record(
            session,
            staff_id=staff_id,
            action=AuditAction.UPDATE,
            object_type=object_type,
            object_id=closed.id,
            summary=f"{label}: valid until {closed.valid_to.isoformat()}",
            changes={"valid_to": [None, closed.valid_to.isoformat()]},
            ip_address=ip,
        )


def add_tariff(
    session: Session,
    *,
    service: str,
    zone: str,
    category: str,
    rate,
    valid_from: date | None,
    staff_id: int | None = None,
    ip: str | None = None,
) -> Added:
    """A new price of (service, zone, category) from ``valid_from`` on."""
    check_key(service, zone, category)
    rate = parse_rate(rate)
    valid_from = check_date(valid_from)
    row = Tariff(service=service, zone=zone, category=category, rate=rate, valid_from=valid_from)
    return _add_version(
        session,
        Tariff,
        {"service": service, "zone": zone, "category": category},
        row,
        staff_id=staff_id,
        ip=ip,
        label=f"{service}/{zone}/{category}: {rate}",
    )


def add_norm(
    session: Session,
    *,
    service: str,
    basis: str,
    volume,
    valid_from: date | None,
    staff_id: int | None = None,
    ip: str | None = None,
) -> Added:
    """A new monthly norm of a service from ``valid_from`` on."""
    check_key(service)
    if basis not in NormBasis.values():
        raise DomainError(_("Choose what the norm is counted per."), "basis")
    volume = parse_rate(volume, "volume")
    valid_from = check_date(valid_from)
    row = ConsumptionNorm(service=service, basis=basis, volume=volume, valid_from=valid_from)
    return _add_version(
        session,
        ConsumptionNorm,
        {"service": service},
        row,
        staff_id=staff_id,
        ip=ip,
        label=f"{service}: {volume} {basis}",
    )


def add_key_rate(
    session: Session,
    *,
    percent,
    valid_from: date | None,
    staff_id: int | None = None,
    ip: str | None = None,
) -> Added:
    """The key rate from ``valid_from`` on, until the next one starts."""
    percent = parse_percent(percent)
    valid_from = check_date(valid_from)
    _refuse_closed(session, valid_from)
    if session.scalar(select(KeyRate.id).where(KeyRate.valid_from == valid_from)) is not None:
        raise DomainError(
            _("There is already a key rate from %(date)s.", date=format_date(valid_from)),
            "valid_from",
        )
    row = KeyRate(valid_from=valid_from, percent=percent, staff_id=staff_id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=AuditObject.KEY_RATE,
        object_id=row.id,
        summary=f"key rate {percent} % from {valid_from.isoformat()}",
        changes={"percent": [None, str(percent)], "valid_from": [None, valid_from.isoformat()]},
        ip_address=ip,
    )
    return Added(row)


def add_key_rate_cap(
    session: Session,
    *,
    percent,
    valid_from: date | None,
    valid_to: date | None,
    staff_id: int | None = None,
    ip: str | None = None,
) -> Added:
    """A cap on the key rate penalties take from ``valid_from`` to ``valid_to`` inclusive;
    caps do not overlap, and none starts in a closed period."""
    percent = parse_percent(percent)
    valid_from = check_date(valid_from)
    valid_to = check_date(valid_to, "valid_to")
    if valid_to < valid_from:
        raise DomainError(_("The cap cannot end before it starts."), "valid_to")
    _refuse_closed(session, valid_from)
    overlapping = session.scalar(
        select(KeyRateCap).where(
            KeyRateCap.valid_from <= valid_to, KeyRateCap.valid_to >= valid_from
        )
    )
    if overlapping is not None:
        raise DomainError(
            _(
                "A cap from %(first)s to %(last)s already covers some of these days.",
                first=format_date(overlapping.valid_from),
                last=format_date(overlapping.valid_to),
            ),
            "valid_from",
        )
    row = KeyRateCap(valid_from=valid_from, valid_to=valid_to, percent=percent, staff_id=staff_id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=AuditObject.KEY_RATE,
        object_id=row.id,
        summary=f"key rate cap {percent} % from {valid_from.isoformat()} to {valid_to.isoformat()}",
        changes={
            "cap": [None, str(percent)],
            "valid_from": [None, valid_from.isoformat()],
            "valid_to": [None, valid_to.isoformat()],
        },
        ip_address=ip,
    )
    return Added(row)


def key_rate_caps(session: Session) -> list[tuple]:
    """(cap, staff name) newest first."""
    return list(
        session.execute(
            select(KeyRateCap, Staff.full_name)
            .outerjoin(Staff, Staff.id == KeyRateCap.staff_id)
            .order_by(KeyRateCap.valid_from.desc())
        )
    )


# --- what the pages show -----------------------------------------------------------------


def in_force(row, day: date) -> bool:
    return row.valid_from <= day and (row.valid_to is None or row.valid_to >= day)


@dataclass
class Line:
    """One key of a dated table: what is in force on the day and what comes next."""

    service: Service
    zone: Zone | None = None
    category: Category | None = None
    current: object | None = None
    upcoming: object | None = None
    versions: int = 0


def tariff_table(session: Session, today: date) -> list[Line]:
    """Every (service, zone, category) with its current and next tariff. Two queries at most."""
    lines = {
        (service, zone, category): Line(service, zone, category)
        for service, zones in SERVICE_ZONES.items()
        for zone in zones
        for category in Category
    }
    for row in session.scalars(select(Tariff).order_by(Tariff.valid_from)):
        line = lines.get((row.service, row.zone, row.category))
        if line is None:
            continue
        _place(line, row, today)
    return list(lines.values())


def norm_table(session: Session, today: date) -> list[Line]:
    lines = {service: Line(service) for service in SERVICE_ZONES}
    for row in session.scalars(select(ConsumptionNorm).order_by(ConsumptionNorm.valid_from)):
        if row.service in lines:
            _place(lines[row.service], row, today)
    return list(lines.values())


def _place(line: Line, row, today: date) -> None:
    line.versions += 1
    if in_force(row, today):
        line.current = row
    elif row.valid_from > today and line.upcoming is None:
        line.upcoming = row


def tariff_history(session: Session, service: str, zone: str, category: str) -> list[tuple]:
    """(tariff, staff name) of one key, newest first."""
    check_key(service, zone, category)
    return list(
        session.execute(
            select(Tariff, Staff.full_name)
            .outerjoin(Staff, Staff.id == Tariff.staff_id)
            .where(Tariff.service == service, Tariff.zone == zone, Tariff.category == category)
            .order_by(Tariff.valid_from.desc())
        )
    )


def norm_history(session: Session, service: str) -> list[tuple]:
    check_key(service)
    return list(
        session.execute(
            select(ConsumptionNorm, Staff.full_name)
            .outerjoin(Staff, Staff.id == ConsumptionNorm.staff_id)
            .where(ConsumptionNorm.service == service)
            .order_by(ConsumptionNorm.valid_from.desc())
        )
    )


def key_rate_history(session: Session) -> list[tuple]:
    """(key rate, staff name, valid until) newest first; each rate holds until the next."""
    rows = list(
        session.execute(
            select(KeyRate, Staff.full_name)
            .outerjoin(Staff, Staff.id == KeyRate.staff_id)
            .order_by(KeyRate.valid_from.desc())
        )
    )
    history, following = [], None
    for rate, name in rows:
        until = None if following is None else following - timedelta(days=1)
        history.append((rate, name, until))
        following = rate.valid_from
    return history
