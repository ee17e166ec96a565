"""The outbox: every e-mail and SMS is a row before it is sent; the kinds of notices a
customer chooses how to get, their choices, and mass mailings."""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin, UTCDateTime, utcnow
from portal.models.people import Channel


class MessageStatus(Choice):
    PENDING = "pending", _l("waiting"), "text-bg-secondary"
    SENDING = "sending", _l("sending"), "text-bg-info"
    SENT = "sent", _l("sent"), "text-bg-success"
    FAILED = "failed", _l("failed"), "text-bg-danger"
    # Reported by the provider after it took the message (Twilio's status callback).
    DELIVERED = "delivered", _l("delivered"), "text-bg-success"
    UNDELIVERED = "undelivered", _l("not delivered"), "text-bg-warning"
    CANCELLED = "cancelled", _l("cancelled"), "text-bg-light"
    HELD = "held", _l("on hold"), "text-bg-warning"  # a paused mailing's, until resumed


MESSAGE_STATUSES = MessageStatus.values()


class OutboxMessage(CreatedAtMixin, Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[Channel] = mapped_column(ChoiceType(Channel, 10))
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # The same key is never planned twice: it names the event the message is about.
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    status: Mapped[MessageStatus] = mapped_column(
        ChoiceType(MessageStatus, 12), default=MessageStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What the provider last told of the message (Twilio: queued, sent, delivered…) and when.
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    delivery_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )


# --- the kinds of notices --------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeKind:
    """A kind of notice the customer chooses how to get (e-mail, SMS or not at all).

    ``name`` is the outbox ``kind``, the templates' name (``email/<name>.html`` + ``.txt``,
    ``sms/<name>.txt``) and the key of the choice. A ``mandatory`` notice cannot be turned
    off, only its channel chosen (debt notice, restriction warning: the law requires them).
    ``working_days_only`` ones go on working days only (004 T6). Whether an optional kind
    is sent to someone who never chose is the setting ``notify.default.<name>``
    (``default_on`` is its default); it goes by their preferred channel.
    """

    name: str
    label: object
    mandatory: bool = False
    working_days_only: bool = False
    default_on: bool = True
    campaign: bool = False  # staff may send a mass mailing of this kind


# Another area adds its kinds by adding an entry here (and its templates).
NOTICE_KINDS = {
    kind.name: kind
    for kind in [
        NoticeKind("window_opened", _l("Meter readings window opened")),
        NoticeKind("window_closing", _l("Meter readings not sent, window closing soon")),
        NoticeKind("bill_issued", _l("A new bill")),
        NoticeKind("payment_due", _l("Payment due soon")),
        NoticeKind("verification_due", _l("Meter verification due soon")),
        NoticeKind("verification_overdue", _l("Meter verification overdue")),
        NoticeKind("debt_notice", _l("Debt notice"), mandatory=True, working_days_only=True),
        NoticeKind(
            "restriction_warning",
            _l("Warning of a supply restriction"),
            mandatory=True,
            working_days_only=True,
        ),
        NoticeKind("visit_reminder", _l("Reminder of a booked office visit")),
        NoticeKind("planned_outage", _l("Planned outages"), campaign=True),
        NoticeKind("tariff_change", _l("Tariff changes"), working_days_only=True, campaign=True),
        NoticeKind("news", _l("News of the supplier"), default_on=False, campaign=True),
        NoticeKind("survey_invitation", _l("Invitations to rate our service")),
    ]
}
OFF = "none"  # a preference's channel when the customer turned the kind off


class NoticePreference(Base):
    """How a user wants one kind of notice: by "email", "sms" or "none". With no account
    the choice is for all the user's accounts; a choice for one account comes first."""

    __tablename__ = "notice_preferences"
    __table_args__ = (
        Index(
            "uq_notice_preferences_all_accounts",
            "user_id",
            "kind",
            unique=True,
            postgresql_where=text("account_id IS NULL"),
            sqlite_where=text("account_id IS NULL"),
        ),
        Index(
            "uq_notice_preferences_one_account",
            "user_id",
            "account_id",
            "kind",
            unique=True,
            postgresql_where=text("account_id IS NOT NULL"),
            sqlite_where=text("account_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CampaignStatus(Choice):
    SENDING = "sending", _l("sending"), "text-bg-info"
    PAUSED = "paused", _l("paused"), "text-bg-warning"
    CANCELLED = "cancelled", _l("cancelled"), "text-bg-light"


class Campaign(CreatedAtMixin, Base):
    """A mass mailing staff composed: its recipients are outbox rows (one per recipient and
    channel, ``campaign_id``), so a restarted worker neither loses nor repeats anyone."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    sms_text: Mapped[str] = mapped_column(String(200), default="")
    segment: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[CampaignStatus] = mapped_column(
        ChoiceType(CampaignStatus, 12), default=CampaignStatus.SENDING
    )
    planned: Mapped[int] = mapped_column(Integer, default=0)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The form's one-time key: sending the same form twice starts one campaign.
    request_key: Mapped[str | None] = mapped_column(String(40), unique=True)
