"""The one CSV writer and the one XLSX writer of the downloads: Russian Excel's format,
formula-like text neutralised, numbers and dates untouched."""

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from flask_babel import lazy_gettext
from openpyxl import load_workbook

from portal.services import exports
from tests.conftest import english_request

HOSTILE = ['=HYPERLINK("http://x")', "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("+7 916 123-45-67", "'+7 916 123-45-67"),
        ("+7", "'+7"),
        ("-", "'-"),
        ("-1e5", "'-1e5"),
        ("- 5", "'- 5"),
        ("-5", "-5"),
        ("-12,5", "-12,5"),
        ("-12.5", "-12.5"),
        ("-1 234,50", "-1 234,50"),
        ("-1\u00a0234,50", "-1\u00a0234,50"),
        ("Иванов И. И.", "Иванов И. И."),
        ("a=b", "a=b"),
        (" =1+1", " =1+1"),  # a leading space makes it text in every spreadsheet
        ("", ""),
    ],
)
def test_text_cells(text, expected):
    assert exports.csv_cell(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-5, "-5"),
        (0, "0"),
        (Decimal("-1700.00"), "-1700,00"),
        (Decimal("12.345"), "12,345"),
        (-2.5, "-2,5"),
        (date(2026, 3, 1), "01.03.2026"),
        (datetime(2026, 3, 1, 9, 5), "01.03.2026 09:05"),  # noqa: DTZ001 (a sheet has no zone)
        (None, ""),
    ],
)
def test_numbers_and_dates_are_never_neutralised(value, expected):
    assert exports.csv_cell(value) == expected


def test_csv_file_is_what_russian_excel_opens(app):
    with english_request(app):
        body = exports.csv_file(
            [
                [lazy_gettext("Account"), "Имя"],
                ["5200000001", '=HYPERLINK("http://x")'],
                [Decimal("-10.50"), 'Строка; с "кавычками"\nи переводом'],
            ]
        )
    assert body == (
        b"\xef\xbb\xbf"
        + 'Account;Имя\r\n5200000001;"\'=HYPERLINK(""http://x"")"\r\n'
        '-10,50;"Строка; с ""кавычками""\nи переводом"\r\n'.encode()
    )


def test_an_empty_csv_file_is_just_the_bom():
    assert exports.csv_file([]) == b"\xef\xbb\xbf"


def read_xlsx(body: bytes):
    return load_workbook(io.BytesIO(body)).active


def test_xlsx_text_is_never_a_formula_and_numbers_stay_numbers():
    body = exports.xlsx_file(
        "Лист",
        ["Текст", "Сумма", "Дата", "Число"],
        [[text, Decimal("-1234.50"), date(2026, 3, 1), -7] for text in HOSTILE]
        + [["-12,5", None, datetime(2026, 3, 1, 9, 5), 2.5]],  # noqa: DTZ001
        widths=[20, 12],
    )
    sheet = read_xlsx(body)
    assert sheet.title == "Лист"
    assert [cell.value for cell in sheet[1]] == ["Текст", "Сумма", "Дата", "Число"]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == 20
    for row, text in enumerate(HOSTILE, start=2):
        cell = sheet.cell(row, 1)
        read_back = text.replace("\r", "\n")  # XML reads a bare CR as a line feed
        assert (cell.value, cell.data_type, cell.quotePrefix) == (read_back, "s", True)
        assert (sheet.cell(row, 2).value, sheet.cell(row, 2).data_type) == (-1234.5, "n")
        assert sheet.cell(row, 2).number_format == "#,##0.00"
        assert sheet.cell(row, 3).value == datetime(2026, 3, 1)  # noqa: DTZ001 (as openpyxl reads it)
        assert sheet.cell(row, 3).number_format == "DD.MM.YYYY"
        assert (sheet.cell(row, 4).value, sheet.cell(row, 4).data_type) == (-7, "n")
    last = len(HOSTILE) + 2
    plain = sheet.cell(last, 1)
    assert (plain.value, plain.data_type, plain.quotePrefix) == ("-12,5", "s", False)
    assert sheet.cell(last, 2).value is None
    assert sheet.cell(last, 3).number_format == "DD.MM.YYYY HH:MM"
    assert sheet.cell(last, 4).value == 2.5


def test_xlsx_drops_characters_xml_cannot_hold():
    sheet = read_xlsx(exports.xlsx_file("x", ["a"], [["Иван\x00\x07ов"]]))
    assert sheet["A2"].value == "Иванов"


def test_a_hostile_header_is_neutralised_too():
    """The header of an errors file is the uploaded file's own."""
    assert exports.csv_file([["=1+1"]]) == "\ufeff'=1+1\r\n".encode()
    sheet = read_xlsx(exports.xlsx_file("x", ["=1+1"], []))
    assert (sheet["A1"].value, sheet["A1"].data_type) == ("=1+1", "s")
