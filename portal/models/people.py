"""People who use the portal: residents and company users, staff, and customers of record."""

import hashlib
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin, UTCDateTime


class Channel(Choice):
    """How a person is sent notices."""

    EMAIL = "email", _l("E-mail")
    SMS = "sms", _l("SMS")


class StaffRole(Choice):
    OPERATOR = "operator", _l("Operator")
    METERING = "metering", _l("Metering specialist")
    BILLING = "billing", _l("Billing specialist")
    SUPERVISOR = "supervisor", _l("Supervisor")
    ADMIN = "admin", _l("Administrator")


class OrgRole(Choice):
    OWNER = "owner", _l("Owner")
    ACCOUNTANT = "accountant", _l("Accountant")
    VIEWER = "viewer", _l("Viewer")


class CustomerKind(Choice):
    PERSON = "person", _l("Individual")
    ORGANISATION = "organisation", _l("Legal entity")


CHANNELS = Channel.values()
LANGUAGES = ("ru", "en")
STAFF_ROLES = StaffRole.values()
ORG_ROLES = OrgRole.values()


class PasswordMixin:
    password_hash: Mapped[str] = mapped_column(String(255))
    session_prefix = ""
    # The key of the sign-in session this object was loaded through (portal.services.sessions).
    session_key: str | None = None
    sign_in_session = None  # that session's row (portal.models.SignInSession)

    def get_id(self) -> str | None:
        """What Flask-Login keeps in the session and the "remember me" cookie: the key of a
        sign-in session on the server, not the person's id, so ending that session on the
        server (sign-out, a password change) makes every copy of the cookie worthless."""
        return f"{self.session_prefix}:{self.session_key}" if self.session_key else None

    @property
    def password_fingerprint(self) -> str:
        """Changes with the password: a reset link carries it, so it works once."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:12]

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class User(PasswordMixin, UserMixin, CreatedAtMixin, Base):
    """A portal login: a resident, or a user of a legal-entity customer."""

    __tablename__ = "users"
    is_staff = False
    session_prefix = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    full_name: Mapped[str] = mapped_column(String(200))
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    preferred_channel: Mapped[Channel] = mapped_column(
        ChoiceType(Channel, 10), default=Channel.EMAIL
    )
    language: Mapped[str] = mapped_column(String(5), default="ru")
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    consents: Mapped[list["Consent"]] = relationship(
        back_populates="user", order_by="Consent.given_at"
    )
    account_links: Mapped[list["AccountLink"]] = relationship(  # noqa: F821
        back_populates="user", cascade="all, delete-orphan"
    )
    memberships: Mapped[list["OrganisationMember"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_confirmed(self) -> bool:
        return self.email_confirmed_at is not None


class Consent(Base):
    """Consent to personal-data processing (152-ФЗ): when, which text, from where."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text_version: Mapped[str] = mapped_column(String(20))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip_address: Mapped[str | None] = mapped_column(String(45))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="consents")


class Staff(PasswordMixin, UserMixin, CreatedAtMixin, Base):
    """A back-office employee with one role."""

    __tablename__ = "staff"
    is_staff = True
    session_prefix = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    position: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(ChoiceType(StaffRole, 20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Two-factor sign-in (TOTP, RFC 6238): the shared secret once enrolment is confirmed,
    # and the last time step used, so a code cannot be replayed within its 30 seconds.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    @property
    def is_active(self) -> bool:
        return self.active


class Customer(CreatedAtMixin, Base):
    """The customer of record (абонент) that accounts belong to.

    A person or an organisation; exists whether or not anyone has a portal login.
    """

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[CustomerKind] = mapped_column(
        ChoiceType(CustomerKind, 12), default=CustomerKind.PERSON
    )
    full_name: Mapped[str] = mapped_column(String(300), index=True)
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    postal_address: Mapped[str | None] = mapped_column(String(400))
    lives_alone_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_veteran: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_given_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notes: Mapped[str | None] = mapped_column(Text)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))

    accounts: Mapped[list["Account"]] = relationship(  # noqa: F821
        back_populates="customer", order_by="Account.number"
    )
    organisation: Mapped["Organisation | None"] = relationship()


class Organisation(CreatedAtMixin, Base):
    """A legal-entity customer (юридическое лицо / ИП)."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    inn: Mapped[str] = mapped_column(String(12), unique=True)
    kpp: Mapped[str | None] = mapped_column(String(9))
    ogrn: Mapped[str | None] = mapped_column(String(15))
    legal_address: Mapped[str] = mapped_column(String(400))

    contracts: Mapped[list["Contract"]] = relationship(  # noqa: F821
        back_populates="organisation", order_by="Contract.number"
    )
    members: Mapped[list["OrganisationMember"]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )


class OrganisationMember(Base):
    __tablename__ = "organisation_members"
    __table_args__ = (UniqueConstraint("organisation_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[OrgRole] = mapped_column(ChoiceType(OrgRole, 12))

    organisation: Mapped[Organisation] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="memberships")


class Invitation(CreatedAtMixin, Base):
    """An owner's invitation for a colleague to join the organisation in a role."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[OrgRole] = mapped_column(ChoiceType(OrgRole, 12))
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship()
    invited_by: Mapped[User] = relationship()
