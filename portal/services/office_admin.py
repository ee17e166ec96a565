"""Administrators edit offices: address, phones, zone, windows, services, the weekly plan
with a break, and closures. A change that makes booked visits impossible (shorter hours, a
closure, fewer windows, a service no longer offered) never drops them silently: the
bookings are listed for the operator to move or cancel, each with a message to the customer
(``impossible_bookings``, ``staff_move``, ``staff_cancel``). Audited; the caller commits."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo, available_timezones

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Booking, BookingStatus, Office, OfficeClosure, VisitService
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, visits, workdays
from portal.services.clock import utcnow
from portal.services.errors import DomainError, FieldErrors, NotFound

MIN_WEEKLY_HOURS = 25  # 002 §11.1: offices receive people at least 25 hours a week
MAX_WINDOWS = 50
MAX_CLOSURE_DAYS = 366


def _clock(text: str | None) -> time | None:
    try:
        return time.fromisoformat(text) if text else None
    except ValueError:
        return None


def _day_plan(key: str, values: dict, errors: dict) -> list | None:
    """One weekday of the form (opens, closes, break from, break to) as stored, or None."""
    raw = [
        (values.get(f"{key}_{part}") or "").strip()
        for part in ("opens", "closes", "break_from", "break_to")
    ]
    opens, closes, break_from, break_to = (_clock(text) for text in raw)
    if not raw[0] and not raw[1]:
        return None
    if opens is None or closes is None or opens >= closes:
        errors[f"{key}_opens"] = _(
            "Give the opening and closing times, opening first (09:00 and 18:00)."
        )
        return None
    if bool(raw[2]) != bool(raw[3]):
        errors[f"{key}_break_from"] = _("Give both the start and the end of the break, or neither.")
        return None
    if raw[2]:
        if break_from is None or break_to is None or not opens < break_from < break_to < closes:
            errors[f"{key}_break_from"] = _(
                "The break must start after opening and end before closing."
            )
            return None
        return [
            opens.strftime("%H:%M"),
            closes.strftime("%H:%M"),
            break_from.strftime("%H:%M"),
            break_to.strftime("%H:%M"),
        ]
    return [opens.strftime("%H:%M"), closes.strftime("%H:%M")]


def parse_plan_form(values: dict) -> dict:
    """The weekly plan from the form's fields; FieldErrors next to each wrong day."""
    errors: dict[str, str] = {}
    plan = {}
    for key in visits.DAY_KEYS:
        entry = _day_plan(key, values, errors)
        if entry:
            plan[key] = entry
    if errors:
        raise FieldErrors(errors)
    if not plan:
        raise DomainError(_("Give the hours of at least one day."), "mon_opens")
    return plan


def _checked_fields(values: dict) -> dict:
    errors = {}
    name, address = (values.get("name") or "").strip(), (values.get("address") or "").strip()
    if not name:
        errors["name"] = _("Enter the office's name.")
    if not address:
        errors["address"] = _("Enter the address.")
    try:
        windows = int(values.get("windows") or 0)
    except (TypeError, ValueError):
        windows = 0
    if not 1 <= windows <= MAX_WINDOWS:
        errors["windows"] = _("Windows: a whole number from 1 to %(most)s.", most=MAX_WINDOWS)
    zone = (values.get("timezone") or "").strip()
    if zone not in available_timezones():
        errors["timezone"] = _("Choose the office's time zone from the list.")
    services = [s for s in VisitService.values() if s in (values.get("services") or [])]
    if not services:
        errors["services"] = _("Choose at least one service.")
    if errors:
        raise FieldErrors(errors)
    return {
        "name": name[:200],
        "address": address[:400],
        "phones": (values.get("phones") or "").strip()[:200],
        "district": (values.get("district") or "").strip()[:100] or None,
        "windows": windows,
        "timezone": zone,
        "services": services,
    }


def _snapshot(office: Office) -> dict:
    return {
        "name": office.name,
        "address": office.address,
        "phones": office.phones,
        "district": office.district,
        "windows": office.windows,
        "timezone": office.timezone,
        "services": ",".join(office.services or []),
        "weekly_plan": str(office.weekly_plan),
    }


def _collected(check, values: dict, errors: dict):
    """What ``check`` returns, or None with its refusals added to ``errors``: the form shows
    every field's error at once."""
    try:
        return check(values)
    except FieldErrors as refusal:
        errors |= refusal.errors
    except DomainError as refusal:
        errors[refusal.field] = refusal.message
    return None


def save_office(
    session: Session, office: Office | None, values: dict, staff_id: int, ip: str | None
) -> Office:
    """Create or change an office from the form's values; refuses with FieldErrors."""
    errors: dict[str, str] = {}
    fields = _collected(_checked_fields, values, errors)
    plan = _collected(parse_plan_form, values, errors)
    if errors:
        raise FieldErrors(errors)
    before = _snapshot(office) if office else {}
    if office is None:
        office = Office(booking_seq=0)
        session.add(office)
    for name, value in fields.items():
        setattr(office, name, value)
    office.weekly_plan = plan
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE if before else AuditAction.CREATE,
        object_type=AuditObject.OFFICE,
        object_id=office.id,
        summary=office.name,
        changes=audit.diff(before, _snapshot(office)),
        ip_address=ip,
    )
    return office


def add_closure(
    session: Session,
    office: Office,
    first: date | None,
    last: date | None,
    reason: str,
    staff_id,
    ip,
) -> OfficeClosure:
    if first is None:
        raise DomainError(_("Enter the first day."), "first_day")
    last = last or first
    if last < first:
        raise DomainError(_("The last day cannot be before the first."), "last_day")
    if (last - first).days >= MAX_CLOSURE_DAYS:
        raise DomainError(_("A closure is at most a year long."), "last_day")
    closure = OfficeClosure(
        office_id=office.id, first_day=first, last_day=last, reason=(reason or "").strip()[:200]
    )
    session.add(closure)
    session.flush()
    audit.record(
        session, staff_id=staff_id, action=AuditAction.CREATE, object_type=AuditObject.OFFICE,
        object_id=office.id, summary=f"{office.name}: closed {first:%d.%m.%Y}–{last:%d.%m.%Y}", ip_address=ip,
    )  # fmt: skip
    return closure


def remove_closure(session: Session, office: Office, closure_id: int, staff_id, ip) -> None:
    closure = session.get(OfficeClosure, closure_id)
    if closure is None or closure.office_id != office.id:
        raise NotFound("closure")
    audit.record(
        session, staff_id=staff_id, action=AuditAction.DELETE, object_type=AuditObject.OFFICE,
        object_id=office.id, summary=f"{office.name}: closure {closure.first_day:%d.%m.%Y}–{closure.last_day:%d.%m.%Y} removed",
        ip_address=ip,
    )  # fmt: skip
    session.delete(closure)
    session.flush()


def _fits_hours(booking: Booking, hours: visits.Hours | None, zone: ZoneInfo) -> bool:
    if hours is None:
        return False
    start = booking.starts_at.astimezone(zone)
    end = booking.ends_at.astimezone(zone)
    if start.date() != end.date() and end.time() != time(0):
        return False
    return any(s <= start.time() and end.time() <= e for s, e in hours.intervals())


def impossible_bookings(
    session: Session, office: Office, now: datetime | None = None
) -> list[Booking]:
    """Booked visits still to come that the office's present plan, closures, calendar,
    services or windows no longer allow. Visits keep their places in the order they were
    booked; those beyond the windows at some moment are the ones listed."""
    now = now or utcnow()
    zone = visits.zone_of(office)
    plan = visits.parse_plan(office.weekly_plan)
    calendar = workdays.calendar(session)
    closures = session.scalars(
        select(OfficeClosure).where(OfficeClosure.office_id == office.id)
    ).all()
    coming = session.scalars(
        select(Booking)
        .where(
            Booking.office_id == office.id,
            Booking.status == BookingStatus.BOOKED,
            Booking.starts_at > now,
        )
        .order_by(Booking.created_at, Booking.id)
    ).all()
    kept: list[tuple[datetime, datetime]] = []
    impossible = []
    for booking in coming:
        hours = visits.hours_on(plan, booking.starts_at.astimezone(zone).date(), calendar, closures)
        fits = booking.service in office.offered and _fits_hours(booking, hours, zone)
        if fits and visits.free_places(kept, booking.starts_at, booking.ends_at, office.windows):
            kept.append((booking.starts_at, booking.ends_at))
        else:
            impossible.append(booking)
    return sorted(impossible, key=lambda b: b.starts_at)


def staff_cancel(session: Session, booking: Booking, reason: str, staff_id, ip) -> Booking:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Write the customer a word on why the visit is cancelled."), "reason")
    visits.cancel(session, booking, by_staff=True)
    audit.record(
        session, staff_id=staff_id, action=AuditAction.UPDATE, object_type=AuditObject.BOOKING,
        object_id=booking.id, summary=f"{booking.code} cancelled: {reason}", ip_address=ip,
    )  # fmt: skip
    return booking


def staff_move(
    session: Session, booking: Booking, starts_at: datetime | None, staff_id, ip
) -> Booking:
    if starts_at is None:
        raise DomainError(_("Choose the new time."), "starts_at")
    before = booking.starts_at
    visits.reschedule(session, booking, starts_at, by_staff=True)
    audit.record(
        session, staff_id=staff_id, action=AuditAction.UPDATE, object_type=AuditObject.BOOKING,
        object_id=booking.id, summary=f"{booking.code} moved",
        changes={"starts_at": [before.isoformat(), booking.starts_at.isoformat()]}, ip_address=ip,
    )  # fmt: skip
    return booking


def free_times_for(session: Session, booking: Booking, limit: int = 40) -> list[visits.Slot]:
    """The next free times of the booking's service in its office, to move it to."""
    view = visits.availability(session, booking.office, booking.service, exclude=booking.id)
    found: list[visits.Slot] = []
    for day in view.days():
        if day.free_times:
            found.extend(view.slots(day.day))
        if len(found) >= limit:
            break
    return found[:limit]
