"""The office's day (DOMAIN.md "Operator's day view"; 003: waiting no longer than 30
minutes): booked visitors in time order, check-in on arrival, walk-in tickets (А-012) in the
same queue, "call next" per window, served and no-show.

A booked visitor who checks in gets a ticket "З-003" queued at the booked time (or their
arrival, if later); a walk-in a ticket "А-012" queued at arrival. "Call next" takes the
waiting ticket queued earliest: claimed by a conditional UPDATE (``status = 'waiting'``), so
two windows calling at once never get the same visitor. Ticket numbers are drawn under the
office's lock (``visits._lock_office``). Waiting is from arrival to the call, service from the
call to the end. The caller commits.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from portal.models import Booking, BookingStatus, Office, QueueTicket, TicketStatus, VisitService
from portal.services import customers, visits
from portal.services.clock import utcnow
from portal.services.errors import DomainError, NotFound

WALK_IN, BOOKED = "А", "З"  # Cyrillic: "А" for the queue, "З" for запись (booked)
MAX_CALL_ATTEMPTS = 20


def office_today(office: Office, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(visits.zone_of(office)).date()


def day_bounds(office: Office, day: date) -> tuple[datetime, datetime]:
    """The office's local day as UTC moments [start, end)."""
    zone = visits.zone_of(office)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass
class DayView:
    office: Office
    day: date
    bookings: list[Booking]
    waiting: list[QueueTicket]
    at_windows: dict[int, QueueTicket | None]
    done: list[QueueTicket]


def day_view(session: Session, office: Office, day: date, search: str = "") -> DayView:
    """Everything the operator's page shows, in three queries."""
    first, last = day_bounds(office, day)
    query = (
        select(Booking)
        .options(selectinload(Booking.ticket))
        .where(Booking.office_id == office.id, Booking.starts_at >= first, Booking.starts_at < last)
        .order_by(Booking.starts_at, Booking.id)
    )
    search = customers.clean_term(search)
    if search:
        query = query.where(
            or_(customers.text_matches(Booking.full_name, search), Booking.code == search.upper())
        )
    tickets = session.scalars(
        select(QueueTicket)
        .where(QueueTicket.office_id == office.id, QueueTicket.day == day)
        .order_by(QueueTicket.queue_at, QueueTicket.id)
    ).all()
    at_windows = {number: None for number in range(1, office.windows + 1)}
    for ticket in tickets:
        if ticket.status == TicketStatus.CALLED and ticket.window in at_windows:
            at_windows[ticket.window] = ticket
    return DayView(
        office=office,
        day=day,
        bookings=list(session.scalars(query)),
        waiting=[t for t in tickets if t.status == TicketStatus.WAITING],
        at_windows=at_windows,
        done=[t for t in tickets if t.status in (TicketStatus.SERVED, TicketStatus.NO_SHOW)],
    )


def _next_number(session: Session, office_id: int, day: date, prefix: str) -> int:
    highest = session.scalar(
        select(func.max(QueueTicket.number)).where(
            QueueTicket.office_id == office_id, QueueTicket.day == day, QueueTicket.prefix == prefix
        )
    )
    return (highest or 0) + 1


def walk_in(
    session: Session, office_id: int, service, full_name: str = "", now=None
) -> QueueTicket:
    """A ticket in the queue for a visitor without a booking."""
    now = now or utcnow()
    office = visits._lock_office(session, office_id)
    if VisitService(service) not in office.offered:
        raise DomainError(_("The office does not offer this service."), "service")
    day = office_today(office, now)
    ticket = QueueTicket(
        office_id=office.id,
        day=day,
        prefix=WALK_IN,
        number=_next_number(session, office.id, day, WALK_IN),
        service=VisitService(service),
        full_name=(full_name or "").strip()[:200],
        queue_at=now,
        arrived_at=now,
    )
    session.add(ticket)
    session.flush()
    return ticket


def check_in(session: Session, office_id: int, code: str, now=None) -> QueueTicket:
    """The booked visitor has arrived (the code told at the desk): into the queue at the
    booked time, or at arrival when they come late."""
    now = now or utcnow()
    office = visits._lock_office(session, office_id)
    booking = session.scalar(
        select(Booking).where(
            Booking.office_id == office.id, Booking.code == (code or "").strip().upper()
        )
    )
    if booking is None:
        raise DomainError(_("No visit with this code is booked in this office."), "code")
    day = office_today(office, now)
    if booking.starts_at.astimezone(visits.zone_of(office)).date() != day:
        raise DomainError(_("This visit is booked for another day."), "code")
    if booking.status != BookingStatus.BOOKED:
        raise DomainError(
            _("This visitor has checked in already or the visit is not booked."), "code"
        )
    booking.status = BookingStatus.CHECKED_IN
    ticket = QueueTicket(
        office_id=office.id,
        day=day,
        prefix=BOOKED,
        number=_next_number(session, office.id, day, BOOKED),
        booking_id=booking.id,
        service=booking.service,
        full_name=booking.full_name,
        queue_at=max(booking.starts_at, now),
        arrived_at=now,
    )
    session.add(ticket)
    session.flush()
    return ticket


def call_next(session: Session, office: Office, window: int, now=None) -> QueueTicket | None:
    """Call the waiting visitor queued earliest to ``window``; None when nobody waits."""
    now = now or utcnow()
    if not 1 <= window <= office.windows:
        raise DomainError(_("The office has no such window."), "window")
    day = office_today(office, now)
    busy = session.scalar(
        select(QueueTicket.id).where(
            QueueTicket.office_id == office.id,
            QueueTicket.day == day,
            QueueTicket.window == window,
            QueueTicket.status == TicketStatus.CALLED,
        )
    )
    if busy:
        raise DomainError(
            _("Finish with the visitor at this window first: served or did not come up.")
        )
    for _attempt in range(MAX_CALL_ATTEMPTS):
        candidate = session.scalar(
            select(QueueTicket.id)
            .where(
                QueueTicket.office_id == office.id,
                QueueTicket.day == day,
                QueueTicket.status == TicketStatus.WAITING,
            )
            .order_by(QueueTicket.queue_at, QueueTicket.id)
            .limit(1)
        )
        if candidate is None:
            return None
        claimed = session.execute(
            update(QueueTicket)
            .where(QueueTicket.id == candidate, QueueTicket.status == TicketStatus.WAITING)
            .values(status=TicketStatus.CALLED, called_at=now, window=window)
        )
        if claimed.rowcount == 1:
            return session.get(QueueTicket, candidate, populate_existing=True)
    return None


def ticket_of(session: Session, office: Office, ticket_id: int) -> QueueTicket:
    ticket = session.get(QueueTicket, ticket_id)
    if ticket is None or ticket.office_id != office.id:
        raise NotFound("ticket")
    return ticket


def finish(session: Session, ticket: QueueTicket, served: bool, now=None) -> QueueTicket:
    """The called visitor was served, or did not come up to the window."""
    if ticket.status != TicketStatus.CALLED:
        raise DomainError(_("This visitor is not at a window."))
    ticket.status = TicketStatus.SERVED if served else TicketStatus.NO_SHOW
    ticket.finished_at = now or utcnow()
    if ticket.booking is not None:
        ticket.booking.status = BookingStatus.SERVED if served else BookingStatus.NO_SHOW
    session.flush()
    if served and ticket.booking is not None:
        from portal.services import surveys  # the satisfaction survey follows the visit (#16)

        surveys.invite_after_visit(session, ticket.booking)
    return ticket


def booking_no_show(session: Session, office: Office, booking_id: int, now=None) -> Booking:
    """A booked visitor who did not come, once their time has passed."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.office_id != office.id:
        raise NotFound("booking")
    if booking.status != BookingStatus.BOOKED:
        raise DomainError(_("Only a booked visit not checked in can be marked as missed."))
    if booking.starts_at > (now or utcnow()):
        raise DomainError(_("The time of this visit has not come yet."))
    booking.status = BookingStatus.NO_SHOW
    session.flush()
    return booking


@dataclass(frozen=True)
class ScreenRow:
    label: str
    window: int


def screen(
    session: Session, office: Office, now=None, shown: int = 8
) -> tuple[list[ScreenRow], list[str]]:
    """The hall's screen: the tickets at windows now (the latest call first), and the next
    tickets waiting."""
    day = office_today(office, now)
    called = session.scalars(
        select(QueueTicket)
        .where(
            QueueTicket.office_id == office.id,
            QueueTicket.day == day,
            QueueTicket.status == TicketStatus.CALLED,
        )
        .order_by(QueueTicket.called_at.desc())
    ).all()
    waiting = session.scalars(
        select(QueueTicket)
        .where(
            QueueTicket.office_id == office.id,
            QueueTicket.day == day,
            QueueTicket.status == TicketStatus.WAITING,
        )
        .order_by(QueueTicket.queue_at, QueueTicket.id)
        .limit(shown)
    ).all()
    return [ScreenRow(t.label, t.window) for t in called], [t.label for t in waiting]
