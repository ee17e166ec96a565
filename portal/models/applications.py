"""Contract applications (заявки на заключение договора): what a customer asked for, the
documents staff ask for and why, the closed list of refusal reasons, the case file's
inventory (опись дела, never rewritten) and complaints about a decision.

The rules (the state machine and the clock of every stage) are in
``portal.services.applications``.
"""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin, UTCDateTime, utcnow


class ApplicationKind(Choice):
    CONTRACT = "contract", _l("Conclude a supply contract")
    REREGISTER = "reregister", _l("Re-register an account to a new owner")
    CHANGE = "change", _l("Change contract details")
    METER_CONDITIONS = "meter_conditions", _l("Technical conditions for installing a meter")

    @property
    def ends_in_contract(self) -> bool:
        """Every kind but the meter's conditions ends in a contract (or its amendment) to sign."""
        return self is not ApplicationKind.METER_CONDITIONS


class Segment(Choice):
    HOUSEHOLD = "household", _l("Household (individual)")
    LEGAL = "legal", _l("Legal entity or sole trader")


class ApplicationStatus(Choice):
    DRAFT = "draft", _l("draft"), "text-bg-light border"
    REGISTERED = "registered", _l("registered"), "text-bg-secondary"
    FORMAL_CHECK = "formal_check", _l("documents being checked"), "text-bg-info"
    DOCUMENTS_REQUESTED = "documents_requested", _l("documents requested"), "text-bg-warning"
    IN_REWORK = "in_rework", _l("new documents being checked"), "text-bg-info"
    ACCEPTED = "accepted", _l("complete, contract being prepared"), "text-bg-primary"
    FOR_SIGNATURE = "for_signature", _l("contract sent for signature"), "text-bg-primary"
    DISAGREEMENT = "disagreement", _l("protocol of disagreements considered"), "text-bg-warning"
    SIGNED = "signed", _l("contract signed"), "text-bg-success"
    ISSUED = "issued", _l("technical conditions issued"), "text-bg-success"
    REFUSED = "refused", _l("refused"), "text-bg-danger"
    ENDED = "ended", _l("consideration ended: documents not received"), "text-bg-dark"
    WITHDRAWN = "withdrawn", _l("withdrawn by the applicant"), "text-bg-dark"

    @property
    def is_open(self) -> bool:
        return self not in FINISHED_APPLICATION_STATUSES


FINISHED_APPLICATION_STATUSES = frozenset(
    {
        ApplicationStatus.SIGNED,
        ApplicationStatus.ISSUED,
        ApplicationStatus.REFUSED,
        ApplicationStatus.ENDED,
        ApplicationStatus.WITHDRAWN,
    }
)


class ApplicationEventKind(Choice):
    SUBMITTED = "submitted", _l("Application registered")
    CHECK_STARTED = "check_started", _l("Documents taken for checking")
    DOCUMENTS_REQUESTED = "documents_requested", _l("Missing documents requested")
    DOCUMENT_RECEIVED = "document_received", _l("Document received")
    DOCUMENTS_DELIVERED = "documents_delivered", _l("Requested documents delivered")
    ACCEPTED = "accepted", _l("Application complete: a contract is possible")
    CONTRACT_ISSUED = "contract_issued", _l("Contract sent for signature")
    DISAGREEMENT = "disagreement", _l("Protocol of disagreements received")
    DISAGREEMENT_ANSWERED = "disagreement_answered", _l("Protocol of disagreements answered")
    SIGNED = "signed", _l("Contract signed")
    CONDITIONS_ISSUED = "conditions_issued", _l("Technical conditions issued")
    REFUSED = "refused", _l("Refused")
    ENDED = "ended", _l("Consideration ended: documents not received within a month")
    WITHDRAWN = "withdrawn", _l("Withdrawn")
    COMPLAINT = "complaint", _l("Complaint about the decision received")
    COMPLAINT_UPHELD = "complaint_upheld", _l("Complaint upheld: the application is reopened")
    COMPLAINT_REJECTED = "complaint_rejected", _l("Complaint answered: the decision stands")
    NOTE = "note", _l("Internal note")


class ComplaintStatus(Choice):
    OPEN = "open", _l("being considered"), "text-bg-warning"
    UPHELD = "upheld", _l("upheld"), "text-bg-success"
    REJECTED = "rejected", _l("rejected"), "text-bg-secondary"


class ApplicationCounter(Base):
    """The last number given in a year (one row per year, incremented in the registering
    transaction)."""

    __tablename__ = "application_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ChecklistItem(CreatedAtMixin, Base):
    """A document an application of a kind needs from a segment, with why: kept by staff,
    shown on the application form and on the public page of document lists."""

    __tablename__ = "application_checklist_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ApplicationKind] = mapped_column(ChoiceType(ApplicationKind, 20), index=True)
    segment: Mapped[Segment] = mapped_column(ChoiceType(Segment, 12))
    title: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)  # why the document is needed (its legal ground)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class RefusalReason(CreatedAtMixin, Base):
    """The closed list of reasons to refuse, each with its legal ground; staff keep it, a
    refusal names one of the active ones."""

    __tablename__ = "application_refusal_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    legal_ground: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Application(CreatedAtMixin, Base):
    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("year", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(16), unique=True)  # З-2026-000123
    year: Mapped[int | None] = mapped_column(Integer)
    sequence: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[ApplicationKind] = mapped_column(ChoiceType(ApplicationKind, 20))
    segment: Mapped[Segment] = mapped_column(ChoiceType(Segment, 12))
    status: Mapped[ApplicationStatus] = mapped_column(
        ChoiceType(ApplicationStatus, 20), default=ApplicationStatus.DRAFT, index=True
    )
    channel: Mapped[str] = mapped_column(String(12), default="web")  # web, post, office

    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_email: Mapped[str | None] = mapped_column(String(254))
    applicant_phone: Mapped[str | None] = mapped_column(String(20))
    organisation_name: Mapped[str | None] = mapped_column(String(300))
    inn: Mapped[str | None] = mapped_column(String(12))
    address: Mapped[str] = mapped_column(String(400), default="")
    details: Mapped[str] = mapped_column(Text, default="")  # what the customer asks for
    language: Mapped[str] = mapped_column(String(5), default="ru")

    # The day the post arrived (post is registered by the next working day, 003) and the
    # supplier's day of registration: the clocks count from it.
    received_on: Mapped[date | None] = mapped_column(Date)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    registered_on: Mapped[date | None] = mapped_column(Date)
    # The stage the clock now runs for and its last day (None: the customer's turn).
    stage_started_on: Mapped[date | None] = mapped_column(Date)
    stage_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    documents_requested_on: Mapped[date | None] = mapped_column(Date)
    complete_on: Mapped[date | None] = mapped_column(Date)  # all documents in hand
    contract_due_on: Mapped[date | None] = mapped_column(Date)
    contract_issued_on: Mapped[date | None] = mapped_column(Date)
    concluded_on_time: Mapped[bool | None] = mapped_column(Boolean)
    decided_on: Mapped[date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    executor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    refusal_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("application_refusal_reasons.id")
    )
    refusal_text: Mapped[str | None] = mapped_column(Text)
    signed_on: Mapped[date | None] = mapped_column(Date)

    user: Mapped["User | None"] = relationship()  # noqa: F821
    account: Mapped["Account | None"] = relationship()  # noqa: F821
    contract: Mapped["Contract | None"] = relationship()  # noqa: F821
    refusal_reason: Mapped[RefusalReason | None] = relationship()
    decided_by: Mapped["Staff | None"] = relationship(foreign_keys=[decided_by_id])  # noqa: F821
    executor: Mapped["Staff | None"] = relationship(foreign_keys=[executor_id])  # noqa: F821
    events: Mapped[list["ApplicationEvent"]] = relationship(
        back_populates="application", order_by="ApplicationEvent.id"
    )
    documents: Mapped[list["ApplicationDocument"]] = relationship(
        back_populates="application", order_by="ApplicationDocument.id"
    )
    complaints: Mapped[list["ApplicationComplaint"]] = relationship(
        back_populates="application", order_by="ApplicationComplaint.id"
    )


class ApplicationDocument(Base):
    """A document received for an application (a line of the case file's inventory): the
    checklist item it answers, its file, when and from whom. Never replaced: a better copy
    is a new row."""

    __tablename__ = "application_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    checklist_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("application_checklist_items.id")
    )
    title: Mapped[str] = mapped_column(String(300))  # the checklist item's title when received
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(100), unique=True)
    from_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # a scan of post
    generated: Mapped[bool] = mapped_column(Boolean, default=False)  # the contract we drew up

    application: Mapped[Application] = relationship(back_populates="documents")
    checklist_item: Mapped[ChecklistItem | None] = relationship()


class ApplicationEvent(Base):
    """One line of the case file: who did what, when, and what was decided. Rows are only
    ever added (see the guard below); ``internal`` ones are never shown to the customer."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[ApplicationEventKind] = mapped_column(ChoiceType(ApplicationEventKind, 24))
    text: Mapped[str | None] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ApplicationStatus] = mapped_column(ChoiceType(ApplicationStatus, 20))
    due_on: Mapped[date | None] = mapped_column(Date)  # the stage's last day from this step on
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("application_documents.id"))

    application: Mapped[Application] = relationship(back_populates="events")
    staff: Mapped["Staff | None"] = relationship()  # noqa: F821
    document: Mapped[ApplicationDocument | None] = relationship()


class ApplicationComplaint(CreatedAtMixin, Base):
    """A complaint about a decision on an application: considered by someone other than the
    person who decided (recusal, 003), answered within a setting's days."""

    __tablename__ = "application_complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    received_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[ComplaintStatus] = mapped_column(
        ChoiceType(ComplaintStatus, 12), default=ComplaintStatus.OPEN
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # complained about
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_on: Mapped[date | None] = mapped_column(Date)

    application: Mapped[Application] = relationship(back_populates="complaints")
    reviewer: Mapped["Staff | None"] = relationship(foreign_keys=[reviewer_id])  # noqa: F821


class InventoryRewritten(Exception):
    """The case file's inventory is append-only (003: the опись records every document)."""


@event.listens_for(ApplicationEvent, "before_update")
@event.listens_for(ApplicationEvent, "before_delete")
@event.listens_for(ApplicationDocument, "before_update")
@event.listens_for(ApplicationDocument, "before_delete")
def _never_rewritten(_mapper, _connection, target) -> None:
    raise InventoryRewritten(f"{type(target).__name__} {target.id} is part of the case file")
