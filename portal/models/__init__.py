"""All models, imported here so that metadata and Alembic see every table."""

from portal.models.accounts import (
    CATEGORIES,
    SERVICES,
    Account,
    AccountLink,
    AccountService,
    Contract,
    Premises,
)
from portal.models.audit import AuditEvent
from portal.models.base import Base, utcnow
from portal.models.billing import (
    CHARGE_METHODS,
    DEBT_STEPS,
    Bill,
    BillingPeriod,
    Charge,
    ConsumptionNorm,
    DebtAction,
    KeyRate,
    Payment,
    PaymentRegistry,
    Penalty,
    Tariff,
)
from portal.models.calendar import CalendarDay
from portal.models.metering import (
    METER_STATUSES,
    READING_SOURCES,
    READING_STATUSES,
    ImportBatch,
    Meter,
    Reading,
)
from portal.models.notifications import OutboxMessage
from portal.models.people import (
    ORG_ROLES,
    STAFF_ROLES,
    Consent,
    Customer,
    Invitation,
    Organisation,
    OrganisationMember,
    Staff,
    User,
)
from portal.models.security import RecoveryCode, SignInFailure, SignInSession
from portal.models.settings import Setting
from portal.models.visits import Office

__all__ = [
    "CHARGE_METHODS",
    "DEBT_STEPS",
    "Bill",
    "BillingPeriod",
    "Charge",
    "ConsumptionNorm",
    "DebtAction",
    "KeyRate",
    "Payment",
    "PaymentRegistry",
    "Penalty",
    "Tariff",
    "CATEGORIES",
    "METER_STATUSES",
    "READING_SOURCES",
    "READING_STATUSES",
    "ORG_ROLES",
    "SERVICES",
    "STAFF_ROLES",
    "Account",
    "AccountLink",
    "AccountService",
    "AuditEvent",
    "Base",
    "CalendarDay",
    "Consent",
    "Contract",
    "Customer",
    "Invitation",
    "ImportBatch",
    "Meter",
    "Reading",
    "Office",
    "Organisation",
    "OrganisationMember",
    "OutboxMessage",
    "Premises",
    "RecoveryCode",
    "Setting",
    "SignInFailure",
    "SignInSession",
    "Staff",
    "User",
    "utcnow",
]
