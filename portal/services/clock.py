"""The one clock: "now" in UTC, and the supplier's day and zone.

Timestamps are stored in UTC; what a person reads, and the calendar day a rule counts in
(a readings window opens at local midnight), is the supplier's (SUPPLIER_TIMEZONE,
Europe/Moscow by default). Tests set the time with time-machine, which moves this clock
and every other (``datetime.now``, ``date.today``) at once.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_ZONE = "Europe/Moscow"


def utcnow() -> datetime:
    return datetime.now(UTC)


def supplier_zone() -> ZoneInfo:
    """The supplier's time zone (SUPPLIER_TIMEZONE, Europe/Moscow by default)."""
    zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(zone or DEFAULT_ZONE)


def local_now() -> datetime:
    return utcnow().astimezone(supplier_zone())


def local_today() -> date:
    """The supplier's calendar day, not the UTC one: 22:30 UTC on the 19th is the 20th in
    Moscow."""
    return local_now().date()


def local_day_of(moment: datetime) -> date:
    """The supplier's calendar day a moment falls on."""
    return moment.astimezone(supplier_zone()).date()
