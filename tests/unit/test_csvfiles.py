"""The CSV reading the imports share: decoding, the delimiter, the header, the refusals
worded by each kind of file."""

import codecs
from datetime import date

import pytest

from portal.services import csvfiles
from portal.services.errors import DomainError

FORMAT = csvfiles.CsvFormat(
    columns=("name", "day", "count"),
    labels={"name": "Name", "day": "Day", "count": "Count"},
    aliases={"name": ("name", "имя"), "day": ("day", "дата"), "count": ("count", "число")},
    no_columns_message="No columns.",
    bad_header_message="Not the header; the columns are: %(columns)s.",
    no_rows_message="Only a header.",
)


def refusal(check) -> str:
    with pytest.raises(DomainError) as refused:
        check()
    assert refused.value.field == "file"
    return refused.value.message


def test_encodings_are_detected():
    text = "Имя;Дата;Число\nЁж;01.03.2026;1\n"
    for data in (
        text.encode("utf-8"),
        codecs.BOM_UTF8 + text.encode("utf-8"),
        text.encode("cp1251"),
        text.encode("utf-16"),
    ):
        assert csvfiles.decode(data, 1000, not_text_message="Not text.") == text


def test_a_binary_file_gets_the_callers_message():
    data = b"abc;\x00\x01\x02;def\n"
    assert refusal(lambda: csvfiles.decode(data, 1000, not_text_message="Save it.")) == "Save it."


def test_a_header_in_any_order_names_the_columns():
    text = '\ufeffЧисло;"Имя";ДАТА;extra\n\n7;Ёж;2026-03-01;x\n;;;\n8;Уж;02.03.2026;\n'
    table = csvfiles.read_table(text, FORMAT, max_lines=10)
    assert table.header == ["\ufeffЧисло", "Имя", "ДАТА", "extra"]
    assert table.positions == (1, 2, 0)
    assert table.width == 4
    assert table.rows == [(3, ["7", "Ёж", "2026-03-01", "x"]), (5, ["8", "Уж", "02.03.2026", ""])]


def test_without_a_header_the_columns_are_in_order():
    table = csvfiles.read_table("a,2026-03-01,1\nb,2026-03-02,2\n", FORMAT, max_lines=10)
    assert (table.header, table.positions, table.width) == (None, (0, 1, 2), 3)
    assert table.rows == [(1, ["a", "2026-03-01", "1"]), (2, ["b", "2026-03-02", "2"])]


def test_file_level_refusals_are_worded_by_the_format():
    assert refusal(lambda: csvfiles.read_table("a b c\n", FORMAT, max_lines=10)) == "No columns."
    assert refusal(lambda: csvfiles.read_table("name;day;count\n", FORMAT, max_lines=10)) == (
        "Only a header."
    )
    assert refusal(lambda: csvfiles.read_table("name;day;other\n", FORMAT, max_lines=10)) == (
        "Not the header; the columns are: Name, Day, Count."
    )


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("2026-03-25", date(2026, 3, 25)),
        ("25.03.2026", date(2026, 3, 25)),
        ("5.3.2026 10:00", date(2026, 3, 5)),
        ("2026-03-25T10:00", date(2026, 3, 25)),
        ("31.02.2026", None),
        ("25/03/2026", None),
        ("", None),
    ],
)
def test_dates(raw, parsed):
    assert csvfiles.parse_date(raw) == parsed


def test_filenames_and_trailing_cells():
    assert csvfiles.clean_filename("C:\\Users\\me\\фа\x07йл.csv", "x.csv") == "файл.csv"
    assert csvfiles.clean_filename("folder/", "x.csv") == "x.csv"
    assert csvfiles.clean_filename(None, "x.csv") == "x.csv"
    assert csvfiles.trimmed(["a", "b", "", " "], 2) == ["a", "b"]
    assert csvfiles.trimmed(["a", "", "c"], 2) == ["a", "", "c"]
