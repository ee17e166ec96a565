"""Documents for legal-entity customers (#13): numbers, VAT, amounts in words, stored bytes,
corrections, the company cabinet by contract, ZIP, reconciliation act.

The figures are stated by hand: an office supplied 1 000 kWh at 7,32 ₽ (VAT included) and
2 Gcal at 3 050,00 ₽ in October 2026; VAT 22 % (НК РФ ст. 164 п. 3 as of 2026) inside
7 320,00 is 7 320 × 22 / 122 = 1 320,00; inside 6 100,00 it is 1 100,00.
"""

import io
import zipfile
from datetime import date
from decimal import Decimal

import pymupdf
import pytest
import zxingcpp
from openpyxl import load_workbook
from PIL import Image
from pypdf import PdfReader

from portal.models import (
    Bill,
    Charge,
    ContractDocument,
    DocumentKind,
    OrganisationMember,
    Penalty,
)
from portal.services import contract_documents, reconciliation, settings
from portal.services.documents import parse_payload
from tests import factories

OCTOBER = date(2026, 10, 1)


def pdf_text(data: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages
    )


@pytest.fixture
def company(db_session):
    """An organisation with an accountant, a contract, one supply point with electricity
    and heat charged for October 2026, a 12,50 ₽ penalty and a bill."""
    owner = factories.make_user(db_session)
    accountant = factories.make_user(db_session, email="buh@romashka.example.ru")
    organisation = factories.make_organisation(
        db_session, owner, name="ООО «Ромашка»", inn="7701234567", kpp="770101001"
    )
    db_session.add(
        OrganisationMember(
            organisation_id=organisation.id, user_id=accountant.id, role="accountant"
        )
    )
    contract = factories.make_contract(db_session, organisation, number="Д-2026/0042")
    customer = factories.make_customer(
        db_session,
        kind="organisation",
        full_name=organisation.name,
        organisation_id=organisation.id,
    )
    account = factories.make_account(
        db_session, customer, contract_id=contract.id, category="others"
    )
    for service, volume, tariff, amount in (
        ("electricity", "1000", "7.32", "7320.00"),
        ("heat", "2", "3050.00", "6100.00"),
    ):
        db_session.add(
            Charge(
                account_id=account.id,
                period=OCTOBER,
                service=service,
                zone="total",
                method="meter",
                volume=Decimal(volume),
                tariff=Decimal(tariff),
                amount=Decimal(amount),
            )
        )
    db_session.add(Penalty(account_id=account.id, period=OCTOBER, amount=Decimal("12.50")))
    db_session.add(
        Bill(
            account_id=account.id,
            period=OCTOBER,
            opening_balance=Decimal("0.00"),
            charges_total=Decimal("13420.00"),
            penalties_total=Decimal("12.50"),
            payments_total=Decimal("0.00"),
            closing_balance=Decimal("13432.50"),
            issued_on=date(2026, 11, 7),
            due_on=date(2026, 11, 10),
        )
    )
    db_session.flush()
    contract.owner, contract.accountant, contract.account = owner, accountant, account
    return contract


def issue(db_session, today=date(2026, 11, 3)):
    import time_machine

    with time_machine.travel(today, tick=False):
        return contract_documents.issue_period(db_session, OCTOBER)


def test_amount_in_words_roubles_and_kopecks():
    assert contract_documents.amount_in_words(Decimal("13432.50")) == (
        "Тринадцать тысяч четыреста тридцать два рубля 50 копеек"
    )
    assert contract_documents.amount_in_words(Decimal("1.01")) == "Один рубль 01 копейка"
    assert contract_documents.amount_in_words(Decimal("22.00")) == "Двадцать два рубля 00 копеек"


def test_vat_inside_the_amount_at_22_percent():
    # 7 320 × 22 / 122 = 1 320; 100 × 22 / 122 = 18,032… → 18,03
    assert contract_documents.vat_in(Decimal("7320.00"), Decimal("22")) == Decimal("1320.00")
    assert contract_documents.vat_in(Decimal("100.00"), Decimal("22")) == Decimal("18.03")


def test_period_documents_invoice_vat_invoice_and_act(app, db_session, company):
    assert issue(db_session) == 1
    docs = {d.kind: d for d in contract_documents.documents_of(db_session, company.id)}
    assert set(docs) == {DocumentKind.INVOICE, DocumentKind.VAT_INVOICE, DocumentKind.ACT}
    invoice, vat_invoice, act = (
        docs[DocumentKind.INVOICE],
        docs[DocumentKind.VAT_INVOICE],
        docs[DocumentKind.ACT],
    )
    assert invoice.number == "СЧ-2026-000001"
    assert invoice.issued_on == date(2026, 11, 3)
    assert vat_invoice.number == "СФ-2026-000001"
    assert vat_invoice.issued_on == date(2026, 10, 31)
    assert act.number == "АКТ-2026-000001"
    # 1 320,00 + 1 100,00 VAT; the invoice adds the penalty (no VAT on it).
    assert (vat_invoice.total, vat_invoice.vat, vat_invoice.net) == (
        Decimal("13420.00"),
        Decimal("2420.00"),
        Decimal("11000.00"),
    )
    assert invoice.total == Decimal("13432.50")

    text = pdf_text(invoice.pdf)
    for expected in (
        "Счёт на оплату № СЧ-2026-000001 от 03.11.2026",
        "ООО «Ромашка», ИНН 7701234567, КПП 770101001",
        "АО «Городской энергосбыт», ИНН 5247004490, КПП 524701001",
        "Договор № Д-2026/0042",
        "13 432,50",
        "2 420,00",
        "Тринадцать тысяч четыреста тридцать два рубля 50 копеек",
        "Оплатить не позднее 10.11.2026",
    ):
        assert expected in text, expected

    text = pdf_text(vat_invoice.pdf)
    for expected in (
        "СЧЁТ-ФАКТУРА № СФ-2026-000001 от 31.10.2026",
        "7701234567/770101001",
        "5247004490/524701001",
        "Российский рубль, 643",
        "Акт № АКТ-2026-000001 от 31.10.2026",
        "6 000,00",  # electricity without VAT: 7 320 − 1 320
        "1 320,00",
        "5 000,00",  # heat without VAT: 6 100 − 1 100
        "22%",
        "13 420,00",
        "Тринадцать тысяч четыреста двадцать рублей 00 копеек",
    ):
        assert expected in text, expected
    assert "Акт № АКТ-2026-000001 от 31.10.2026" in pdf_text(act.pdf)


def test_invoice_qr_is_for_a_company_payer(app, db_session, company):
    issue(db_session)
    invoice = contract_documents.latest_of_period(db_session, company.id, OCTOBER)["invoice"]
    page = pymupdf.open(stream=invoice.pdf, filetype="pdf")[0]
    pixmap = page.get_pixmap(dpi=200)
    image = Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1
    fields = parse_payload(found[0].text)
    assert fields["PayerINN"] == "7701234567"
    assert fields["Sum"] == "1343250"
    assert "LastName" not in fields
    assert fields["Purpose"] == (
        "Оплата по счёту № СЧ-2026-000001 от 03.11.2026 по договору № Д-2026/0042, "
        "в т.ч. НДС 22% 2 420,00 руб."
    ).replace("\u00a0", " ")


def test_upd_instead_of_vat_invoice_and_act(app, db_session, company):
    settings.put(db_session, "documents.upd", 1)
    issue(db_session)
    kinds = [d.kind for d in contract_documents.documents_of(db_session, company.id)]
    assert kinds == [DocumentKind.INVOICE, DocumentKind.UPD]
    upd = contract_documents.latest_of_period(db_session, company.id, OCTOBER)["upd"]
    text = pdf_text(upd.pdf)
    assert "Универсальный передаточный документ" in text
    assert "Статус: 1" in text
    assert "УПД-2026-000001" in text


def test_issuing_twice_issues_nothing_new_and_numbers_run_on(app, db_session, company):
    issue(db_session)
    assert issue(db_session) == 0
    other = factories.make_contract(db_session, company.organisation)
    account = factories.make_account(db_session, contract_id=other.id)
    factories.make_bills(db_session, account, ["100.00"], first=OCTOBER)
    assert issue(db_session) == 1
    numbers = sorted(d.number for d in contract_documents.documents_of(db_session, other.id))
    assert numbers == ["АКТ-2026-000002", "СФ-2026-000002", "СЧ-2026-000002"]


def test_correction_gets_its_own_number_and_names_the_old_one(app, db_session, company):
    issue(db_session)
    first = contract_documents.latest_of_period(db_session, company.id, OCTOBER)
    import time_machine

    with time_machine.travel(date(2026, 11, 20), tick=False):
        new = contract_documents.reissue(db_session, company.id, OCTOBER, staff_id=None)
    by_kind = {d.kind: d for d in new}
    assert by_kind["vat_invoice"].number == "СФ-2026-000002"
    assert by_kind["vat_invoice"].replaces_id == first["vat_invoice"].id
    assert "взамен № СФ-2026-000001 от 31.10.2026" in pdf_text(by_kind["vat_invoice"].pdf)
    assert len(contract_documents.documents_of(db_session, company.id)) == 6


def test_accountant_is_mailed_when_documents_are_issued(app, db_session, company):
    from sqlalchemy import select

    from portal.models import OutboxMessage

    issue(db_session)
    messages = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "contract_documents")
    ).all()
    assert [m.recipient for m in messages] == ["buh@romashka.example.ru"]
    assert "СЧ-2026-000001" in messages[0].body_text


# --- the cabinet --------------------------------------------------------------------------


def signed_in(app, user):
    from tests.conftest import login_as, rate_limits_off

    rate_limits_off()
    browser = app.test_client()
    login_as(browser, user)
    return browser


def contract_url(contract, tail=""):
    return f"/organisations/{contract.organisation_id}/contracts/{contract.id}{tail}"


def test_contract_page_lists_documents_and_downloads_are_byte_identical(app, db_session, company):
    issue(db_session)
    browser = signed_in(app, company.accountant)
    page = browser.get(contract_url(company))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "СФ-2026-000001" in html
    assert company.account.number in html
    stored = contract_documents.latest_of_period(db_session, company.id, OCTOBER)["vat_invoice"]
    url = contract_url(company, f"/documents/{stored.id}.pdf")
    first, second = browser.get(url), browser.get(url)
    assert first.status_code == 200
    assert first.mimetype == "application/pdf"
    assert first.get_data() == second.get_data() == stored.pdf


def test_another_organisations_contract_and_document_are_404(app, db_session, company):
    issue(db_session)
    stranger = factories.make_user(db_session)
    factories.make_organisation(db_session, stranger)
    browser = signed_in(app, stranger)
    stored = contract_documents.latest_of_period(db_session, company.id, OCTOBER)["invoice"]
    assert browser.get(contract_url(company)).status_code == 404
    assert browser.get(contract_url(company, f"/documents/{stored.id}.pdf")).status_code == 404
    # A member of the organisation, but the document of another contract: 404 too.
    other = factories.make_contract(db_session, company.organisation)
    mine = signed_in(app, company.accountant)
    assert mine.get(contract_url(other, f"/documents/{stored.id}.pdf")).status_code == 404


def test_zip_of_several_months_is_the_same_file_every_time(app, db_session, company):
    issue(db_session)
    browser = signed_in(app, company.owner)
    url = contract_url(company, "/documents.zip?period=2026-10")
    first, second = browser.get(url), browser.get(url)
    assert first.status_code == 200
    assert first.mimetype == "application/zip"
    assert first.get_data() == second.get_data()
    names = zipfile.ZipFile(io.BytesIO(first.get_data())).namelist()
    assert sorted(names) == [
        "2026-10/act-2026-000001.pdf",
        "2026-10/invoice-2026-000001.pdf",
        "2026-10/vat_invoice-2026-000001.pdf",
    ]
    assert browser.get(contract_url(company, "/documents.zip")).status_code == 400
    assert browser.get(contract_url(company, "/documents.zip?period=2025-01")).status_code == 400


def test_reconciliation_act_for_a_quarter(app, db_session, company):
    """Opening 0; October's supply 13 420,00 and penalty 12,50 dated 31.10; a payment of
    10 000,00 on 15.11: closing 3 432,50 owed to the supplier."""
    issue(db_session)
    factories.make_payment(db_session, company.account, date(2026, 11, 15), "10000.00")
    act = reconciliation.act(db_session, company, date(2026, 10, 1), date(2026, 12, 31))
    assert act.opening == Decimal("0.00")
    assert act.debits == Decimal("13432.50")
    assert act.credits == Decimal("10000.00")
    assert act.closing == Decimal("3432.50")
    later = reconciliation.act(db_session, company, date(2026, 11, 1), date(2026, 12, 31))
    assert later.opening == Decimal("13432.50")

    browser = signed_in(app, company.accountant)
    url = contract_url(company, "/reconciliation?date_from=2026-10-01&date_to=2026-12-31")
    response = browser.get(url + "&format=pdf")
    assert response.status_code == 200
    text = pdf_text(response.get_data())
    assert "Акт сверки взаимных расчётов" in text
    assert "АКТ-2026-000001" in text
    assert "задолженность в пользу АО «Городской энергосбыт» составляет 3 432,50 руб." in text
    response = browser.get(url + "&format=xlsx")
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    totals = next(r for r in rows if r[1] == "Обороты за период")
    assert (Decimal(str(totals[2])), Decimal(str(totals[3]))) == (
        Decimal("13432.50"),
        Decimal("10000"),
    )
    closing = next(r for r in rows if r[1] == "Сальдо конечное")
    assert Decimal(str(closing[2])) == Decimal("3432.50")
    bad = browser.get(
        contract_url(company, "/reconciliation?date_from=2026-12-31&date_to=2026-10-01")
    )
    assert bad.status_code == 400


def test_contract_switcher(app, db_session, company):
    other = factories.make_contract(db_session, company.organisation, number="Д-2026/0043")
    browser = signed_in(app, company.owner)
    page = browser.get(contract_url(company)).get_data(as_text=True)
    assert "Д-2026/0043" in page
    response = browser.get(
        f"/organisations/{company.organisation_id}/contracts/switch?contract_id={other.id}"
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(contract_url(other))


def test_closing_the_period_issues_the_contracts_documents(app, db_session):
    """The close of October (billing_periods.close) issues the documents in the same
    transaction; a household account on no contract gets none."""
    import time_machine

    from portal.services import billing, billing_periods

    organisation = factories.make_organisation(db_session, factories.make_user(db_session))
    contract = factories.make_contract(db_session, organisation)
    account = factories.make_account(db_session, contract_id=contract.id, category="others")
    household = factories.make_account(db_session)
    for each in (account, household):
        db_session.add(
            Charge(
                account_id=each.id,
                period=OCTOBER,
                service="electricity",
                zone="total",
                method="meter",
                volume=Decimal("100"),
                tariff=Decimal("6.10"),
                amount=Decimal("610.00"),
            )
        )
    row = billing.get_or_create_period(db_session, OCTOBER)
    row.run_finished_at = row.run_started_at = factories.utcnow()
    db_session.flush()
    with time_machine.travel(date(2026, 11, 2), tick=False):
        billing_periods.close(db_session, OCTOBER)
    documents = contract_documents.documents_of(db_session, contract.id)
    assert [d.kind for d in documents] == ["invoice", "vat_invoice", "act"]
    # 610,00 with VAT 22 %: 610 × 22 / 122 = 110,00
    assert documents[1].vat == Decimal("110.00")
    assert documents[1].total == Decimal("610.00")
    assert db_session.query(ContractDocument).count() == 3


def test_a_rendering_interrupted_keeps_its_numbers_and_is_finished(app, db_session, company):
    """The worker numbers a chunk and commits, then renders: if it stops in between, the
    documents keep their numbers (no gap), are not offered for download, and the next
    pass renders them."""

    class Stopped(Exception):
        pass

    calls = []

    def commit():
        calls.append(1)
        if len(calls) == 1:
            raise Stopped  # right after the numbers are stored

    with pytest.raises(Stopped):
        issue_with_commit(db_session, commit)
    rows = db_session.query(ContractDocument).order_by(ContractDocument.id).all()
    assert [r.number for r in rows] == ["СЧ-2026-000001", "СФ-2026-000001", "АКТ-2026-000001"]
    assert all(r.sha256 is None for r in rows)
    assert contract_documents.documents_of(db_session, company.id) == []
    assert contract_documents.render_missing(db_session) == 3
    shown = contract_documents.documents_of(db_session, company.id)
    assert len(shown) == 3
    assert "Акт № АКТ-2026-000001" in pdf_text(shown[1].pdf)


def issue_with_commit(db_session, commit):
    import time_machine

    with time_machine.travel(date(2026, 11, 3), tick=False):
        return contract_documents.issue_period(db_session, OCTOBER, commit=commit)


def test_the_account_pages_lead_a_member_to_the_contracts_documents(app, db_session, company):
    from tests.factories import link

    issue(db_session)
    link(db_session, company.accountant, company.account)
    browser = signed_in(app, company.accountant)
    page = browser.get(f"/accounts/{company.account.id}/bills").get_data(as_text=True)
    assert contract_url(company) in page


def test_the_contract_page_runs_as_many_queries_with_corrections_and_more_months(
    app, db_session, company
):
    import time_machine

    from tests.conftest import counted_queries

    issue(db_session)
    factories.make_meter(db_session, company.account, zones=1)
    browser = signed_in(app, company.accountant)
    browser.get(contract_url(company))
    with counted_queries() as few:
        assert browser.get(contract_url(company)).status_code == 200
    with time_machine.travel(date(2026, 11, 20), tick=False):
        contract_documents.reissue(db_session, company.id, OCTOBER, staff_id=None)
        contract_documents.reissue(db_session, company.id, OCTOBER, staff_id=None)
    meter = factories.make_meter(db_session, company.account, zones=2)
    factories.make_meter(db_session, company.account, zones=1)
    assert meter.id
    with counted_queries() as many:
        assert browser.get(contract_url(company)).status_code == 200
    assert len(many) == len(few), (len(few), len(many))
