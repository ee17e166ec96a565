"""Contracts and documents in the back office (#13): create, amend by an additional
agreement, terminate, link accounts; corrections; the register and its exports; the
issue page's progress; who may do what, route by route."""

import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from openpyxl import load_workbook

from admin.access import AREA_ROLES
from portal.models import AuditEvent, BillingPeriod, Charge, Contract, ContractDocument
from portal.services import contract_documents
from tests import factories
from tests.conftest import post_form

OCTOBER = date(2026, 10, 1)


@pytest.fixture
def contract(db_session):
    organisation = factories.make_organisation(db_session, inn="7701234567")
    contract = factories.make_contract(db_session, organisation, number="Д-2026/0100")
    customer = factories.make_customer(
        db_session,
        kind="organisation",
        full_name=organisation.name,
        organisation_id=organisation.id,
    )
    account = factories.make_account(db_session, customer, contract_id=contract.id)
    factories.make_bills(db_session, account, ["1220.00"], first=OCTOBER)
    db_session.add(
        Charge(
            account_id=account.id,
            period=OCTOBER,
            service="electricity",
            zone="total",
            method="meter",
            volume=Decimal("200"),
            tariff=Decimal("6.10"),
            amount=Decimal("1220.00"),
        )
    )
    db_session.add(BillingPeriod(period=OCTOBER, status="closed"))
    db_session.flush()
    contract.customer = customer
    return contract


def issued(db_session):
    with time_machine.travel(date(2026, 11, 3), tick=False):
        contract_documents.issue_period(db_session, OCTOBER)


def test_create_a_contract_and_refusals_stay_next_to_the_field(staff_client, db_session, contract):
    browser = staff_client("billing", language="en")
    response = post_form(
        browser,
        "/admin/contracts/new",
        {
            "inn": "0000000000",
            "number": "Д-1",
            "signed_on": "2026-01-10",
            "bill_day": "7",
            "due_day": "10",
        },
    )
    assert response.status_code == 400
    assert "No organisation with this INN." in response.get_data(as_text=True)
    assert 'value="Д-1"' in response.get_data(as_text=True)
    response = post_form(
        browser,
        "/admin/contracts/new",
        {
            "inn": "7701234567",
            "number": "Д-1",
            "signed_on": "2026-01-10",
            "bill_day": "29",
            "due_day": "10",
        },
    )
    assert response.status_code == 400
    response = post_form(
        browser,
        "/admin/contracts/new",
        {
            "inn": "7701234567",
            "number": "Д-1",
            "signed_on": "2026-01-10",
            "bill_day": "5",
            "due_day": "15",
        },
    )
    assert response.status_code == 303
    created = db_session.query(Contract).filter_by(number="Д-1").one()
    assert (created.bill_day, created.due_day) == (5, 15)
    duplicate = post_form(
        browser,
        "/admin/contracts/new",
        {
            "inn": "7701234567",
            "number": "Д-1",
            "signed_on": "2026-01-10",
            "bill_day": "5",
            "due_day": "15",
        },
    )
    assert "A contract with this number exists." in duplicate.get_data(as_text=True)


def test_amend_then_terminate(staff_client, db_session, contract):
    browser = staff_client("billing", language="en")
    url = f"/admin/contracts/{contract.id}"
    early = post_form(
        browser,
        f"{url}/amend",
        {
            "number": "1",
            "signed_on": "2020-01-01",
            "summary": "срок оплаты",
            "bill_day": "7",
            "due_day": "20",
        },
    )
    assert early.status_code == 400
    assert "cannot precede the contract" in early.get_data(as_text=True)
    response = post_form(
        browser,
        f"{url}/amend",
        {
            "number": "1",
            "signed_on": "2026-03-01",
            "summary": "срок оплаты до 20-го",
            "bill_day": "7",
            "due_day": "20",
        },
    )
    assert response.status_code == 303
    db_session.refresh(contract)
    assert contract.due_day == 20
    assert [a.number for a in contract.amendments] == ["1"]
    event = (
        db_session.query(AuditEvent)
        .filter_by(object_type="contract")
        .order_by(AuditEvent.id.desc())
        .first()
    )
    assert event.changes == {"due_day": [10, 20]}
    # the due date of the next documents follows the agreement: 20.11 for October
    assert contract_documents.due_date(contract, OCTOBER) == date(2026, 11, 20)
    response = post_form(browser, f"{url}/terminate", {"terminated_on": "2026-12-31"})
    assert response.status_code == 303
    db_session.refresh(contract)
    assert contract.status == "terminated"
    again = post_form(
        browser,
        f"{url}/amend",
        {
            "number": "2",
            "signed_on": "2027-01-01",
            "summary": "x",
            "bill_day": "7",
            "due_day": "10",
        },
    )
    assert again.status_code == 400


def test_link_only_the_organisations_own_free_account(staff_client, db_session, contract):
    browser = staff_client("billing", language="en")
    url = f"/admin/contracts/{contract.id}/accounts"
    household = factories.make_account(db_session)
    refused = post_form(browser, url, {"account_number": household.number})
    assert "not this organisation" in refused.get_data(as_text=True)
    own = factories.make_account(db_session, contract.customer)
    assert post_form(browser, url, {"account_number": own.number}).status_code == 303
    db_session.refresh(own)
    assert own.contract_id == contract.id


def test_correction_from_the_card(staff_client, db_session, contract):
    issued(db_session)
    with time_machine.travel(date(2026, 11, 20), tick=False):
        browser = staff_client("billing", language="en")
        response = post_form(browser, f"/admin/contracts/{contract.id}/periods/2026-10/reissue", {})
        card = browser.get(f"/admin/contracts/{contract.id}").get_data(as_text=True)
    assert response.status_code == 303
    numbers = sorted(d.number for d in contract_documents.documents_of(db_session, contract.id))
    assert numbers == [
        "АКТ-2026-000001",
        "АКТ-2026-000002",
        "СФ-2026-000001",
        "СФ-2026-000002",
        "СЧ-2026-000001",
        "СЧ-2026-000002",
    ]
    assert "correction of СФ-2026-000001" in card


def test_register_filtered_and_exported(staff_client, db_session, contract):
    issued(db_session)
    browser = staff_client("supervisor")
    page = browser.get("/admin/documents?period=2026-10&kind=vat_invoice").get_data(as_text=True)
    assert "СФ-2026-000001" in page
    assert "СЧ-2026-000001" not in page
    response = browser.get("/admin/documents?period=2026-10&kind=vat_invoice&export=xlsx")
    rows = list(load_workbook(io.BytesIO(response.get_data())).active.iter_rows(values_only=True))
    assert rows[1][0] == "СФ-2026-000001"
    # 1 220,00 with VAT 22 %: VAT 1 220 × 22 / 122 = 220,00, without VAT 1 000,00
    assert (Decimal(str(rows[1][7])), Decimal(str(rows[1][9])), Decimal(str(rows[1][10]))) == (
        Decimal("1000"),
        Decimal("220"),
        Decimal("1220"),
    )
    csv = browser.get("/admin/documents?export=csv")
    assert csv.mimetype == "text/csv"
    assert "СФ-2026-000001" in csv.get_data(as_text=True)


def test_issue_page_shows_progress(staff_client, db_session, contract):
    browser = staff_client("billing", language="en")
    page = browser.get("/admin/documents/periods/2026-10").get_data(as_text=True)
    assert "0 of 1 contracts" in page
    # the contract's bill day (7, the default; 004 T2) of the month after October
    assert contract_documents.progress_of(db_session, OCTOBER).due_by == date(2026, 11, 7)
    assert post_form(browser, "/admin/documents/periods/2026-10/issue", {}).status_code == 303
    contract_documents.process_pending(db_session)
    page = browser.get("/admin/documents/periods/2026-10").get_data(as_text=True)
    assert "1 of 1 contracts" in page
    assert browser.get("/admin/documents/periods/2026-11").status_code == 404  # not closed


ROUTES = [
    ("GET", "/admin/contracts", "contracts"),
    ("GET", "/admin/contracts/{contract}", "contracts"),
    ("GET", "/admin/contracts/new", "contracts.edit"),
    ("POST", "/admin/contracts/{contract}/amend", "contracts.edit"),
    ("POST", "/admin/contracts/{contract}/terminate", "contracts.edit"),
    ("POST", "/admin/contracts/{contract}/accounts", "contracts.edit"),
    ("POST", "/admin/contracts/{contract}/periods/2026-10/reissue", "documents.issue"),
    ("GET", "/admin/documents", "documents"),
    ("GET", "/admin/documents/periods/2026-10", "documents"),
    ("POST", "/admin/documents/periods/2026-10/issue", "documents.issue"),
]


@pytest.mark.parametrize(
    ("method", "pattern", "area"), ROUTES, ids=[f"{m} {u}" for m, u, _ in ROUTES]
)
@pytest.mark.parametrize("role", ["operator", "metering", "billing", "supervisor", "admin"])
def test_who_may_use_each_route(staff_client, db_session, contract, method, pattern, area, role):
    browser = staff_client(role)
    url = pattern.format(contract=contract.id)
    response = browser.get(url) if method == "GET" else post_form(browser, url, {})
    allowed = role in AREA_ROLES[area]
    if allowed:
        assert response.status_code in (200, 303, 400), response.status_code
    else:
        assert response.status_code == 403
    assert db_session.query(ContractDocument).count() == 0 or allowed


def test_the_command_issues_a_closed_month(app, db_session, contract):
    with time_machine.travel(date(2026, 11, 3), tick=False):
        result = app.test_cli_runner().invoke(args=["documents", "issue", "2026-10"])
        assert result.exit_code == 0, result.output
        assert "documents issued for 1 contract(s)" in result.output
        again = app.test_cli_runner().invoke(args=["documents", "issue", "2026-10"])
        assert "documents issued for 0 contract(s)" in again.output
        refused = app.test_cli_runner().invoke(args=["documents", "issue", "2026-11"])
    assert refused.exit_code != 0
    assert "is not closed" in refused.output
    assert len(contract_documents.documents_of(db_session, contract.id)) == 3
