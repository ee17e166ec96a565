"""Payment registries: reading the file (encodings, delimiters, headers), every kind of
refused line, importing set-based and only once, totals by agent and day, the errors file."""

import csv
import io
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from portal.models import AuditEvent, Payment, PaymentRegistry
from portal.services import payments
from portal.services.errors import DomainError
from tests import factories
from tests.conftest import english_request

TODAY = date(2026, 3, 20)
D = Decimal


@pytest.fixture(autouse=True)
def request_context(app, db_session):
    with english_request(app):
        yield


@pytest.fixture
def accounts(db_session):
    return [factories.make_account(db_session) for _ in range(3)]


@pytest.fixture
def staff(db_session):
    return factories.make_staff(db_session, role="billing")


def tag() -> str:
    return uuid.uuid4().hex[:8]


def registry_text(lines: list[list[str]], delimiter=";", header=True) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    if header:
        writer.writerow(["account", "amount", "date", "reference", "agent"])
    writer.writerows(lines)
    return out.getvalue()


def upload(session, staff, text: str | bytes, filename="registry.csv", today=TODAY):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return payments.create_registry(
        session, filename=filename, data=data, staff_id=staff.id, today=today
    )


def checked_of(session, text: str, today=TODAY) -> payments.Checked:
    return payments.check(session, payments.read_table(text), today=today)


# --- reading the file -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter", "bom"),
    [
        ("utf-8", ";", False),
        ("utf-8", ",", False),
        ("utf-8", ";", True),
        ("cp1251", ";", False),
        ("cp1251", ",", False),
    ],
)
def test_encodings_and_delimiters(db_session, staff, accounts, encoding, delimiter, bom):
    ref = tag()
    text = registry_text(
        [
            [accounts[0].number, "1520,40", "2026-03-05", f"{ref}-1", "Сбербанк"],
            [accounts[1].number, "870.00", "05.03.2026", f"{ref}-2", "Почта России"],
        ],
        delimiter=delimiter,
    )
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)
    registry = upload(db_session, staff, data)
    view = payments.view_registry(db_session, registry.id, today=TODAY)
    assert (view.valid, view.counts) == (2, [])
    assert view.amount == D("2390.40")
    assert [(line.agent, line.paid_on) for line in view.lines] == [
        ("Сбербанк", date(2026, 3, 5)),
        ("Почта России", date(2026, 3, 5)),
    ]
    assert registry.file_sha256 == payments.sha256(data)
    assert "Сбербанк" in registry.source_csv


def test_a_russian_header_in_another_order_and_extra_columns(db_session, accounts):
    text = (
        "Дата;Сумма;Лицевой счёт;Банк;Номер платежа;Комментарий\n"
        f"05.03.2026;1 234,50;{accounts[0].number};ВТБ;{tag()};за февраль\n"
    )
    checked = checked_of(db_session, text)
    assert checked.errors == []
    [line] = checked.lines
    assert (line.account_id, line.amount, line.agent) == (accounts[0].id, D("1234.50"), "ВТБ")


def test_a_file_without_header_has_the_columns_in_order(db_session, accounts):
    text = registry_text([[accounts[0].number, "10", "2026-03-01", tag(), "ВТБ"]], header=False)
    checked = checked_of(db_session, text)
    assert checked.valid == 1
    assert checked.header is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        (b"PK\x03\x04rest-of-a-workbook", "Excel"),
        (b"\x00\x01\x02binary", "not a CSV"),
        (b"account;amount;date;reference;agent\r\n", "only a header"),
        (b"just one column\nand another line\n", "five columns"),
        (b"account;sum;when;what;who\n1;2;3;4;5\n", "header"),
    ],
)
def test_files_that_are_not_registries_are_refused_whole(db_session, staff, data, message):
    with pytest.raises(DomainError, match=message) as raised:
        upload(db_session, staff, data)
    assert raised.value.field == "file"
    assert "readings" not in raised.value.message


# --- every refused line ---------------------------------------------------------------


def test_each_kind_of_refused_line(db_session, accounts):
    ref = tag()
    db_session.add(
        Payment(
            account_id=accounts[2].id,
            amount=D("1.00"),
            paid_on=date(2026, 1, 1),
            agent="Сбербанк",
            reference=f"{ref}-old",
        )
    )
    db_session.flush()
    number = accounts[0].number
    rows = [
        [number, "100,00", "2026-03-01", f"{ref}-1", "Сбербанк"],  # 2 fine
        ["5299999999", "100", "2026-03-01", f"{ref}-2", "Сбербанк"],  # 3 unknown
        [number, "сто", "2026-03-01", f"{ref}-3", "Сбербанк"],  # 4 not a number
        [number, "0", "2026-03-01", f"{ref}-4", "Сбербанк"],  # 5 zero
        [number, "-5,00", "2026-03-01", f"{ref}-5", "Сбербанк"],  # 6 negative
        [number, "10,005", "2026-03-01", f"{ref}-6", "Сбербанк"],  # 7 decimals
        [number, "10", "2026-02-30", f"{ref}-7", "Сбербанк"],  # 8 bad date
        [number, "10", "03/01/2026", f"{ref}-8", "Сбербанк"],  # 9 bad date
        [number, "10", "2026-03-21", f"{ref}-9", "Сбербанк"],  # 10 future
        [number, "10", "2026-03-01", f"{ref}-1", "Сбербанк"],  # 11 repeated
        [number, "10", "2026-03-01", f"{ref}-old", "Сбербанк"],  # 12 imported
        [number, "10", "2026-03-01", "", "Сбербанк"],  # 13 no reference
        [number, "10", "2026-03-01", f"{ref}-13", ""],  # 14 no agent
        [number, "10", "2026-03-01"],  # 15 columns
        [number, "10", "1e3", f"{ref}-15", "Сбербанк"],  # 16 bad date
        [number, "1e3", "2026-03-01", f"{ref}-16", "Сбербанк"],  # 17 not plain
        [number, "10", "2026-03-01", f"{ref}-old", "ВТБ"],  # 18 another agent: fine
    ]
    checked = checked_of(db_session, registry_text(rows))
    assert [(e.line, e.code) for e in checked.errors] == [
        (3, "account"),
        (4, "amount"),
        (5, "amount"),
        (6, "amount"),
        (7, "amount"),
        (8, "date"),
        (9, "date"),
        (10, "future"),
        (11, "duplicate"),
        (12, "imported"),
        (13, "reference"),
        (14, "agent"),
        (15, "columns"),
        (16, "date"),
        (17, "amount"),
    ]
    assert [line.line for line in checked.lines] == [2, 18]
    assert (checked.valid, checked.duplicates, checked.refused) == (2, 1, 14)
    assert all(error.reason for error in checked.errors)
    assert checked.errors[0].cells == rows[1]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1234,5", "1234.50"),
        ("1 234,56", "1234.56"),
        ("1\u00a0234.56", "1234.56"),
        ("0,01", "0.01"),
        ("7", "7.00"),
    ],
)
def test_amounts_with_comma_or_point(raw, expected):
    assert payments.parse_amount(raw) == D(expected)


@pytest.mark.parametrize("raw", ["", "abc", "0", "0,00", "-1", "1,234", "1.2.3", "١٢", "NaN"])
def test_bad_amounts(raw):
    with pytest.raises(DomainError):
        payments.parse_amount(raw)


# --- import ---------------------------------------------------------------------------


def payments_of(session, ref: str) -> int:
    return session.scalar(
        select(func.count()).select_from(Payment).where(Payment.reference.startswith(ref))
    )


def test_import_stores_the_valid_lines_and_a_registry_imported_twice_adds_nothing(
    db_session, staff, accounts
):
    ref = tag()
    text = registry_text(
        [
            [accounts[0].number, "100,00", "2026-03-01", f"{ref}-1", "Сбербанк"],
            [accounts[1].number, "250,50", "2026-03-01", f"{ref}-2", "Сбербанк"],
            [accounts[1].number, "49,50", "2026-03-02", f"{ref}-3", "ВТБ"],
            ["5299999999", "1", "2026-03-02", f"{ref}-4", "ВТБ"],
        ]
    )
    first = upload(db_session, staff, text)
    assert (first.status, first.total_lines, first.error_lines) == ("preview", 4, 1)
    assert payments_of(db_session, ref) == 0  # the preview stores nothing

    first = payments.import_registry(db_session, first.id, staff_id=staff.id, today=TODAY)
    assert (first.status, first.imported_lines, first.imported_amount) == (
        "imported",
        3,
        D("400.00"),
    )
    assert payments_of(db_session, ref) == 3
    stored = db_session.scalars(select(Payment).where(Payment.registry_id == first.id)).all()
    assert {(p.account_id, p.amount) for p in stored} == {
        (accounts[0].id, D("100.00")),
        (accounts[1].id, D("250.50")),
        (accounts[1].id, D("49.50")),
    }

    with pytest.raises(DomainError, match="already been imported"):
        payments.import_registry(db_session, first.id, staff_id=staff.id, today=TODAY)

    second = upload(db_session, staff, text)  # the same file again
    view = payments.view_registry(db_session, second.id, today=TODAY)
    assert view.valid == 0
    assert dict(view.counts) == {"account": 1, "imported": 3}
    assert view.same_file == [first.id]
    second = payments.import_registry(db_session, second.id, staff_id=staff.id, today=TODAY)
    assert (second.imported_lines, second.duplicate_lines, second.imported_amount) == (
        0,
        3,
        D("0.00"),
    )
    assert payments_of(db_session, ref) == 3
    audits = db_session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.object_type == "payment_registry",
            AuditEvent.object_id.in_([first.id, second.id]),
        )
    ).all()
    assert sorted(audits) == ["create", "create", "update", "update"]


def test_two_previews_of_one_file_import_once(db_session, staff, accounts):
    ref = tag()
    text = registry_text([[accounts[0].number, "10", "2026-03-01", ref, "ВТБ"]])
    one, two = upload(db_session, staff, text), upload(db_session, staff, text)
    payments.import_registry(db_session, one.id, staff_id=staff.id, today=TODAY)
    two = payments.import_registry(db_session, two.id, staff_id=staff.id, today=TODAY)
    assert (two.imported_lines, two.duplicate_lines) == (0, 1)
    assert payments_of(db_session, ref) == 1


def test_a_line_stored_by_another_import_meanwhile_is_skipped_by_the_constraint(
    db_session, staff, accounts, monkeypatch
):
    """The check saw nothing in the database, then another import stored one of the keys
    before our INSERT: the database skips it and it counts as already imported."""
    ref = tag()
    text = registry_text(
        [
            [accounts[0].number, "10", "2026-03-01", f"{ref}-1", "ВТБ"],
            [accounts[0].number, "20", "2026-03-01", f"{ref}-2", "ВТБ"],
        ]
    )
    registry = upload(db_session, staff, text)
    db_session.add(
        Payment(
            account_id=accounts[1].id,
            amount=D("99.00"),
            paid_on=date(2026, 3, 1),
            agent="ВТБ",
            reference=f"{ref}-2",
        )
    )
    db_session.flush()
    monkeypatch.setattr(payments, "existing_keys", lambda session, keys: set())
    registry = payments.import_registry(db_session, registry.id, staff_id=staff.id, today=TODAY)
    assert (registry.imported_lines, registry.duplicate_lines) == (1, 1)
    assert registry.imported_amount == D("10.00")
    assert payments_of(db_session, ref) == 2
    _header, errors = payments.stored_errors(registry)
    assert [(e.line, e.code) for e in errors] == [(3, "imported")]


def test_totals_by_agent_and_day(db_session, staff, accounts):
    db_session.execute(delete(Payment).where(Payment.paid_on.between(date(2026, 3, 1), TODAY)))
    ref = tag()
    text = registry_text(
        [
            [accounts[0].number, "100,00", "2026-03-02", f"{ref}-1", "Сбербанк"],
            [accounts[1].number, "50,25", "2026-03-02", f"{ref}-2", "Сбербанк"],
            [accounts[2].number, "10,00", "2026-03-02", f"{ref}-3", "ВТБ"],
            [accounts[0].number, "7,75", "2026-03-01", f"{ref}-4", "Сбербанк"],
        ]
    )
    registry = upload(db_session, staff, text)
    expected = [
        payments.Total(date(2026, 3, 1), "Сбербанк", 1, D("7.75")),
        payments.Total(date(2026, 3, 2), "ВТБ", 1, D("10.00")),
        payments.Total(date(2026, 3, 2), "Сбербанк", 2, D("150.25")),
    ]
    assert payments.view_registry(db_session, registry.id, today=TODAY).totals == expected
    payments.import_registry(db_session, registry.id, staff_id=staff.id, today=TODAY)
    assert payments.view_registry(db_session, registry.id, today=TODAY).totals == expected
    assert payments.daily_totals(db_session, date(2026, 3, 1), TODAY) == [
        expected[1],
        expected[2],
        expected[0],
    ]


def test_the_errors_file_has_the_original_columns_and_the_reason(db_session, staff, accounts):
    ref = tag()
    text = (
        "Лицевой счёт;Сумма;Дата;Номер платежа;Банк\r\n"
        f"{accounts[0].number};100,00;2026-03-01;{ref}-1;ВТБ\r\n"
        f"5299999999;5,00;2026-03-01;{ref}-2;ВТБ\r\n"
        f"{accounts[0].number};abc;2026-03-01;{ref}-3;ВТБ\r\n"
    )
    registry = upload(db_session, staff, text.encode("cp1251"))
    body = payments.errors_file(db_session, registry.id, staff_id=staff.id, ip="127.0.0.1")
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Лицевой счёт", "Сумма", "Дата", "Номер платежа", "Банк"]
    assert len(rows[0]) == 7
    assert rows[1][:5] == ["5299999999", "5,00", "2026-03-01", f"{ref}-2", "ВТБ"]
    assert rows[1][6] == "3"
    assert rows[1][5]  # the reason
    assert rows[2][1] == "abc"
    assert rows[2][6] == "4"
    # Corrected, the file reads again: the reason and line columns are ignored.
    again = payments.read_table(body.decode("utf-8-sig"))
    assert again.positions == (0, 1, 2, 3, 4)
    # After the import the stored result gives the same file.
    payments.import_registry(db_session, registry.id, staff_id=staff.id, today=TODAY)
    assert payments.errors_file(db_session, registry.id, staff_id=staff.id, ip=None) == body
    assert db_session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.object_type == "payment_registry", AuditEvent.action == "view")
    )


def test_registry_and_payments_search(db_session, staff, accounts):
    ref = tag()
    text = registry_text([[accounts[0].number, "10", "2026-03-01", ref, "ВТБ"]])
    registry = upload(db_session, staff, text)
    payments.import_registry(db_session, registry.id, staff_id=staff.id, today=TODAY)
    assert payments.search_digits(" 52 ") == ""
    digits = payments.search_digits(accounts[0].number)
    found = db_session.scalars(payments.find_payments(digits)).all()
    assert [p.reference for p in found] == [ref]
    assert db_session.get(PaymentRegistry, registry.id).imported_lines == 1
