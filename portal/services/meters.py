"""Meters through their life: registration on an account with an initial reading,
replacement (final and initial readings on one day), faulty and back in service, seal and
verification dates; the meter's card; meters whose state verification (поверка) is due.

Readings are judged and stored by ``portal.services.readings``, never here. Every change
is audited together with the change itself: the services flush, the caller commits once.
Dates are compared with the supplier's day (``clock.local_today``).
"""

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.models import (
    Account,
    AuditEvent,
    Customer,
    Meter,
    MeterStatus,
    Premises,
    Reading,
    ReadingSource,
    Service,
    Staff,
)
from portal.models.audit import AuditAction, AuditObject
from portal.models.metering import ZONE_NAMES
from portal.services import audit, exports, readings, settings
from portal.services.clock import local_today
from portal.services.customers import clean_term, text_matches
from portal.services.errors import DomainError, NotFound
from portal.services.readings import MAX_ID, MAX_RECEIPT_READINGS, ZoneErrors

PAGE_SIZE = 25
MAX_REASON_LENGTH = 300
HISTORY_PAGE_SIZE = 24
# The digits a meter's register may have (the table's check constraints say the same).
WHOLE_DIGITS = (1, 12)
FRACTION_DIGITS = (0, 4)
SERIAL_LENGTH = 40
MODEL_LENGTH = 100
SEAL_LENGTH = 40


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
    _audit(
        session,
        AuditAction.SEARCH,
        None,
        term,
        staff_id=staff_id,
        ip=ip,
    )


def get_meter(session: Session, meter_id: int) -> Meter:
    """The meter with its account, premises and customer, or NotFound."""
    if not 0 < meter_id <= MAX_ID:
        raise NotFound()
    meter = session.scalar(_with_owner(select(Meter).where(Meter.id == meter_id)))
    if meter is None:
        raise NotFound()
    return meter


def _audit(
    session: Session,
    action: AuditAction,
    meter_id: int | None,
    summary: str,
    *,
    staff_id: int,
    ip: str | None,
    changes: dict | None = None,
) -> None:
    """Every staff search, view and change of a meter is audited (152-ФЗ)."""
    audit.record(
        session,
        staff_id=staff_id,
        action=action,
        object_type=AuditObject.METER,
        object_id=meter_id,
        summary=summary,
        changes=changes,
        ip_address=ip,
    )


def record_view(session: Session, meter_id: int, *, staff_id: int, ip: str | None) -> None:
    """Opening a meter shows its customer's name and address (152-ФЗ): audited."""
    found = session.execute(
        select(Meter.id, Meter.serial_number).where(Meter.id == meter_id)
    ).first()
    if found is None:
        raise NotFound()
    _audit(
        session,
        AuditAction.VIEW,
        found.id,
        found.serial_number,
        staff_id=staff_id,
        ip=ip,
    )


# --- the card -------------------------------------------------------------------------------


@dataclass
class MeterCard:
    meter: Meter
    staff_names: dict[int, str]  # of the staff behind the readings shown and the changes
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
    session: Session, meter_id: int, shown: list[Reading], *, staff_id: int, ip: str | None
) -> MeterCard:
    """The meter, its changes and the names of the staff behind them and behind the
    readings ``shown`` (a page of ``readings.history_query``); the view is audited. A
    constant number of queries whatever the length of the history."""
    record_view(session, meter_id, staff_id=staff_id, ip=ip)
    meter = session.scalar(
        _with_owner(select(Meter).where(Meter.id == meter_id)).options(
            selectinload(Meter.account).selectinload(Account.meters)
        )
    )
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.object_type == "meter",
                AuditEvent.object_id == meter.id,
                AuditEvent.action.in_(("create", "update")),
            )
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        )
    )
    staff_ids = {event.staff_id for event in events} | {
        staff_id
        for reading in shown
        for staff_id in (reading.entered_by_staff_id, reading.reviewed_by_staff_id)
    }
    staff_names = dict(
        session.execute(
            select(Staff.id, Staff.full_name).where(Staff.id.in_(staff_ids - {None}))
        ).all()
    )
    day = local_today()
    return MeterCard(
        meter=meter,
        staff_names=staff_names,
        events=events,
        today=day,
        verification_warning_before=day + timedelta(days=_warning_days(session)),
    )


def _warning_days(session: Session) -> int:
    return settings.get(session, "meters.verification_warning_days")


# --- registering and replacing --------------------------------------------------------------


@dataclass(frozen=True)
class MeterSpec:
    """What a fitter writes in the installation act."""

    serial_number: str
    installed_on: date
    verification_due: date
    service: str = Service.ELECTRICITY
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
    if len(serial) > SERIAL_LENGTH:
        raise DomainError(_("The serial number is at most 40 characters."), "serial_number")
    _check_service_and_zones(spec, account)
    if not WHOLE_DIGITS[0] <= spec.whole_digits <= WHOLE_DIGITS[1]:
        raise DomainError(_("Between 1 and 12 digits before the decimal point."), "whole_digits")
    if not FRACTION_DIGITS[0] <= spec.fraction_digits <= FRACTION_DIGITS[1]:
        raise DomainError(_("Between 0 and 4 digits after the decimal point."), "fraction_digits")
    if spec.installed_on > local_today():
        raise DomainError(_("The installation date cannot be in the future."), "installed_on")
    if spec.verification_due <= spec.installed_on:
        raise DomainError(
            _("The verification is due after the installation date."), "verification_due"
        )
    model, seal = _text(spec.model), _checked_seal(spec.seal_number)
    if model and len(model) > MODEL_LENGTH:
        raise DomainError(_("The model is at most 100 characters."), "model")
    return replace(
        spec,
        serial_number=serial,
        model=model,
        seal_number=seal,
        remote_read=bool(spec.remote_read),
    )


def _check_service_and_zones(spec: MeterSpec, account: Account) -> None:
    if spec.service not in Service.values():
        raise DomainError(_("Choose the service the meter measures."), "service")
    if spec.service not in {item.service for item in account.services}:
        raise DomainError(_("This service is not supplied on the account."), "service")
    if spec.zones not in ZONE_NAMES:
        raise DomainError(_("A meter has 1, 2 or 3 tariff zones."), "zones")
    if spec.zones > 1 and not Service(spec.service).has_zones:
        raise DomainError(_("Only electricity meters have several tariff zones."), "zones")


def _checked_seal(seal_number: str | None) -> str | None:
    seal = _text(seal_number)
    if seal and len(seal) > SEAL_LENGTH:
        raise DomainError(_("The seal number is at most 40 characters."), "seal_number")
    return seal


def _check_serial_free(session: Session, spec: MeterSpec, except_id: int | None = None) -> None:
    query = select(Meter.id).where(
        Meter.serial_number == spec.serial_number,
        Meter.service == spec.service,
        Meter.status != MeterStatus.REMOVED,
    )
    if except_id is not None:
        query = query.where(Meter.id != except_id)
    if session.scalar(query.limit(1)) is not None:
        raise DomainError(
            _("A meter with this serial number is already in service."), "serial_number"
        )


def _zone_values(zones, raw: dict[str, str | None], field: str, missing: str) -> dict[str, str]:
    """The values of the meter's ``zones``, {zone name: text}; every zone of the meter needs
    one (else ``missing``) and a zone it lacks must stay empty. Errors name the field
    ``{field}_{zone}``."""
    typed = {zone: (text or "").strip() for zone, text in (raw or {}).items()}
    for zone, text in typed.items():
        if text and zone not in zones:
            raise DomainError(
                _("The meter has no such zone: leave this field empty."), f"{field}_{zone}"
            )
    for zone in zones:
        if not typed.get(zone):
            raise DomainError(missing, f"{field}_{zone}")
    return {zone: typed[zone] for zone in zones}


def _checked_values(
    session: Session, meter: Meter, raw: dict[str, str | None], field: str, day: date
) -> dict[str, str]:
    """The register values of the act for every zone of the meter, refused before anything
    is stored when the readings service would reject them (its own rules: ``refusals``);
    a value it would only send to review is let through (staff confirm what they typed
    from the act). Errors name the field ``{field}_{zone}``."""
    missing = (
        _("Enter the final reading of this zone.")
        if field == "final"
        else _("Enter the reading of this zone.")
    )
    values = _zone_values(meter.zone_names, raw, field, missing)
    refused = readings.refusals(session, meter, values, taken_on=day, source=ReadingSource.OPERATOR)
    if refused:
        raise ZoneErrors({f"{field}_{zone}": message for zone, message in refused.items()})
    return values


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
        status=MeterStatus.ACTIVE,
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


def get_account(session: Session, account_id: int) -> Account:
    """The account a meter is to be registered on, with its services, or NotFound."""
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
    return account


def installation_refusal(account: Account) -> str | None:
    """Why no meter can be installed on the account, or None."""
    if account.closed_on is not None:
        return _("The account is closed: no meter can be installed on it.")
    return None


def _open_account(session: Session, account_id: int) -> Account:
    account = get_account(session, account_id)
    refusal = installation_refusal(account)
    if refusal is not None:
        raise DomainError(refusal)
    return account


def _install(session: Session, meter: Meter, summary: str, *, staff_id, ip, **changes) -> None:
    """Store a new meter; audited with its description (and ``changes``)."""
    session.add(meter)
    session.flush()
    _audit(
        session,
        AuditAction.CREATE,
        meter.id,
        summary,
        staff_id=staff_id,
        ip=ip,
        changes={key: [None, str(value)] for key, value in _description(meter).items()}
        | {key: [None, value] for key, value in changes.items()},
    )


def _operator_readings(session, meter: Meter, values: dict[str, str], day: date, staff_id, ip):
    """The readings of an act, taken on ``day`` and entered by staff (checked before)."""
    readings.submit(
        session,
        meter,
        values,
        source=ReadingSource.OPERATOR,
        taken_on=day,
        staff_id=staff_id,
        confirmed=True,
        ip=ip,
    )


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
    account = _open_account(session, account_id)
    spec = _checked_spec(spec, account)
    _check_serial_free(session, spec)
    meter = _new_meter(account, spec)
    values = _checked_values(session, meter, initial_values, "initial", spec.installed_on)
    summary = _("Installed on account %(number)s", number=account.number)
    _install(session, meter, summary, staff_id=staff_id, ip=ip)
    _operator_readings(session, meter, values, spec.installed_on, staff_id, ip)
    return meter


def change_refusal(meter: Meter) -> str | None:
    """Why the meter cannot be changed (replaced, its seal or dates), or None."""
    if meter.status == MeterStatus.REMOVED:
        return _("The meter has been removed: it cannot be changed.")
    return None


def status_refusal(meter: Meter, status: MeterStatus) -> str | None:
    """Why the meter cannot be marked faulty or put back in service (``status``), or None."""
    if meter.status == status:
        if status == MeterStatus.FAULTY:
            return _("The meter is already marked faulty.")
        return _("The meter is already in service.")
    return change_refusal(meter)


def _live_meter(session: Session, meter_id: int) -> Meter:
    meter = get_meter(session, meter_id)
    refusal = change_refusal(meter)
    if refusal is not None:
        raise DomainError(refusal)
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
    reading, both on the replacement day (``spec.installed_on``); the old one is removed.

    A faulty meter has no trustworthy register: it is replaced without a final reading.
    Everything is checked before anything is stored; the readings, both meters and the
    audit events go in one transaction.
    """
    old = _live_meter(session, meter_id)
    account = _open_account(session, old.account_id)
    spec = _checked_spec(replace(spec, service=old.service), account)
    day = spec.installed_on
    _check_replacement_day(session, old, day)
    _check_serial_free(session, spec, except_id=old.id)
    final = (
        _checked_values(session, old, final_values, "final", day)
        if old.status == MeterStatus.ACTIVE
        else {}
    )
    new = _new_meter(account, spec)
    initial = _checked_values(session, new, initial_values, "initial", day)
    if final:
        _operator_readings(session, old, final, day, staff_id, ip)
    _take_off(session, old, new.serial_number, day, staff_id=staff_id, ip=ip)
    summary = _("Replaces meter %(serial)s", serial=old.serial_number)
    _install(session, new, summary, staff_id=staff_id, ip=ip, replaces=old.serial_number)
    _operator_readings(session, new, initial, day, staff_id, ip)
    return new


def _check_replacement_day(session: Session, old: Meter, day: date) -> None:
    """The replacement is not earlier than the old meter's installation or last reading."""
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


def _take_off(session: Session, old: Meter, serial: str, day: date, *, staff_id, ip) -> None:
    """The old meter removed, replaced by the meter ``serial``; audited."""
    _audit(
        session,
        AuditAction.UPDATE,
        old.id,
        _("Replaced on %(date)s by meter %(serial)s", date=day.isoformat(), serial=serial),
        staff_id=staff_id,
        ip=ip,
        changes={"status": [old.status, MeterStatus.REMOVED], "replaced_by": [None, serial]},
    )
    old.status = MeterStatus.REMOVED


# --- status, seal and verification ----------------------------------------------------------


def _clean_reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Say why: it stays in the meter's history."), "reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise DomainError(
            ngettext(
                "Keep the reason under %(num)s character.",
                "Keep the reason under %(num)s characters.",
                MAX_REASON_LENGTH,
            ),
            "reason",
        )
    return reason


def _set_status(
    session: Session, meter_id: int, status: MeterStatus, reason, staff_id, ip
) -> Meter:
    """The meter from the other status (faulty ↔ in service) to ``status``; audited."""
    reason = _clean_reason(reason)
    meter = _live_meter(session, meter_id)
    refusal = status_refusal(meter, status)
    if refusal is not None:
        raise DomainError(refusal)
    _audit(
        session,
        AuditAction.UPDATE,
        meter.id,
        reason,
        staff_id=staff_id,
        ip=ip,
        changes={"status": [meter.status, status]},
    )
    meter.status = status
    session.flush()
    return meter


def mark_faulty(
    session: Session, meter_id: int, reason: str, *, staff_id: int, ip: str | None = None
) -> Meter:
    """From now on the meter takes no readings (the readings service refuses them) and the
    account is charged by the average until the meter is repaired or replaced."""
    return _set_status(session, meter_id, MeterStatus.FAULTY, reason, staff_id, ip)


def mark_repaired(
    session: Session, meter_id: int, reason: str, *, staff_id: int, ip: str | None = None
) -> Meter:
    """A faulty meter back in service (repaired, or the fault was not confirmed)."""
    return _set_status(session, meter_id, MeterStatus.ACTIVE, reason, staff_id, ip)


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
    seal = _checked_seal(seal_number)
    _check_verification(meter, verification_due, verified_on)
    before = {"seal_number": meter.seal_number, "verification_due": meter.verification_due}
    after = {"seal_number": seal, "verification_due": verification_due}
    changes = audit.diff(before, after)
    if verified_on is not None:
        changes["verified_on"] = [None, verified_on.isoformat()]
    if not changes:
        return {}
    meter.seal_number = seal
    meter.verification_due = verification_due
    _audit(
        session,
        AuditAction.UPDATE,
        meter.id,
        meter.serial_number,
        staff_id=staff_id,
        ip=ip,
        changes=changes,
    )
    session.flush()
    return changes


def _check_verification(meter: Meter, due: date, verified_on: date | None) -> None:
    if verified_on is not None and verified_on > local_today():
        raise DomainError(_("The verification date cannot be in the future."), "verified_on")
    if verified_on is not None and verified_on < meter.installed_on:
        raise DomainError(_("The meter was installed later."), "verified_on")
    if due <= meter.installed_on:
        raise DomainError(
            _("The verification is due after the installation date."), "verification_due"
        )
    if verified_on is not None and due <= verified_on:
        raise DomainError(
            _("The next verification is due after the one just made."), "verification_due"
        )


# --- verification due -----------------------------------------------------------------------


def verification_limit(session: Session, day: date | None = None) -> date:
    """Meters due on or before this day are listed: overdue ones and those due soon."""
    return (day or local_today()) + timedelta(days=_warning_days(session))


def _due_for_verification(query: Select, session: Session, day: date | None) -> Select:
    """Meters in service or faulty on open accounts whose verification is overdue or due
    within the warning setting, the most urgent first."""
    return (
        query.join(Meter.account)
        .where(
            Meter.status != MeterStatus.REMOVED,
            Account.closed_on.is_(None),
            Meter.verification_due <= verification_limit(session, day),
        )
        .order_by(Meter.verification_due, Account.number, Meter.id)
    )


def verification_due(session: Session, day: date | None = None) -> Select:
    """The meters whose verification is due (``_due_for_verification``), with their owners."""
    return _with_owner(_due_for_verification(select(Meter), session, day))


def verification_csv(session: Session, *, staff_id: int, ip: str | None) -> bytes:
    """Every meter of the list as CSV for Excel (``exports.csv_file``), in one query;
    exporting names and phones is audited."""
    day = local_today()
    columns = select(
        Account.number,
        Premises.address,
        Customer.full_name,
        Customer.phone,
        Meter.service,
        Meter.serial_number,
        Meter.model,
        Meter.status,
        Meter.verification_due,
    ).select_from(Meter)
    query = _due_for_verification(columns, session, day).join(Account.premises)
    rows = session.execute(query.join(Account.customer)).all()
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
            str(row.service.label),
            row.serial_number,
            row.model or "",
            str(row.status.label),
            row.verification_due.isoformat(),
            _("yes") if row.verification_due < day else _("no"),
        ]
        for row in rows
    ]
    _audit(
        session,
        AuditAction.EXPORT,
        None,
        _("Meters due for verification: %(n)s rows", n=len(rows)),
        staff_id=staff_id,
        ip=ip,
    )
    session.flush()
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
    ids = sorted({i for i in reading_ids if 0 < i <= MAX_ID})[:MAX_RECEIPT_READINGS]
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
