"""A resident's bills and payments: the dashboard card, the list, a bill with its wording,
the PDF with a payment QR code that decodes to every requisite, 404s for what is not theirs,
and query counts that do not grow with the history."""

import io
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pymupdf
import pytest
import time_machine
import zxingcpp
from flask_babel import ngettext
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import event, select

from portal.formatting import as_date, as_money
from portal.models import Bill, Charge, ConsumptionNorm, KeyRate, Payment, Penalty
from portal.services import billing, ledger, months, statements
from portal.services.clock import local_today
from portal.services.documents import parse_payload
from tests import factories
from tests.conftest import login_as, page, translated

JANUARY = date(2025, 1, 1)
FEBRUARY = date(2025, 2, 1)
MAY = date(2025, 5, 1)


@pytest.fixture
def resident(resident_client):
    return resident_client.user


@pytest.fixture
def account(db_session, resident):
    customer = factories.make_customer(db_session, full_name="Иванов Иван Иванович")
    account = factories.make_account(
        db_session, customer, number="5200001234", secret_code="K7M2QX"
    )
    factories.link(db_session, resident, account)
    return account


@pytest.fixture
def rules(db_session):
    """A key rate for penalties and the norms the wording names (per resident, per m²)."""
    db_session.add(KeyRate(valid_from=date(2020, 1, 1), percent=Decimal("21.00")))
    db_session.add_all(
        [
            ConsumptionNorm(
                service="cold_water",
                basis="per_resident",
                volume=Decimal("4.5"),
                valid_from=date(2020, 1, 1),
            ),
            ConsumptionNorm(
                service="heat",
                basis="per_m2",
                volume=Decimal("0.0184"),
                valid_from=date(2020, 1, 1),
            ),
        ]
    )
    db_session.flush()


def add_charge(session, account, period, **fields) -> Charge:
    values = {
        "service": "electricity",
        "zone": "total",
        "method": "meter",
        "volume": Decimal("100"),
        "tariff": Decimal("6.43"),
    } | fields
    values.setdefault("amount", (values["volume"] * values["tariff"]).quantize(Decimal("0.01")))
    charge = Charge(account_id=account.id, period=period, **values)
    session.add(charge)
    return charge


def add_payment(session, account, paid_on, amount, reference=None, agent="ПАО Сбербанк"):
    session.add(
        Payment(
            account_id=account.id,
            amount=Decimal(amount),
            paid_on=paid_on,
            agent=agent,
            reference=reference or f"ref-{account.id}-{paid_on.isoformat()}-{amount}",
        )
    )


def close(session, period):
    row = billing.get_or_create_period(session, period)
    row.run_started_at = row.run_finished_at = factories.utcnow()
    ledger.close_period(session, period)


def month(n: int) -> date:
    return months.add_months(JANUARY, n)


@pytest.fixture
def history(db_session, account, rules):
    """January–May 2025: charges by every method; nothing is paid until May, so May's bill
    carries penalties on January's debt at 1/300 and (from the 91st day of delay) 1/130."""
    for index in range(5):
        period = month(index)
        add_charge(
            db_session, account, period, zone="day", volume=Decimal("120"), tariff=Decimal("6.43")
        )
        add_charge(
            db_session, account, period, zone="night", volume=Decimal("80"), tariff=Decimal("3.21")
        )
    # May: a charge by each method, in the order a bill explains them.
    add_charge(
        db_session,
        account,
        MAY,
        service="hot_water",
        method="average",
        volume=Decimal("3.1667"),
        tariff=Decimal("245.12"),
        basis=Decimal("3"),
    )
    add_charge(
        db_session,
        account,
        MAY,
        service="cold_water",
        method="norm",
        volume=Decimal("9"),
        tariff=Decimal("52.4"),
        basis=Decimal("2"),
    )
    add_charge(
        db_session,
        account,
        MAY,
        service="heat",
        method="norm",
        volume=Decimal("0.9991"),
        tariff=Decimal("2950.5"),
        basis=Decimal("54.30"),
    )
    add_charge(
        db_session,
        account,
        MAY,
        zone="day",
        method="recalculation",
        volume=Decimal("-10"),
        tariff=Decimal("6.43"),
        reason="показания за апрель уточнены",
    )
    add_payment(db_session, account, date(2025, 5, 20), "1285.00")
    add_payment(db_session, account, date(2025, 5, 25), "500.00", agent="Почта России")
    db_session.flush()
    for index in range(5):
        close(db_session, month(index))
    return db_session.scalars(
        select(Bill).where(Bill.account_id == account.id).order_by(Bill.period)
    ).all()


def money(app, value) -> str:
    with app.test_request_context():
        return as_money(Decimal(value))


def shown_date(app, value, style="medium") -> str:
    with app.test_request_context():
        return as_date(value, style)


def plural(app, singular, plural_form, num) -> str:
    with app.test_request_context():
        return ngettext(singular, plural_form, num)


def flat(text: str) -> str:
    """Text with every kind of space made one plain space."""
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def section(html: str, heading_id: str) -> str:
    found = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', html, re.S)
    assert found, f"no section {heading_id}"
    return found.group(0)


def data_value(html: str, attribute: str, key: str) -> str:
    found = re.search(rf'data-{attribute}="{key}"[^>]*>(.*?)<', html, re.S)
    assert found, f"no data-{attribute}={key}"
    return found.group(1).strip()


# --- the service ------------------------------------------------------------------------------


def test_summary_nets_later_payments_and_splits_what_is_overdue(app, db_session, account, rules):
    add_charge(db_session, account, JANUARY, amount=Decimal("1000.00"))
    add_charge(db_session, account, FEBRUARY, amount=Decimal("600.00"))
    db_session.flush()
    close(db_session, JANUARY)
    close(db_session, FEBRUARY)
    add_payment(db_session, account, date(2025, 3, 5), "300.00")  # after February's bill
    db_session.flush()
    feb = db_session.scalar(
        select(Bill).where(Bill.period == FEBRUARY, Bill.account_id == account.id)
    )
    assert feb.closing_balance == Decimal("1600.00")
    assert feb.due_on == date(2025, 3, 10)

    before_due = statements.account_summary(db_session, account.id, date(2025, 3, 6))
    assert before_due.bill.id == feb.id
    assert before_due.paid_since == Decimal("300.00")
    assert before_due.amount_due == Decimal("1300.00")
    assert before_due.overdue == Decimal("700.00")  # January's 1000 less the 300 paid since
    assert before_due.due_on == date(2025, 3, 10)

    after_due = statements.account_summary(db_session, account.id, date(2025, 3, 11))
    assert after_due.overdue == Decimal("1300.00")

    add_payment(db_session, account, date(2025, 3, 7), "1500.00")
    db_session.flush()
    overpaid = statements.account_summary(db_session, account.id, date(2025, 3, 11))
    assert overpaid.amount_due == Decimal("-200.00")
    assert (overpaid.to_pay, overpaid.overpaid, overpaid.overdue) == (
        Decimal("0.00"),
        Decimal("200.00"),
        Decimal("0.00"),
    )


def test_summary_without_bills(db_session, account):
    summary = statements.account_summary(db_session, account.id, date(2026, 1, 1))
    assert summary.bill is None
    assert summary.amount_due == Decimal("0.00")


# --- the dashboard card -----------------------------------------------------------------------


def test_dashboard_card_shows_what_is_owed_overdue_and_the_penalties(
    app, resident_client, db_session, account, history
):
    may = history[-1]
    paid_since = Decimal("0.00")  # every payment is dated within a closed period
    assert may.penalties_total > 0
    html = page(resident_client.get(f"/accounts/{account.id}"))
    card = section(html, "billing-heading")
    assert data_value(card, "summary", "amount-due") == money(app, may.closing_balance - paid_since)
    # May's bill was due in June 2025: today all of it is overdue.
    assert data_value(card, "summary", "overdue") == money(app, may.closing_balance)
    assert data_value(card, "summary", "penalties") == money(app, may.penalties_total)
    assert data_value(card, "summary", "due-on") == shown_date(app, date(2025, 6, 10))
    assert f"/accounts/{account.id}/bills/2025-05" in card
    assert f"/accounts/{account.id}/bills/2025-05.pdf" in card
    assert f"/accounts/{account.id}/bills" in card
    assert f"/accounts/{account.id}/payments" in card


def test_dashboard_card_counts_a_payment_made_after_the_bill(
    app, resident_client, db_session, account, history
):
    add_payment(db_session, account, local_today(), "1000.00", reference="today")
    db_session.flush()
    card = section(page(resident_client.get(f"/accounts/{account.id}")), "billing-heading")
    expected = history[-1].closing_balance - Decimal("1000.00")
    assert data_value(card, "summary", "amount-due") == money(app, expected)
    assert data_value(card, "summary", "paid-since") == money(app, "1000.00")


@pytest.mark.parametrize(("utc_time", "overdue"), [(time(20, 59), False), (time(21, 0), True)])
def test_a_bill_is_overdue_from_midnight_in_the_supplier_zone(
    app, client, resident, db_session, account, rules, utc_time, overdue
):
    """A bill becomes overdue when its due date has passed in Moscow: at 21:00 UTC on the
    due date, not at midnight UTC. The bill is years after the real clock, so only the
    supplier's clock can make the pages show it overdue."""
    period = date(2030, 11, 1)
    add_charge(db_session, account, period, amount=Decimal("1000.00"))
    db_session.flush()
    close(db_session, period)
    bill = db_session.scalar(select(Bill).where(Bill.account_id == account.id))
    moment = datetime.combine(bill.due_on, utc_time, tzinfo=UTC)
    pages = {
        f"/accounts/{account.id}": "billing-heading",
        f"/accounts/{account.id}/bills": "owed-heading",
    }
    with time_machine.travel(moment, tick=False):
        login_as(client, resident)  # a session started at the moment the pages are read
        cards = {url: section(page(client.get(url)), heading) for url, heading in pages.items()}
    for url, card in cards.items():
        shown = re.search(r'<p class="([^"]*)" data-summary="due-on">', card).group(1)
        assert ("text-danger" in shown) is overdue, url
        assert ('data-summary="overdue"' in card) is overdue, url
        if overdue:
            assert data_value(card, "summary", "overdue") == money(app, bill.closing_balance)


def test_dashboard_without_bills_says_so(app, resident_client, account):
    card = section(page(resident_client.get(f"/accounts/{account.id}")), "billing-heading")
    assert (
        translated(app, "No bills yet. The first bill appears after the billing period closes.")
        in card
    )


def test_account_pages_link_to_bills_and_payments(resident_client, account):
    html = page(resident_client.get(f"/accounts/{account.id}"))
    nav = re.search(r'<nav class="account-nav.*?</nav>', html, re.S).group(0)
    assert f'href="/accounts/{account.id}/bills"' in nav
    assert f'href="/accounts/{account.id}/payments"' in nav


# --- the list ---------------------------------------------------------------------------------


def test_bills_list_by_month_with_every_figure(app, resident_client, account, history):
    html = page(resident_client.get(f"/accounts/{account.id}/bills"))
    rows = re.findall(r'<tr data-bill="(\d{4}-\d{2})">(.*?)</tr>', html, re.S)
    assert [period for period, _row in rows] == [
        "2025-05",
        "2025-04",
        "2025-03",
        "2025-02",
        "2025-01",
    ]
    by_period = dict(rows)
    for bill in history:
        row = by_period[bill.period.strftime("%Y-%m")]
        for value in (
            bill.charges_total,
            bill.penalties_total,
            bill.payments_total,
            bill.closing_balance,
        ):
            assert money(app, value) in row
        assert shown_date(app, bill.due_on) in row
        assert f"/bills/{bill.period:%Y-%m}.pdf" in row


def test_bills_list_pages_by_year(app, resident_client, db_session, account, rules):
    for period in (date(2024, 11, 1), date(2024, 12, 1), JANUARY):
        add_charge(db_session, account, period)
    db_session.flush()
    for period in (date(2024, 11, 1), date(2024, 12, 1), JANUARY):
        close(db_session, period)
    latest = page(resident_client.get(f"/accounts/{account.id}/bills"))
    assert re.findall(r'data-bill="([\d-]+)"', latest) == ["2025-01"]
    assert f"/accounts/{account.id}/bills?year=2024" in latest
    earlier = page(resident_client.get(f"/accounts/{account.id}/bills?year=2024"))
    assert re.findall(r'data-bill="([\d-]+)"', earlier) == ["2024-12", "2024-11"]
    assert resident_client.get(f"/accounts/{account.id}/bills?year=2019").status_code == 404


def test_bills_list_without_bills(app, resident_client, account):
    response = resident_client.get(f"/accounts/{account.id}/bills")
    assert response.status_code == 200
    assert translated(app, "No bills yet.") in page(response)


# --- one bill ---------------------------------------------------------------------------------


def test_bill_page_shows_every_section_and_explains_each_method(
    app, resident_client, db_session, account, history
):
    may = history[-1]
    response = resident_client.get(f"/accounts/{account.id}/bills/2025-05")
    assert response.status_code == 200
    html = page(response)

    ledger_box = section(html, "ledger-heading")
    assert data_value(ledger_box, "bill", "opening") == money(app, may.opening_balance)
    assert data_value(ledger_box, "bill", "charges") == money(app, may.charges_total)
    assert data_value(ledger_box, "bill", "penalties") == money(app, may.penalties_total)
    assert money(app, may.payments_total) in data_value(ledger_box, "bill", "payments")
    assert data_value(ledger_box, "bill", "closing") == money(app, may.closing_balance)
    assert data_value(ledger_box, "bill", "amount-due") == money(app, may.closing_balance)
    assert data_value(ledger_box, "bill", "due-on") == shown_date(app, may.due_on)

    charges = section(html, "charges-heading")
    methods = {
        service: re.findall(r'class="charge-method">(.*?)</td>', body, re.S)
        for service, body in re.findall(r'<tbody data-service="(\w+)">(.*?)</tbody>', charges, re.S)
    }
    assert list(methods) == ["electricity", "heat", "cold_water", "hot_water"]
    by_meter = translated(app, "by meter")
    assert methods["electricity"] == [
        by_meter,
        by_meter,
        translated(app, "recalculation: %(reason)s", reason="показания за апрель уточнены"),
    ]
    assert methods["hot_water"] == [
        plural(app, "by average of %(num)d month", "by average of %(num)d months", 3)
    ]
    assert methods["cold_water"] == [
        plural(app, "by norm for %(num)d resident", "by norm for %(num)d residents", 2)
    ]
    assert methods["heat"] == [translated(app, "by norm for %(area)s m²", area="54,3")]
    # Volume with its unit and the tariff per unit.
    assert "3,1667" in charges
    assert "0,9991" in charges
    assert translated(app, "m³") in charges
    assert money(app, "245.12") in charges
    assert money(app, "6.43") + "/" + translated(app, "kWh") in charges
    assert "2\xa0950,50" in charges or "2 950,50" in charges

    penalties = section(html, "penalties-heading")
    penalty = db_session.scalar(select(Penalty).where(Penalty.period == MAY))
    assert "1/300" in penalties
    assert "1/130" in penalties
    for item in penalty.details:
        assert (
            f'<td class="text-lg-end" data-label="{translated(app, "Days")}">{item["days"]}</td>'
            in penalties
        )
        assert money(app, item["base"]) in penalties
        assert money(app, item["amount"]) in penalties
    assert shown_date(app, date(2025, 2, 10)) in penalties  # January's debt was due then

    payments = section(html, "payments-heading")
    assert "Почта России" in payments
    assert money(app, "500.00") in payments
    assert "ПАО Сбербанк" in payments
    assert money(app, "1285.00") in payments

    qr = re.search(r'<img class="payment-qr[^"]*" src="(data:image/svg\+xml[^"]+)"', html)
    assert qr, "the payment QR code is an SVG data URI"
    assert f'href="/accounts/{account.id}/bills/2025-04"' in html  # the previous bill


def test_a_bill_without_charges_or_penalties_still_renders(
    app, resident_client, db_session, account, rules
):
    db_session.flush()
    close(db_session, JANUARY)
    html = page(resident_client.get(f"/accounts/{account.id}/bills/2025-01"))
    assert translated(app, "Nothing was charged for this month.") in html
    assert 'aria-labelledby="penalties-heading"' not in html


def test_missing_months_and_others_bills_answer_404(
    resident_client, other_client, db_session, account, history
):
    assert resident_client.get(f"/accounts/{account.id}/bills/2025-06").status_code == 404
    assert resident_client.get(f"/accounts/{account.id}/bills/2025-06.pdf").status_code == 404
    assert resident_client.get(f"/accounts/{account.id}/bills/2025-13").status_code == 404
    assert resident_client.get(f"/accounts/{account.id}/bills/2025-5").status_code == 404
    assert (
        resident_client.get(f"/accounts/{account.id}/bills/99999999999999999999-05").status_code
        == 404
    )

    stranger = factories.make_user(db_session)
    login_as(other_client, stranger)
    for path in (
        f"/accounts/{account.id}/bills",
        f"/accounts/{account.id}/bills/2025-05",
        f"/accounts/{account.id}/bills/2025-05.pdf",
        f"/accounts/{account.id}/payments",
    ):
        assert other_client.get(path).status_code == 404, path
    # Someone else's account with bills of the same month: still not visible.
    theirs = factories.make_account(db_session)
    factories.link(db_session, stranger, theirs)
    assert resident_client.get(f"/accounts/{theirs.id}/bills/2025-05").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, account):
    response = client.get(f"/accounts/{account.id}/bills/2025-05.pdf")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- the PDF ----------------------------------------------------------------------------------


def test_pdf_is_a_bill_with_requisites_and_a_qr_code_holding_every_field(
    app, resident_client, account, history
):
    may = history[-1]
    response = resident_client.get(f"/accounts/{account.id}/bills/2025-05.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=kvitantsiya-5200001234-2025-05.pdf"
    )
    assert response.headers["Cache-Control"] == "no-store"
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF")

    text = flat(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    for expected in (
        "5200001234",  # account number
        "K7M2QX",  # the portal code
        "5247004490",  # supplier's ИНН
        "524701001",  # КПП
        "40702810442000012345",
        "042202603",
        "30101810900000000603",
        "Иванов Иван Иванович",
        flat(money(app, may.closing_balance)),
        flat(money(app, may.charges_total).removesuffix(" ₽").removesuffix("\xa0₽")),
        flat(money(app, may.penalties_total).removesuffix("\xa0₽")),
        shown_date(app, may.due_on, "short"),
    ):
        assert expected in text, expected

    document = pymupdf.open(stream=pdf, filetype="pdf")
    pixmap = document[0].get_pixmap(dpi=200)
    image = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, "one QR code on page 1"
    payload = found[0].text
    assert payload.startswith("ST00012|")
    assert parse_payload(payload) == {
        "Name": "АО «Городской энергосбыт»",
        "PersonalAcc": "40702810442000012345",
        "BankName": "ПАО Сбербанк",
        "BIC": "042202603",
        "CorrespAcc": "30101810900000000603",
        "PayeeINN": "5247004490",
        "KPP": "524701001",
        "PersAcc": "5200001234",
        "LastName": "Иванов",
        "FirstName": "Иван",
        "MiddleName": "Иванович",
        "PayerAddress": account.premises.address,
        "Purpose": "Оплата за май 2025, л/с 5200001234",
        "Sum": str(int(may.closing_balance * 100)),
        "PaymPeriod": "052025",
    }


# --- payments and the chart -------------------------------------------------------------------


def test_payments_history_with_chart_data_and_its_table(app, resident_client, account, history):
    response = resident_client.get(f"/accounts/{account.id}/payments")
    assert response.status_code == 200
    html = page(response)
    rows = re.findall(r'<tr data-payment="\d+">(.*?)</tr>', html, re.S)
    assert len(rows) == 2
    assert "Почта России" in rows[0]
    assert money(app, "500.00") in rows[0]
    assert shown_date(app, date(2025, 5, 25)) in rows[0]
    assert "ref-" in rows[0]

    import json

    data = json.loads(
        re.search(
            r'<script type="application/json" id="billing-data">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert len(data["labels"]) == 5
    electricity = data["charges"]["datasets"][0]
    assert electricity["data"][0] == float(history[0].charges_total)
    assert [set_["datasets"][0]["label"] for set_ in data["consumption"]] == [
        translated(app, "Electricity"),
        translated(app, "Heating"),
        translated(app, "Cold water"),
        translated(app, "Hot water"),
    ]
    assert data["consumption"][0]["datasets"][0]["data"][0] == 200.0  # day 120 + night 80
    assert data["consumption"][0]["datasets"][0]["data"][4] == 200.0  # recalculation left out
    # The same figures as a table; the chart is drawn by a file, never inline code.
    assert 'class="table table-sm align-middle mb-0 charges-by-month"' in html
    assert money(app, history[0].charges_total) in html
    assert "/static/js/billing-chart.js" in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert " src=" in tag or 'type="application/json"' in tag, tag
    assert " style=" not in html


def test_payments_page_paginates(app, resident_client, db_session, account):
    for n in range(25):
        add_payment(db_session, account, date(2025, 1, 1) + timedelta(days=n), "10.00", f"p{n}")
    db_session.flush()
    first = page(resident_client.get(f"/accounts/{account.id}/payments"))
    assert len(re.findall(r"<tr data-payment=", first)) == 20
    second = page(resident_client.get(f"/accounts/{account.id}/payments?page=2"))
    assert len(re.findall(r"<tr data-payment=", second)) == 5
    beyond = page(resident_client.get(f"/accounts/{account.id}/payments?page=99"))
    assert len(re.findall(r"<tr data-payment=", beyond)) == 5


# --- constant queries -------------------------------------------------------------------------


def count_queries(db_session, client, url: str) -> int:
    statements_run: list[str] = []

    def remember(_conn, _cursor, statement, *_args):
        statements_run.append(statement)

    bind = db_session.get_bind()
    event.listen(bind, "before_cursor_execute", remember)
    try:
        response = client.get(url)
    finally:
        event.remove(bind, "before_cursor_execute", remember)
    assert response.status_code == 200, url
    return len(statements_run)


def test_pages_run_the_same_number_of_queries_for_2_and_12_bills(
    resident_client, db_session, account, rules
):
    def add_months(first: int, last: int):
        for index in range(first, last):
            period = month(index)
            for zone in ("day", "night", "peak")[: 1 + index % 3]:
                add_charge(db_session, account, period, zone=zone)
            add_charge(
                db_session, account, period, service="cold_water", method="norm", basis=Decimal(2)
            )
            add_payment(db_session, account, period + timedelta(days=3), "700.00")
            add_payment(db_session, account, period + timedelta(days=9), "50.00")
        db_session.flush()
        for index in range(first, last):
            close(db_session, month(index))

    def urls(last_index: int) -> list[str]:
        latest = month(last_index)
        return [
            f"/accounts/{account.id}",
            f"/accounts/{account.id}/bills",
            f"/accounts/{account.id}/bills/{latest:%Y-%m}",
            f"/accounts/{account.id}/payments",
        ]

    add_months(0, 2)
    few = [count_queries(db_session, resident_client, url) for url in urls(1)]
    add_months(2, 12)
    many = [count_queries(db_session, resident_client, url) for url in urls(11)]
    assert many == few
    assert few[1] < 20, few
