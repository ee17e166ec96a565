"""Debt in the back office and on the resident's page: the debtor list (filters, htmx,
exports, a constant number of queries), an account's debt with its escalation forms and
documents, roles, and that a resident sees their own account's steps and nobody else's."""

import csv
import io
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import delete, event, func, select

from admin.access import AREA_ROLES
from portal.extensions import db
from portal.models import STAFF_ROLES, Bill, DebtAction, OutboxMessage, Payment
from portal.services.clock import local_today
from portal.services.months import add_months
from tests import factories
from tests.conftest import csrf_token, form_alert, login_as, page, post_form
from tests.factories import downloaded_csv

HTMX = {"HX-Request": "true"}
D = Decimal


@pytest.fixture(autouse=True)
def clean_ledger(db_session):
    for model in (DebtAction, Bill, Payment):
        db_session.execute(delete(model))
    db_session.flush()


def english(browser):
    """The browser reads the English texts the assertions quote."""
    with browser.session_transaction() as session:
        session["language"] = "en"
    return browser


def months_back(count: int) -> date:
    return add_months(local_today().replace(day=1), -count)


def make_debtor(session, amounts=("1000.00", "700.00"), months=8, district="Центральный", **kw):
    customer = factories.make_customer(session, email=f"{uuid.uuid4().hex[:8]}@example.ru")
    account = factories.make_account(session, customer, **kw)
    account.premises.district = district
    factories.make_bills(session, account, list(amounts), first=months_back(months))
    return account


def text_of(response) -> str:
    return page(response).replace("\u00a0", " ")


# --- the list -------------------------------------------------------------------------------


def test_the_list_full_page_and_fragment(staff_client, db_session):
    client = english(staff_client("billing"))
    one = make_debtor(db_session)
    two = make_debtor(db_session, amounts=("50.00",), months=2, district="Заречный")
    paid = factories.make_account(db_session)
    factories.make_bills(
        db_session, paid, ["10.00"], first=months_back(5), payments=[(months_back(5), "10")]
    )

    full = client.get("/admin/debt")
    html = text_of(full)
    assert full.status_code == 200
    assert "<html" in html
    assert "Ageing of the debt" in html
    assert one.number in html
    assert two.number in html
    assert paid.number not in html
    assert "1 700,00" in html or "1,700.00" in html
    assert html.index(one.number) < html.index(two.number)  # largest first

    fragment = client.get("/admin/debt?district=Заречный", headers=HTMX)
    body = text_of(fragment)
    assert "<html" not in body
    assert two.number in body
    assert one.number not in body
    assert "HX-Request" in fragment.headers.get("Vary", "")
    assert fragment.headers.get("Cache-Control") == "no-store"


@pytest.mark.parametrize(
    "query",
    [
        "min_amount=abc&bucket=zzz&step=drop%20table&sort=evil&category=x&district=nowhere",
        "page=-5",
        "page=999999999999999",
        "min_amount=1e99999",
        "min_amount=99999999999999999999",
        "min_amount=%00%ff",
    ],
)
def test_malformed_filters_never_fail(staff_client, db_session, query):
    client = english(staff_client("billing"))
    make_debtor(db_session)
    assert client.get(f"/admin/debt?{query}").status_code == 200
    assert client.get(f"/admin/debt/export.csv?{query}").status_code == 200


def test_filters_narrow_the_list_and_the_ageing_table(staff_client, db_session):
    client = english(staff_client("billing"))
    old = make_debtor(db_session, amounts=("9000.00",), months=14)
    young = make_debtor(db_session, amounts=("100.00",), months=2, category="others")
    html = text_of(client.get("/admin/debt?min_amount=5 000"))
    assert old.number in html
    assert young.number not in html
    html = text_of(client.get("/admin/debt?category=others"))
    assert young.number in html
    assert old.number not in html
    html = text_of(client.get("/admin/debt?bucket=12-36"))
    assert old.number in html
    assert young.number not in html
    html = text_of(client.get("/admin/debt?step=none"))
    assert old.number in html
    assert young.number in html
    html = text_of(client.get("/admin/debt?step=debt_notice"))
    assert old.number not in html


def count_queries(client, url: str) -> tuple[str, int]:
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert response.status_code == 200
    return response.get_data(as_text=True), len(statements)


def test_the_list_makes_the_same_number_of_queries_for_3_and_20_debtors(staff_client, db_session):
    client = english(staff_client("billing"))
    for _ in range(3):
        make_debtor(db_session)
    html, with_three = count_queries(client, "/admin/debt")
    assert html.count('class="debtor"') == 3
    for index in range(17):
        account = make_debtor(db_session, district=f"Район {index % 4}")
        db_session.add(
            DebtAction(
                account_id=account.id, step="debt_notice", amount=D("1"), acted_on=local_today()
            )
        )
    db_session.flush()
    html, with_twenty = count_queries(client, "/admin/debt")
    assert html.count('class="debtor"') == 20
    assert with_twenty == with_three, (with_three, with_twenty)
    assert with_three > 3


def test_exports_csv_and_xlsx_of_the_filtered_list(staff_client, db_session):
    client = english(staff_client("billing"))
    one = make_debtor(db_session, district="Заречный")
    other = make_debtor(db_session)
    response = client.get("/admin/debt/export.csv?district=Заречный")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    assert [row[0] for row in rows[1:]] == [one.number]
    assert rows[1][6] == "1700,00"

    response = client.get("/admin/debt/export.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert {row[0] for row in values} == {one.number, other.number}
    assert all(row[6] == 1700 for row in values)
    assert sheet["G2"].number_format == "#,##0.00"


def test_exports_neutralise_formulas_and_keep_numbers(staff_client, db_session):
    """Names and addresses are typed by people: none may run as a formula in Excel."""
    client = english(staff_client("billing"))
    account = make_debtor(db_session, district="-2+3")
    account.customer.full_name = '=HYPERLINK("http://x")'
    account.premises.address = "@SUM(A1)"
    db_session.flush()
    query = "district=-2%2B3"
    today = local_today().isoformat()

    rows = downloaded_csv(client.get(f"/admin/debt/export.csv?{query}"), f"debtors-{today}.csv")
    assert len(rows) == 2
    assert rows[1][:7] == [
        account.number,
        '\'=HYPERLINK("http://x")',
        "'@SUM(A1)",
        "'-2+3",
        rows[1][4],
        "1700,00",
        "1700,00",
    ]

    response = client.get(f"/admin/debt/export.xlsx?{query}")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Content-Disposition"] == f"attachment; filename=debtors-{today}.xlsx"
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    name, address, district = sheet["B2"], sheet["C2"], sheet["D2"]
    assert [cell.value for cell in (name, address, district)] == [
        '=HYPERLINK("http://x")',
        "@SUM(A1)",
        "-2+3",
    ]
    assert {cell.data_type for cell in (name, address, district)} == {"s"}
    assert (sheet["F2"].value, sheet["F2"].data_type) == (1700, "n")
    assert sheet["H2"].is_date


# --- one account ----------------------------------------------------------------------------


def action_form(step: str, acted_on: date, **fields) -> dict:
    data = {f"{step}-acted_on": acted_on.isoformat()}
    data.update({f"{step}-{name}": value for name, value in fields.items()})
    return data


def test_escalation_through_the_forms(staff_client, db_session):
    client = english(staff_client("billing"))
    account = make_debtor(db_session)
    url = f"/admin/debt/accounts/{account.id}"
    html = text_of(client.get(url))
    assert "1 700,00" in html or "1,700.00" in html
    assert "Unpaid bills" in html
    assert 'action="' + url + '/actions/debt_notice"' in html
    assert url + "/actions/restriction" not in html.replace("restriction_warning", "")

    today = local_today()
    response = post_form(client, f"{url}/actions/debt_notice", action_form("debt_notice", today))
    assert response.status_code == 303
    assert response.headers["Location"] == url
    notice = db_session.scalar(select(DebtAction).where(DebtAction.account_id == account.id))
    assert (notice.step, notice.amount) == ("debt_notice", D("1700.00"))
    assert db_session.scalar(
        select(func.count()).where(OutboxMessage.dedup_key == f"debt_notice:{notice.id}")
    ) == 1  # fmt: skip

    response = post_form(
        client,
        f"{url}/actions/restriction_warning",
        action_form(
            "restriction_warning",
            today,
            delivered_on=today.isoformat(),
            delivery_proof="registered letter 80081234567890",
        ),
    )
    assert response.status_code == 303
    # The restriction must wait for the lead time: refused, the page explains, nothing stored.
    response = post_form(client, f"{url}/actions/restriction", action_form("restriction", today))
    assert response.status_code == 200
    assert "A restriction is possible from" in (form_alert(response) or "")
    response = post_form(client, f"{url}/actions/lifted", action_form("lifted", today))
    assert "Only a restriction can be lifted." in (form_alert(response) or "")
    steps = db_session.scalars(
        select(DebtAction.step).where(DebtAction.account_id == account.id).order_by(DebtAction.id)
    ).all()
    assert steps == ["debt_notice", "restriction_warning"]

    html = text_of(client.get(url))
    assert "registered letter 80081234567890" in html
    assert "A restriction is possible from" in html

    document = client.get(f"{url}/actions/{notice.id}/document.pdf")
    assert document.status_code == 200
    assert document.mimetype == "application/pdf"
    text = " ".join(PdfReader(io.BytesIO(document.get_data())).pages[0].extract_text().split())
    assert account.number in text
    assert "1 700,00" in text.replace("\u00a0", " ")


def test_a_delivery_is_recorded_later(staff_client, db_session):
    client = english(staff_client("billing"))
    account = make_debtor(db_session)
    today = local_today()
    url = f"/admin/debt/accounts/{account.id}"
    post_form(
        client, f"{url}/actions/debt_notice", action_form("debt_notice", today - timedelta(3))
    )
    notice = db_session.scalar(select(DebtAction).where(DebtAction.account_id == account.id))
    assert notice.delivered_at is None
    prefix = f"delivery-{notice.id}"
    response = post_form(
        client,
        f"{url}/actions/{notice.id}/delivery",
        {
            f"{prefix}-delivered_on": (today - timedelta(1)).isoformat(),
            f"{prefix}-delivery_proof": "",
        },
    )
    assert response.status_code == 200  # the proof is missing
    response = post_form(
        client,
        f"{url}/actions/{notice.id}/delivery",
        {
            f"{prefix}-delivered_on": (today - timedelta(1)).isoformat(),
            f"{prefix}-delivery_proof": "SMS delivered",
        },
    )
    assert response.status_code == 303
    db_session.refresh(notice)
    assert notice.delivery_proof == "SMS delivered"
    assert notice.delivered_at is not None


def test_refusals_and_malformed_posts_never_fail(staff_client, db_session):
    client = english(staff_client("billing"))
    account = make_debtor(db_session)
    paid_up = factories.make_account(db_session)
    url = f"/admin/debt/accounts/{account.id}"
    today = local_today()
    cases = [
        (f"{url}/actions/debt_notice", {"debt_notice-acted_on": "not a date"}),
        (f"{url}/actions/debt_notice", action_form("debt_notice", today + timedelta(5))),
        (f"{url}/actions/debt_notice", action_form("debt_notice", today, delivery_proof="x" * 999)),
        (f"{url}/actions/restriction_warning", action_form("restriction_warning", today)),
        (
            f"/admin/debt/accounts/{paid_up.id}/actions/debt_notice",
            action_form("debt_notice", today),
        ),
    ]
    for target, data in cases:
        response = post_form(client, target, data)
        assert response.status_code == 200, target
    assert db_session.scalar(select(func.count()).select_from(DebtAction)) == 0
    assert post_form(client, f"{url}/actions/evil", {}).status_code == 404
    assert (
        post_form(client, "/admin/debt/accounts/99999999/actions/debt_notice", {}).status_code
        == 404
    )
    assert client.get("/admin/debt/accounts/99999999").status_code == 404
    response = client.post(f"{url}/actions/debt_notice", data=action_form("debt_notice", today))
    assert response.status_code == 400  # no CSRF token


def test_a_document_of_another_account_is_404(staff_client, db_session):
    client = english(staff_client("billing"))
    mine, other = make_debtor(db_session), make_debtor(db_session)
    action = DebtAction(
        account_id=other.id, step="debt_notice", amount=D("1"), acted_on=local_today()
    )
    lifted = DebtAction(account_id=mine.id, step="lifted", amount=D("0"), acted_on=local_today())
    db_session.add_all([action, lifted])
    db_session.flush()
    assert (
        client.get(f"/admin/debt/accounts/{mine.id}/actions/{action.id}/document.pdf").status_code
        == 404
    )
    assert (
        client.get(f"/admin/debt/accounts/{other.id}/actions/{action.id}/document.pdf").status_code
        == 200
    )
    # A lifting has no document.
    assert (
        client.get(f"/admin/debt/accounts/{mine.id}/actions/{lifted.id}/document.pdf").status_code
        == 404
    )


# --- roles ----------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/admin/debt", "debt"),
    ("GET", "/admin/debt/export.csv", "debt"),
    ("GET", "/admin/debt/export.xlsx", "debt"),
    ("GET", "/admin/debt/accounts/{account}", "debt"),
    ("GET", "/admin/debt/accounts/{account}/actions/{action}/document.pdf", "debt"),
    ("POST", "/admin/debt/accounts/{account}/actions/debt_notice", "debt.manage"),
    ("POST", "/admin/debt/accounts/{account}/actions/{action}/delivery", "debt.manage"),
]


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize(("method", "url", "area"), ROUTES)
def test_roles(staff_client, db_session, role, method, url, area):
    account = make_debtor(db_session)
    action = DebtAction(
        account_id=account.id, step="debt_notice", amount=D("1"), acted_on=local_today()
    )
    db_session.add(action)
    db_session.flush()
    client = english(staff_client(role))
    target = url.format(account=account.id, action=action.id)
    if method == "GET":
        response = client.get(target)
    else:
        today = local_today().isoformat()
        response = client.post(
            target,
            data={
                "csrf_token": csrf_token(client),
                "debt_notice-acted_on": today,
                f"delivery-{action.id}-delivered_on": today,
                f"delivery-{action.id}-delivery_proof": "SMS delivered",
            },
        )
    if role in AREA_ROLES[area]:
        assert response.status_code == (200 if method == "GET" else 303)
    else:
        assert response.status_code == 403


def test_an_operator_sees_the_account_but_no_forms(staff_client, db_session):
    client = english(staff_client("operator"))
    account = make_debtor(db_session)
    html = page(client.get(f"/admin/debt/accounts/{account.id}"))
    assert "/actions/debt_notice" not in html
    assert "Billing specialists record the steps." in html


def test_anonymous_and_residents_are_kept_out(client, db_session):
    account = make_debtor(db_session)
    response = client.get(f"/admin/debt/accounts/{account.id}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
    resident = factories.make_user(db_session)
    login_as(client, resident)
    assert client.get("/admin/debt").status_code in (302, 403)


# --- the resident's page --------------------------------------------------------------------


def test_a_resident_sees_their_accounts_steps_and_never_anothers(client, db_session):
    mine = make_debtor(db_session)
    theirs = make_debtor(db_session, amounts=("4321.00",))
    db_session.add_all(
        [
            DebtAction(
                account_id=mine.id,
                step="debt_notice",
                amount=D("1700.00"),
                acted_on=date(2026, 3, 2),
                delivered_at=None,
            ),
            DebtAction(
                account_id=theirs.id,
                step="restriction",
                amount=D("4321.00"),
                acted_on=date(2026, 3, 3),
            ),
        ]
    )
    db_session.flush()
    resident = factories.make_user(db_session, language="en")
    factories.link(db_session, resident, mine)
    login_as(client, resident)

    html = text_of(client.get(f"/accounts/{mine.id}"))
    assert "Debt collection" in html
    assert 'data-step="debt_notice"' in html
    assert "1 700,00" in html or "1,700.00" in html
    assert 'data-step="restriction"' not in html
    assert "4 321" not in html
    assert "4,321" not in html
    assert client.get(f"/accounts/{theirs.id}").status_code == 404

    # Without steps the section is not there at all.
    calm = factories.make_account(db_session)
    factories.link(db_session, resident, calm)
    assert "Debt collection" not in text_of(client.get(f"/accounts/{calm.id}"))
