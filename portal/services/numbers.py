"""Numbers typed by people, and money.

``parse_decimal`` reads a number as Russians and spreadsheets write it: spaces or no-break
spaces between thousands, a comma or a point before the fraction. Money is Decimal,
rounded half-up to kopecks (``money``) — never half-even, never float.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from portal.services.errors import DomainError

KOPECK = Decimal("0.01")
MAX_DIGITS = 20  # longer than any reading, amount or rate: refused before Decimal works on it
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)", re.ASCII)  # "١٢" is no number here
_SPACES = re.compile(r"[\s\u00a0\u202f]")


def money(value) -> Decimal:
    """An amount rounded half-up to kopecks: 10.005 → 10.01."""
    if value is None:
        value = 0
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return amount.quantize(KOPECK, rounding=ROUND_HALF_UP)


def to_kopecks(amount) -> int:
    """Roubles → whole kopecks (half-up), as a payment QR code and registries write them."""
    return int(money(amount) * 100)


def from_kopecks(kopecks: int) -> Decimal:
    return (Decimal(kopecks) / 100).quantize(KOPECK)


def parse_decimal(
    text,
    *,
    places: int | None = None,
    minimum: Decimal | int | None = None,
    maximum: Decimal | int | None = None,
    field: str | None = None,
) -> Decimal:
    """The number a person typed, or a DomainError fit to show next to ``field``.

    "1 234,5", "1234.5" and "1\u00a0234,50" are all 1234.5. ``places``: at most that many
    digits after the separator; ``minimum``/``maximum``: the range, both included.
    """
    raw = _SPACES.sub("", str(text if text is not None else ""))
    if not raw:
        raise DomainError(_("Enter a number."), field)
    if len(raw) > MAX_DIGITS or not _NUMBER.fullmatch(raw):
        raise DomainError(_("Enter a number, for example 1 234,5."), field)
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise DomainError(_("Enter a number, for example 1 234,5."), field) from None
    exponent = value.as_tuple().exponent
    if places is not None and isinstance(exponent, int) and -exponent > places:
        raise DomainError(
            ngettext(
                "At most %(num)s digit after the decimal point.",
                "At most %(num)s digits after the decimal point.",
                places,
            )
            if places
            else _("Enter a whole number."),
            field,
        )
    _check_range(value, minimum, maximum, field)
    return value


def _check_range(value: Decimal, minimum, maximum, field: str | None) -> None:
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise DomainError(
            _(
                "Enter a value from %(minimum)s to %(maximum)s.",
                minimum=format_decimal(minimum),
                maximum=format_decimal(maximum),
            ),
            field,
        )
    if minimum is not None and value < minimum:
        raise DomainError(
            _("Enter a value of at least %(minimum)s.", minimum=format_decimal(minimum)), field
        )
    if maximum is not None and value > maximum:
        raise DomainError(
            _("Enter a value of at most %(maximum)s.", maximum=format_decimal(maximum)), field
        )
