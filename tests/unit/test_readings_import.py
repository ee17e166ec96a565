"""The CSV import of remote readings: reading the file, every reason a line is refused,
the rules of readings.judge(), storing in chunks, and importing the same file twice."""

import codecs
import csv
import gc
import io
from datetime import date
from decimal import Decimal

import pytest
from flask_babel import gettext, ngettext
from sqlalchemy import func, select

from portal.models import AuditEvent, ImportBatch, Meter, Reading
from portal.services import readings
from portal.services import readings_import as importer
from portal.services.errors import DomainError
from tests import factories

TODAY = date(2026, 4, 30)
EMPTY = "The file is empty."
NOT_CSV = "This is not a CSV text file. Save the readings as CSV and upload that file."
EXCEL = "This is an Excel workbook, not a CSV file. In Excel choose “Save as” and the type “CSV (semicolon delimited)”."
NO_COLUMNS = "No columns found: the file needs five columns (account, meter serial number, zone, date, reading) separated by “;” or “,”."


def refusal(check) -> DomainError:
    """The file-level refusal ``check()`` raises; always about the file field."""
    with pytest.raises(DomainError) as refused:
        check()
    assert refused.value.field == "file"
    return refused.value


@pytest.fixture
def meters(db_session):
    """A two-rate, a single-rate and a three-rate meter, each on an account of its own,
    and a faulty and a removed one."""
    two = factories.make_meter(db_session, factories.make_account(db_session), zones=2)
    one = factories.make_meter(db_session, factories.make_account(db_session), zones=1)
    three = factories.make_meter(db_session, factories.make_account(db_session), zones=3)
    faulty = factories.make_meter(
        db_session, factories.make_account(db_session), zones=1, status="faulty"
    )
    removed = factories.make_meter(
        db_session, factories.make_account(db_session), zones=1, status="removed"
    )
    return {"two": two, "one": one, "three": three, "faulty": faulty, "removed": removed}


def line(meter, zone, day, value) -> str:
    return f"{meter.account.number};{meter.serial_number};{zone};{day};{value}"


def reading(session, meter, zone, day: date, value: str, **fields) -> Reading:
    row = Reading(
        meter_id=meter.id,
        zone=zone,
        period=day.replace(day=1),
        taken_on=day,
        value=Decimal(value),
        consumption=fields.pop("consumption", None),
        source=fields.pop("source", "remote"),
        status=fields.pop("status", "accepted"),
        **fields,
    )
    session.add(row)
    session.flush()
    return row


def check(session, *lines: str, header: str | None = None) -> importer.Checked:
    text = "\n".join(([header] if header else []) + list(lines)) + "\n"
    return importer.check(session, importer.read_table(text), today=TODAY)


def codes(checked: importer.Checked) -> dict[int, str]:
    return {error.line: error.code for error in checked.errors}


def import_file(session, data: bytes, staff=None, **kwargs) -> ImportBatch:
    batch = importer.create_batch(
        session,
        filename="askue.csv",
        data=data,
        staff_id=staff.id if staff else None,
        today=TODAY,
    )
    importer.queue(session, batch.id, staff_id=staff.id if staff else None)
    return importer.run_import(session, batch.id, today=TODAY, **kwargs)


def readings_of(session, meter) -> list[Reading]:
    return list(
        session.scalars(select(Reading).where(Reading.meter_id == meter.id).order_by(Reading.id))
    )


# --- the file ---------------------------------------------------------------------------


def test_utf8_with_bom_windows_1251_and_utf16_are_all_read():
    text = "Лицевой счёт;Счётчик;Зона;Дата;Показание\n1;2;день;01.03.2026;1,5\n"
    for data in (
        codecs.BOM_UTF8 + text.encode("utf-8"),
        text.encode("utf-8"),
        text.encode("cp1251"),
        text.encode("utf-16"),
    ):
        assert importer.decode(data) == text


def test_windows_1251_file_is_checked_like_utf8(db_session, meters):
    two = meters["two"]
    body = "Лицевой счёт;Заводской номер;Зона;Дата;Показание\n" + line(
        two, "ночь", "10.03.2026", "12,5"
    )
    for data in (body.encode("cp1251"), codecs.BOM_UTF8 + body.encode("utf-8")):
        checked = importer.check(
            db_session, importer.read_table(importer.decode(data)), today=TODAY
        )
        assert checked.valid == 1, checked.errors
        assert checked.rows[0][1]["zone"] == "night"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", EMPTY),
        (b"   \r\n\r\n", EMPTY),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", NOT_CSV),
        (b"PK\x03\x04\x14\x00\x06\x00", EXCEL),
        (b"abc;\x00\x01\x02;def\n", NOT_CSV),
        (bytes(range(256)) * 4, NOT_CSV),
    ],
)
def test_empty_binary_and_excel_files_are_refused(app, data, message):
    with app.app_context():
        assert refusal(lambda: importer.decode(data)).message == gettext(message)


def test_too_large_file_is_refused(app):
    with app.app_context():
        refused = refusal(lambda: importer.decode(b"1;2;3;2026-03-01;4\n" * 100, max_bytes=1000))
        assert refused.message == gettext("The file is too large: at most %(kb)s KB.", kb=1)


def test_too_many_lines_are_refused(app):
    text = "1;2;1;2026-03-01;4\n" * 11
    with app.app_context():
        refused = refusal(lambda: importer.read_table(text, max_lines=10))
        assert refused.message == ngettext(
            "The file has more than %(count)s line: split it into smaller files.",
            "The file has more than %(count)s lines: split it into smaller files.",
            10,
            count="10",
        )
    assert len(importer.read_table(text, max_lines=11).rows) == 11


def test_limits_come_from_the_app_config(app):
    with app.app_context():
        app.config.update(READINGS_IMPORT_MAX_BYTES=1234, READINGS_IMPORT_MAX_LINES=56)
        try:
            assert importer.limits() == (1234, 56)
        finally:
            del app.config["READINGS_IMPORT_MAX_BYTES"], app.config["READINGS_IMPORT_MAX_LINES"]
        assert importer.limits() == (importer.MAX_BYTES, importer.MAX_LINES)


@pytest.mark.parametrize(
    "text",
    [
        "just some text\nwithout columns\n",
        "a,b\nc,d\n",
    ],
)
def test_a_file_without_five_columns_is_refused(app, text):
    with app.app_context():
        assert refusal(lambda: importer.read_table(text)).message == gettext(NO_COLUMNS)


@pytest.mark.parametrize(
    "header",
    [
        "Имя;Адрес;Телефон;Почта;Комментарий",
        "account;meter;zone;when;value",
    ],
)
def test_a_wrong_header_is_refused(app, header):
    with app.app_context():
        refused = refusal(
            lambda: importer.read_table(f"{header}\n5200000001;SN1;1;2026-03-01;10\n")
        )
        columns = ", ".join(str(importer.COLUMN_LABELS[c]) for c in importer.COLUMNS)
        assert refused.message == gettext(
            "The first line is not the expected header. The columns are: %(columns)s; a file without a header is fine too.",
            columns=columns,
        )


def test_only_a_header_is_refused(app):
    with app.app_context():
        refused = refusal(lambda: importer.read_table("account;meter;zone;date;value\n"))
        assert refused.message == gettext("The file has no readings, only a header.")


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_delimiters_are_detected(db_session, meters, delimiter):
    two = meters["two"]
    value = '"12,5"' if delimiter == "," else "12,5"
    rows = [
        delimiter.join(["account", "meter", "zone", "date", "value"]),
        delimiter.join([two.account.number, two.serial_number, "day", "2026-03-10", value]),
    ]
    table = importer.read_table("\n".join(rows))
    assert table.header is not None
    checked = importer.check(db_session, table, today=TODAY)
    assert checked.valid == 1, checked.errors
    assert checked.rows[0][1]["value"] == Decimal("12.5")


def test_a_comma_delimited_line_with_an_unquoted_decimal_comma_has_a_column_too_many(
    db_session, meters
):
    two = meters["two"]
    table = importer.read_table(
        f"{two.account.number},{two.serial_number},day,2026-03-10,12.5\n"
        f"{two.account.number},{two.serial_number},night,2026-03-10,12,5\n"
    )
    checked = importer.check(db_session, table, today=TODAY)
    assert checked.valid == 1
    assert codes(checked) == {2: "columns"}
    assert checked.errors[0].reason == gettext(
        "Expected %(expected)s columns, found %(found)s.", expected=5, found=6
    )


def test_header_columns_may_come_in_any_order_and_extra_columns_are_ignored(db_session, meters):
    two = meters["two"]
    text = (
        "Показание;Дата;Зона;Адрес;Заводской номер;Лицевой счёт\n"
        f"12,5;10.03.2026;Т2;ул. Ленина;{two.serial_number};{two.account.number}\n"
    )
    checked = importer.check(db_session, importer.read_table(text), today=TODAY)
    assert checked.valid == 1, checked.errors
    row = checked.rows[0][1]
    assert (row["zone"], row["taken_on"], row["value"]) == (
        "night",
        date(2026, 3, 10),
        Decimal("12.5"),
    )


def test_no_header_blank_lines_and_trailing_empty_cells(db_session, meters):
    two = meters["two"]
    text = (
        "\n" + line(two, "1", "2026-03-10", "5") + ";;\r\n\r\n" + line(two, "2", "2026-03-10", "3")
    )
    checked = importer.check(db_session, importer.read_table(text), today=TODAY)
    assert checked.header is None
    assert checked.total == 2
    assert checked.valid == 2, checked.errors


# --- values in the cells ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-10", date(2026, 3, 10)),
        ("10.03.2026", date(2026, 3, 10)),
        ("1.3.2026", date(2026, 3, 1)),
        ("10.03.2026 00:00", date(2026, 3, 10)),
        ("2026-03-10T08:30:00", date(2026, 3, 10)),
    ],
)
def test_date_formats(db_session, meters, raw, expected):
    checked = check(db_session, line(meters["one"], "", raw, "5"))
    assert checked.rows[0][1]["taken_on"] == expected


@pytest.mark.parametrize(
    "raw", ["31.02.2026", "2026/03/10", "10-03-2026", "завтра", "", "10.03.26", "2026-13-01"]
)
def test_bad_dates(db_session, meters, raw):
    assert codes(check(db_session, line(meters["one"], "1", raw, "5"))) == {1: "date"}


def test_future_date(db_session, meters):
    checked = check(
        db_session,
        line(meters["one"], "1", "2026-04-30", "5"),
        line(meters["one"], "1", "01.05.2026", "6"),
    )
    assert codes(checked) == {2: "future"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12345,6", "12345.6"), ("12345.6", "12345.6"), (" 12 345,6 ", "12345.6"), ("7", "7")],
)
def test_values_with_comma_or_point(db_session, meters, raw, expected):
    checked = check(db_session, line(meters["one"], "1", "2026-03-10", raw))
    assert checked.rows[0][1]["value"] == Decimal(expected)


@pytest.mark.parametrize("raw", ["abc", "", "12,3,4", "NaN", "1e999999999", "12-3"])
def test_bad_numbers(db_session, meters, raw):
    checked = check(db_session, f"{line(meters['one'], '1', '2026-03-10', '')}{raw}")
    assert codes(checked) == {1: "value"}


ZONES = [
    ("one", "1", "total"),
    ("one", "total", "total"),
    ("one", "Общая", "total"),
    ("one", "", "total"),
    ("one", "Т1", "total"),
    ("two", "1", "day"),
    ("two", "2", "night"),
    ("two", "T1", "day"),
    ("two", "т2", "night"),
    ("two", "День", "day"),
    ("two", "night", "night"),
    ("three", "1", "peak"),
    ("three", "2", "night"),
    ("three", "3", "semi_peak"),
    ("three", "пик", "peak"),
    ("three", "полупик", "semi_peak"),
    ("three", "semi_peak", "semi_peak"),
    ("three", "Semi-peak", "semi_peak"),
    ("three", "ночь", "night"),
]


@pytest.mark.parametrize(("meter", "raw", "zone"), ZONES)
def test_zone_names_and_numbers(db_session, meters, meter, raw, zone):
    checked = check(db_session, line(meters[meter], raw, "2026-03-10", "5"))
    assert checked.rows[0][1]["zone"] == zone, checked.errors


@pytest.mark.parametrize(
    ("meter", "raw"),
    [
        ("one", "day"),
        ("one", "2"),
        ("two", "total"),
        ("two", "3"),
        ("two", ""),
        ("three", "day"),
        ("three", "4"),
        ("two", "утро"),
    ],
)
def test_unknown_zone_for_the_meter(db_session, meters, meter, raw):
    checked = check(db_session, line(meters[meter], raw, "2026-03-10", "5"))
    assert codes(checked) == {1: "zone"}
    assert "1 —" in checked.errors[0].reason  # the meter's zones are listed


# --- each reason a line is refused ------------------------------------------------------


def test_every_reason_a_line_is_refused(db_session, meters):
    two, one = meters["two"], meters["one"]
    reading(db_session, one, "total", date(2026, 2, 20), "500", external_ref=None)
    reading(db_session, two, "day", date(2026, 2, 20), "100")
    reading(db_session, two, "night", date(2026, 3, 5), "40", external_ref="csv")
    checked = check(
        db_session,
        line(two, "day", "2026-03-10", "150"),  # 1 fine
        f"{two.account.number};{two.serial_number};day;2026-03-10",  # 2 columns
        line(two, "day", "2026-03-11", "151").replace(two.account.number, "0000000000"),  # 3
        line(two, "day", "2026-03-11", "151").replace(two.serial_number, "NO-SUCH"),  # 4
        line(two, "peak", "2026-03-11", "151"),  # 5 zone
        line(two, "day", "2026-03-32", "151"),  # 6 date
        line(two, "day", "2026-05-01", "151"),  # 7 future
        line(two, "day", "2026-03-12", "сто"),  # 8 value
        line(two, "night", "2026-03-05", "40"),  # 9 already imported
        line(two, "day", "2026-03-10", "150"),  # 10 repeats line 1
        line(one, "1", "2026-03-10", "400"),  # 11 below the previous
        line(one, "1", "2026-03-11", "501,25"),  # 12 too many decimals
        line(one, "1", "2026-03-12", "1000000"),  # 13 too large
        line(one, "1", "2026-03-13", "-1"),  # 14 negative
        line(meters["faulty"], "1", "2026-03-10", "10"),  # 15 faulty meter
        line(meters["removed"], "1", "2026-03-10", "10"),  # 16 removed meter
    )
    assert codes(checked) == {
        2: "columns",
        3: "account",
        4: "meter",
        5: "zone",
        6: "date",
        7: "future",
        8: "value",
        9: "imported",
        10: "duplicate",
        11: "lower",
        12: "decimals",
        13: "too_large",
        14: "negative",
        15: "faulty",
        16: "removed",
    }
    reasons = {error.line: error.reason for error in checked.errors}
    assert reasons[10] == gettext("Line %(line)s has the same meter, zone and date.", line=1)
    assert "500" in reasons[11]  # judge's own message names the last reading
    assert checked.valid == 1
    assert checked.duplicates == 1
    assert checked.refused == 14
    assert set(importer.REASONS) >= set(codes(checked).values())


def test_a_serial_number_of_another_account_is_unknown_on_this_one(db_session, meters):
    one, two = meters["one"], meters["two"]
    checked = check(db_session, f"{one.account.number};{two.serial_number};1;2026-03-10;5")
    assert codes(checked) == {1: "meter"}


def test_serial_numbers_compare_without_case_and_spaces(db_session, meters):
    one = meters["one"]
    checked = check(
        db_session, f" {one.account.number} ; {one.serial_number.lower()} ;1;2026-03-10;5"
    )
    assert checked.valid == 1, checked.errors


def test_a_line_after_the_verification_due_date_is_refused(app, db_session, meters):
    """ПП 354 п. 81(12): due by 9 March 2026, the meter is out of service from the 10th:
    a line of the 9th is accepted, a line of the 10th refused with the reason and what to
    do."""
    one = meters["one"]
    one_meter = db_session.get(Meter, one.id)
    one_meter.verification_due = date(2026, 3, 9)
    db_session.flush()
    checked = check(
        db_session, line(one, "1", "2026-03-09", "501"), line(one, "1", "2026-03-10", "502")
    )
    assert codes(checked) == {2: "lapsed"}
    assert checked.valid == 1
    assert "state verification was due by" in checked.errors[0].reason


def test_rollover_line_is_accepted(db_session, meters):
    one = meters["one"]  # six whole digits
    reading(db_session, one, "total", date(2026, 2, 20), "999990")
    checked = check(db_session, line(one, "1", "2026-03-20", "15,5"))
    assert checked.valid == 1, checked.errors
    assert checked.rows[0][1]["consumption"] == Decimal("25.5")


def test_below_previous_is_rejected_with_judges_reason(db_session, meters):
    one = meters["one"]
    reading(db_session, one, "total", date(2026, 2, 20), "5000")
    checked = check(db_session, line(one, "1", "2026-03-20", "4000"))
    assert codes(checked) == {1: "lower"}
    assert "5000" in checked.errors[0].reason.replace("\xa0", "").replace(" ", "")


def test_far_above_the_usual_goes_to_review(db_session, meters):
    one = meters["one"]
    for month, value in ((10, "1000"), (11, "1100"), (12, "1200")):
        reading(
            db_session,
            one,
            "total",
            date(2025, month, 20),
            value,
            consumption=None if month == 10 else Decimal(100),
        )
    reading(db_session, one, "total", date(2026, 1, 20), "1300", consumption=Decimal(100))
    checked = check(
        db_session,
        line(one, "1", "2026-02-20", "2500"),  # 1 200 in a month: twelve times the usual
    )
    row = checked.rows[0][1]
    assert row["status"] == "pending_review"
    assert row["consumption"] == Decimal("1200")
    assert row["reason"]


def test_earlier_lines_of_the_file_are_the_previous_reading(db_session, meters):
    one = meters["one"]
    reading(db_session, one, "total", date(2026, 1, 20), "1000")
    checked = check(
        db_session,
        line(one, "1", "2026-03-20", "1400"),  # 1: below line 2 (February)
        line(one, "1", "2026-02-20", "1500"),  # 2: fine against the database's 1000
    )
    assert codes(checked) == {1: "lower"}
    assert checked.rows[0][1]["consumption"] == Decimal("500")


def test_several_days_of_one_month_keep_only_the_last_live(db_session, meters):
    one = meters["one"]
    reading(db_session, one, "total", date(2026, 2, 20), "1000")
    checked = check(
        db_session,
        line(one, "1", "2026-03-20", "1030"),
        line(one, "1", "2026-03-10", "1010"),
        line(one, "1", "2026-03-15", "1020"),
    )
    statuses = {row["taken_on"].day: row["status"] for _ordinal, row in checked.rows}
    assert statuses == {10: "superseded", 15: "superseded", 20: "accepted"}
    assert [row["consumption"] for _o, row in checked.rows] == [30, 10, 20]


# --- storing ----------------------------------------------------------------------------


def test_import_stores_valid_lines_and_reports_the_rest(db_session, meters):
    two = meters["two"]
    staff = factories.make_staff(db_session, role="metering")
    data = "\n".join(
        [
            "account;meter;zone;date;value",
            line(two, "day", "2026-03-10", "150"),
            line(two, "night", "2026-03-10", "50,5"),
            line(two, "night", "2026-03-10", "oops"),
        ]
    ).encode()
    batch = import_file(db_session, data, staff, chunk_size=1)
    assert batch.status == "done"
    assert (batch.total_lines, batch.processed_lines, batch.imported_lines) == (3, 3, 2)
    assert (batch.error_lines, batch.duplicate_lines) == (1, 0)
    assert batch.source_csv is None
    assert batch.finished_at is not None
    stored = readings_of(db_session, two)
    assert [(r.zone, r.value, r.source, r.status, r.external_ref) for r in stored] == [
        ("day", Decimal("150"), "remote", "accepted", "csv"),
        ("night", Decimal("50.5"), "remote", "accepted", "csv"),
    ]
    assert {r.import_batch_id for r in stored} == {batch.id}
    assert {r.entered_by_staff_id for r in stored} == {staff.id}
    actions = db_session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_type == "import_batch", AuditEvent.object_id == batch.id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["create", "update", "update"]


def test_the_same_file_twice_adds_nothing(db_session, meters):
    two, one = meters["two"], meters["one"]
    data = "\n".join(
        [
            line(two, "1", "10.03.2026", "150"),
            line(two, "2", "10.03.2026", "50"),
            line(one, "1", "10.03.2026", "7"),
        ]
    ).encode("cp1251")
    first = import_file(db_session, data)
    assert first.imported_lines == 3
    second = importer.create_batch(
        db_session, filename="again.csv", data=data, staff_id=None, today=TODAY
    )
    assert second.duplicate_lines == 3
    assert importer.valid_lines(second) == 0
    assert importer.same_file_batches(db_session, second) == [first.id]
    importer.queue(db_session, second.id, staff_id=None)
    second = importer.run_import(db_session, second.id, today=TODAY)
    assert (second.imported_lines, second.duplicate_lines, second.error_lines) == (0, 3, 0)
    preview = importer.preview(importer.errors_text(db_session, second.id))
    assert preview.counts == [("imported", 3)]
    assert db_session.scalar(select(func.count()).select_from(Reading)) == 3


def test_import_supersedes_older_live_readings_of_the_period(db_session, meters):
    one = meters["one"]
    previous = reading(db_session, one, "total", date(2026, 2, 20), "900")
    customer = reading(db_session, one, "total", date(2026, 3, 16), "1000", source="customer")
    import_file(db_session, line(one, "1", "2026-03-20", "1005").encode())
    db_session.expire_all()
    assert customer.status == "superseded"
    assert previous.status == "accepted"  # another period
    live = [r for r in readings_of(db_session, one) if r.status in ("accepted", "pending_review")]
    assert [(r.value, r.consumption, r.source) for r in live] == [
        (Decimal(900), None, "remote"),
        (Decimal(1005), Decimal(105), "remote"),
    ]


def test_lines_of_one_month_spread_over_chunks_leave_one_live_reading(db_session, meters):
    one = meters["one"]
    lines = [line(one, "1", f"2026-03-{day:02d}", str(1000 + day)) for day in (20, 5, 12, 28)]
    batch = import_file(db_session, "\n".join(lines).encode(), chunk_size=1)
    assert batch.imported_lines == 4
    statuses = {r.taken_on.day: r.status for r in readings_of(db_session, one)}
    assert statuses == {5: "superseded", 12: "superseded", 20: "superseded", 28: "accepted"}


def test_run_only_a_queued_batch(db_session, meters):
    batch = importer.create_batch(
        db_session,
        filename="a.csv",
        data=line(meters["one"], "1", "2026-03-10", "5").encode(),
        staff_id=None,
        today=TODAY,
    )
    assert importer.run_import(db_session, batch.id, today=TODAY) is None  # not queued
    importer.queue(db_session, batch.id, staff_id=None)
    with pytest.raises(DomainError):
        importer.queue(db_session, batch.id, staff_id=None)
    assert importer.process_queued_imports(db_session) == 1
    assert importer.process_queued_imports(db_session) == 0
    assert importer.get_batch(db_session, batch.id).status == "done"


def test_a_failed_import_can_be_started_again(db_session, meters, monkeypatch):
    one, two = meters["one"], meters["two"]
    data = "\n".join(
        [line(one, "1", "2026-03-10", "5"), line(two, "1", "2026-03-10", "6")]
    ).encode()
    batch = importer.create_batch(db_session, filename="a.csv", data=data, staff_id=None)
    importer.queue(db_session, batch.id, staff_id=None)
    real = importer._store_chunk
    calls = []

    def failing_second_chunk(session, chunk, batch_id):
        calls.append(chunk)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        real(session, chunk, batch_id)

    monkeypatch.setattr(importer, "_store_chunk", failing_second_chunk)
    failed = importer.run_import(db_session, batch.id, today=TODAY, chunk_size=1)
    assert failed.status == "failed"
    assert importer.get_batch(db_session, batch.id, with_files=True).source_csv
    monkeypatch.setattr(importer, "_store_chunk", real)
    importer.queue(db_session, batch.id, staff_id=None)
    done = importer.run_import(db_session, batch.id, today=TODAY, chunk_size=1)
    assert (done.status, done.imported_lines, done.duplicate_lines) == ("done", 1, 1)
    assert db_session.scalar(select(func.count()).select_from(Reading)) == 2


def test_discard_drops_the_file(db_session, meters):
    batch = importer.create_batch(
        db_session,
        filename="C:\\Users\\me\\АСКУЭ март.csv",
        data=line(meters["one"], "1", "2026-03-10", "5").encode(),
        staff_id=None,
        today=TODAY,
    )
    assert batch.filename == "АСКУЭ март.csv"
    importer.discard(db_session, batch.id, staff_id=None)
    batch = importer.get_batch(db_session, batch.id, with_files=True)
    assert (batch.status, batch.source_csv) == ("discarded", None)
    with pytest.raises(DomainError):
        importer.queue(db_session, batch.id, staff_id=None)


# --- the refused lines as a file --------------------------------------------------------


def test_errors_csv_round_trip(db_session, meters):
    """Download the refused lines, correct them in "Excel", upload the file as it is."""
    two = meters["two"]
    data = "\n".join(
        [
            "Лицевой счёт;Заводской номер;Зона;Дата;Показание",
            line(two, "день", "10.03.2026", "150"),
            line(two, "ночь", "10.03.2026", "5O,5"),  # a letter O
            line(two, "полдень", "10.03.2026", "12"),
        ]
    ).encode("cp1251")
    batch = import_file(db_session, data)
    assert batch.error_lines == 2
    download = importer.errors_file(importer.errors_text(db_session, batch.id))
    assert download.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(download.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Лицевой счёт", "Заводской номер", "Зона", "Дата", "Показание"]
    assert len(rows[0]) == 7  # + reason, line
    assert [row[-1] for row in rows[1:]] == ["3", "4"]
    assert rows[1][:5] == [two.account.number, two.serial_number, "ночь", "10.03.2026", "5O,5"]
    assert rows[1][5]  # the reason

    rows[1][4], rows[2][2] = "50,5", "ночь"
    rows[2][3] = "11.03.2026"
    corrected = io.StringIO()
    csv.writer(corrected, delimiter=";").writerows(rows)
    again = import_file(db_session, codecs.BOM_UTF8 + corrected.getvalue().encode("utf-8"))
    assert (again.imported_lines, again.error_lines) == (2, 0), importer.errors_text(
        db_session, again.id
    )


def test_errors_csv_without_a_header_in_the_file_gets_one(db_session, meters):
    batch = import_file(db_session, b"0000000000;SN;1;2026-03-10;5\n")
    rows = list(
        csv.reader(
            io.StringIO(
                importer.errors_file(importer.errors_text(db_session, batch.id)).decode("utf-8-sig")
            ),
            delimiter=";",
        )
    )
    assert len(rows) == 2
    assert len(rows[0]) == 7
    assert rows[1][:5] == ["0000000000", "SN", "1", "2026-03-10", "5"]
    # and the file with that header is read back
    table = importer.read_table("\n".join(";".join(row) for row in rows))
    assert table.header is not None
    assert len(table.rows) == 1


def test_preview_counts_by_reason_and_keeps_the_first_fifty(db_session, meters):
    one = meters["one"]
    lines = [line(one, "1", "2026-03-10", "x")] * 60 + [line(one, "7", "2026-03-11", "5")] * 3
    batch = importer.create_batch(
        db_session,
        filename="a.csv",
        data="\n".join(lines).encode(),
        staff_id=None,
        today=TODAY,
    )
    preview = importer.preview(importer.errors_text(db_session, batch.id))
    assert dict(preview.counts) == {"zone": 3, "value": 60}
    assert [code for code, _n in preview.counts] == [
        code for code in importer.REASONS if code in ("zone", "value")
    ]
    assert len(preview.errors) == importer.PREVIEW_ERRORS
    assert preview.errors[0].line == 1


def test_nothing_refused_stores_no_errors(db_session, meters):
    batch = import_file(db_session, line(meters["one"], "1", "2026-03-10", "5").encode())
    assert batch.errors_csv is None
    assert importer.preview(None).counts == []


def test_a_large_file_is_checked_in_the_background(db_session, meters, monkeypatch):
    monkeypatch.setattr(importer, "INLINE_CHECK_LINES", 2)
    one, two = meters["one"], meters["two"]
    data = "\n".join(
        [
            line(one, "1", "2026-03-10", "5"),
            line(two, "1", "2026-03-10", "6"),
            line(two, "9", "2026-03-10", "7"),
        ]
    ).encode()
    batch = importer.create_batch(db_session, filename="big.csv", data=data, staff_id=None)
    assert (batch.status, batch.total_lines, batch.errors_csv) == ("uploaded", 3, None)
    with pytest.raises(DomainError):
        importer.queue(db_session, batch.id, staff_id=None)  # not before the check
    assert importer.run_import(db_session, batch.id) is None
    checked = importer.check_batch(db_session, batch.id, today=TODAY)
    assert (checked.status, checked.error_lines, importer.valid_lines(checked)) == ("pending", 1, 2)
    assert importer.check_batch(db_session, batch.id, today=TODAY) is None  # once
    importer.queue(db_session, batch.id, staff_id=None)
    assert importer.process_batch(db_session, batch.id).status == "done"
    assert db_session.scalar(select(func.count()).select_from(Reading)) == 2


def test_the_scheduler_checks_then_imports(db_session, meters, monkeypatch):
    monkeypatch.setattr(importer, "INLINE_CHECK_LINES", 0)
    batch = importer.create_batch(
        db_session,
        filename="big.csv",
        data=line(meters["one"], "1", "2026-03-10", "5").encode(),
        staff_id=None,
    )
    assert importer.process_queued_imports(db_session) == 1
    assert importer.get_batch(db_session, batch.id).status == "pending"
    assert importer.process_queued_imports(db_session) == 0  # nothing starts by itself


# --- large files ------------------------------------------------------------------------


def test_lookups_in_many_small_key_chunks_judge_alike(db_session, meters, monkeypatch):
    """SQLite looks keys up readings.KEY_CHUNK at a time (PostgreSQL in one array): the
    verdicts do not depend on where the chunks split."""
    one, two, three = meters["one"], meters["two"], meters["three"]
    for meter, zone in ((one, "total"), (two, "day"), (three, "peak")):
        for month, value in ((1, "1000"), (2, "1100")):
            reading(
                db_session,
                meter,
                zone,
                date(2026, month, 20),
                value,
                consumption=None if month == 1 else Decimal(100),
            )
    reading(db_session, two, "night", date(2026, 3, 10), "40", external_ref="csv")
    lines = [
        line(one, "1", "2026-03-20", "1150"),
        line(one, "1", "2026-04-10", "1149"),  # below March's line
        line(two, "день", "2026-03-20", "2500"),  # far above the usual 100
        line(two, "ночь", "2026-03-10", "45"),  # already imported
        line(three, "1", "2026-03-20", "1050"),  # below February's 1100
        line(three, "3", "2026-03-20", "10"),
        f"{one.account.number};NO-SUCH-METER;1;2026-03-20;5",
        "0000000000;X;1;2026-03-20;5",
    ]
    whole = check(db_session, *lines)
    monkeypatch.setattr(readings, "KEY_CHUNK", 1)
    chunked = check(db_session, *lines)
    assert (
        codes(chunked)
        == codes(whole)
        == {
            2: "lower",
            4: "imported",
            5: "lower",
            7: "meter",
            8: "account",
        }
    )

    def verdicts(checked):
        return [(ordinal, row["status"], row["consumption"]) for ordinal, row in checked.rows]

    assert verdicts(chunked) == verdicts(whole)
    statuses = {row["value"]: row["status"] for _ordinal, row in whole.rows}
    assert statuses == {
        Decimal(1150): "accepted",
        Decimal(2500): "pending_review",
        Decimal(10): "accepted",
    }


def test_a_line_that_is_not_a_number_leaves_nothing_for_the_garbage_collector(db_session, meters):
    """The import pauses the cyclic garbage collector; a refused value once kept every line
    of the file alive in a reference cycle (through its exception's traceback) until the
    collector ran again."""
    one = meters["one"]
    lines = [line(one, "1", f"2026-03-{day:02d}", str(1000 + day)) for day in range(1, 29)]
    lines *= 50  # 1 400 lines, most of them repeated in the file
    lines.append(line(one, "1", "2026-03-29", "oops"))
    check(db_session, *lines)  # statements compiled and cached once
    gc.collect()
    with importer.bulk_work():
        checked = check(db_session, *lines)
        assert codes(checked)[len(lines)] == "value"
        del checked
        left = gc.collect()
    assert left < len(lines)  # a cycle through the lines would hold several per line
