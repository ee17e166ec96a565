"""Personal accounts (лицевые счета), premises, contracts and links to portal users."""

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin, UTCDateTime, utcnow


class Service(Choice):
    ELECTRICITY = "electricity", _l("Electricity")
    HEAT = "heat", _l("Heating")
    COLD_WATER = "cold_water", _l("Cold water")
    HOT_WATER = "hot_water", _l("Hot water")

    @property
    def unit(self):
        return _SERVICE_UNITS[self]

    @property
    def has_zones(self) -> bool:
        """Only electricity is metered and priced by time of day (tariff zones)."""
        return self is Service.ELECTRICITY


_SERVICE_UNITS = {
    Service.ELECTRICITY: _l("kWh"),
    Service.HEAT: _l("Gcal"),
    Service.COLD_WATER: _l("m³"),
    Service.HOT_WATER: _l("m³"),
}


class Category(Choice):
    """The customer category tariffs differ by."""

    POPULATION = "population", _l("Household")
    OTHERS = "others", _l("Business")


SERVICES = Service.values()
CATEGORIES = Category.values()


class Premises(Base):
    """A flat, house or non-residential premises where services are supplied."""

    __tablename__ = "premises"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(400), index=True)
    district: Mapped[str | None] = mapped_column(String(100))
    area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    residents: Mapped[int] = mapped_column(Integer, default=1)
    # A per-resident norm with nobody registered counts the owners (ПП 354 п. 56(2)).
    owners: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class ContractStatus(Choice):
    ACTIVE = "active", _l("in force"), "text-bg-success"
    TERMINATED = "terminated", _l("terminated"), "text-bg-secondary"


class Contract(CreatedAtMixin, Base):
    """A supply contract (договор) with a legal-entity customer: its payment terms (the day
    of the month documents are issued and the day payment is due, both of the month after
    the period) and the accounts of its supply points."""

    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    signed_on: Mapped[date] = mapped_column(Date)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[ContractStatus] = mapped_column(
        ChoiceType(ContractStatus, 12), default=ContractStatus.ACTIVE, server_default="active"
    )
    bill_day: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    due_day: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    terminated_on: Mapped[date | None] = mapped_column(Date)

    organisation: Mapped["Organisation"] = relationship(back_populates="contracts")  # noqa: F821
    accounts: Mapped[list["Account"]] = relationship(
        back_populates="contract", order_by="Account.number"
    )
    amendments: Mapped[list["ContractAmendment"]] = relationship(
        back_populates="contract", order_by="ContractAmendment.signed_on"
    )


class ContractAmendment(CreatedAtMixin, Base):
    """An additional agreement (дополнительное соглашение) to a contract, with its date."""

    __tablename__ = "contract_amendments"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    number: Mapped[str] = mapped_column(String(40))
    signed_on: Mapped[date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(String(400))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    contract: Mapped[Contract] = relationship(back_populates="amendments")


class Account(CreatedAtMixin, Base):
    """A personal account: one customer, one premises, the services supplied there."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    # Printed on every bill; with the number it proves the holder has the paper bill.
    secret_code: Mapped[str] = mapped_column(String(12))
    category: Mapped[Category] = mapped_column(
        ChoiceType(Category, 12), default=Category.POPULATION
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    premises_id: Mapped[int] = mapped_column(ForeignKey("premises.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)

    customer: Mapped["Customer"] = relationship(back_populates="accounts")  # noqa: F821
    premises: Mapped[Premises] = relationship()
    contract: Mapped[Contract | None] = relationship(back_populates="accounts")
    services: Mapped[list["AccountService"]] = relationship(
        back_populates="account", cascade="all, delete-orphan", order_by="AccountService.service"
    )
    meters: Mapped[list["Meter"]] = relationship(  # noqa: F821
        back_populates="account", order_by="Meter.service"
    )
    links: Mapped[list["AccountLink"]] = relationship(
        back_populates="account", cascade="all, delete-orphan"
    )


class AccountService(Base):
    """A service supplied on an account (electricity, heat, cold or hot water)."""

    __tablename__ = "account_services"
    __table_args__ = (UniqueConstraint("account_id", "service"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    service: Mapped[Service] = mapped_column(ChoiceType(Service, 20))
    started_on: Mapped[date] = mapped_column(Date)

    account: Mapped[Account] = relationship(back_populates="services")


class AccountLink(Base):
    """A portal user's link to an account, made with the account number and secret code."""

    __tablename__ = "account_links"
    __table_args__ = (UniqueConstraint("user_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped["User"] = relationship(back_populates="account_links")  # noqa: F821
    account: Mapped[Account] = relationship(back_populates="links")
