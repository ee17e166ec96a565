"""Appeals and complaints (обращения): what a customer wrote, its deadline, its way through
the back office (the events of its timeline), its files, and the answer templates staff keep.

The rules (the state machine, the deadlines, registration numbers) are in
``portal.services.appeals``.
"""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin, UTCDateTime, utcnow


class AppealKind(Choice):
    INFORMATION = "information", _l("Request for information")
    APPLICATION = "application", _l("Application")
    COMPLAINT = "complaint", _l("Complaint or claim")
    PROPOSAL = "proposal", _l("Proposal")
    THANKS = "thanks", _l("Thanks")


class AppealTopic(Choice):
    BILLING = "billing", _l("Bills and payments")
    READINGS = "readings", _l("Meter readings")
    SUPPLY_QUALITY = "supply_quality", _l("Quality of supply")
    METER = "meter", _l("Meters")
    STAFF = "staff", _l("Our employees")
    OTHER = "other", _l("Other")


class AppealChannel(Choice):
    """How the appeal reached us."""

    WEB = "web", _l("Portal")
    EMAIL = "email", _l("E-mail")
    POST = "post", _l("Post")
    PHONE = "phone", _l("Phone")
    OFFICE = "office", _l("In the office")
    VOICEMAIL = "voicemail", _l("Answering machine")


class AnswerChannel(Choice):
    """How the customer wants the answer (it is in the portal whichever they choose)."""

    PORTAL = "portal", _l("In the portal")
    EMAIL = "email", _l("By e-mail")
    POST = "post", _l("By post")


class AppealStatus(Choice):
    REGISTERED = "registered", _l("registered"), "text-bg-secondary"
    ASSIGNED = "assigned", _l("assigned"), "text-bg-info"
    IN_WORK = "in_work", _l("in work"), "text-bg-primary"
    AWAITING_CUSTOMER = "awaiting_customer", _l("awaiting your clarification"), "text-bg-warning"
    ANSWERED = "answered", _l("answered"), "text-bg-success"
    CLOSED = "closed", _l("closed"), "text-bg-dark"
    NO_ACTION = "no_action", _l("closed without consideration"), "text-bg-danger"

    @property
    def is_open(self) -> bool:
        return self not in _FINISHED

    @property
    def staff_label(self):
        return _l("awaiting the customer") if self is AppealStatus.AWAITING_CUSTOMER else self.label


_FINISHED = frozenset({AppealStatus.ANSWERED, AppealStatus.CLOSED, AppealStatus.NO_ACTION})
OPEN_STATUSES = tuple(status for status in AppealStatus if status not in _FINISHED)
# The predicate of the partial index, written as the queue's queries write it.
OPEN_CONDITION = "status IN ({})".format(", ".join(f"'{status.value}'" for status in OPEN_STATUSES))


class NoActionReason(Choice):
    """The closed list of cases where an appeal is not acted on (002 §15.6–15.10)."""

    OFFENSIVE = "offensive", _l("Obscene or offensive language, or threats")
    UNREADABLE = "unreadable", _l("The text cannot be read")
    REPEAT = "repeat", _l("A repeat without new arguments")
    PROTECTED = "protected", _l("The answer would disclose protected information")
    NO_CONTACTS = "no_contacts", _l("No contact details")

    @property
    def sends_notice(self) -> bool:
        """002 §15.7–15.9 ask that the customer is told; §15.6 (offensive) and §15.10 (no
        contacts) ask nothing, and with no contacts there is nobody to tell."""
        return self in {NoActionReason.UNREADABLE, NoActionReason.REPEAT, NoActionReason.PROTECTED}


class AppealEventKind(Choice):
    REGISTERED = "registered", _l("Registered")
    ASSIGNED = "assigned", _l("Executor assigned")
    STARTED = "started", _l("Taken into work")
    CLARIFICATION_ASKED = "clarification_asked", _l("Clarification asked")
    CLARIFICATION_GIVEN = "clarification_given", _l("Clarification given")
    INTERIM_ANSWER = "interim_answer", _l("Interim answer, term extended")
    ANSWERED = "answered", _l("Answered")
    CLOSED = "closed", _l("Closed")
    RATED = "rated", _l("Answer rated")
    REOPENED = "reopened", _l("Reopened")
    NO_ACTION = "no_action", _l("Closed without consideration")
    NOTE = "note", _l("Internal note")
    LINKED = "linked", _l("Linked to an earlier appeal")


appeal_co_executors = Table(
    "appeal_co_executors",
    Base.metadata,
    Column("appeal_id", ForeignKey("appeals.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", ForeignKey("staff.id"), primary_key=True),
)


class AppealCounter(Base):
    """The last registration number given in a year: one row per year, incremented in the
    registering transaction, so two appeals never get the same number."""

    __tablename__ = "appeal_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Appeal(CreatedAtMixin, Base):
    __tablename__ = "appeals"
    __table_args__ = (
        UniqueConstraint("year", "sequence"),
        # The queue: open appeals by time left — a partial index (open appeals are a few per
        # cent of all, scattered over the table) that carries the columns the filters and
        # the counts at the top read, so a filtered page reads the table for its rows only;
        # by status, and by executor.
        Index(
            "ix_appeals_open_due_on",
            "due_on",
            "id",
            "executor_id",
            "kind",
            "topic",
            "channel",
            postgresql_where=text(OPEN_CONDITION),
            sqlite_where=text(OPEN_CONDITION),
        ),
        Index("ix_appeals_status_due_on", "status", "due_on"),
        Index("ix_appeals_executor_status", "executor_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # 2026-000123
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[AppealKind] = mapped_column(ChoiceType(AppealKind, 20))
    topic: Mapped[AppealTopic] = mapped_column(ChoiceType(AppealTopic, 20))
    channel: Mapped[AppealChannel] = mapped_column(ChoiceType(AppealChannel, 12))
    answer_channel: Mapped[AnswerChannel] = mapped_column(ChoiceType(AnswerChannel, 12))
    status: Mapped[AppealStatus] = mapped_column(
        ChoiceType(AppealStatus, 20), default=AppealStatus.REGISTERED
    )
    text: Mapped[str] = mapped_column(Text)

    # Who wrote: a portal user, or a guest / caller whose contacts are kept here.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_email: Mapped[str | None] = mapped_column(String(254))
    applicant_phone: Mapped[str | None] = mapped_column(String(20))
    postal_address: Mapped[str | None] = mapped_column(String(400))
    language: Mapped[str] = mapped_column(String(5), default="ru")

    # A complaint about an employee: never assigned to them.
    about_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    executor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))

    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    registered_on: Mapped[date] = mapped_column(Date)  # the supplier's day: the clock starts
    # The legal term, fixed when the clock starts (registration or reopening), so a later
    # change of the settings does not move a promise made: ``due_on`` is counted from
    # ``term_start_on`` over ``term_days`` + ``extended_days`` + ``paused_days`` (the days
    # a clarification stopped the clock, where a setting says it does).
    term_start_on: Mapped[date] = mapped_column(Date)
    term_days: Mapped[int] = mapped_column(Integer)
    term_working: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)  # the most allowed
    extended_days: Mapped[int] = mapped_column(Integer, default=0)  # granted by the interim answer
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    # The legal due date (what the customer is promised) and the internal target.
    due_on: Mapped[date] = mapped_column(Date)
    assign_by: Mapped[date | None] = mapped_column(Date)
    clarification_asked_on: Mapped[date | None] = mapped_column(Date)

    answer_text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    no_action_reason: Mapped[NoActionReason | None] = mapped_column(ChoiceType(NoActionReason, 20))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_reason: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # Answered on time: set with the answer, compared with the due date then in force; the
    # supplier's day of the answer and the calendar days it took, for the figures.
    answered_on_time: Mapped[bool | None] = mapped_column(Boolean)
    answered_on: Mapped[date | None] = mapped_column(Date, index=True)
    answer_days: Mapped[int | None] = mapped_column(Integer)

    user: Mapped["User | None"] = relationship()  # noqa: F821
    account: Mapped["Account | None"] = relationship()  # noqa: F821
    contract: Mapped["Contract | None"] = relationship()  # noqa: F821
    executor: Mapped["Staff | None"] = relationship(foreign_keys=[executor_id])  # noqa: F821
    about_staff: Mapped["Staff | None"] = relationship(foreign_keys=[about_staff_id])  # noqa: F821
    answered_by: Mapped["Staff | None"] = relationship(foreign_keys=[answered_by_id])  # noqa: F821
    signed_by: Mapped["Staff | None"] = relationship(foreign_keys=[signed_by_id])  # noqa: F821
    co_executors: Mapped[list["Staff"]] = relationship(secondary=appeal_co_executors)  # noqa: F821
    repeat_of: Mapped["Appeal | None"] = relationship(remote_side=[id])
    events: Mapped[list["AppealEvent"]] = relationship(
        back_populates="appeal", order_by="AppealEvent.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list["AppealAttachment"]] = relationship(
        back_populates="appeal", order_by="AppealAttachment.id", cascade="all, delete-orphan"
    )


class AppealEvent(Base):
    """One step of an appeal's timeline; ``internal`` ones (notes) are never shown to the
    customer."""

    __tablename__ = "appeal_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[AppealEventKind] = mapped_column(ChoiceType(AppealEventKind, 24))
    text: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    due_on: Mapped[date | None] = mapped_column(Date)  # the due date from this step on
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    appeal: Mapped[Appeal] = relationship(back_populates="events")
    staff: Mapped["Staff | None"] = relationship()  # noqa: F821
    attachments: Mapped[list["AppealAttachment"]] = relationship(
        back_populates="event", order_by="AppealAttachment.id"
    )


class AppealAttachment(CreatedAtMixin, Base):
    """A file attached to an appeal or to one of its steps (a clarification, a scan of a
    letter). The bytes live outside ``static/`` under ``storage_key``."""

    __tablename__ = "appeal_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("appeal_events.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    uploaded_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    appeal: Mapped[Appeal] = relationship(back_populates="attachments")
    event: Mapped[AppealEvent | None] = relationship(back_populates="attachments")


class AnswerTemplate(CreatedAtMixin, Base):
    """A reusable answer text for a topic, kept by staff."""

    __tablename__ = "answer_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[AppealTopic] = mapped_column(ChoiceType(AppealTopic, 20), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
