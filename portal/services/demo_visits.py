"""Demo office visits: for each office, the past week's booked visitors and walk-ins with
their waits and service times (a few waits above the 30 minutes of 003, a few no-shows),
today's queue under way, and bookings for the coming week, so the office's day and its
figures show something on `make run`. Deterministic for a seed number."""

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.models import (
    Account,
    Booking,
    BookingStatus,
    Customer,
    Office,
    QueueTicket,
    TicketStatus,
    User,
    VisitService,
)
from portal.services import home_visits, visits, workdays
from portal.services.clock import supplier_zone, utcnow
from portal.services.office_day import BOOKED, WALK_IN

DAYS_BACK = 7
DAYS_AHEAD = 7
BOOKED_SHARE = 0.3  # of the grid's times, per window
WALK_INS_PER_WINDOW = 6


class _VisitSeeder:
    def __init__(self, session: Session, seed_number: int, now: datetime):
        self.session = session
        self.rng = random.Random(seed_number + 12)
        self.now = now
        self.calendar = workdays.calendar(session)
        self.users = list(session.scalars(select(User).order_by(User.id)))
        self.codes: set[str] = set()

    def code(self) -> str:
        while True:
            value = "".join(
                self.rng.choice(visits.CODE_ALPHABET) for _n in range(visits.CODE_LENGTH)
            )
            if value not in self.codes:
                self.codes.add(value)
                return value

    def grid(self, office: Office, day: date) -> list[datetime]:
        hours = visits.hours_on(
            visits.parse_plan(office.weekly_plan), day, self.calendar, office.closures
        )
        zone = visits.zone_of(office)
        times = []
        for start, end in hours.intervals() if hours else []:
            moment = datetime.combine(day, start, zone)
            while moment + timedelta(minutes=15) <= datetime.combine(day, end, zone):
                times.append(moment.astimezone(UTC))
                moment += timedelta(minutes=15)
        return times

    def booking(self, office: Office, starts_at: datetime, status: BookingStatus) -> Booking:
        user = self.rng.choice(self.users) if self.users else None
        service = self.rng.choice(office.offered)
        booking = Booking(
            code=self.code(),
            office_id=office.id,
            user_id=user.id if user else None,
            service=service,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=20 if service == VisitService.CONTRACT else 15),
            status=status,
            full_name=user.full_name if user else "Посетитель",
            phone=user.phone if user else "",
            email=user.email if user else "",
            created_at=starts_at - timedelta(days=self.rng.randint(1, 10)),
        )
        self.session.add(booking)
        return booking

    def ticket(
        self, office, day, prefix, number, arrived, booking=None, finished=True
    ) -> QueueTicket:
        wait = timedelta(minutes=self.rng.choice([2, 4, 6, 8, 10, 12, 15, 18, 22, 26, 35, 42]))
        service = timedelta(minutes=self.rng.randint(7, 19))
        called = arrived + wait
        done = finished and called + service < self.now
        ticket = QueueTicket(
            office_id=office.id, day=day, prefix=prefix, number=number,
            booking=booking, service=booking.service if booking else self.rng.choice(office.offered),
            full_name=booking.full_name if booking else "", queue_at=max(arrived, booking.starts_at) if booking else arrived,
            arrived_at=arrived, called_at=called if done else None, finished_at=called + service if done else None,
            window=self.rng.randint(1, office.windows) if done else None,
            status=TicketStatus.SERVED if done else TicketStatus.WAITING,
        )  # fmt: skip
        if booking is not None and not done:
            booking.status = BookingStatus.CHECKED_IN
        self.session.add(ticket)
        return ticket

    def past_day(self, office: Office, day: date) -> None:
        booked = 0
        for starts_at in self.grid(office, day):
            for _window in range(office.windows):
                if self.rng.random() >= BOOKED_SHARE or starts_at > self.now:
                    continue
                came = self.rng.random() > 0.1
                booking = self.booking(
                    office, starts_at, BookingStatus.SERVED if came else BookingStatus.NO_SHOW
                )
                if came:
                    booked += 1
                    arrived = starts_at - timedelta(minutes=self.rng.randint(0, 8))
                    self.ticket(office, day, BOOKED, booked, arrived, booking)
        times = self.grid(office, day)
        walk_ins = sorted(
            self.rng.sample(times, min(len(times), WALK_INS_PER_WINDOW * office.windows))
        )
        for number, arrived in enumerate((t for t in walk_ins if t < self.now), start=1):
            self.ticket(
                office, day, WALK_IN, number, arrived + timedelta(minutes=self.rng.randint(0, 14))
            )

    def future_day(self, office: Office, day: date) -> None:
        for starts_at in self.grid(office, day):
            if starts_at > self.now + timedelta(hours=2) and self.rng.random() < BOOKED_SHARE:
                self.booking(office, starts_at, BookingStatus.BOOKED)

    def office(self, office: Office, today: date) -> None:
        for offset in range(-DAYS_BACK, DAYS_AHEAD + 1):
            day = today + timedelta(days=offset)
            if offset <= 0:
                self.past_day(office, day)
            if offset >= 0:
                self.future_day(office, day)


def _home_visit_requests(session: Session, today: date) -> None:
    """Two open requests for home visits of vulnerable customers, asked for a week ago."""
    vulnerable = session.scalars(
        select(Account)
        .join(Customer, Customer.id == Account.customer_id)
        .where(or_(Customer.lives_alone_disabled.is_(True), Customer.is_veteran.is_(True)))
        .order_by(Account.id)
    )
    asked: set[int] = set()
    for account in vulnerable:
        if account.customer_id in asked or len(asked) == 2:
            continue  # once a year per customer (a customer may have two accounts)
        asked.add(account.customer_id)
        home_visits.request_visit(
            session, account=account, reason="Передать показания и подписать документы", phone="",
            today=today - timedelta(days=7),
        )  # fmt: skip


def seed_visits(session: Session, seed_number: int = 2026, now: datetime | None = None) -> None:
    """Add the demo visits to the offices already seeded, and commit."""
    seeder = _VisitSeeder(session, seed_number, now or utcnow())
    for office in session.scalars(select(Office).order_by(Office.id)):
        seeder.office(office, seeder.now.astimezone(visits.zone_of(office)).date())
    _home_visit_requests(session, seeder.now.astimezone(supplier_zone()).date())
    session.commit()
