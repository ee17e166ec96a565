"""The outbox: every e-mail and SMS is a row before it is sent."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin, UTCDateTime, utcnow
from portal.models.people import Channel


class MessageStatus(Choice):
    PENDING = "pending", _l("waiting"), "text-bg-secondary"
    SENDING = "sending", _l("sending"), "text-bg-info"
    SENT = "sent", _l("sent"), "text-bg-success"
    FAILED = "failed", _l("failed"), "text-bg-danger"


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
        ChoiceType(MessageStatus, 10), default=MessageStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_id: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
