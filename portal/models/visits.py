"""Service offices where customers are received: their plans, closures, bookings (visits
booked ahead) and the queue of the office's day (booked visitors who arrived and walk-ins)."""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin, UTCDateTime


class VisitService(Choice):
    """What a visitor comes for (004 §8.4, the table of average times); each one's duration
    is a setting, ``visits.minutes_<value>``."""

    RECEPTION = "reception", _l("Consultation and reception of documents")
    INVOICES = "invoices", _l("Issue of invoices and statements")
    CONTRACT = "contract", _l("Documents to conclude, change or end a contract")
    MANAGER = "manager", _l("Consultation with the head of the office")


class BookingStatus(Choice):
    BOOKED = "booked", _l("booked"), "text-bg-primary"
    CHECKED_IN = "checked_in", _l("arrived"), "text-bg-info"
    SERVED = "served", _l("served"), "text-bg-success"
    NO_SHOW = "no_show", _l("did not come"), "text-bg-warning"
    CANCELLED = "cancelled", _l("cancelled"), "text-bg-secondary"


class TicketStatus(Choice):
    WAITING = "waiting", _l("waiting"), "text-bg-info"
    CALLED = "called", _l("called"), "text-bg-primary"
    SERVED = "served", _l("served"), "text-bg-success"
    NO_SHOW = "no_show", _l("did not come up"), "text-bg-warning"


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(400))
    phones: Mapped[str] = mapped_column(String(200))
    district: Mapped[str | None] = mapped_column(String(100))
    # {"mon": ["09:00", "18:00", "13:00", "14:00"], ...}: opens, closes, then any number of
    # breaks as (start, end) pairs; a weekday missing from the plan is a day the office is shut.
    weekly_plan: Mapped[dict] = mapped_column(JSON)
    windows: Mapped[int] = mapped_column(Integer, default=1)
    # The office's own zone (an office in another region keeps its local hours).
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    # VisitService values the office offers, in the order it lists them.
    services: Mapped[list] = mapped_column(JSON, default=lambda: list(VisitService.values()))
    # Raised by every booking and ticket of the office: the UPDATE is the lock that makes
    # the check of free places and the insert one step (see portal.services.visits).
    booking_seq: Mapped[int] = mapped_column(Integer, default=0)

    closures: Mapped[list["OfficeClosure"]] = relationship(
        back_populates="office", order_by="OfficeClosure.first_day", cascade="all, delete-orphan"
    )

    @property
    def offered(self) -> list[VisitService]:
        return [VisitService(code) for code in self.services if code in VisitService.values()]


class OfficeClosure(CreatedAtMixin, Base):
    """Days an office is shut beyond its plan and the work calendar (repairs, a sanitary
    day): from ``first_day`` to ``last_day`` inclusive, in the office's zone."""

    __tablename__ = "office_closures"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")

    office: Mapped[Office] = relationship(back_populates="closures")


class Booking(CreatedAtMixin, Base):
    """A visit booked ahead: an office, a service and a time, held for one portal user."""

    __tablename__ = "bookings"
    __table_args__ = (Index("ix_bookings_office_starts", "office_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    service: Mapped[VisitService] = mapped_column(ChoiceType(VisitService, 20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[BookingStatus] = mapped_column(
        ChoiceType(BookingStatus, 12), default=BookingStatus.BOOKED
    )
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    office: Mapped[Office] = relationship()
    ticket: Mapped["QueueTicket | None"] = relationship(back_populates="booking")


class QueueTicket(CreatedAtMixin, Base):
    """A place in the office's queue for the day: a booked visitor who checked in, or a
    walk-in. Waiting is from ``arrived_at`` to ``called_at``, service to ``finished_at``."""

    __tablename__ = "queue_tickets"
    __table_args__ = (UniqueConstraint("office_id", "day", "prefix", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    day: Mapped[date] = mapped_column(Date)  # the office's local day
    prefix: Mapped[str] = mapped_column(String(2))  # "А" walk-in, "З" booked (запись)
    number: Mapped[int] = mapped_column(Integer)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), unique=True)
    service: Mapped[VisitService] = mapped_column(ChoiceType(VisitService, 20))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[TicketStatus] = mapped_column(
        ChoiceType(TicketStatus, 12), default=TicketStatus.WAITING
    )
    # When the visitor is due in the queue: the booked time, or the arrival of a walk-in.
    queue_at: Mapped[datetime] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window: Mapped[int | None] = mapped_column(Integer)

    booking: Mapped[Booking | None] = relationship(back_populates="ticket")

    @property
    def label(self) -> str:
        return f"{self.prefix}-{self.number:03d}"


class HomeVisitStatus(Choice):
    REQUESTED = "requested", _l("requested"), "text-bg-info"
    SCHEDULED = "scheduled", _l("scheduled"), "text-bg-primary"
    DONE = "done", _l("done"), "text-bg-success"
    CANCELLED = "cancelled", _l("cancelled"), "text-bg-secondary"


class HomeVisit(CreatedAtMixin, Base):
    """A visit of staff to a vulnerable customer's home (004 §8.4): asked for in writing or
    by phone, at most once a calendar year, made within 30 working days of the request."""

    __tablename__ = "home_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # asked in the portal
    requested_on: Mapped[date] = mapped_column(Date)
    due_by: Mapped[date] = mapped_column(Date)  # 30 working days after the request
    reason: Mapped[str] = mapped_column(String(500), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(400), default="")
    status: Mapped[HomeVisitStatus] = mapped_column(
        ChoiceType(HomeVisitStatus, 12), default=HomeVisitStatus.REQUESTED
    )
    visit_day: Mapped[date | None] = mapped_column(Date)
    window_from: Mapped[str | None] = mapped_column(String(5))  # "10:00", the customer's local time
    window_to: Mapped[str | None] = mapped_column(String(5))
    visitor_name: Mapped[str | None] = mapped_column(String(200))
    visitor_phone: Mapped[str | None] = mapped_column(String(20))
    scheduled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    customer: Mapped["Customer"] = relationship()  # noqa: F821
