"""Template filters and labels: how values read to a person, in the current language."""

from datetime import date, datetime
from decimal import Decimal

import phonenumbers
from flask_babel import format_date, format_datetime, format_decimal, get_locale


def label(mapping: dict, key):
    return mapping.get(key, key)


def as_date(value: date | datetime | None, style: str = "medium") -> str:
    """A date; a moment as the calendar day it is in the supplier's zone (Flask-Babel's
    time zone), not in UTC: 22:30 UTC on the 19th is the 20th in Moscow."""
    if value is None:
        return "—"
    return format_date(value, style)


def as_date_ending(value: date | None, style: str = "long") -> str:
    """A date that ends a sentence, whose full stop the message adds: a date ending with an
    abbreviation's full stop (Russian «15 декабря 2026 г.») loses it, so the sentence reads
    «…откроется 15 декабря 2026 г.», never «г..»."""
    return as_date(value, style).removesuffix(".")


def as_ordinal(day: int) -> str:
    """A day of the month in running text: "15th" in English, "15" where the language
    puts no suffix on the number (Russian: «с 15 по 25 число»)."""
    locale = get_locale()
    if locale is None or locale.language != "en":
        return str(day)
    suffix = {"one": "st", "two": "nd", "few": "rd"}.get(locale.ordinal_form(day), "th")
    return f"{day}{suffix}"


def as_month_range(first: date, last: date) -> str:
    """Months from ``first`` to ``last`` in running text: "October 2026", "October–November
    2026", "December 2026–January 2027"."""
    if (first.year, first.month) == (last.year, last.month):
        return format_date(first, "LLLL yyyy")
    if first.year == last.year:
        return f"{format_date(first, 'LLLL')}–{format_date(last, 'LLLL yyyy')}"
    return f"{format_date(first, 'LLLL yyyy')}–{format_date(last, 'LLLL yyyy')}"


def as_datetime(value: datetime | None, style: str = "short") -> str:
    return "—" if value is None else format_datetime(value, style)


def as_number(value: Decimal | int | float | None) -> str:
    return "—" if value is None else format_decimal(value)


def as_money(value: Decimal | int | None) -> str:
    """1234.5 → "1 234,50 ₽" (Russian) or "1,234.50 ₽" (English): always two decimals."""
    if value is None:
        return "—"
    return f"{format_decimal(value, format='#,##0.00')}\u00a0₽"


def as_rate(value: Decimal | None) -> str:
    """A tariff: two to four decimals, "6,43 ₽" or "6,4312 ₽"."""
    if value is None:
        return "—"
    return f"{format_decimal(value, format='#,##0.00##')}\u00a0₽"


def as_phone(value: str | None) -> str:
    """+79161234567 → +7 916 123-45-67."""
    if not value:
        return "—"
    try:
        number = phonenumbers.parse(value, "RU")
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


FILTERS = {
    "as_date": as_date,
    "as_date_ending": as_date_ending,
    "as_ordinal": as_ordinal,
    "as_datetime": as_datetime,
    "as_number": as_number,
    "as_phone": as_phone,
    "money": as_money,
    "rate": as_rate,
}
GLOBALS = {"label": label}
