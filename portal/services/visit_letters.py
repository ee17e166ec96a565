"""What a customer is sent about a booked visit: the confirmation (with the booking code and
a signed link to move or cancel it), the notice of a move or a cancellation, and the
calendar file (.ics, RFC 5545, made by ``icalendar``). Messages go through the outbox, by
e-mail or SMS as the customer prefers; the reminder the day before is a reminder rule
(``portal.services.notify.reminders``)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_datetime
from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy.orm import Session

from portal.models import Booking, BookingStatus, Channel, User, VisitService
from portal.services import tokens, visits
from portal.services.clock import utcnow
from portal.services.errors import NotFound
from portal.services.notify import enqueue_email, enqueue_sms, send_after_commit

KINDS = ("visit_booked", "visit_moved", "visit_cancelled")


def manage_token(booking: Booking) -> str:
    return tokens.make_token("visit", {"b": booking.id, "c": booking.code})


def booking_by_token(session: Session, token: str) -> Booking:
    """The booking a letter's link names; a forged, expired or stale link is a 404."""
    payload = tokens.read_token("visit", token) or {}
    booking = session.get(Booking, payload.get("b")) if isinstance(payload.get("b"), int) else None
    if booking is None or booking.code != payload.get("c"):
        raise NotFound("booking")
    return booking


def local_start(booking: Booking) -> datetime:
    return booking.starts_at.astimezone(visits.zone_of(booking.office))


def when_text(booking: Booking) -> str:
    """ "7 December 2026, 09:00" in the office's zone, in the current language."""
    return format_datetime(
        local_start(booking).replace(tzinfo=None), "d MMMM y, HH:mm", rebase=False
    )


def ics_file(booking: Booking) -> bytes:
    office = booking.office
    calendar = Calendar()
    calendar.add("prodid", f"-//{current_app.config['SUPPLIER_NAME']}//Office visits//RU")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"visit-{booking.code}@{current_app.config.get('SERVER_NAME') or 'portal'}")
    event.add("dtstamp", utcnow())
    event.add("dtstart", booking.starts_at)
    event.add("dtend", booking.ends_at)
    event.add(
        "summary",
        _("Visit to %(office)s: %(service)s", office=office.name, service=booking.service.label),
    )
    event.add("location", office.address)
    event.add(
        "description",
        _(
            "Booking code %(code)s. Phones of the office: %(phones)s.",
            code=booking.code,
            phones=office.phones,
        ),
    )
    event.add("status", "CANCELLED" if booking.status == BookingStatus.CANCELLED else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()


def letter_values(*, booking_id, code, starts_at, service, name, address, phones, zone) -> dict:
    """What a letter about a visit says, as plain values (the reminder rule builds them from
    the columns of its query, the other letters from a booking)."""
    from portal.services.users import external_url

    local = starts_at.astimezone(ZoneInfo(zone or "Europe/Moscow")).replace(tzinfo=None)
    token = tokens.make_token("visit", {"b": booking_id, "c": code})
    return {
        "code": code,
        "when": format_datetime(local, "d MMMM y, HH:mm", rebase=False),
        "service": str(VisitService(service).label),
        "office_name": name,
        "office_address": address,
        "office_phones": phones,
        "manage_url": external_url("visits.manage", token=token),
    }


def letter_context(booking: Booking) -> dict:
    office = booking.office
    return letter_values(
        booking_id=booking.id,
        code=booking.code,
        starts_at=booking.starts_at,
        service=booking.service,
        name=office.name,
        address=office.address,
        phones=office.phones,
        zone=office.timezone,
    )


SUBJECTS = {
    "visit_booked": lambda b: _("Your visit is booked: code %(code)s", code=b.code),
    "visit_moved": lambda b: _("Your visit is moved: code %(code)s", code=b.code),
    "visit_cancelled": lambda b: _("Your visit is cancelled: code %(code)s", code=b.code),
}


def notify(session: Session, booking: Booking, kind: str, reason: str = "") -> None:
    """Plan the letter (or SMS) of ``kind`` to the booking's customer, sent once the caller
    commits (``notify.commit_and_send``); ``reason``: the office's words, when staff moved
    or cancelled the visit."""
    user = session.get(User, booking.user_id) if booking.user_id else None
    key = f"{kind}:{booking.id}:{booking.starts_at:%Y%m%d%H%M}:{utcnow():%Y%m%d%H%M%S%f}"
    context = letter_context(booking) | {"reason": reason}
    if user is not None and user.preferred_channel == Channel.SMS and user.phone:
        message = enqueue_sms(
            session,
            kind=kind,
            recipient=user.phone,
            context=context,
            dedup_key=key,
            user_id=user.id,
        )
    else:
        recipient = (user.email if user and user.is_confirmed else None) or booking.email
        if not recipient:
            if not booking.phone:
                return
            message = enqueue_sms(
                session,
                kind=kind,
                recipient=booking.phone,
                context=context,
                dedup_key=key,
                user_id=None,
            )
            send_after_commit(session, message)
            return
        message = enqueue_email(
            session,
            kind=kind,
            recipient=recipient,
            subject=SUBJECTS[kind](booking),
            context=context,
            dedup_key=key,
            user_id=user.id if user else None,
        )
    send_after_commit(session, message)
