"""Tariffs, norms, key rates, billing periods, charges, payments, penalties, bills, debt steps.

Money is Decimal in Numeric(14, 2) columns; tariffs and volumes keep 4 decimals.
"""

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.accounts import Category, Service
from portal.models.base import (
    Base,
    Choice,
    ChoiceType,
    CreatedAtMixin,
    UploadedFileMixin,
    UTCDateTime,
)
from portal.models.metering import Zone

Money = Numeric(14, 2)
Rate = Numeric(14, 4)
Volume = Numeric(16, 4)


class ChargeMethod(Choice):
    METER = "meter", _l("by meter")
    AVERAGE = "average", _l("by average")
    NORM = "norm", _l("by norm")
    RECALCULATION = "recalculation", _l("recalculations")


class NormBasis(Choice):
    PER_RESIDENT = "per_resident", _l("per resident")
    PER_M2 = "per_m2", _l("per m² of the premises")


class DebtStep(Choice):
    DEBT_NOTICE = "debt_notice", _l("Debt notice"), "text-bg-info"
    RESTRICTION_WARNING = "restriction_warning", _l("Restriction warning"), "text-bg-warning"
    RESTRICTION = "restriction", _l("Supply restricted"), "text-bg-danger"
    LIFTED = "lifted", _l("Restriction lifted"), "text-bg-success"

    @property
    def has_document(self) -> bool:
        """A notice the customer is sent as a letter (a PDF from the back office)."""
        return self in (DebtStep.DEBT_NOTICE, DebtStep.RESTRICTION_WARNING)


class PeriodStatus(Choice):
    DRAFT = "draft", _l("draft"), "text-bg-light border"
    QUEUED = "queued", _l("queued"), "text-bg-info"
    RUNNING = "running", _l("running"), "text-bg-primary"
    FAILED = "failed", _l("run failed"), "text-bg-danger"
    CLOSED = "closed", _l("closed"), "text-bg-secondary"


class RegistryStatus(Choice):
    PREVIEW = "preview", _l("waiting for import"), "text-bg-warning"
    IMPORTED = "imported", _l("imported"), "text-bg-success"


class Tariff(CreatedAtMixin, Base):
    """A price per unit of a service, for one zone and customer category, over dates."""

    __tablename__ = "tariffs"
    __table_args__ = (Index("ix_tariffs_lookup", "service", "zone", "category", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[Service] = mapped_column(ChoiceType(Service, 20))
    zone: Mapped[Zone] = mapped_column(ChoiceType(Zone, 12))
    category: Mapped[Category] = mapped_column(ChoiceType(Category, 12))
    rate: Mapped[Decimal] = mapped_column(Rate)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # inclusive; None = open-ended
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ConsumptionNorm(CreatedAtMixin, Base):
    """Monthly consumption norm of a service per resident or per m² (no meter, no average)."""

    __tablename__ = "consumption_norms"

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[Service] = mapped_column(ChoiceType(Service, 20), index=True)
    basis: Mapped[NormBasis] = mapped_column(ChoiceType(NormBasis, 12))
    volume: Mapped[Decimal] = mapped_column(Rate)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class KeyRate(CreatedAtMixin, Base):
    """The Bank of Russia key rate from a date on, for penalties (пени)."""

    __tablename__ = "key_rates"

    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, unique=True)
    percent: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class KeyRateCap(CreatedAtMixin, Base):
    """A cap on the key rate penalties take, over dates (government decrees have capped it
    for some periods): a rate taken on a day of the cap is at most ``percent``."""

    __tablename__ = "key_rate_caps"

    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)  # inclusive
    percent: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class PenaltyScheme(CreatedAtMixin, Base):
    """The penalty stages of a customer category (and one service, or all), from a date on:
    [[from delay day, divisor], ...], e.g. [[31, 300], [91, 130]] (ЖК РФ ст. 155 п. 14).
    Each version holds until the next of the same category and service starts."""

    __tablename__ = "penalty_schemes"
    __table_args__ = (Index("ix_penalty_schemes_lookup", "category", "service", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[Category] = mapped_column(ChoiceType(Category, 12))
    service: Mapped[Service | None] = mapped_column(ChoiceType(Service, 20))  # None: all
    stages: Mapped[list] = mapped_column(JSON)
    valid_from: Mapped[date] = mapped_column(Date)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class BillingPeriod(Base):
    """A calendar month of billing: draft while it may be re-run, closed once frozen."""

    __tablename__ = "billing_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[date] = mapped_column(Date, unique=True)  # first day of the month
    status: Mapped[PeriodStatus] = mapped_column(
        ChoiceType(PeriodStatus, 10), default=PeriodStatus.DRAFT
    )
    processed_accounts: Mapped[int] = mapped_column(Integer, default=0)
    total_accounts: Mapped[int] = mapped_column(Integer, default=0)
    totals: Mapped[dict | None] = mapped_column(JSON)
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class UnchargedReason(Choice):
    NO_TARIFF = "no_tariff", _l("no tariff in force for the service, zone and customer category")
    NO_VOLUME = "no_volume", _l("no reading, no average and no consumption norm in force")


class UnchargedService(Base):
    """An account's service (and zone) the billing run of a period could not charge, and
    why: the period cannot be closed while it has any (filled by each run)."""

    __tablename__ = "uncharged_services"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[date] = mapped_column(Date, index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    service: Mapped[Service] = mapped_column(ChoiceType(Service, 20))
    zone: Mapped[Zone] = mapped_column(ChoiceType(Zone, 12))
    category: Mapped[Category] = mapped_column(ChoiceType(Category, 12))
    reason: Mapped[UnchargedReason] = mapped_column(ChoiceType(UnchargedReason, 12))


class Charge(CreatedAtMixin, Base):
    """One charge line: an account, a service and zone, a period, how the volume was found."""

    __tablename__ = "charges"
    __table_args__ = (Index("ix_charges_period_account", "period", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    period: Mapped[date] = mapped_column(Date)
    service: Mapped[Service] = mapped_column(ChoiceType(Service, 20))
    zone: Mapped[Zone] = mapped_column(ChoiceType(Zone, 12))
    method: Mapped[ChargeMethod] = mapped_column(ChoiceType(ChargeMethod, 14))
    volume: Mapped[Decimal] = mapped_column(Volume)
    tariff: Mapped[Decimal] = mapped_column(Rate)
    amount: Mapped[Decimal] = mapped_column(Money)
    # What the method rests on: months averaged, residents or m² for a norm.
    basis: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    reason: Mapped[str | None] = mapped_column(String(400))  # recalculations only
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # A recalculation the run made when a real reading came (ПП 354 п. 61): the estimated
    # periods it takes back and the day of the reading. None on every other line.
    estimated_from: Mapped[date | None] = mapped_column(Date)
    estimated_to: Mapped[date | None] = mapped_column(Date)
    read_on: Mapped[date | None] = mapped_column(Date)

    @property
    def takes_back_estimates(self) -> bool:
        return self.read_on is not None


class EstimatedVolume(Base):
    """What a period charged one meter zone by estimate (average or norm) while no reading
    came: never a reading of the meter. The first real reading after it settles it (ПП 354
    п. 61): that period charges the real consumption by meter and takes the estimates back
    in a recalculation line, so nothing is charged twice."""

    __tablename__ = "estimated_volumes"
    __table_args__ = (
        Index("ix_estimated_volumes_meter_open", "meter_id", "settled_in"),
        Index("ix_estimated_volumes_period_account", "period", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    service: Mapped[Service] = mapped_column(ChoiceType(Service, 20))
    zone: Mapped[Zone] = mapped_column(ChoiceType(Zone, 12))
    period: Mapped[date] = mapped_column(Date)
    method: Mapped[ChargeMethod] = mapped_column(ChoiceType(ChargeMethod, 14))
    volume: Mapped[Decimal] = mapped_column(Volume)
    basis: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))  # months averaged
    settled_in: Mapped[date | None] = mapped_column(Date)  # the period of the real reading


class PaymentRegistry(UploadedFileMixin, CreatedAtMixin, Base):
    """An uploaded bank or payment-agent registry (CSV)."""

    __tablename__ = "payment_registries"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[RegistryStatus] = mapped_column(
        ChoiceType(RegistryStatus, 12), default=RegistryStatus.PREVIEW
    )
    imported_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    source_csv: Mapped[str | None] = mapped_column(Text)
    errors_csv: Mapped[str | None] = mapped_column(Text)


class Payment(CreatedAtMixin, Base):
    """Money received for an account; (agent, reference) is unique, so a registry imported
    twice adds nothing."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("agent", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date] = mapped_column(Date, index=True)
    agent: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str] = mapped_column(String(100))
    registry_id: Mapped[int | None] = mapped_column(ForeignKey("payment_registries.id"))


class Penalty(CreatedAtMixin, Base):
    """Penalties (пени) accrued on an account's overdue debt during one billing period."""

    __tablename__ = "penalties"
    __table_args__ = (UniqueConstraint("account_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    period: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    details: Mapped[list | None] = mapped_column(JSON)  # per debt: days, share, rate, amount


class Bill(CreatedAtMixin, Base):
    """The monthly bill (квитанция / ЕПД) of an account: the ledger of the period.

    closing = opening + charges + penalties − payments.
    """

    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("account_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    period: Mapped[date] = mapped_column(Date, index=True)
    opening_balance: Mapped[Decimal] = mapped_column(Money)
    charges_total: Mapped[Decimal] = mapped_column(Money)
    penalties_total: Mapped[Decimal] = mapped_column(Money)
    payments_total: Mapped[Decimal] = mapped_column(Money)
    closing_balance: Mapped[Decimal] = mapped_column(Money)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)

    account: Mapped["Account"] = relationship()  # noqa: F821


class DebtAction(CreatedAtMixin, Base):
    """One step of debt escalation on an account, visible to the customer."""

    __tablename__ = "debt_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    step: Mapped[DebtStep] = mapped_column(ChoiceType(DebtStep, 24))
    amount: Mapped[Decimal] = mapped_column(Money)
    acted_on: Mapped[date] = mapped_column(Date)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_proof: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(String(400))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
