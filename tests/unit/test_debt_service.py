"""Debt: balance, FIFO debt by bill, ageing buckets on hand-checked dates, the debtor list and
its exports, and the escalation rules (notice → warning → restriction → lifted)."""

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import delete, func, select

from portal.models import Bill, DebtAction, OutboxMessage, Payment
from portal.services import debt, settings
from portal.services.errors import DomainError
from tests import factories
from tests.conftest import english_request

TODAY = date(2026, 6, 15)
D = Decimal


@pytest.fixture(autouse=True)
def clean_ledger(app, db_session):
    """Each test sees only its own bills, payments and steps; services run as in a request
    (letters and documents are rendered with the app's templates)."""
    for model in (DebtAction, Bill, Payment):
        db_session.execute(delete(model))
    db_session.flush()
    with english_request(app):
        yield


# --- dates and buckets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 3, 31), 1, date(2026, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 2, 29)),
        (date(2026, 6, 15), 12, date(2025, 6, 15)),
        (date(2026, 1, 10), 1, date(2025, 12, 10)),
    ],
)
def test_months_before(day, months, expected):
    assert debt.months_before(day, months) == expected


@pytest.mark.parametrize(
    ("due_on", "bucket"),
    [
        (date(2026, 6, 15), None),  # due today: not past due yet
        (date(2026, 6, 14), "0-1"),
        (date(2026, 5, 16), "0-1"),
        (date(2026, 5, 15), "1-2"),  # exactly one month
        (date(2026, 4, 16), "1-2"),
        (date(2026, 4, 15), "2-3"),
        (date(2026, 3, 1), "3-6"),  # three and a half months
        (date(2025, 12, 16), "3-6"),
        (date(2025, 12, 15), "6-12"),
        (date(2025, 6, 15), "12-36"),
        (date(2023, 6, 16), "12-36"),
        (date(2023, 6, 15), "36+"),
        (date(2019, 1, 1), "36+"),
    ],
)
def test_ageing_buckets_by_months_since_the_due_date(due_on, bucket):
    assert debt.bucket_of(due_on, TODAY) == bucket


# --- one account ----------------------------------------------------------------------


def test_a_bill_due_three_and_a_half_months_ago_unpaid_is_overdue_in_the_3_6_bucket(
    db_session,
):
    account = factories.make_account(db_session)
    (bill,) = factories.make_bills(db_session, account, ["1000.00"], first=date(2026, 1, 1))
    bill.due_on = date(2026, 3, 1)
    db_session.flush()

    position = debt.position(db_session, account.id, TODAY)

    assert position.balance == D("1000.00")
    assert position.overdue == D("1000.00")
    assert position.oldest_due == date(2026, 3, 1)
    assert position.bucket == "3-6"
    assert position.overdue_debtor  # over two months (001)
    [row] = db_session.execute(debt.debtors(debt.DebtorFilters(), TODAY)).all()
    assert (row.number, row.overdue, row.bucket) == (account.number, D("1000.00"), "3-6")


def test_payments_pay_the_oldest_bills_first(db_session):
    account = factories.make_account(db_session)
    # Jan 1000 (due 10.02), Feb 800 (due 10.03), Mar 600 (due 10.04), Apr 500 (due 10.05);
    # 1200 paid on 20.02: January is paid, 600 of February is left.
    factories.make_bills(
        db_session,
        account,
        ["1000.00", "800.00", "600.00", "500.00"],
        payments=[(date(2026, 2, 20), "1200.00")],
    )
    position = debt.position(db_session, account.id, TODAY)
    assert position.balance == D("1700.00")
    assert [(b.period.month, b.unpaid) for b in position.bills] == [
        (2, D("600.00")),
        (3, D("600.00")),
        (4, D("500.00")),
    ]
    assert position.overdue == D("1700.00")
    assert position.oldest_due == date(2026, 3, 10)
    assert position.bucket == "3-6"  # 10.03 → 15.06: three months and five days

    # 700 more after the last bill: the balance drops, February and 100 of March are paid.
    factories.make_payment(db_session, account, date(2026, 6, 1), "700.00")
    position = debt.position(db_session, account.id, TODAY)
    assert position.balance == D("1000.00")
    assert [(b.period.month, b.unpaid) for b in position.bills] == [
        (3, D("500.00")),
        (4, D("500.00")),
    ]
    assert position.oldest_due == date(2026, 4, 10)
    assert position.bucket == "2-3"
    assert position.overdue_debtor


def test_a_bill_not_yet_due_is_debt_but_not_overdue(db_session):
    account = factories.make_account(db_session)
    factories.make_bills(db_session, account, ["300.00", "400.00"], first=date(2026, 4, 1))
    # April's bill was due on 10.05, May's is due on 10.06.
    position = debt.position(db_session, account.id, date(2026, 6, 5))
    assert position.debt == D("700.00")
    assert position.overdue == D("300.00")
    assert position.bucket == "0-1"
    assert not position.overdue_debtor
    assert [b.overdue for b in position.bills] == [True, False]


def test_a_credit_bill_pays_older_bills(db_session):
    account = factories.make_account(db_session)
    factories.make_bills(db_session, account, ["1000.00", "-300.00"], first=date(2026, 1, 1))
    position = debt.position(db_session, account.id, TODAY)
    assert position.balance == D("700.00")
    assert [(b.period.month, b.unpaid) for b in position.bills] == [(1, D("700.00"))]


def test_a_payment_imported_after_its_bill_still_counts(db_session):
    account = factories.make_account(db_session)
    factories.make_bills(db_session, account, ["1000.00"], first=date(2026, 1, 1))
    factories.make_payment(db_session, account, date(2026, 1, 20), "1000.00")  # dated in January
    position = debt.position(db_session, account.id, TODAY)
    assert position.balance == D("0.00")
    assert position.overdue == D("0.00")
    assert db_session.execute(debt.debtors(debt.DebtorFilters(), TODAY)).all() == []


def test_kopecks_add_up_without_a_phantom_kopeck(db_session):
    account = factories.make_account(db_session)
    factories.make_bills(
        db_session,
        account,
        ["0.10", "0.20", "100.70"],
        payments=[(date(2026, 2, 1), "0.30"), (date(2026, 3, 5), "100.70")],
    )
    position = debt.position(db_session, account.id, TODAY)
    assert position.balance == D("0.00")
    assert position.bills == []
    assert position.bucket is None


def test_no_bills_an_advance_is_a_negative_balance(db_session):
    account = factories.make_account(db_session)
    factories.make_payment(db_session, account, date(2026, 5, 1), "250.00")
    position = debt.position(db_session, account.id, TODAY)
    assert position.balance == D("-250.00")
    assert position.overdue == D("0.00")


def test_bills_issued_later_than_the_day_are_left_out(db_session):
    account = factories.make_account(db_session)
    factories.make_bills(db_session, account, ["100.00", "200.00"], first=date(2026, 4, 1))
    # On 20.05 the May bill (issued 01.06) does not exist yet.
    position = debt.position(db_session, account.id, date(2026, 5, 20))
    assert position.balance == D("100.00")


# --- the debtor list ------------------------------------------------------------------


@pytest.fixture
def debtors_set(db_session):
    """Five debtors of different ages, districts, categories and steps, and one who paid."""
    made = {}
    specs = [
        # name, due day of the single bill, amount, district, category
        ("fresh", date(2026, 6, 1), "500.00", "Центральный", "population"),
        ("two", date(2026, 4, 1), "2500.00", "Заречный", "population"),
        ("four", date(2026, 2, 10), "8000.00", "Центральный", "others"),
        ("year", date(2025, 5, 1), "12000.00", "Заречный", "population"),
        ("ancient", date(2022, 1, 10), "40000.00", "Центральный", "population"),
    ]
    for name, due_on, amount, district, category in specs:
        account = factories.make_account(db_session, category=category)
        account.premises.district = district
        (bill,) = factories.make_bills(db_session, account, [amount], first=date(2021, 12, 1))
        bill.due_on = due_on
        made[name] = account
    paid = factories.make_account(db_session)
    factories.make_bills(db_session, paid, ["900.00"], payments=[(date(2026, 1, 5), "900.00")])
    made["paid"] = paid
    db_session.add(
        DebtAction(
            account_id=made["four"].id,
            step="debt_notice",
            amount=D("8000.00"),
            acted_on=date(2026, 5, 1),
        )
    )
    db_session.flush()
    return made


def listed(session, **filters) -> list[str]:
    rows = session.execute(debt.debtors(debt.DebtorFilters(**filters), TODAY)).all()
    return [row.number for row in rows]


def test_the_list_has_every_account_with_overdue_debt_largest_first(db_session, debtors_set):
    names = {a.number: n for n, a in debtors_set.items()}
    assert [names[n] for n in listed(db_session)] == ["ancient", "year", "four", "two", "fresh"]
    assert [names[n] for n in listed(db_session, sort="age")] == [
        "ancient",
        "year",
        "four",
        "two",
        "fresh",
    ]
    assert [names[n] for n in listed(db_session, sort="number")] == sorted(
        ["ancient", "year", "four", "two", "fresh"], key=lambda n: debtors_set[n].number
    )


def test_sql_buckets_match_the_hand_counted_ones(db_session, debtors_set):
    rows = db_session.execute(debt.debtors(debt.DebtorFilters(), TODAY)).all()
    by_number = {row.number: row.bucket for row in rows}
    expected = {"fresh": "0-1", "two": "2-3", "four": "3-6", "year": "12-36", "ancient": "36+"}
    assert {n: by_number[debtors_set[n].number] for n in expected} == expected
    for row in rows:
        assert row.bucket == debt.position(db_session, row.id, TODAY).bucket


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"min_amount": D("8000")}, {"ancient", "year", "four"}),
        ({"bucket": "3-6"}, {"four"}),
        ({"bucket": "0-1"}, {"fresh"}),
        ({"bucket": "36+"}, {"ancient"}),
        ({"bucket": "6-12"}, set()),
        ({"district": "Заречный"}, {"two", "year"}),
        ({"category": "others"}, {"four"}),
        ({"step": "debt_notice"}, {"four"}),
        ({"step": "none"}, {"fresh", "two", "year", "ancient"}),
        ({"district": "Центральный", "min_amount": D("1000")}, {"four", "ancient"}),
    ],
)
def test_debtor_filters(db_session, debtors_set, filters, expected):
    names = {a.number: n for n, a in debtors_set.items()}
    assert {names[n] for n in listed(db_session, **filters)} == expected


def test_ageing_summary_counts_and_amounts(db_session, debtors_set):
    buckets, total = debt.ageing(db_session, debt.DebtorFilters(bucket="3-6"), TODAY)
    table = {row.bucket.key: (row.count, row.amount) for row in buckets}
    assert table == {
        "0-1": (1, D("500.00")),
        "1-2": (0, D("0.00")),
        "2-3": (1, D("2500.00")),
        "3-6": (1, D("8000.00")),
        "6-12": (0, D("0.00")),
        "12-36": (1, D("12000.00")),
        "36+": (1, D("40000.00")),
    }
    assert total == (5, D("63000.00"))
    buckets, total = debt.ageing(db_session, debt.DebtorFilters(district="Заречный"), TODAY)
    assert total == (2, D("14500.00"))


def test_csv_export_for_excel(db_session, debtors_set):
    staff = factories.make_staff(db_session, role="billing")
    body = debt.debtors_csv(
        db_session, debt.DebtorFilters(district="Заречный"), staff_id=staff.id, as_of=TODAY
    )
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 3
    year = next(row for row in rows if row[0] == debtors_set["year"].number)
    assert year[5:8] == ["12000,00", "12000,00", "01.05.2025"]


def test_xlsx_export_has_money_as_numbers(db_session, debtors_set):
    staff = factories.make_staff(db_session, role="billing")
    body = debt.debtors_xlsx(db_session, debt.DebtorFilters(), staff_id=staff.id, as_of=TODAY)
    sheet = load_workbook(io.BytesIO(body)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 6
    first = sheet["A2"].value
    assert first == debtors_set["ancient"].number
    assert sheet["F2"].value == 40000
    assert sheet["G2"].value == 40000
    assert sheet["G2"].number_format == "#,##0.00"
    assert isinstance(sheet["G2"].value, int | float)
    assert sheet["H2"].value.date() == date(2022, 1, 10)
    four = next(row for row in rows if row[0] == debtors_set["four"].number)
    assert four[6] == 8000
    assert four[9]


# --- escalation rules -----------------------------------------------------------------


def step(name, acted_on=date(2026, 5, 1), delivered=None):
    action = DebtAction(step=name, acted_on=acted_on, amount=D("1.00"))
    if delivered:
        action.delivered_at = debt._delivery_moment(delivered)
    return action


@pytest.mark.parametrize(
    ("wanted", "last", "acted_on", "overdue", "allowed"),
    [
        ("debt_notice", None, TODAY, D("10"), True),
        ("debt_notice", None, TODAY, D("0"), False),  # nothing owed
        ("debt_notice", step("debt_notice"), TODAY, D("10"), True),  # a repeat notice
        ("debt_notice", step("restriction"), TODAY, D("10"), False),  # lift first
        ("debt_notice", step("lifted"), TODAY, D("10"), True),
        ("debt_notice", None, TODAY + timedelta(days=1), D("10"), False),  # future
        ("debt_notice", step("debt_notice", TODAY), TODAY - timedelta(days=1), D("10"), False),
        ("restriction_warning", None, TODAY, D("10"), False),
        ("restriction_warning", step("debt_notice"), TODAY, D("10"), True),
        ("restriction_warning", step("debt_notice"), TODAY, D("0"), False),
        ("restriction_warning", step("restriction_warning"), TODAY, D("10"), False),
        ("restriction", step("debt_notice"), TODAY, D("10"), False),
        ("restriction", step("restriction_warning"), TODAY, D("10"), False),  # not delivered
        (
            "restriction",
            step("restriction_warning", delivered=TODAY - timedelta(days=19)),
            TODAY,
            D("10"),
            False,
        ),
        (
            "restriction",
            step("restriction_warning", delivered=TODAY - timedelta(days=20)),
            TODAY,
            D("10"),
            True,
        ),
        (
            "restriction",
            step("restriction_warning", delivered=TODAY - timedelta(days=40)),
            TODAY,
            D("0"),
            False,
        ),
        ("lifted", step("restriction_warning"), TODAY, D("0"), False),
        ("lifted", None, TODAY, D("0"), False),
        ("lifted", step("restriction"), TODAY, D("0"), True),  # lifted needs no debt
        ("lifted", step("restriction"), TODAY, D("50"), True),
        ("unknown", None, TODAY, D("10"), False),
    ],
)
def test_escalation_order_and_lead_time(app, wanted, last, acted_on, overdue, allowed):
    with app.app_context():
        reason, _earliest = debt.refusal(
            wanted, last, acted_on=acted_on, overdue=overdue, lead_days=20, today=TODAY
        )
    assert (reason is None) is allowed, reason


def test_the_restriction_tells_its_first_possible_day(app):
    with app.app_context():
        reason, earliest = debt.refusal(
            "restriction",
            step("restriction_warning", delivered=date(2026, 6, 1)),
            acted_on=TODAY,
            overdue=D("10"),
            lead_days=20,
            today=TODAY,
        )
    assert earliest == date(2026, 6, 21)
    assert "21.06.2026" in reason


@pytest.fixture
def debtor(db_session):
    customer = factories.make_customer(db_session, email="debtor@example.ru")
    account = factories.make_account(db_session, customer)
    # Jan 1000 and Feb 700, unpaid: 1700 overdue by June.
    factories.make_bills(db_session, account, ["1000.00", "700.00"])
    return account


def test_the_whole_escalation_with_the_lead_time_setting(db_session, debtor):
    staff = factories.make_staff(db_session, role="billing")
    settings.put(db_session, "debt.warning_lead_days", 10)

    def record(name, acted_on, today=TODAY, **extra):
        return debt.record_action(
            db_session, debtor.id, name, acted_on=acted_on, staff_id=staff.id, today=today, **extra
        )

    notice = record("debt_notice", date(2026, 5, 4))
    assert notice.amount == D("1700.00")
    with pytest.raises(DomainError):
        record("restriction", date(2026, 5, 10))
    warning = record("restriction_warning", date(2026, 5, 20))
    with pytest.raises(DomainError, match="delivery"):
        record("restriction", TODAY)
    debt.record_delivery(
        db_session,
        debtor.id,
        warning.id,
        delivered=date(2026, 6, 6),
        delivery_proof="registered letter 80081234567890",
        staff_id=staff.id,
        today=TODAY,
    )
    assert debt.delivered_on(warning) == date(2026, 6, 6)
    with pytest.raises(DomainError, match="16.06.2026"):
        record("restriction", TODAY)  # 6 June + 10 days
    with pytest.raises(DomainError):
        record("lifted", TODAY)
    restriction = record(
        "restriction", date(2026, 6, 16), note="meter sealed", today=date(2026, 6, 20)
    )
    assert restriction.step == "restriction"
    factories.make_payment(db_session, debtor, date(2026, 6, 17), "1700.00")
    lifted = record("lifted", date(2026, 6, 17), today=date(2026, 6, 20))
    assert lifted.amount == D("0.00")

    steps = debt.steps_for_account(db_session, debtor.id)
    assert [s.step for s in steps] == [
        "debt_notice",
        "restriction_warning",
        "restriction",
        "lifted",
    ]
    assert steps[1].delivered_on == date(2026, 6, 6)


def test_delivery_needs_a_proof_and_a_sane_date(db_session, debtor):
    staff = factories.make_staff(db_session, role="billing")
    notice = debt.record_action(
        db_session, debtor.id, "debt_notice", acted_on=date(2026, 6, 1), staff_id=staff.id,
        today=TODAY,
    )  # fmt: skip
    attempts = [
        (date(2026, 6, 2), ""),
        (date(2026, 5, 31), "SMS delivered"),  # before it was sent
        (TODAY + timedelta(days=1), "SMS delivered"),  # in the future
        (None, "SMS delivered"),
    ]
    for day, proof in attempts:
        with pytest.raises(DomainError):
            debt.record_delivery(
                db_session, debtor.id, notice.id, delivered=day, delivery_proof=proof,
                staff_id=staff.id, today=TODAY,
            )  # fmt: skip
    debt.record_delivery(
        db_session, debtor.id, notice.id, delivered=date(2026, 6, 2),
        delivery_proof="SMS delivered", staff_id=staff.id, today=TODAY,
    )  # fmt: skip
    with pytest.raises(DomainError):  # once
        debt.record_delivery(
            db_session, debtor.id, notice.id, delivered=date(2026, 6, 3),
            delivery_proof="SMS delivered", staff_id=staff.id, today=TODAY,
        )  # fmt: skip


def test_a_notice_plans_one_e_mail_to_the_customer(db_session, debtor):
    staff = factories.make_staff(db_session, role="billing")
    notice = debt.record_action(
        db_session, debtor.id, "debt_notice", acted_on=date(2026, 6, 1), staff_id=staff.id,
        today=TODAY,
    )  # fmt: skip
    key = f"debt_notice:{notice.id}"
    messages = db_session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == key)).all()
    assert len(messages) == 1
    [message] = messages
    assert message.recipient == "debtor@example.ru"
    assert message.kind == "debt_notice"
    assert message.channel == "email"
    assert debtor.number in message.subject
    assert debtor.number in message.body_text
    assert re.search(r"1\s700,00", message.body_text)
    # Planning again (a retry, a double click reaching the service) adds nothing.
    debt._plan_notice_email(
        db_session, debtor, notice, debt.position(db_session, debtor.id, notice.acted_on)
    )
    db_session.flush()
    count = db_session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.dedup_key == key)
    )
    assert count == 1
    # A warning sends no debt-notice letter.
    debt.record_action(
        db_session, debtor.id, "restriction_warning", acted_on=date(2026, 6, 2),
        staff_id=staff.id, today=TODAY,
    )  # fmt: skip
    total = db_session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.recipient == "debtor@example.ru")
    )
    assert total == 1


def test_no_e_mail_without_an_address_but_the_step_is_recorded(db_session):
    customer = factories.make_customer(db_session, email=None)
    account = factories.make_account(db_session, customer)
    factories.make_bills(db_session, account, ["100.00"])
    staff = factories.make_staff(db_session, role="billing")
    before = db_session.scalar(select(func.count()).select_from(OutboxMessage))
    notice = debt.record_action(
        db_session, account.id, "debt_notice", acted_on=TODAY, staff_id=staff.id, today=TODAY
    )
    assert notice.id
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


@pytest.mark.parametrize("name", ["debt_notice", "restriction_warning"])
def test_documents_print_the_account_and_the_debt(app, db_session, debtor, name):
    staff = factories.make_staff(db_session, role="billing")
    debt.record_action(
        db_session, debtor.id, "debt_notice", acted_on=date(2026, 6, 1), staff_id=staff.id,
        today=TODAY,
    )  # fmt: skip
    action = debt.record_action(
        db_session, debtor.id, name, acted_on=date(2026, 6, 2), staff_id=staff.id, today=TODAY
    ) if name != "debt_notice" else db_session.scalar(
        select(DebtAction).where(DebtAction.account_id == debtor.id)
    )  # fmt: skip
    filename, body = debt.document_pdf(db_session, debtor.id, action.id, staff_id=staff.id)
    assert filename.endswith(".pdf")
    assert body.startswith(b"%PDF")
    text = pdf_text(body).replace("\u00a0", " ").replace("\u202f", " ")
    assert debtor.number in text
    assert "1 700,00" in text
    assert "354" in text
    assert app.config["SUPPLIER_INN"] in text


def test_steps_are_per_account(db_session, debtor):
    other = factories.make_account(db_session)
    factories.make_bills(db_session, other, ["50.00"])
    staff = factories.make_staff(db_session, role="billing")
    debt.record_action(
        db_session, other.id, "debt_notice", acted_on=TODAY, staff_id=staff.id, today=TODAY
    )
    assert debt.steps_for_account(db_session, debtor.id) == []
    assert [s.step for s in debt.steps_for_account(db_session, other.id)] == ["debt_notice"]
