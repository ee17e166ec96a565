"""Customer satisfaction surveys (001 Прил. 25): the criteria staff keep, the invitations
sent after a contact or to the annual sample, and the answers, which are never edited."""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin, UTCDateTime


class SurveyOccasion(Choice):
    """What the customer is asked about."""

    APPEAL = "appeal", _l("an answered appeal")
    VISIT = "visit", _l("an office visit")
    CONTRACT = "contract", _l("a concluded contract")
    ANNUAL = "annual", _l("the annual survey")


class SurveyCriterion(CreatedAtMixin, Base):
    """One line of the questionnaire (001 Прил. 25); a retired one stays for old answers."""

    __tablename__ = "survey_criteria"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SurveyCampaign(CreatedAtMixin, Base):
    """The annual survey of a sample of customers, started by staff once a year."""

    __tablename__ = "survey_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    sample_percent: Mapped[int] = mapped_column(Integer)
    invited: Mapped[int] = mapped_column(Integer, default=0)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class SurveyInvitation(CreatedAtMixin, Base):
    """One invitation: its link opens the form once (``answered_at``)."""

    __tablename__ = "survey_invitations"
    __table_args__ = (UniqueConstraint("occasion", "subject_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occasion: Mapped[SurveyOccasion] = mapped_column(ChoiceType(SurveyOccasion, 12))
    # The appeal, booking or contract asked about; the campaign's id for the annual survey.
    subject_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254))
    nonce: Mapped[str] = mapped_column(String(32))  # in the link: a new invitation, new link
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SurveyAnswer(CreatedAtMixin, Base):
    """A filled questionnaire: written once, never changed (no edit path exists)."""

    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_invitations.id"), unique=True
    )
    occasion: Mapped[SurveyOccasion] = mapped_column(ChoiceType(SurveyOccasion, 12), index=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id", ondelete="SET NULL"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    suggestions: Mapped[str] = mapped_column(Text, default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    scores: Mapped[list["SurveyScore"]] = relationship(
        back_populates="answer", order_by="SurveyScore.criterion_id"
    )


class SurveyScore(Base):
    __tablename__ = "survey_scores"
    __table_args__ = (UniqueConstraint("answer_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("survey_answers.id"), index=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("survey_criteria.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[SurveyAnswer] = relationship(back_populates="scores")
    criterion: Mapped[SurveyCriterion] = relationship()


# The questionnaire of 001 Прил. 25, adapted to electricity/heat and water alike (the seed's
# lines 6 and 7, hot water and heat meters, are one line: meter readings).
DEFAULT_CRITERIA = (
    _l("Dealings when concluding the contract (negotiation, speed and quality of paperwork)"),
    _l("Accuracy of your data in our customer records"),
    _l("Quality of supply"),
    _l("Qualification, competence and experience of the staff"),
    _l("Customer care: courtesy, clear explanations, response to remarks, settling disputes"),
    _l("Accuracy of meter readings"),
    _l("Correctness of the amount in the bill"),
)


# --- the feedback book (002 §8.2, 004 §13) --------------------------------------------------


class FeedbackKind(Choice):
    COMPLAINT = "complaint", _l("Complaint"), "text-bg-danger"
    PROPOSAL = "proposal", _l("Suggestion"), "text-bg-info"
    THANKS = "thanks", _l("Thanks"), "text-bg-success"


class FeedbackSource(Choice):
    PORTAL = "portal", _l("Portal")
    TABLET = "tablet", _l("Tablet in the office hall")
    PAPER = "paper", _l("Paper form, entered by an operator")


class FeedbackBookHead(Base):
    """The book's one row: the last number and hash. Writing an entry updates it first, so
    entries are written one after another (PostgreSQL locks the row until the commit)."""

    __tablename__ = "feedback_book_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default="")


class FeedbackEntry(Base):
    """An entry of the book: numbered without gaps, never changed or deleted, holding the
    hash of the previous entry and its own (``portal.services.feedback_book``)."""

    __tablename__ = "feedback_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[FeedbackKind] = mapped_column(ChoiceType(FeedbackKind, 12))
    source: Mapped[FeedbackSource] = mapped_column(ChoiceType(FeedbackSource, 12))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # paper: who typed it
    author_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    text: Mapped[str] = mapped_column(Text)
    # The appeal it became (a complaint or a suggestion): its answer is the entry's answer.
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))

    appeal = relationship("Appeal")


class AppendOnlyError(RuntimeError):
    """An entry of the feedback book was about to be changed or deleted."""


@event.listens_for(FeedbackEntry, "before_update")
def _never_rewritten(_mapper, _connection, entry):
    raise AppendOnlyError(f"feedback book entry {entry.number} cannot be changed")


@event.listens_for(FeedbackEntry, "before_delete")
def _never_deleted(_mapper, _connection, entry):
    raise AppendOnlyError(f"feedback book entry {entry.number} cannot be deleted")


class QualityReport(CreatedAtMixin, Base):
    """The monthly quality report (001: by the 5th of the next month), kept as made."""

    __tablename__ = "quality_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[date] = mapped_column(Date, unique=True)  # the month's first day
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    xlsx: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: the schedule
