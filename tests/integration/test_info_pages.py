"""Published information without signing in (002 §10.4, §18.6–18.8; 004 §6.2): the tariffs
come from the rows the billing charges by (one source: changing a row changes the page and
the bill), the document lists are the application form's checklists, the appeal terms are
the settings."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from portal.models import Charge, ChecklistItem, ConsumptionNorm, Reading, Tariff
from portal.services import billing, months, settings
from portal.services.clock import local_today, utcnow
from tests import factories
from tests.conftest import page


@pytest.fixture(autouse=True)
def one_day():
    with time_machine.travel(utcnow(), tick=False):
        yield


def test_every_page_opens_without_signing_in(client):
    for url in ("/info/", "/info/tariffs", "/info/documents", "/info/appeals"):
        assert client.get(url).status_code == 200, url


def test_the_tariff_on_the_page_and_on_the_bill_is_one_row(client, db_session):
    last_month = months.add_months(local_today().replace(day=1), -1)
    tariff = Tariff(
        service="electricity",
        zone="total",
        category="population",
        rate=Decimal("6.43"),
        valid_from=date(2025, 1, 1),
    )
    db_session.add_all(
        [
            tariff,
            ConsumptionNorm(
                service="electricity",
                basis="per_resident",
                volume=Decimal("100"),
                valid_from=date(2025, 1, 1),
            ),
        ]
    )
    account = factories.make_account(db_session)
    meter = factories.make_meter(db_session, account, zones=1)
    db_session.add(
        Reading(
            meter_id=meter.id,
            zone="total",
            period=last_month,
            taken_on=last_month.replace(day=20),
            value=Decimal(1150),
            consumption=Decimal(150),
            source="customer",
            status="accepted",
        )
    )
    db_session.commit()
    assert "6.43" in page(client.get("/info/tariffs"))
    tariff.rate = Decimal("7.11")
    db_session.commit()
    shown = page(client.get("/info/tariffs"))
    assert "7.11" in shown
    assert "6.43" not in shown
    billing.run(db_session, last_month)
    charge = db_session.scalar(select(Charge).where(Charge.account_id == account.id))
    assert charge.tariff == Decimal("7.11")
    assert charge.amount == Decimal("1066.50")  # 150 kWh × 7.11 ₽


def test_the_document_lists_are_the_forms_checklists(client, db_session):
    item = ChecklistItem(
        kind="reregister",
        segment="household",
        title="Выписка из ЕГРН",
        reason="Право собственности",
    )
    db_session.add(item)
    db_session.commit()
    assert "Выписка из ЕГРН" in page(client.get("/info/documents"))
    item.active = False
    db_session.commit()
    assert "Выписка из ЕГРН" not in page(client.get("/info/documents"))


def test_the_appeal_terms_are_the_settings(client, db_session):
    settings.put(db_session, "appeals.complaint.days", 15)
    settings.put(db_session, "applications.contract_days.legal", 25)
    db_session.commit()
    shown = page(client.get("/info/appeals"))
    assert "15" in shown
    assert "25" in shown
