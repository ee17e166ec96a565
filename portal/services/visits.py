"""Office visits: the hours of an office on a day, the free times a service can be booked
for, and booking, moving and cancelling a visit (DOMAIN.md "Office visits and
appointments"; 002 §11, 003, 004 §8.4).

One source of free times: ``availability(session, office, service)`` reads the work
calendar, the office's closures and its bookings once and answers for any day, for the
portal's calendar and for the check made again, under a lock, when a visit is booked.

Rules:

- An office works the hours of its weekly plan for the weekday, less its breaks, in its own
  time zone. It is shut on a day the work calendar makes a holiday or a day off (even a
  Saturday it usually works), and during its closures. A Saturday or Sunday the calendar
  makes a working day (a day off moved by decree) is worked by the plan of that weekday if
  the office has one, else by its Friday hours.
- A service's times start at each opening (and after each break) and follow each other by
  the service's duration (``visits.minutes_<service>``); a visit must end by the break or
  the close.
- Each window is a place: a time is free while fewer visits than windows overlap it at
  every moment.
- A time can be booked from ``visits.min_notice_hours`` ahead to ``visits.max_days_ahead``
  days ahead (counted in the office's days), and a customer holds at most
  ``visits.active_bookings_limit`` booked visits still to come.

Places are held by the database: booking first raises the office's ``booking_seq`` (an
UPDATE: a row lock on PostgreSQL, the write lock on SQLite), then locks the customer's row,
and only then counts what is taken; two customers after the last place are served one after
the other and the second sees it gone. The caller commits.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.models import Booking, BookingStatus, Office, OfficeClosure, User, VisitService
from portal.services import settings, workdays
from portal.services.clock import utcnow
from portal.services.errors import DomainError, FieldErrors, NotFound

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FRIDAY = 4
CODE_ALPHABET = "23456789ACEFHKLMNPRTXY"  # no 0/O, 1/I, B/8 to misread
CODE_LENGTH = 6
HELD = (BookingStatus.BOOKED, BookingStatus.CHECKED_IN, BookingStatus.SERVED)


# --- the plan of an office ------------------------------------------------------------------


@dataclass(frozen=True)
class Hours:
    """An office's hours on one day: opens, closes and its breaks (local times)."""

    opens: time
    closes: time
    breaks: tuple[tuple[time, time], ...] = ()

    def intervals(self) -> list[tuple[time, time]]:
        """The working stretches of the day: the hours less the breaks."""
        stretches, start = [], self.opens
        for break_start, break_end in sorted(self.breaks):
            if break_start > start:
                stretches.append((start, break_start))
            start = max(start, break_end)
        if start < self.closes:
            stretches.append((start, self.closes))
        return stretches

    @property
    def minutes(self) -> int:
        return sum(_minutes(end) - _minutes(start) for start, end in self.intervals())


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _time(text: str) -> time:
    return time.fromisoformat(text)


def parse_plan(weekly_plan: dict) -> dict[int, Hours]:
    """{weekday: Hours} from the stored plan ({"mon": ["09:00", "18:00", "13:00", "14:00"]})."""
    plan = {}
    for weekday, key in enumerate(DAY_KEYS):
        entry = (weekly_plan or {}).get(key)
        if not entry:
            continue
        pairs = (entry[i : i + 2] for i in range(2, len(entry) - 1, 2))
        # [None, None]: no break that day (as plans were stored before breaks were a list)
        breaks = tuple((_time(a), _time(b)) for a, b in pairs if a and b)
        plan[weekday] = Hours(_time(entry[0]), _time(entry[1]), breaks)
    return plan


def weekly_minutes(weekly_plan: dict) -> int:
    """Minutes a week the office receives people (002 §11.1: at least 25 hours)."""
    return sum(hours.minutes for hours in parse_plan(weekly_plan).values())


def zone_of(office: Office) -> ZoneInfo:
    return ZoneInfo(office.timezone or "Europe/Moscow")


def closure_on(closures, day: date):
    return next((c for c in closures if c.first_day <= day <= c.last_day), None)


def hours_on(
    plan: dict[int, Hours], day: date, calendar: workdays.Calendar, closures=()
) -> Hours | None:
    """The office's hours on ``day``, or None when it is shut (see the module's rules)."""
    if closure_on(closures, day) or calendar.is_holiday(day):
        return None
    weekday = day.weekday()
    if weekday >= 5 and calendar.is_working_day(day):
        return plan.get(weekday) or plan.get(FRIDAY)
    return plan.get(weekday)


# --- rules and free times ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    min_notice: timedelta
    max_days_ahead: int
    limit: int


def rules(session: Session) -> Rules:
    return Rules(
        min_notice=timedelta(hours=settings.get(session, "visits.min_notice_hours")),
        max_days_ahead=settings.get(session, "visits.max_days_ahead"),
        limit=settings.get(session, "visits.active_bookings_limit"),
    )


def duration(session: Session, service: VisitService) -> timedelta:
    return timedelta(minutes=settings.get(session, f"visits.minutes_{VisitService(service)}"))


def free_places(
    taken: list[tuple[datetime, datetime]], start: datetime, end: datetime, windows: int
) -> int:
    """Windows left for a visit from ``start`` to ``end``: the windows less the most visits
    that overlap it at any one moment (the most is reached at its start or at the start of
    one of the visits overlapping it)."""
    overlapping = [(s, e) for s, e in taken if s < end and e > start]
    moments = [start] + [s for s, _e in overlapping if s > start]
    busiest = max((sum(1 for s, e in overlapping if s <= m < e) for m in moments), default=0)
    return max(windows - busiest, 0)


@dataclass(frozen=True)
class Slot:
    starts_at: datetime  # UTC
    ends_at: datetime
    local: datetime  # the start in the office's zone, as shown
    free: int


@dataclass(frozen=True)
class DayView:
    day: date
    hours: Hours | None
    free_times: int  # bookable times left that day


class Availability:
    """What an office can offer for one service, from ``now``: built once (three queries),
    asked for any day."""

    def __init__(
        self, session: Session, office: Office, service: VisitService, now=None, exclude=None
    ):
        self.office = office
        self.service = VisitService(service)
        self.now = now or utcnow()
        self.zone = zone_of(office)
        self.rules = rules(session)
        self.length = duration(session, self.service)
        self.plan = parse_plan(office.weekly_plan)
        self.calendar = workdays.calendar(session)
        self.today = self.now.astimezone(self.zone).date()
        self.last_day = self.today + timedelta(days=self.rules.max_days_ahead)
        self.closures = session.scalars(
            select(OfficeClosure).where(
                OfficeClosure.office_id == office.id,
                OfficeClosure.last_day >= self.today,
                OfficeClosure.first_day <= self.last_day,
            )
        ).all()
        self.taken: dict[date, list] = {}
        for start, end in taken_times(session, office.id, self.now, exclude=exclude):
            self.taken.setdefault(start.astimezone(self.zone).date(), []).append((start, end))

    def offered(self) -> bool:
        return self.service in self.office.offered

    def hours(self, day: date) -> Hours | None:
        return hours_on(self.plan, day, self.calendar, self.closures)

    def slots(self, day: date) -> list[Slot]:
        """The day's times still bookable (free, with the notice, within the days ahead)."""
        hours = self.hours(day)
        if hours is None or not self.offered() or not self.today <= day <= self.last_day:
            return []
        earliest = self.now + self.rules.min_notice
        found = []
        for start, end in hours.intervals():
            moment = datetime.combine(day, start, self.zone)
            close = datetime.combine(day, end, self.zone)
            while moment + self.length <= close:
                starts_at = moment.astimezone(UTC)
                taken = self.taken.get(day, [])
                free = free_places(taken, starts_at, starts_at + self.length, self.office.windows)
                if free and starts_at >= earliest:
                    found.append(Slot(starts_at, starts_at + self.length, moment, free))
                moment += self.length
        return found

    def days(self) -> list[DayView]:
        """Every day from today to the last bookable one, with its hours and free times."""
        count = (self.last_day - self.today).days + 1
        days = (self.today + timedelta(days=n) for n in range(count))
        return [DayView(day, self.hours(day), len(self.slots(day))) for day in days]

    def slot_at(self, starts_at: datetime) -> Slot | None:
        day = starts_at.astimezone(self.zone).date()
        return next((s for s in self.slots(day) if s.starts_at == starts_at), None)


def taken_times(session: Session, office_id: int, now: datetime, exclude=None) -> list:
    """(start, end) of the office's visits that hold a place, from today on."""
    query = select(Booking.starts_at, Booking.ends_at).where(
        Booking.office_id == office_id,
        Booking.status.in_(HELD),
        Booking.ends_at > now - timedelta(days=1),
    )
    if exclude is not None:
        query = query.where(Booking.id != exclude)
    return [(row.starts_at, row.ends_at) for row in session.execute(query)]


def availability(session: Session, office: Office, service, now=None, exclude=None) -> Availability:
    return Availability(session, office, service, now=now, exclude=exclude)


# --- booking ----------------------------------------------------------------------------------


def _lock_office(session: Session, office_id: int) -> Office:
    """Take the office's lock for the rest of the transaction (see the module's docstring)."""
    raised = session.execute(
        update(Office).where(Office.id == office_id).values(booking_seq=Office.booking_seq + 1)
    )
    if raised.rowcount != 1:
        raise NotFound("office")
    office = session.get(Office, office_id, populate_existing=True)
    return office


def _lock_user(session: Session, user_id: int) -> None:
    session.execute(select(User.id).where(User.id == user_id).with_for_update())


def active_count(session: Session, user_id: int, now: datetime, exclude=None) -> int:
    query = select(func.count(Booking.id)).where(
        Booking.user_id == user_id,
        Booking.status == BookingStatus.BOOKED,
        Booking.starts_at > now,
    )
    if exclude is not None:
        query = query.where(Booking.id != exclude)
    return session.scalar(query)


def _taken_message() -> DomainError:
    return DomainError(
        _("This time has just been taken or is no longer available. Choose another time."),
        "starts_at",
    )


def _new_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _n in range(CODE_LENGTH))
        if not session.scalar(select(Booking.id).where(Booking.code == code)):
            return code


def _check_limit(session: Session, user_id: int, now: datetime, exclude=None) -> None:
    limit = rules(session).limit
    if active_count(session, user_id, now, exclude=exclude) >= limit:
        raise DomainError(
            ngettext(
                "You already have %(num)d booked visit, the most one may hold. Cancel it or wait until it has passed.",
                "You already have %(num)d booked visits, the most one may hold. Cancel one or wait until it has passed.",
                limit,
            ),
            "starts_at",
        )


def _add_booking(session: Session, booking: Booking) -> Booking:
    try:
        with session.begin_nested():
            session.add(booking)
    except IntegrityError:  # the same code drawn twice at one moment: draw again
        booking.code = _new_code(session)
        session.add(booking)
        session.flush()
    return booking


def _chosen(starts_at: datetime | None) -> datetime:
    if starts_at is None:
        raise DomainError(_("Choose a time."), "starts_at")
    return starts_at


def _free_slot(
    session: Session, office: Office, service, starts_at: datetime | None, now: datetime
) -> Slot:
    slot = availability(session, office, service, now=now).slot_at(_chosen(starts_at))
    if slot is None:
        raise _taken_message()
    return slot


def book(
    session: Session,
    *,
    user: User,
    office_id: int,
    service,
    starts_at: datetime,
    note: str = "",
    now: datetime | None = None,
) -> Booking:
    """Book the visit at ``starts_at`` (UTC) for ``user``, or refuse with a DomainError: the
    time is taken or not offered, or the user holds as many visits as they may."""
    now = now or utcnow()
    office = _lock_office(session, office_id)
    _lock_user(session, user.id)
    slot = _free_slot(session, office, service, starts_at, now)
    _check_limit(session, user.id, now)
    booking = Booking(
        code=_new_code(session),
        office_id=office.id,
        user_id=user.id,
        service=VisitService(service),
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        full_name=user.full_name,
        phone=user.phone or "",
        email=user.email or "",
        note=(note or "").strip()[:500],
    )
    return _add_booking(session, booking)


def book_for_caller(
    session: Session,
    *,
    office_id: int,
    service,
    starts_at: datetime,
    full_name: str,
    phone: str,
    email: str = "",
    note: str = "",
    now: datetime | None = None,
) -> Booking:
    """Book a visit for someone who called the office (002 §11.2: booking by phone): the
    same free times, and the same limit of booked visits counted by the caller's phone
    (the office's lock serialises bookings of one office; a caller books through one)."""
    from portal.services.users import normalise_phone

    now = now or utcnow()
    errors = {}
    if not (full_name or "").strip():
        errors["full_name"] = _("Enter the visitor's name.")
    try:
        phone = normalise_phone(phone)
    except DomainError as error:
        errors["phone"] = error.message
    if errors:
        raise FieldErrors(errors)
    office = _lock_office(session, office_id)
    slot = _free_slot(session, office, service, starts_at, now)
    held = session.scalar(
        select(func.count(Booking.id)).where(
            Booking.phone == phone, Booking.status == BookingStatus.BOOKED, Booking.starts_at > now
        )
    )
    if held >= rules(session).limit:
        raise DomainError(_("This caller already holds as many booked visits as one may."), "phone")
    booking = Booking(
        code=_new_code(session), office_id=office.id, user_id=None, service=VisitService(service),
        starts_at=slot.starts_at, ends_at=slot.ends_at, full_name=full_name.strip()[:200], phone=phone,
        email=(email or "").strip()[:254], note=(note or "").strip()[:500],
    )  # fmt: skip
    return _add_booking(session, booking)


def changeable(session: Session, booking: Booking, now: datetime | None = None) -> bool:
    """Whether the customer may still move or cancel the visit (until the minimum notice)."""
    now = now or utcnow()
    return (
        booking.status == BookingStatus.BOOKED
        and booking.starts_at - rules(session).min_notice >= now
    )


def _check_booked(session: Session, booking: Booking, now: datetime) -> None:
    if booking.status != BookingStatus.BOOKED:
        raise DomainError(_("This visit is no longer booked."))


def _check_changeable(session: Session, booking: Booking, now: datetime) -> None:
    _check_booked(session, booking, now)
    if not changeable(session, booking, now):
        hours = settings.get(session, "visits.min_notice_hours")
        raise DomainError(
            ngettext(
                "A visit can be moved or cancelled until %(num)d hour before its time; please call the office.",
                "A visit can be moved or cancelled until %(num)d hours before its time; please call the office.",
                hours,
            )
        )


def reschedule(
    session: Session, booking: Booking, starts_at: datetime, now=None, *, by_staff: bool = False
) -> Booking:
    """Move the visit to another free time of the same office and service: the customer
    until the minimum notice, staff (moving visits a change of plan made impossible) while
    it is booked."""
    now = now or utcnow()
    check = _check_booked if by_staff else _check_changeable
    check(session, booking, now)
    office = _lock_office(session, booking.office_id)
    session.refresh(booking)
    check(session, booking, now)
    slot = availability(session, office, booking.service, now=now, exclude=booking.id).slot_at(
        _chosen(starts_at)
    )
    if slot is None:
        raise _taken_message()
    booking.starts_at, booking.ends_at = slot.starts_at, slot.ends_at
    session.flush()
    return booking


def cancel(session: Session, booking: Booking, now=None, *, by_staff: bool = False) -> Booking:
    """Cancel the visit: the customer until the minimum notice, staff at any time before it
    is served."""
    now = now or utcnow()
    (_check_booked if by_staff else _check_changeable)(session, booking, now)
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now
    session.flush()
    return booking


# --- lookups ----------------------------------------------------------------------------------


def office_or_404(session: Session, office_id: int) -> Office:
    office = session.get(Office, office_id)
    if office is None:
        raise NotFound("office")
    return office


def office_booking_or_404(session: Session, office: Office, booking_id: int) -> Booking:
    """A booking of this office (staff pages name the office in the URL)."""
    booking = session.get(Booking, booking_id)
    if booking is None or booking.office_id != office.id:
        raise NotFound("booking")
    return booking


def booking_of(session: Session, user: User, booking_id: int) -> Booking:
    """The user's own booking; anyone else's is a 404."""
    booking = session.scalar(
        select(Booking).where(Booking.id == booking_id, Booking.user_id == user.id)
    )
    if booking is None:
        raise NotFound("booking")
    return booking


def bookings_of(session: Session, user: User) -> list[Booking]:
    """The user's visits, the coming ones first."""
    return list(
        session.scalars(
            select(Booking)
            .options(selectinload(Booking.office))
            .where(Booking.user_id == user.id)
            .order_by(Booking.starts_at.desc())
        )
    )
