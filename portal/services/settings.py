"""Domain settings: documented defaults (see DOMAIN.md), overridden by rows staff edit.

One source of truth per rule: code asks ``get(session, key)``, never a constant.
"""

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Setting, utcnow


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
            3,
            _l("Bill by the average of up to this many months"),
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
            "billing.due_day", int, 10, _l("Payment is due by this day of the next month"), 1, 28
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
    ]
}


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
    session.commit()
