"""Meters installed on accounts, their readings, and imports of remote readings."""

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
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

from portal.models.accounts import Service
from portal.models.base import (
    Base,
    Choice,
    ChoiceType,
    CreatedAtMixin,
    UploadedFileMixin,
    UTCDateTime,
)


class MeterStatus(Choice):
    ACTIVE = "active", _l("in service"), "text-bg-success"
    FAULTY = "faulty", _l("faulty"), "text-bg-danger"
    REMOVED = "removed", _l("removed"), "text-bg-secondary"


class ReadingSource(Choice):
    """Who took the reading; ``staff_label`` says it as the back office does."""

    CUSTOMER = "customer", _l("customer")
    OPERATOR = "operator", _l("operator")
    CONTROLLER = "controller", _l("controller's visit")
    REMOTE = "remote", _l("remote reading")
    ESTIMATED = "estimated", _l("estimated")
    NORM = "norm", _l("by consumption norm")

    @property
    def staff_label(self):
        return _STAFF_SOURCE_LABELS[self]

    @property
    def is_estimate(self) -> bool:
        """Not a reading of the meter: a volume the portal worked out."""
        return self in (ReadingSource.ESTIMATED, ReadingSource.NORM)


_STAFF_SOURCE_LABELS = {
    ReadingSource.CUSTOMER: _l("customer, on the portal"),
    ReadingSource.OPERATOR: _l("operator: phone or office"),
    ReadingSource.CONTROLLER: _l("controller: site visit"),
    ReadingSource.REMOTE: _l("remote reading"),
    ReadingSource.ESTIMATED: _l("estimated by the average"),
    ReadingSource.NORM: _l("by the norm"),
}


class ReadingStatus(Choice):
    ACCEPTED = "accepted", _l("accepted"), "text-bg-success"
    PENDING_REVIEW = "pending_review", _l("under review"), "text-bg-warning"
    REJECTED = "rejected", _l("rejected"), "text-bg-danger"
    SUPERSEDED = "superseded", _l("superseded"), "text-bg-light border"


class ImportStatus(Choice):
    """uploaded → checking → pending (the preview) → queued → running → done; or failed,
    discarded. A large file is checked in the background ("uploaded", "checking")."""

    UPLOADED = "uploaded", _l("waiting for the check"), "text-bg-info"
    CHECKING = "checking", _l("checking"), "text-bg-info"
    PENDING = "pending", _l("not started"), "text-bg-warning"
    QUEUED = "queued", _l("queued"), "text-bg-info"
    RUNNING = "running", _l("importing"), "text-bg-info"
    DONE = "done", _l("done"), "text-bg-success"
    FAILED = "failed", _l("failed"), "text-bg-danger"
    DISCARDED = "discarded", _l("discarded"), "text-bg-secondary"


METER_STATUSES = MeterStatus.values()


class Zone(Choice):
    """A tariff zone of a meter's register (time-of-day rates)."""

    TOTAL = "total", _l("single rate")
    DAY = "day", _l("day")
    NIGHT = "night", _l("night")
    PEAK = "peak", _l("peak")
    SEMI_PEAK = "semi_peak", _l("semi-peak")


ZONE_NAMES = {
    1: (Zone.TOTAL,),
    2: (Zone.DAY, Zone.NIGHT),
    3: (Zone.PEAK, Zone.SEMI_PEAK, Zone.NIGHT),
}


class Meter(CreatedAtMixin, Base):
    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint("zones BETWEEN 1 AND 3", name="zones_range"),
        CheckConstraint("whole_digits BETWEEN 1 AND 12", name="whole_digits_range"),
        CheckConstraint("fraction_digits BETWEEN 0 AND 4", name="fraction_digits_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    service: Mapped[Service] = mapped_column(ChoiceType(Service, 20))
    serial_number: Mapped[str] = mapped_column(String(40), index=True)
    model: Mapped[str | None] = mapped_column(String(100))
    zones: Mapped[int] = mapped_column(Integer, default=1)
    whole_digits: Mapped[int] = mapped_column(Integer, default=6)
    fraction_digits: Mapped[int] = mapped_column(Integer, default=1)
    installed_on: Mapped[date] = mapped_column(Date)
    verification_due: Mapped[date] = mapped_column(Date, index=True)
    seal_number: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[MeterStatus] = mapped_column(
        ChoiceType(MeterStatus, 10), default=MeterStatus.ACTIVE
    )
    remote_read: Mapped[bool] = mapped_column(Boolean, default=False)

    account: Mapped["Account"] = relationship(back_populates="meters")  # noqa: F821

    @property
    def zone_names(self) -> tuple[str, ...]:
        return ZONE_NAMES[self.zones]


READING_SOURCES = ReadingSource.values()
READING_STATUSES = ReadingStatus.values()


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
    zone: Mapped[Zone] = mapped_column(ChoiceType(Zone, 12))
    period: Mapped[date] = mapped_column(Date)  # the first day of the billing month
    taken_on: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    consumption: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    source: Mapped[ReadingSource] = mapped_column(ChoiceType(ReadingSource, 12))
    status: Mapped[ReadingStatus] = mapped_column(ChoiceType(ReadingStatus, 16))
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


class ImportBatch(UploadedFileMixin, CreatedAtMixin, Base):
    """One uploaded CSV file of remote-metering readings and what became of its lines."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="readings")
    status: Mapped[ImportStatus] = mapped_column(
        ChoiceType(ImportStatus, 12), default=ImportStatus.PENDING
    )
    processed_lines: Mapped[int] = mapped_column(Integer, default=0)
    errors_csv: Mapped[str | None] = mapped_column(Text)
    source_csv: Mapped[str | None] = mapped_column(Text)  # kept until the import finishes
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
