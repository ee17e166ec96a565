"""Meters through their life: registration on an account with an initial reading,
replacement (final and initial readings on one day), faulty and back in service, seal and
verification dates; the meter's card; meters whose state verification (поверка) is due.

Readings are judged and stored by ``portal.services.readings``, never here. Every change
is audited together with the change itself (one commit).
"""

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination, SelectPagination
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.models import (
    SERVICES,
    Account,
    AuditEvent,
    Customer,
    Meter,
    Premises,
    Reading,
    Staff,
)
from portal.models.metering import ZONE_NAMES
from portal.services import audit, exports, readings, settings
from portal.services.customers import MAX_ID, clean_term, text_matches
from portal.services.errors import DomainError, NotFound

PAGE_SIZE = 25
MAX_ZONES = 3
MAX_REASON_LENGTH = 300
# Only electricity has multi-rate tariffs (day/night, peak/semi-peak/night).
MULTI_ZONE_SERVICES = ("electricity",)
HISTORY_PAGE_SIZE = 24


def today() -> date:
    """The supplier's calendar day: the one clock every meter date is compared with."""
    return readings.local_today()


# --- finding meters -------------------------------------------------------------------------


def _with_owner(query: Select) -> Select:
    return query.options(
        selectinload(Meter.account).selectinload(Account.premises),
        selectinload(Meter.account).selectinload(Account.customer),
    )


def find_meters(term: str | None) -> Select:
    """Meters by account number (all of it or its first digits) or by serial number (any
    part of it). An empty term finds nothing: the list is for looking up one customer."""
    term = clean_term(term)
    query = _with_owner(select(Meter).join(Meter.account))
    if not term:
        return query.where(Meter.id.is_(None))
    conditions = [text_matches(Meter.serial_number, term)]
    digits = re.sub(r"\D", "", term)
    if digits and re.fullmatch(r"[\d\s\-]+", term):
        conditions.append(Account.number.startswith(digits))
    return query.where(or_(*conditions)).order_by(
        Account.number, Meter.status, Meter.service, Meter.serial_number, Meter.id
    )


def record_search(session: Session, term: str, *, staff_id: int, ip: str | None) -> None:
    """A search shows customers' addresses and names: audited like the registry's."""
    term = clean_term(term)
    if not term:
        return
    audit.record(
        session,
        staff_id=staff_id,
        action="search",
        object_type="meter",
        object_id=None,
        summary=term,
        ip_address=ip,
    )
    session.commit()


def get_meter(session: Session, meter_id: int) -> Meter:
    """The meter with its account, premises and customer, or NotFound."""
    if not 0 < meter_id <= MAX_ID:
        raise NotFound()
    meter = session.scalar(_with_owner(select(Meter).where(Meter.id == meter_id)))
    if meter is None:
        raise NotFound()
    return meter


def record_view(session: Session, meter_id: int, *, staff_id: int, ip: str | None) -> None:
    """Opening a meter shows its customer's name and address (152-ФЗ): audited.

    Called before the meter is loaded: the commit would otherwise expire what was loaded.
    """
    found = session.execute(
        select(Meter.id, Meter.serial_number).where(Meter.id == meter_id)
    ).first()
    if found is None:
        raise NotFound()
    audit.record(
        session,
        staff_id=staff_id,
        action="view",
        object_type="meter",
        object_id=found.id,
        summary=found.serial_number,
        ip_address=ip,
    )
    session.commit()


# --- the card -------------------------------------------------------------------------------


@dataclass
class MeterCard:
    meter: Meter
    history: Pagination  # of readings, newest first
    staff_names: dict[int, str]
    events: list[AuditEvent]
    today: date
    verification_warning_before: date

    @property
    def verification_overdue(self) -> bool:
        return self.meter.verification_due < self.today

    @property
    def verification_soon(self) -> bool:
        return (
            not self.verification_overdue
            and self.meter.verification_due <= self.verification_warning_before
        )


def open_card(
    session: Session, meter_id: int, *, staff_id: int, ip: str | None, page: int = 1
) -> MeterCard:
    """The meter, one page of its readings (newest first) and its changes; the view is
    audited. A constant number of queries whatever the length of the history."""
    if not 0 < meter_id <= MAX_ID:
        raise NotFound()
    record_view(session, meter_id, staff_id=staff_id, ip=ip)
    meter = session.scalar(
        _with_owner(select(Meter).where(Meter.id == meter_id)).options(
            selectinload(Meter.account).selectinload(Account.meters)
        )
    )
    history = _history_page(session, meter.id, page)
    staff_ids = {
        staff_id
        for reading in history.items
        for staff_id in (reading.entered_by_staff_id, reading.reviewed_by_staff_id)
        if staff_id
    }
    staff_names = dict(
        session.execute(select(Staff.id, Staff.full_name).where(Staff.id.in_(staff_ids))).all()
    )
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.object_type == "meter",
                AuditEvent.object_id == meter.id,
                AuditEvent.action.in_(("create", "update")),
            )
            .options(selectinload(AuditEvent.staff))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        )
    )
    day = today()
    return MeterCard(
        meter=meter,
        history=history,
        staff_names=staff_names,
        events=events,
        today=day,
        verification_warning_before=day + timedelta(days=_warning_days(session)),
    )


def _history_page(session: Session, meter_id: int, page: int) -> Pagination:
    query = (
        select(Reading)
        .where(Reading.meter_id == meter_id)
        .order_by(Reading.period.desc(), Reading.taken_on.desc(), Reading.id.desc())
    )

    def paginate(number: int) -> Pagination:
        return SelectPagination(
            select=query,
            session=session,
            page=number,
            per_page=HISTORY_PAGE_SIZE,
            error_out=False,
        )

    found = paginate(max(page, 1))
    if found.pages and found.page > found.pages:
        found = paginate(found.pages)  # past the last page: the last page
    return found


def _warning_days(session: Session) -> int:
    return settings.get(session, "meters.verification_warning_days")


# --- registering and replacing --------------------------------------------------------------


@dataclass(frozen=True)
class MeterSpec:
    """What a fitter writes in the installation act."""

    serial_number: str
    installed_on: date
    verification_due: date
    service: str = "electricity"
    model: str | None = None
    zones: int = 1
    whole_digits: int = 6
    fraction_digits: int = 1
    seal_number: str | None = None
    remote_read: bool = False


def _text(value: str | None) -> str | None:
    return " ".join((value or "").split()) or None


def _checked_spec(spec: MeterSpec, account: Account) -> MeterSpec:
    serial = (spec.serial_number or "").strip().replace(" ", "")
    if not serial:
        raise DomainError(_("Enter the meter's serial number."), "serial_number")
    if len(serial) > 40:
        raise DomainError(_("The serial number is at most 40 characters."), "serial_number")
    if spec.service not in SERVICES:
        raise DomainError(_("Choose the service the meter measures."), "service")
    if spec.service not in {item.service for item in account.services}:
        raise DomainError(_("This service is not supplied on the account."), "service")
    if spec.zones not in (1, 2, 3):
        raise DomainError(_("A meter has 1, 2 or 3 tariff zones."), "zones")
    if spec.zones > 1 and spec.service not in MULTI_ZONE_SERVICES:
        raise DomainError(_("Only electricity meters have several tariff zones."), "zones")
    if not 1 <= spec.whole_digits <= 12:
        raise DomainError(_("Between 1 and 12 digits before the decimal point."), "whole_digits")
    if not 0 <= spec.fraction_digits <= 4:
        raise DomainError(_("Between 0 and 4 digits after the decimal point."), "fraction_digits")
    if spec.installed_on > today():
        raise DomainError(_("The installation date cannot be in the future."), "installed_on")
    if spec.verification_due <= spec.installed_on:
        raise DomainError(
            _("The verification is due after the installation date."), "verification_due"
        )
    model, seal = _text(spec.model), _text(spec.seal_number)
    if model and len(model) > 100:
        raise DomainError(_("The model is at most 100 characters."), "model")
    if seal and len(seal) > 40:
        raise DomainError(_("The seal number is at most 40 characters."), "seal_number")
    return MeterSpec(
        serial_number=serial,
        installed_on=spec.installed_on,
        verification_due=spec.verification_due,
        service=spec.service,
        model=model,
        zones=spec.zones,
        whole_digits=spec.whole_digits,
        fraction_digits=spec.fraction_digits,
        seal_number=seal,
        remote_read=bool(spec.remote_read),
    )


def _check_serial_free(session: Session, spec: MeterSpec, except_id: int | None = None) -> None:
    query = select(Meter.id).where(
        Meter.serial_number == spec.serial_number,
        Meter.service == spec.service,
        Meter.status != "removed",
    )
    if except_id is not None:
        query = query.where(Meter.id != except_id)
    if session.scalar(query.limit(1)) is not None:
        raise DomainError(
            _("A meter with this serial number is already in service."), "serial_number"
        )


def _zone_values(zones: int, raw: dict[str, str | None], field: str) -> dict[str, str]:
    """The values of the meter's zones, {zone name: text}; every zone of the meter needs
    one and a zone it lacks must stay empty. Errors name the field ``{field}_{zone}``."""
    names = ZONE_NAMES[zones]
    values = {}
    for zone, text in (raw or {}).items():
        text = (text or "").strip()
        if text and zone not in names:
            raise DomainError(
                _("The meter has no such zone: leave this field empty."), f"{field}_{zone}"
            )
    for zone in names:
        text = ((raw or {}).get(zone) or "").strip()
        if not text:
            raise DomainError(_("Enter the reading of this zone."), f"{field}_{zone}")
        values[zone] = text
    return values


def _prejudge(
    session: Session,
    meter: Meter,
    values: dict[str, str],
    taken_on: date,
    field_of: dict[str, str],
) -> None:
    """Refuse before anything is stored: a value the readings service would reject.

    The verdicts are the service's own (parse_value and judge); a value it would only send
    to review is let through (staff confirm what they typed from the act).
    """
    period = readings.period_of(taken_on)
    previous = (
        readings.previous_readings(session, [meter.id], period) if meter.id is not None else {}
    )
    threshold = settings.get(session, "readings.review_threshold")
    share = settings.get(session, "readings.rollover_share")
    for zone, raw in values.items():
        try:
            value = readings.parse_value(raw)
        except DomainError as error:
            raise DomainError(error.message, field_of[zone]) from None
        verdict = readings.judge(
            meter,
            value,
            previous.get((meter.id, zone)),
            period=period,
            source="operator",
            threshold=threshold,
            rollover_share=share,
            confirmed=True,
        )
        if verdict.outcome == "rejected":
            raise DomainError(verdict.reason, field_of[zone])


def _new_meter(account: Account, spec: MeterSpec) -> Meter:
    return Meter(
        account_id=account.id,
        service=spec.service,
        serial_number=spec.serial_number,
        model=spec.model,
        zones=spec.zones,
        whole_digits=spec.whole_digits,
        fraction_digits=spec.fraction_digits,
        installed_on=spec.installed_on,
        verification_due=spec.verification_due,
        seal_number=spec.seal_number,
        status="active",
        remote_read=spec.remote_read,
    )


def _description(meter: Meter) -> dict:
    return {
        "service": meter.service,
        "serial_number": meter.serial_number,
        "model": meter.model,
        "zones": meter.zones,
        "digits": f"{meter.whole_digits},{meter.fraction_digits}",
        "installed_on": meter.installed_on.isoformat(),
        "verification_due": meter.verification_due.isoformat(),
        "seal_number": meter.seal_number,
        "remote_read": meter.remote_read,
    }


def _account(session: Session, account_id: int) -> Account:
    account = (
        session.scalar(
            select(Account)
            .where(Account.id == account_id)
            .options(selectinload(Account.services), selectinload(Account.premises))
        )
        if 0 < account_id <= MAX_ID
        else None
    )
    if account is None:
        raise NotFound()
    if account.closed_on is not None:
        raise DomainError(_("The account is closed: no meter can be installed on it."))
    return account


def get_account(session: Session, account_id: int) -> Account:
    """The open account a meter is to be registered on, or NotFound / a DomainError."""
    return _account(session, account_id)


def register_meter(
    session: Session,
    account_id: int,
    spec: MeterSpec,
    initial_values: dict[str, str | None],
    *,
    staff_id: int,
    ip: str | None = None,
) -> Meter:
    """Install a meter on an account with its initial reading (source operator, taken on
    the installation day), {zone: value}; nothing is stored on an error."""
    account = _account(session, account_id)
    spec = _checked_spec(spec, account)
    _check_serial_free(session, spec)
    values = _zone_values(spec.zones, initial_values, "initial")
    meter = _new_meter(account, spec)
    fields = {zone: f"initial_{zone}" for zone in values}
    _prejudge(session, meter, values, spec.installed_on, fields)
    session.add(meter)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action="create",
        object_type="meter",
        object_id=meter.id,
        summary=_("Installed on account %(number)s", number=account.number),
        changes={key: [None, str(value)] for key, value in _description(meter).items()},
        ip_address=ip,
    )
    readings.submit(
        session,
        meter,
        values,
        source="operator",
        taken_on=spec.installed_on,
        staff_id=staff_id,
        confirmed=True,
        ip=ip,
    )
    return meter


def _live_meter(session: Session, meter_id: int) -> Meter:
    meter = get_meter(session, meter_id)
    if meter.status == "removed":
        raise DomainError(_("The meter has been removed: it cannot be changed."))
    return meter


def replace_meter(
    session: Session,
    meter_id: int,
    spec: MeterSpec,
    *,
    final_values: dict[str, str | None],
    initial_values: dict[str, str | None],
    staff_id: int,
    ip: str | None = None,
) -> Meter:
    """Take the old meter off with its final reading and put the new one on with its initial
    reading, both on the replacement day (``spec.installed_on``); the old one is "removed".

    A faulty meter has no trustworthy register: it is replaced without a final reading.
    One commit: the readings, both meters and the audit events are stored together.
    """
    old = _live_meter(session, meter_id)
    account = _account(session, old.account_id)
    spec = _checked_spec(replace(spec, service=old.service), account)
    day = spec.installed_on
    if day < old.installed_on:
        raise DomainError(
            _("The old meter was installed later, on %(date)s.", date=old.installed_on.isoformat()),
            "installed_on",
        )
    last_taken = max(
        (r.taken_on for r in readings.last_readings(session, [old.id]).values()), default=None
    )
    if last_taken is not None and day < last_taken:
        raise DomainError(
            _(
                "The old meter has a reading taken on %(date)s: the replacement cannot be earlier.",
                date=last_taken.isoformat(),
            ),
            "installed_on",
        )
    _check_serial_free(session, spec, except_id=old.id)
    final_fields = {zone: f"final_{zone}" for zone in old.zone_names}
    if old.status == "active":
        final = {zone: (final_values.get(zone) or "").strip() for zone in old.zone_names}
        for zone, text in final.items():
            if not text:
                raise DomainError(_("Enter the final reading of this zone."), final_fields[zone])
        _prejudge(session, old, final, day, final_fields)
    else:
        final = {}
    values = _zone_values(spec.zones, initial_values, "initial")
    new = _new_meter(account, spec)
    initial_fields = {zone: f"initial_{zone}" for zone in values}
    _prejudge(session, new, values, day, initial_fields)

    if final:
        readings.submit(
            session,
            old,
            final,
            source="operator",
            taken_on=day,
            staff_id=staff_id,
            confirmed=True,
            ip=ip,
            commit=False,
        )
    before = old.status
    old.status = "removed"
    session.add(new)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action="update",
        object_type="meter",
        object_id=old.id,
        summary=_(
            "Replaced on %(date)s by meter %(serial)s",
            date=day.isoformat(),
            serial=new.serial_number,
        ),
        changes={"status": [before, "removed"], "replaced_by": [None, new.serial_number]},
        ip_address=ip,
    )
    audit.record(
        session,
        staff_id=staff_id,
        action="create",
        object_type="meter",
        object_id=new.id,
        summary=_("Replaces meter %(serial)s", serial=old.serial_number),
        changes={key: [None, str(value)] for key, value in _description(new).items()}
        | {"replaces": [None, old.serial_number]},
        ip_address=ip,
    )
    readings.submit(
        session,
        new,
        values,
        source="operator",
        taken_on=day,
        staff_id=staff_id,
        confirmed=True,
        ip=ip,
    )
    return new


# --- status, seal and verification ----------------------------------------------------------


def _clean_reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Say why: it stays in the meter's history."), "reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise DomainError(
            _("Keep the reason under %(n)s characters.", n=MAX_REASON_LENGTH), "reason"
        )
    return reason


def _set_status(
    session: Session, meter_id: int, status: str, expected: str, reason, staff_id, ip
) -> Meter:
    reason = _clean_reason(reason)
    meter = _live_meter(session, meter_id)
    if meter.status != expected:
        if status == "faulty":
            raise DomainError(_("The meter is already marked faulty."))
        raise DomainError(_("The meter is already in service."))
    audit.record(
        session,
        staff_id=staff_id,
        action="update",
        object_type="meter",
        object_id=meter.id,
        summary=reason,
        changes={"status": [meter.status, status]},
        ip_address=ip,
    )
    meter.status = status
    session.commit()
    return meter


def mark_faulty(
    session: Session, meter_id: int, reason: str, *, staff_id: int, ip: str | None = None
) -> Meter:
    """From now on the meter takes no readings (the readings service refuses them) and the
    account is charged by the average until the meter is repaired or replaced."""
    return _set_status(session, meter_id, "faulty", "active", reason, staff_id, ip)


def mark_repaired(
    session: Session, meter_id: int, reason: str, *, staff_id: int, ip: str | None = None
) -> Meter:
    """A faulty meter back in service (repaired, or the fault was not confirmed)."""
    return _set_status(session, meter_id, "active", "faulty", reason, staff_id, ip)


def update_seal_and_verification(
    session: Session,
    meter_id: int,
    *,
    seal_number: str | None,
    verification_due: date,
    verified_on: date | None = None,
    staff_id: int,
    ip: str | None = None,
) -> dict:
    """Set the seal number and the next verification date; ``verified_on`` (the day of the
    verification just made, if any) is kept in the meter's history. Returns the changes."""
    meter = _live_meter(session, meter_id)
    seal = _text(seal_number)
    if seal and len(seal) > 40:
        raise DomainError(_("The seal number is at most 40 characters."), "seal_number")
    if verified_on is not None and verified_on > today():
        raise DomainError(_("The verification date cannot be in the future."), "verified_on")
    if verified_on is not None and verified_on < meter.installed_on:
        raise DomainError(_("The meter was installed later."), "verified_on")
    if verification_due <= meter.installed_on:
        raise DomainError(
            _("The verification is due after the installation date."), "verification_due"
        )
    if verified_on is not None and verification_due <= verified_on:
        raise DomainError(
            _("The next verification is due after the one just made."), "verification_due"
        )
    before = {"seal_number": meter.seal_number, "verification_due": meter.verification_due}
    after = {"seal_number": seal, "verification_due": verification_due}
    changes = audit.diff(before, after)
    if verified_on is not None:
        changes["verified_on"] = [None, verified_on.isoformat()]
    if not changes:
        return {}
    meter.seal_number = seal
    meter.verification_due = verification_due
    audit.record(
        session,
        staff_id=staff_id,
        action="update",
        object_type="meter",
        object_id=meter.id,
        summary=meter.serial_number,
        changes=changes,
        ip_address=ip,
    )
    session.commit()
    return changes


# --- verification due -----------------------------------------------------------------------


def verification_limit(session: Session, day: date | None = None) -> date:
    """Meters due on or before this day are listed: overdue ones and those due soon."""
    return (day or today()) + timedelta(days=_warning_days(session))


def verification_due(session: Session, day: date | None = None) -> Select:
    """Meters in service or faulty on open accounts whose verification is overdue or due
    within the warning setting, the most urgent first."""
    return _with_owner(
        select(Meter)
        .join(Meter.account)
        .where(
            Meter.status != "removed",
            Account.closed_on.is_(None),
            Meter.verification_due <= verification_limit(session, day),
        )
        .order_by(Meter.verification_due, Account.number, Meter.id)
    )


def verification_csv(session: Session, *, staff_id: int, ip: str | None) -> bytes:
    """Every meter of the list as CSV for Excel (``exports.csv_file``), in one query;
    exporting names and phones is audited."""
    from portal.formatting import METER_STATUS_LABELS, SERVICE_LABELS

    day = today()
    rows = session.execute(
        select(
            Account.number,
            Premises.address,
            Customer.full_name,
            Customer.phone,
            Meter.service,
            Meter.serial_number,
            Meter.model,
            Meter.status,
            Meter.verification_due,
        )
        .join(Meter.account)
        .join(Account.premises)
        .join(Account.customer)
        .where(
            Meter.status != "removed",
            Account.closed_on.is_(None),
            Meter.verification_due <= verification_limit(session, day),
        )
        .order_by(Meter.verification_due, Account.number, Meter.id)
    ).all()
    header = [
        _("Account"),
        _("Address"),
        _("Customer"),
        _("Phone"),
        _("Service"),
        _("Serial number"),
        _("Model"),
        _("Status"),
        _("Verification due"),
        _("Overdue"),
    ]
    lines = [
        [
            row.number,
            row.address,
            row.full_name,
            row.phone or "",
            str(SERVICE_LABELS.get(row.service, row.service)),
            row.serial_number,
            row.model or "",
            str(METER_STATUS_LABELS.get(row.status, row.status)),
            row.verification_due.isoformat(),
            _("yes") if row.verification_due < day else _("no"),
        ]
        for row in rows
    ]
    audit.record(
        session,
        staff_id=staff_id,
        action="export",
        object_type="meter",
        object_id=None,
        summary=_("Meters due for verification: %(n)s rows", n=len(rows)),
        ip_address=ip,
    )
    session.commit()
    return exports.csv_file([header, *lines])


# --- readings of a meter, as the back office shows them -------------------------------------


def _reading_query(reading_ids: list[int]) -> Select:
    return (
        select(Reading)
        .where(Reading.id.in_(reading_ids))
        .options(
            selectinload(Reading.meter).selectinload(Meter.account).selectinload(Account.premises)
        )
    )


def receipt(session: Session, reading_ids: list[int]) -> list[Reading]:
    """The readings just stored for one meter (one per zone), for the receipt; NotFound when
    the ids are none, unknown or of several meters."""
    ids = sorted({i for i in reading_ids if 0 < i <= MAX_ID})[:MAX_ZONES]
    if not ids or len(ids) != len(set(reading_ids)):
        raise NotFound()
    found = list(session.scalars(_reading_query(ids).order_by(Reading.id)))
    if len(found) != len(ids) or len({r.meter_id for r in found}) != 1:
        raise NotFound()
    return found


def reading_with_meter(session: Session, reading_id: int) -> Reading:
    """One reading with its meter, account and premises (a row of the review queue)."""
    if not 0 < reading_id <= MAX_ID:
        raise NotFound()
    reading = session.scalar(_reading_query([reading_id]))
    if reading is None:
        raise NotFound()
    return reading
