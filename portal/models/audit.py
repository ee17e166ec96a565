"""Audit log of staff views and changes of personal data (152-ФЗ)."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, Choice, UTCDateTime, utcnow


class AuditAction(Choice):
    """What the employee did; the audit log's filter offers these."""

    VIEW = "view", _l("viewed"), "text-bg-light border"
    UPDATE = "update", _l("changed"), "text-bg-warning"
    CREATE = "create", _l("created"), "text-bg-success"
    DELETE = "delete", _l("deleted"), "text-bg-danger"
    SEARCH = "search", _l("searched"), "text-bg-light border"
    EXPORT = "export", _l("exported"), "text-bg-light border"
    SIGN_IN = "sign_in", _l("signed in")
    SECOND_FACTOR_ENABLED = "second_factor_enabled", _l("turned two-factor sign-in on")
    SECOND_FACTOR_RESET = "second_factor_reset", _l("reset the second factor")
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed", _l("renewed the recovery codes")


class AuditObject(Choice):
    """What an event may be about (``portal.services.audit.OBJECT_TYPES``)."""

    ACCOUNT = "account", _l("Personal account")
    APPEAL = "appeal", _l("Appeal")
    APPLICATION = "application", _l("Contract application")
    ANSWER_TEMPLATE = "answer_template", _l("Answer template")
    BILLING_PERIOD = "billing_period", _l("Billing period")
    CAMPAIGN = "campaign", _l("Mailing")
    CALENDAR_DAY = "calendar_day", _l("Work calendar day")  # an exception to the calendar
    CHARGE = "charge", _l("Charge")
    CONSUMPTION_NORM = "consumption_norm", _l("Consumption norm")
    CONTRACT = "contract", _l("Contract")
    CONTRACT_DOCUMENT = "contract_document", _l("Document for an organisation")
    CUSTOMER = "customer", _l("Customer")
    DEBT_ACTION = "debt_action", _l("Debt collection step")
    # A search or export of the debtor list: personal data of many customers.
    DEBTOR = "debtor", _l("Debtor list")
    IMPORT_BATCH = "import_batch", _l("Readings import")
    KEY_RATE = "key_rate", _l("Key rate")
    METER = "meter", _l("Meter")
    OUTBOX_MESSAGE = "outbox_message", _l("Message")
    PAYMENT = "payment", _l("Payment")
    PAYMENT_REGISTRY = "payment_registry", _l("Payment registry")
    PENALTY_SCHEME = "penalty_scheme", _l("Penalty scheme")
    READING = "reading", _l("Reading")
    SETTING = "setting", _l("Setting")  # object_id is empty: the summary names the key
    STAFF = "staff", _l("Employee")
    TARIFF = "tariff", _l("Tariff")
    OFFICE = "office", _l("Service office")
    BOOKING = "booking", _l("Booked visit")
    SURVEY_CRITERION = "survey_criterion", _l("Survey criterion")
    SURVEY_CAMPAIGN = "survey_campaign", _l("Annual survey")


def _member(choice: type[Choice], value: str) -> Choice | None:
    return choice(value) if value in choice.values() else None


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)  # view, update, create, ...
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(index=True)
    summary: Mapped[str] = mapped_column(String(400), default="")
    changes: Mapped[dict | None] = mapped_column(JSON)
    ip_address: Mapped[str | None] = mapped_column(String(45))

    staff: Mapped["Staff | None"] = relationship()  # noqa: F821

    @property
    def action_choice(self) -> AuditAction | None:
        """The action as a member (its label and badge); None for one the log has no label
        for, shown as stored."""
        return _member(AuditAction, self.action)

    @property
    def object_choice(self) -> AuditObject | None:
        return _member(AuditObject, self.object_type)
