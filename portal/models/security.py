"""Sign-in sessions kept on the server, failed sign-ins for throttling, staff recovery codes."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, CreatedAtMixin, UTCDateTime


class SignInSession(CreatedAtMixin, Base):
    """One signed-in browser of a portal user or an employee.

    The cookie carries a random key; only its SHA-256 is stored, so a copy of the table
    signs nobody in. Deleting the row ends the session for good, "remember me" included.
    """

    __tablename__ = "sign_in_sessions"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (staff_id IS NULL)", name="one_person"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    remember: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the absolute lifetime
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    # Staff: when the second factor was given in this session (None: not yet).
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped["User | None"] = relationship()  # noqa: F821
    staff: Mapped["Staff | None"] = relationship()  # noqa: F821

    @property
    def person(self):
        return self.user if self.user_id is not None else self.staff


class SignInFailure(Base):
    """A wrong password typed for an e-mail (registered or not), for throttling.

    ``email_key`` is a keyed hash of the audience and the e-mail as typed, so the table
    neither lists addresses nor tells which are registered. ``device`` is set when the
    browser carried a device cookie proving an earlier sign-in with that e-mail.
    """

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_email_key_at", "email_key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_key: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    device: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RecoveryCode(Base):
    """A one-time code an employee keeps in case the authenticator app is lost."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
