"""Letters to organisations (#13): a debt notice and a restriction warning speak to the
organisation (no «Уважаемый(-ая)»), name its contract, and cite the law of a supply
contract (ГК РФ ст. 544; 35-ФЗ ст. 37, 190-ФЗ ст. 15, 416-ФЗ ст. 13; ПП 442) — not the
household rules (ПП 354, ЖК РФ ст. 155)."""

import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from portal.models import AccountService, DebtAction
from portal.services import debt
from tests import factories


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def company_account(db_session):
    organisation = factories.make_organisation(db_session, name="ООО «Ромашка»")
    contract = factories.make_contract(db_session, organisation, number="Д-2026/0042")
    customer = factories.make_customer(
        db_session,
        kind="organisation",
        full_name=organisation.name,
        organisation_id=organisation.id,
        email="office@romashka.example.ru",
    )
    account = factories.make_account(
        db_session, customer, contract_id=contract.id, category="others"
    )
    db_session.add(
        AccountService(account_id=account.id, service="heat", started_on=date(2020, 1, 1))
    )
    factories.make_bills(
        db_session, account, ["5000.00", "5000.00", "5000.00"], first=date(2026, 6, 1)
    )
    return account


@pytest.mark.parametrize("step", ["debt_notice", "restriction_warning"])
def test_a_letter_to_an_organisation(app, db_session, company_account, step):
    staff = factories.make_staff(db_session, role="billing")
    action = DebtAction(
        account_id=company_account.id,
        step=step,
        amount=Decimal("10000.00"),
        acted_on=date(2026, 11, 20),
    )
    db_session.add(action)
    db_session.flush()
    db_session.expire_all()  # read back as stored: the step as a member
    _name, pdf = debt.document_pdf(db_session, company_account.id, action.id, staff_id=staff.id)
    text = text_of(pdf)
    assert "ООО «Ромашка»" in text
    assert "Д-2026/0042" in text
    assert "Уважаем" not in text
    assert "Dear" not in text
    assert "354" not in text
    assert "155" not in text
    assert "544" in text  # ГК РФ
    assert "35-" in text  # electricity: 35-ФЗ
    assert "190-" in text  # heat: 190-ФЗ
    assert "ИНН" in text or "INN" in text
    if step == "restriction_warning":
        assert "442" in text
