"""Meters installed on accounts, their readings, and imports of remote readings."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, CreatedAtMixin, UTCDateTime

METER_STATUSES = ("active", "faulty", "removed")
ZONE_NAMES = {1: ("total",), 2: ("day", "night"), 3: ("peak", "semi_peak", "night")}


class Meter(CreatedAtMixin, Base):
    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint("zones BETWEEN 1 AND 3", name="zones_range"),
        CheckConstraint("whole_digits BETWEEN 1 AND 12", name="whole_digits_range"),
        CheckConstraint("fraction_digits BETWEEN 0 AND 4", name="fraction_digits_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    service: Mapped[str] = mapped_column(String(20))
    serial_number: Mapped[str] = mapped_column(String(40), index=True)
    model: Mapped[str | None] = mapped_column(String(100))
    zones: Mapped[int] = mapped_column(Integer, default=1)
    whole_digits: Mapped[int] = mapped_column(Integer, default=6)
    fraction_digits: Mapped[int] = mapped_column(Integer, default=1)
    installed_on: Mapped[date] = mapped_column(Date)
    verification_due: Mapped[date] = mapped_column(Date, index=True)
    seal_number: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="active")
    remote_read: Mapped[bool] = mapped_column(Boolean, default=False)

    account: Mapped["Account"] = relationship(back_populates="meters")  # noqa: F821

    @property
    def zone_names(self) -> tuple[str, ...]:
        return ZONE_NAMES[self.zones]


READING_SOURCES = ("customer", "operator", "controller", "remote", "estimated", "norm")
READING_STATUSES = ("accepted", "pending_review", "rejected", "superseded")


class Reading(CreatedAtMixin, Base):
    """One register value of one meter zone, with where it came from and what became of it.

    A newer reading for the same meter, zone and period supersedes the older one; both stay.
    """

    __tablename__ = "readings"
    __table_args__ = (
        Index("ix_readings_meter_zone_period", "meter_id", "zone", "period"),
        Index("ix_readings_period_meter", "period", "meter_id"),
        # Only the review queue asks for a status; a partial index keeps it small and keeps
        # planners from scanning by a column with three common values.
        Index(
            "ix_readings_pending_review",
            "created_at",
            postgresql_where=text("status = 'pending_review'"),
            sqlite_where=text("status = 'pending_review'"),
        ),
        # An imported line (external_ref set) imported twice adds nothing; NULLs never clash.
        UniqueConstraint("meter_id", "zone", "taken_on", "external_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    zone: Mapped[str] = mapped_column(String(12))
    period: Mapped[date] = mapped_column(Date)  # the first day of the billing month
    taken_on: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    consumption: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    source: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(400))  # refusal, review or correction
    submitted_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    entered_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reviewed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("readings.id"))
    external_ref: Mapped[str | None] = mapped_column(String(64))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))

    meter: Mapped[Meter] = relationship()


class ImportBatch(CreatedAtMixin, Base):
    """One uploaded CSV file of remote-metering readings and what became of its lines."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="readings")
    filename: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending/running/done
    total_lines: Mapped[int] = mapped_column(Integer, default=0)
    processed_lines: Mapped[int] = mapped_column(Integer, default=0)
    imported_lines: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_lines: Mapped[int] = mapped_column(Integer, default=0)
    error_lines: Mapped[int] = mapped_column(Integer, default=0)
    errors_csv: Mapped[str | None] = mapped_column(Text)
    source_csv: Mapped[str | None] = mapped_column(Text)  # kept until the import finishes
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
