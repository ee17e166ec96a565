"""Domain settings: documented defaults (see DOMAIN.md), overridden by rows staff edit.

One source of truth per rule: code asks ``get(session, key)``, never a constant.
Administrators change a value through ``change`` (checked by kind, range and the rules
between settings, audited) or go back to the default through ``reset``; ``put`` stores a
value without those checks, for the command line, demo data and tests.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.formatting import as_ordinal
from portal.models import NOTICE_KINDS, AppealKind, AppealTopic, Setting, Staff
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit
from portal.services.clock import utcnow
from portal.services.errors import DomainError, NotFound


@dataclass(frozen=True)
class SettingSpec:
    key: str
    kind: type
    default: object
    label: object
    minimum: object | None = None
    maximum: object | None = None


SPECS = {
    spec.key: spec
    for spec in [
        SettingSpec(
            "meters.verification_warning_days",
            int,
            30,
            _l("Warn about meter verification this many days ahead"),
            1,
            365,
        ),
        SettingSpec(
            "readings.window_first_day", int, 15, _l("Readings window: first day of month"), 1, 28
        ),
        SettingSpec(
            "readings.window_last_day", int, 25, _l("Readings window: last day of month"), 1, 31
        ),
        SettingSpec(
            "readings.review_threshold",
            Decimal,
            Decimal("3"),
            _l("Consumption above this multiple of the average goes to review"),
            Decimal("1.1"),
            Decimal("100"),
        ),
        SettingSpec(
            "readings.rollover_share",
            Decimal,
            Decimal("0.1"),
            _l(
                "A lower reading counts as a register rollover if the consumption it implies is below this share of the register's capacity"
            ),
            Decimal("0.01"),
            Decimal("0.5"),
        ),
        SettingSpec(
            "readings.average_months",
            int,
            6,
            _l("Months of history the average consumption is taken over"),
            1,
            36,
        ),
        SettingSpec(
            "billing.average_months",
            int,
            6,
            _l(
                "A missing reading is charged by the monthly average of the readings of this many months before the last one (ПП 354 п. 59)"
            ),
            1,
            36,
        ),
        SettingSpec(
            "billing.average_min_months",
            int,
            3,
            _l(
                "The average needs readings spanning at least this many months (a meter that worked less is charged by the norm)"
            ),
            1,
            36,
        ),
        SettingSpec(
            "billing.average_max_periods",
            int,
            3,
            _l(
                "Charge by the average for at most this many months in a row, then by the norm (ПП 354 п. 60)"
            ),
            1,
            12,
        ),
        SettingSpec(
            "billing.heating_first_month",
            int,
            10,
            _l(
                "The heating period starts in this month of the year (for heat, the average counts its months only: ПП 354 п. 59)"
            ),
            1,
            12,
        ),
        SettingSpec(
            "billing.heating_last_month",
            int,
            4,
            _l(
                "The heating period ends with this month of the year (earlier than its first month: across the new year)"
            ),
            1,
            12,
        ),
        SettingSpec(
            "billing.issue_day_population",
            int,
            1,
            _l("Bills of households are issued by this day of the next month"),
            1,
            28,
        ),
        SettingSpec(
            "billing.issue_day_others",
            int,
            7,
            _l("Bills of legal entities are issued by this day of the next month"),
            1,
            28,
        ),
        SettingSpec(
            "billing.due_day",
            int,
            10,
            _l("Households' payment is due by this day of the next month (ЖК РФ ст. 155 п. 1)"),
            1,
            28,
        ),
        SettingSpec(
            "billing.due_day_others",
            int,
            10,
            _l(
                "Legal entities' payment is due by this day of the next month (as the contract says)"
            ),
            1,
            28,
        ),
        SettingSpec("penalties.free_days", int, 30, _l("Days of delay without penalty"), 0, 365),
        SettingSpec(
            "penalties.high_from_day",
            int,
            91,
            _l("Delay day from which the higher penalty applies"),
            1,
            3650,
        ),
        SettingSpec(
            "penalties.low_divisor",
            int,
            300,
            _l("Penalty per day: key rate divided by (first stage)"),
            1,
            10000,
        ),
        SettingSpec(
            "penalties.high_divisor",
            int,
            130,
            _l("Penalty per day: key rate divided by (second stage)"),
            1,
            10000,
        ),
        SettingSpec(
            "penalties.rate_each_day",
            int,
            0,
            _l(
                "Key rate of penalties: 0 is the rate on the day of payment, or of the calculation while unpaid (ЖК РФ ст. 155 п. 14); 1 is each day's rate"
            ),
            0,
            1,
        ),
        SettingSpec(
            "debt.warning_lead_days",
            int,
            20,
            _l("A restriction may follow this many days after the warning was delivered"),
            1,
            365,
        ),
        SettingSpec(
            "debt.overdue_months",
            int,
            2,
            _l("A debt this many months old or older counts as overdue"),
            1,
            36,
        ),
        SettingSpec(
            "notify.sms_quiet_from",
            int,
            21,
            _l("SMS quiet hours start at this hour (the supplier's local time)"),
            0,
            23,
        ),
        SettingSpec(
            "notify.sms_quiet_until",
            int,
            9,
            _l(
                "SMS quiet hours end at this hour, when the SMS held back go out; the same hour as the start means no quiet hours"
            ),
            0,
            23,
        ),
        SettingSpec(
            "notify.working_day_from",
            int,
            9,
            _l(
                "Debt and tariff messages planned for a non-working day go out at this hour of the next working day"
            ),
            0,
            23,
        ),
        SettingSpec(
            "notify.window_closing_days",
            int,
            3,
            _l("Remind of readings not sent this many days before the readings window closes"),
            1,
            15,
        ),
        SettingSpec(
            "notify.payment_due_days",
            int,
            3,
            _l("Remind of an unpaid bill this many days before payment is due"),
            1,
            30,
        ),
        SettingSpec(
            "notify.plan_hour",
            int,
            10,
            _l("Reminders are planned once a day at this hour (the supplier's local time)"),
            0,
            23,
        ),
        SettingSpec(
            "notify.bill_news_days",
            int,
            7,
            _l(
                "A bill not announced on its day (planning did not run) is still announced this many days after it was issued"
            ),
            0,
            31,
        ),
        # Whether an optional kind of notice goes to a customer who never chose how to get it.
        *[
            SettingSpec(
                f"notify.default.{kind.name}",
                int,
                int(kind.default_on),
                _l(
                    "Notices “%(kind)s”: 1 sends them to customers who did not choose (by their preferred channel), 0 only to those who asked",
                    kind=kind.label,
                ),
                0,
                1,
            )
            for kind in NOTICE_KINDS.values()
            if not kind.mandatory
        ],
        SettingSpec(
            "security.second_factor_for_all_staff",
            int,
            0,
            _l(
                "Two-factor sign-in: 1 requires it of every employee, 0 of administrators and supervisors only"
            ),
            0,
            1,
        ),
        SettingSpec(
            "visits.min_notice_hours",
            int,
            2,
            _l("Visits can be booked, moved or cancelled until this many hours before their time"),
            0,
            72,
        ),
        SettingSpec(
            "visits.max_days_ahead",
            int,
            30,
            _l("Visits can be booked at most this many days ahead"),
            1,
            365,
        ),
        SettingSpec(
            "visits.active_bookings_limit",
            int,
            2,
            _l("A customer may hold at most this many booked visits at once"),
            1,
            20,
        ),
        SettingSpec(
            "visits.minutes_reception",
            int,
            15,
            _l("Minutes a consultation and reception of documents is booked for (004 §8.4: 10–15)"),
            5,
            120,
        ),
        SettingSpec(
            "visits.minutes_invoices",
            int,
            15,
            _l("Minutes the issue of invoices is booked for (004 §8.4: 15)"),
            5,
            120,
        ),
        SettingSpec(
            "visits.minutes_contract",
            int,
            20,
            _l("Minutes contract documents are booked for (004 §8.4: 20)"),
            5,
            120,
        ),
        SettingSpec(
            "visits.minutes_manager",
            int,
            15,
            _l("Minutes a consultation with the head of the office is booked for (004 §8.4: 15)"),
            5,
            120,
        ),
        SettingSpec(
            "visits.home_notice_days",
            int,
            10,
            _l(
                "A home visit's date, time window and visitor are told this many days ahead (004 T4)"
            ),
            1,
            30,
        ),
        SettingSpec(
            "visits.wait_target_minutes",
            int,
            30,
            _l("Visitors should be called within this many minutes of arriving (003)"),
            5,
            240,
        ),
        SettingSpec(
            # Tax Code art. 164 p. 3, 22 % from 2026 (Federal Law of 28.11.2025 No. 425-FZ).
            "documents.vat_rate",
            Decimal,
            Decimal("22"),
            _l("VAT rate on energy and water sold to organisations, per cent"),
            Decimal("0"),
            Decimal("30"),
        ),
        SettingSpec(
            "documents.upd",
            int,
            0,
            _l(
                "Documents for organisations: 1 issues one universal transfer document (УПД) "
                "instead of a VAT invoice and an act, 0 issues both"
            ),
            0,
            1,
        ),
    ]
}

# Appeals (DOMAIN.md "Appeals and complaints"): the legal term per kind of appeal (002 §15.4:
# 30 calendar days; 004: 15, extendable once by up to 15 after an interim answer, never over
# 30), a topic's own term where it differs, voicemail (004: 5 working days with a phone, 20
# with an address), internal targets and the portal's limits.
for _kind in AppealKind:
    for _spec in (
        SettingSpec(
            f"appeals.{_kind}.days",
            int,
            30,
            _l("Appeals (%(kind)s): days to answer", kind=_kind.label),
            1,
            60,
        ),
        SettingSpec(
            f"appeals.{_kind}.working_days",
            int,
            0,
            _l(
                "Appeals (%(kind)s): 1 counts the term in working days, 0 in calendar days",
                kind=_kind.label,
            ),
            0,
            1,
        ),
        SettingSpec(
            f"appeals.{_kind}.extension_days",
            int,
            0,
            _l(
                "Appeals (%(kind)s): days one interim answer may extend the term by, 0 for no extension",
                kind=_kind.label,
            ),
            0,
            30,
        ),
    ):
        SPECS[_spec.key] = _spec
for _topic in AppealTopic:
    SPECS[f"appeals.topic.{_topic}.days"] = SettingSpec(
        f"appeals.topic.{_topic}.days",
        int,
        0,
        _l(
            "Appeals on %(topic)s: days to answer, 0 to follow the kind of appeal",
            topic=_topic.label,
        ),
        0,
        60,
    )
for _spec in (
    SettingSpec(
        "appeals.max_total_days",
        int,
        30,
        _l("Appeals: the term with its extension is never longer than this many days"),
        1,
        60,
    ),
    SettingSpec(
        "appeals.voicemail_phone_days",
        int,
        5,
        _l("Voicemail with a phone number: working days to call back"),
        1,
        30,
    ),
    SettingSpec(
        "appeals.voicemail_address_days",
        int,
        20,
        _l("Voicemail with a postal address only: working days to answer"),
        1,
        60,
    ),
    SettingSpec(
        "appeals.assign_target_working_days",
        int,
        1,
        _l("Appeals: an executor is assigned within this many working days (internal target)"),
        0,
        10,
    ),
    SettingSpec(
        "appeals.clarification_stops_clock",
        int,
        0,
        _l("Appeals: 1 stops the term while the customer is asked for a clarification, 0 does not"),
        0,
        1,
    ),
    SettingSpec(
        "appeals.reopen_days",
        int,
        30,
        _l("Appeals: the customer may reopen an answered appeal once within this many days"),
        0,
        365,
    ),
    SettingSpec(
        "appeals.due_soon_days",
        int,
        3,
        _l("Appeals: remind the executor and the supervisor this many days before the due date"),
        1,
        15,
    ),
    SettingSpec(
        "appeals.attachment_max_kb",
        int,
        10240,
        _l("Appeals: the largest attachment, in kilobytes"),
        100,
        51200,
    ),
    SettingSpec(
        "quality.annual_sample_percent",
        int,
        10,
        _l("Annual satisfaction survey: share of customers asked, percent"),
        1,
        100,
    ),
    SettingSpec(
        "quality.survey_after_contact",
        int,
        1,
        _l("Ask for a rating after an answered appeal, a served visit, a contract: 1 yes, 0 no"),
        0,
        1,
    ),
    SettingSpec(
        "quality.target.reading_acceptance",
        Decimal,
        Decimal("80"),
        _l("Quality target: meter readings accepted in the window, % (001 Table 6: 80–100 %)"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.cash_collection",
        Decimal,
        Decimal("90"),
        _l("Quality target: cash collection, % (001 Table 6: 90–100 %)"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.appeals_on_time",
        Decimal,
        Decimal("80"),
        _l("Quality target: appeals answered on time, % (001 Table 6: 80–100 %)"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.appeals_overdue",
        Decimal,
        Decimal("0"),
        _l("Quality target: appeals overdue, at most"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.appeals_days",
        Decimal,
        Decimal("30"),
        _l("Quality target: average days to answer an appeal, at most (59-FZ: 30 days)"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.contracts_on_time",
        Decimal,
        Decimal("80"),
        _l("Quality target: contracts concluded on time, % (001 Table 6: 80–100 %)"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.satisfaction_average",
        Decimal,
        Decimal("8"),
        _l("Quality target: average satisfaction score (001 Table 6: 8–10)"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.satisfaction_top",
        Decimal,
        Decimal("80"),
        _l("Quality target: share of satisfaction scores 9–10, %"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.office_no_shows",
        Decimal,
        Decimal("10"),
        _l("Quality target: booked visits missed, % at most"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.reminders_delivered",
        Decimal,
        Decimal("95"),
        _l("Quality target: reminders delivered, %"),
        Decimal("0"),
        Decimal("100"),
    ),
    SettingSpec(
        "quality.target.reminders_failed",
        Decimal,
        Decimal("5"),
        _l("Quality target: reminders failed, % at most"),
        Decimal("0"),
        Decimal("100"),
    ),
):
    SPECS[_spec.key] = _spec


# Contract applications (004 table 1 and 2, 003): the clock of every stage. Terms counted in
# calendar days end on the next working day when they end on a day off (Civil Code art. 193).
for _spec in (
    SettingSpec(
        "applications.answer_days",
        int,
        5,
        _l("Applications: days to tell the customer a contract is possible or what is missing"),
        1,
        30,
    ),
    SettingSpec(
        "applications.refusal_days",
        int,
        5,
        _l("Applications: days to send a reasoned refusal"),
        1,
        30,
    ),
    SettingSpec(
        "applications.contract_days.legal",
        int,
        30,
        _l("Applications: days to give a legal entity the signed contract"),
        1,
        90,
    ),
    SettingSpec(
        "applications.contract_working.legal",
        int,
        0,
        _l(
            "Applications: 1 counts a legal entity's contract term in working days, 0 in calendar days"
        ),
        0,
        1,
    ),
    SettingSpec(
        "applications.contract_days.household",
        int,
        10,
        _l("Applications: days to give an individual the signed contract"),
        1,
        90,
    ),
    SettingSpec(
        "applications.contract_working.household",
        int,
        1,
        _l(
            "Applications: 1 counts an individual's contract term in working days, 0 in calendar days"
        ),
        0,
        1,
    ),
    SettingSpec(
        "applications.missing_documents_months",
        int,
        1,
        _l("Applications: months without the requested documents that end consideration"),
        1,
        6,
    ),
    SettingSpec(
        "applications.meter_conditions_days",
        int,
        10,
        _l("Applications: days to issue technical conditions for a meter"),
        1,
        60,
    ),
    SettingSpec(
        "applications.disagreement_days",
        int,
        30,
        _l("Applications: days to answer a protocol of disagreements"),
        1,
        60,
    ),
    SettingSpec(
        "applications.complaint_days",
        int,
        30,
        _l("Applications: days to answer a complaint about a decision"),
        1,
        60,
    ),
):
    SPECS[_spec.key] = _spec


def get(session: Session, key: str):
    spec = SPECS[key]
    stored = session.scalar(select(Setting.value).where(Setting.key == key))
    return spec.default if stored is None else spec.kind(stored)


def put(session: Session, key: str, value, staff_id: int | None = None) -> None:
    spec = SPECS[key]
    value = spec.kind(value)
    row = session.get(Setting, key) or Setting(key=key)
    row.value = str(value)
    row.updated_at = utcnow()
    row.updated_by_id = staff_id
    session.add(row)
    session.flush()


# --- what administrators see and change ------------------------------------------------------

# The sections of the settings page: a setting belongs to the one its key starts with.
GROUPS = {
    "meters": _l("Meters"),
    "readings": _l("Meter readings"),
    "billing": _l("Bills"),
    "penalties": _l("Penalties"),
    "debt": _l("Debt collection"),
    "notify": _l("Notifications"),
    "security": _l("Security"),
    "appeals": _l("Appeals"),
    "visits": _l("Office visits"),
    "documents": _l("Documents for organisations"),
    "quality": _l("Quality and satisfaction"),
    "applications": _l("Contract applications"),
}
MAX_INPUT_LENGTH = 30  # characters of a typed number; longer is out of any range here
DECIMAL_PLACES = 2
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


@dataclass(frozen=True)
class Bound:
    """A rule between two settings: ``lower`` may not be above ``upper`` (nor equal to it
    when ``strict``). Each message goes next to the setting being changed; ``%(other)s``
    is the other setting's value."""

    lower: str
    upper: str
    strict: bool
    lower_message: object
    upper_message: object
    days_of_month: bool = False  # ``%(other)s`` is a day of the month: "the 25th"


# The quiet hours need no rule: any two hours make sense (across midnight when the start is
# later, no quiet hours when both are the same), and so does any hour for working-day mail.
RULES = (
    Bound(
        "readings.window_first_day",
        "readings.window_last_day",
        False,
        _l("The window cannot open after it closes: its last day is the %(other)s."),
        _l("The window cannot close before it opens: its first day is the %(other)s."),
        True,
    ),
    Bound(
        "billing.average_min_months",
        "billing.average_months",
        False,
        _l("The average cannot need more months than it is taken over: %(other)s."),
        _l("The average cannot be taken over fewer months than it needs: %(other)s."),
    ),
    Bound(
        "billing.issue_day_population",
        "billing.due_day",
        False,
        _l("Bills cannot be issued after payment is due: the due day is the %(other)s."),
        _l("Payment cannot be due before households' bills are issued, on the %(other)s."),
        True,
    ),
    Bound(
        "billing.issue_day_others",
        "billing.due_day_others",
        False,
        _l("Bills cannot be issued after payment is due: the due day is the %(other)s."),
        _l("Payment cannot be due before legal entities' bills are issued, on the %(other)s."),
        True,
    ),
    Bound(
        "penalties.free_days",
        "penalties.high_from_day",
        True,
        _l("The days without penalty must end before the higher penalty starts, on day %(other)s."),
        _l("The higher penalty must start after the %(other)s days without penalty."),
    ),
)


def spec_of(key: str) -> SettingSpec:
    """The setting's description; NotFound for a key that is no setting (a mistyped URL)."""
    spec = SPECS.get(key)
    if spec is None:
        raise NotFound()
    return spec


def as_text(value) -> str:
    """A value as stored: "3", "0.15", never "1E+2"."""
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _malformed(spec: SettingSpec) -> DomainError:
    example = format_decimal(spec.default)
    if spec.kind is int:
        return DomainError(
            _("Enter a whole number, for example %(example)s.", example=example), "value"
        )
    return DomainError(_("Enter a number, for example %(example)s.", example=example), "value")


def _out_of_range(spec: SettingSpec) -> DomainError:
    return DomainError(
        _(
            "Enter a value from %(minimum)s to %(maximum)s.",
            minimum=format_decimal(spec.minimum),
            maximum=format_decimal(spec.maximum),
        ),
        "value",
    )


def parse(key: str, raw) -> int | Decimal:
    """A value as an administrator types it (spaces ignored, comma or point), checked
    against the setting's kind and range; DomainError next to the field ``value``."""
    spec = spec_of(key)
    text = str("" if raw is None else raw).strip()
    text = text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not text:
        raise DomainError(_("Enter a value."), "value")
    if not (_INTEGER if spec.kind is int else _DECIMAL).fullmatch(text):
        raise _malformed(spec)
    if len(text) > MAX_INPUT_LENGTH:
        raise _out_of_range(spec)
    value = spec.kind(text)
    if not spec.minimum <= value <= spec.maximum:
        raise _out_of_range(spec)
    if isinstance(value, Decimal):
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > DECIMAL_PLACES:
            raise DomainError(_("Use at most 2 digits after the decimal point."), "value")
        value = Decimal(as_text(value))
    return value


def check_rules(session: Session, key: str, value) -> None:
    """Refuse a value that breaks a rule with another setting's current value."""
    for rule in RULES:
        if key == rule.lower:
            other = get(session, rule.upper)
            broken = value >= other if rule.strict else value > other
            message = rule.lower_message
        elif key == rule.upper:
            other = get(session, rule.lower)
            broken = value <= other if rule.strict else value < other
            message = rule.upper_message
        else:
            continue
        if broken:
            shown = as_ordinal(other) if rule.days_of_month else format_decimal(other)
            raise DomainError(message % {"other": shown}, "value")


@dataclass(frozen=True)
class Change:
    key: str
    old: object
    new: object

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _audit(session: Session, change: Change, staff_id: int | None, ip: str | None, note=""):
    old, new = as_text(change.old), as_text(change.new)
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.SETTING,
        object_id=None,  # settings are keyed by name: the summary names it
        summary=f"{change.key}: {old} → {new}{note}",
        changes={"value": [old, new]},
        ip_address=ip,
    )


def change(
    session: Session, key: str, raw, staff_id: int | None = None, ip: str | None = None
) -> Change:
    """Set a value an administrator typed: checked, stored with who and when, audited in
    the caller's transaction. The same value again changes nothing and records nothing."""
    value = parse(key, raw)
    old = get(session, key)
    if value == old:
        return Change(key, old, old)
    check_rules(session, key, value)
    row = session.get(Setting, key) or Setting(key=key)
    row.value = as_text(value)
    row.updated_at = utcnow()
    row.updated_by_id = staff_id
    session.add(row)
    result = Change(key, old, value)
    _audit(session, result, staff_id, ip)
    session.flush()
    return result


def reset(session: Session, key: str, staff_id: int | None = None, ip: str | None = None) -> Change:
    """Go back to the documented default: the stored value is removed, so the setting
    follows the default from now on. Refused when the default breaks a rule with another
    setting's current value."""
    spec = spec_of(key)
    row = session.get(Setting, key)
    if row is None:
        return Change(key, spec.default, spec.default)
    old = spec.kind(row.value)
    if old != spec.default:
        check_rules(session, key, spec.default)
    session.delete(row)
    result = Change(key, old, spec.default)
    _audit(session, result, staff_id, ip, " (default)")
    session.flush()
    return result


@dataclass(frozen=True)
class SettingView:
    """One setting as the settings page shows it."""

    spec: SettingSpec
    value: object
    stored: bool  # a value is stored (it may equal the default); else the default applies
    updated_at: datetime | None
    updated_by: str | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def slug(self) -> str:
        """The key as a form prefix and element id: "readings-window_first_day"."""
        return self.spec.key.replace(".", "-")

    @property
    def is_default(self) -> bool:
        return self.value == self.spec.default

    @property
    def whole(self) -> bool:
        """A whole number (days, hours), not a decimal one."""
        return self.spec.kind is int


@dataclass(frozen=True)
class SettingGroup:
    key: str
    title: object
    settings: list[SettingView]


def _views(session: Session, keys) -> list[SettingView]:
    """The settings with their stored values and who stored them, in one query."""
    rows = session.execute(
        select(Setting, Staff.full_name)
        .outerjoin(Staff, Staff.id == Setting.updated_by_id)
        .where(Setting.key.in_(keys))
    ).all()
    stored = {row.key: (row, name) for row, name in rows}
    views = []
    for key in keys:
        spec = SPECS[key]
        row, name = stored.get(key, (None, None))
        views.append(
            SettingView(
                spec=spec,
                value=spec.default if row is None else spec.kind(row.value),
                stored=row is not None,
                updated_at=None if row is None else row.updated_at,
                updated_by=name,
            )
        )
    return views


def overview(session: Session) -> list[SettingGroup]:
    """Every setting, grouped by the first part of its key, in the order of ``SPECS``."""
    grouped: dict[str, list[SettingView]] = {}
    for view in _views(session, list(SPECS)):
        grouped.setdefault(view.key.split(".", 1)[0], []).append(view)
    return [
        SettingGroup(prefix, GROUPS.get(prefix, prefix), views) for prefix, views in grouped.items()
    ]


def view(session: Session, key: str) -> SettingView:
    spec_of(key)
    return _views(session, [key])[0]
