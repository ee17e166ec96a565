"""Spreadsheet downloads: the one CSV writer and the one XLSX writer of every export.

CSV (``csv_file``) is written the way Excel in a Russian locale opens it by double click:
UTF-8 with a BOM (else Cyrillic comes out as mojibake), ``;`` between cells (the comma is the
decimal separator there), CRLF line endings; money with a decimal comma, dates DD.MM.YYYY.
XLSX (``xlsx_file``) is a write-only openpyxl workbook: a bold, frozen header row, money
and dates as real numbers with a number format.

Formula cells are neutralised (OWASP "CSV Injection"): a spreadsheet runs a cell that begins
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula, so a name, address
or uploaded cell such as ``=HYPERLINK("http://evil")`` would send data away or run a command
on the machine of the employee who opens the file. Hence:

- CSV: such a text cell is written with a ``'`` in front, which makes it plain text;
- XLSX: every text cell is stored as a string cell, which is never a formula (openpyxl would
  turn a str beginning with ``=`` into one); a formula-like one also gets Excel's quote
  prefix, so editing the cell in Excel keeps it text;
- numbers stay numbers: int, Decimal, float, date and datetime values are never touched, and
  neither is a text cell that is just a plain negative decimal ("-5", "-12,5",
  "-1 234,50"), which no spreadsheet can read as anything but that number. A leading ``+``
  is always neutralised: no export writes numbers that way, and "+7 916 123-45-67" is a
  phone that Excel would otherwise evaluate as a sum.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

CSV_MIMETYPE = "text/csv"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A negative decimal as people and Russian Excel write it: thousands split by a space (or
# a no-break one), a decimal comma or point.
_PLAIN_NEGATIVE = re.compile(r"-\d+(?:[ \u00a0\u202f]\d{3})*(?:[.,]\d+)?")

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "DD.MM.YYYY"
DATETIME_FORMAT = "DD.MM.YYYY HH:MM"


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would take this text cell for a formula."""
    return text.startswith(FORMULA_STARTS) and not _PLAIN_NEGATIVE.fullmatch(text)


def neutralised(text: str) -> str:
    """The text as a CSV cell: a formula-like one with a ``'`` in front."""
    return "'" + text if is_formula_like(text) else text


# --- CSV ------------------------------------------------------------------------------


def csv_cell(value) -> str:
    """One value as a CSV cell: numbers and dates written for Russian Excel, text
    neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, int | float):
        return str(value).replace(".", ",")
    return neutralised(str(value))  # str, or a lazy translation


def csv_file(rows: Iterable[Iterable]) -> bytes:
    """The rows (the header first) as a CSV file to download."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- XLSX -----------------------------------------------------------------------------


def _xlsx_cell(sheet, value) -> WriteOnlyCell:
    if isinstance(value, Decimal | float | int | date) or value is None:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, datetime):
            cell.number_format = DATETIME_FORMAT
        elif isinstance(value, date):
            cell.number_format = DATE_FORMAT
        elif isinstance(value, Decimal):
            cell.number_format = MONEY_FORMAT  # a Decimal is money in the portal
        return cell
    # openpyxl refuses control characters XML cannot hold: dropped rather than failing the
    # whole export over one cell.
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # never "f", whatever the text begins with
    if is_formula_like(text):
        cell.quotePrefix = True
    return cell


def xlsx_file(
    title: str, header: Sequence, rows: Iterable[Iterable], *, widths: Sequence[int] = ()
) -> bytes:
    """One sheet: the header row (bold, frozen) and the rows; ``widths`` of the first
    columns, in characters."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(title)[:31])  # Excel's limit for a sheet name
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    titles = []
    for title_text in header:
        cell = _xlsx_cell(sheet, title_text)
        cell.font = bold
        titles.append(cell)
    sheet.append(titles)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
