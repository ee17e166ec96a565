"""Declarative base and column types shared by every model."""

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, ForeignKey, Integer, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from portal.services.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values go in as naive UTC and come out tagged UTC;
    PostgreSQL uses ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Choice(StrEnum):
    """A value stored as text, with what a person reads (``label``) and, where pages show it
    as a badge, the badge's Bootstrap classes. Members equal their stored strings.

        class MeterStatus(Choice):
            ACTIVE = "active", _l("in service"), "text-bg-success"
    """

    def __new__(cls, value: str, label=None, badge: str | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label if label is not None else value
        member.badge = badge or "text-bg-secondary"
        return member

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def options(cls, members=None) -> list[tuple[str, object]]:
        """(value, label) pairs for a select, in the order of the members (or ``members``)."""
        return [(member.value, member.label) for member in (members or cls)]


class ChoiceType(TypeDecorator):
    """A Choice stored as a plain string column: the schema is a VARCHAR as before, and
    rows come back as members (``reading.status.label`` in a template)."""

    impl = String
    cache_ok = True

    def __init__(self, choice: type[Choice], length: int):
        super().__init__(length)
        self.choice = choice

    def process_bind_param(self, value, dialect):
        return None if value is None else self.choice(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self.choice(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UploadedFileMixin:
    """A CSV file staff uploaded (a readings import, a payment registry): what it was, who
    sent it, and how its lines went."""

    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    total_lines: Mapped[int] = mapped_column(Integer, default=0)
    imported_lines: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_lines: Mapped[int] = mapped_column(Integer, default=0)
    error_lines: Mapped[int] = mapped_column(Integer, default=0)


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
