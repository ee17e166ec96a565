"""Documents: the payment QR code of a bill (ГОСТ Р 56042-2014) and PDF rendering.

Pure functions, no request or database: the caller passes the payee's requisites, the payer
and the amount. The QR payload is always Russian (it is read by banking apps, not people).

The payload is ``ST00012|Key=Value|…``: ``ST`` the format, ``0001`` its version, ``2`` the
character set — UTF-8. ``|`` separates fields, so it never appears inside a value.
"""

import io
import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import segno
from babel.dates import format_date

from portal.services.numbers import to_kopecks

HEADER = "ST00012"  # format ST, version 0001, charset 2 = UTF-8
SEPARATOR = "|"
# Lengths the standard sets (ГОСТ Р 56042-2014, tables 1 and 2); longer values are cut.
MAX_LENGTHS = {
    "Name": 160,
    "PersonalAcc": 20,
    "BankName": 45,
    "BIC": 9,
    "CorrespAcc": 20,
    "PayeeINN": 12,
    "PayerINN": 12,
    "KPP": 9,
    "Purpose": 210,
    "Sum": 18,
}
QR_ERROR_LEVEL = "M"
QR_ENCODING = "utf-8"


@dataclass(frozen=True)
class Payee:
    """The supplier's requisites, as printed on the bill."""

    name: str
    inn: str
    kpp: str
    bank_name: str
    bic: str
    account: str  # расчётный счёт, 20 digits
    corr_account: str  # корреспондентский счёт, 20 digits
    address: str = ""

    @classmethod
    def from_config(cls, config) -> "Payee":
        return cls(
            name=config["SUPPLIER_NAME"],
            inn=config["SUPPLIER_INN"],
            kpp=config["SUPPLIER_KPP"],
            bank_name=config["SUPPLIER_BANK_NAME"],
            bic=config["SUPPLIER_BIC"],
            account=config["SUPPLIER_ACCOUNT"],
            corr_account=config["SUPPLIER_CORR_ACCOUNT"],
            address=config["SUPPLIER_ADDRESS"],
        )


@dataclass(frozen=True)
class Payer:
    """Who pays: the holder of the personal account."""

    full_name: str
    address: str
    account_number: str  # лицевой счёт
    is_person: bool = True
    inn: str | None = None  # an organisation's ИНН


def clean(value) -> str:
    """A value fit for one field: no separator, no line breaks, single spaces."""
    return " ".join(str(value).replace(SEPARATOR, " ").split())


def split_person_name(full_name: str) -> tuple[str, str, str]:
    """ "Иванов Иван Иванович" → (last, first, middle); missing parts are empty.

    Russian documents write the surname first; a double patronymic ("Оглы") stays whole.
    """
    parts = clean(full_name).split(" ")
    last = parts[0] if parts else ""
    first = parts[1] if len(parts) > 1 else ""
    middle = " ".join(parts[2:])
    return last, first, middle


def payment_purpose(period: date, account_number: str) -> str:
    """ "Оплата за октябрь 2026, л/с 5200001234"."""
    month = format_date(period, "LLLL yyyy", locale="ru")
    return f"Оплата за {month}, л/с {account_number}"


def payment_payload(
    payee: Payee, payer: Payer, period: date, amount: Decimal, *, purpose: str | None = None
) -> str:
    """The text of the payment QR code of a bill.

    ``amount`` is what the bill asks to pay; when nothing is owed (zero or an
    overpayment) the Sum field is left out and the banking app asks the payer for it.
    ``purpose`` replaces the household purpose (a company's invoice names itself and VAT).
    """
    fields: list[tuple[str, str]] = [
        ("Name", payee.name),
        ("PersonalAcc", payee.account),
        ("BankName", payee.bank_name),
        ("BIC", payee.bic),
        ("CorrespAcc", payee.corr_account),
        ("PayeeINN", payee.inn),
        ("KPP", payee.kpp),
        ("PersAcc", payer.account_number),
    ]
    if payer.is_person:
        last, first, middle = split_person_name(payer.full_name)
        fields += [("LastName", last), ("FirstName", first), ("MiddleName", middle)]
    elif payer.inn:
        fields.append(("PayerINN", payer.inn))
    fields += [
        ("PayerAddress", payer.address),
        ("Purpose", purpose or payment_purpose(period, clean(payer.account_number))),
    ]
    kopecks = to_kopecks(amount)
    if kopecks > 0:
        fields.append(("Sum", str(kopecks)))
    fields.append(("PaymPeriod", period.strftime("%m%Y")))
    parts = [HEADER]
    for key, raw in fields:
        value = clean(raw)[: MAX_LENGTHS.get(key)]
        if value:
            parts.append(f"{key}={value}")
    return SEPARATOR.join(parts)


def parse_payload(payload: str) -> dict[str, str]:
    """The fields of a payload (for tests and diagnostics)."""
    header, *fields = payload.split(SEPARATOR)
    if header != HEADER:
        raise ValueError(f"not a ГОСТ Р 56042 UTF-8 payload: {header!r}")
    return dict(field.split("=", 1) for field in fields)


# --- the QR code --------------------------------------------------------------------------


def make_qr(payload: str) -> segno.QRCode:
    """A QR code (never a micro QR) with error correction level M, UTF-8 bytes."""
    return segno.make(
        payload, error=QR_ERROR_LEVEL, encoding=QR_ENCODING, micro=False, boost_error=False
    )


def qr_svg(payload: str, scale: int = 4) -> str:
    """The QR code as SVG markup, with the standard four-module quiet zone."""
    return make_qr(payload).svg_inline(scale=scale, border=4)


def qr_svg_data_uri(payload: str, scale: int = 4) -> str:
    """The QR code as a ``data:image/svg+xml`` URI for an <img> (CSP allows data: images)."""
    return make_qr(payload).svg_data_uri(scale=scale, border=4)


def qr_png(payload: str, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    make_qr(payload).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_png_data_uri(payload: str, scale: int = 6) -> str:
    return make_qr(payload).png_data_uri(scale=scale, border=4)


# --- PDF ----------------------------------------------------------------------------------


def render_pdf(html: str) -> bytes:
    """A PDF from a self-contained HTML document (WeasyPrint).

    Only ``data:`` URIs are fetched: a document never reaches out to the network or disk.
    """
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=_font_config())


_fonts = threading.local()


def _font_config():
    """One font configuration per thread, reused: loading the fonts anew is a third of a
    small document's rendering (a bulk issue renders thousands)."""
    from weasyprint.text.fonts import FontConfiguration

    if not hasattr(_fonts, "config"):
        _fonts.config = FontConfiguration()
    return _fonts.config
