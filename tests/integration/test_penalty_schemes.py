"""Penalty schemes per customer category and service (ЖК РФ ст. 155 п. 14 for households;
others as the law or the contract says): stage lists, checked, kept with their history.
Key rate 16 %; December 2025's bill is due on 10 January 2026; April 2026 is delay days
81..110."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.models import Charge, KeyRate, Penalty, PenaltyScheme
from portal.services import ledger, penalty_schemes
from portal.services.errors import DomainError
from portal.services.penalties import Stage
from tests import factories
from tests.conftest import field_error, page, post_form, sign_in_staff

APRIL = date(2026, 4, 1)
DECEMBER = date(2025, 12, 1)


def indebted(session, category="population", lines=()):
    session.add(KeyRate(valid_from=date(2020, 1, 1), percent=Decimal("16.00")))
    account = factories.make_account(session, category=category)
    for service, amount in lines:
        session.add(
            Charge(
                account_id=account.id,
                period=DECEMBER,
                service=service,
                zone="total",
                method="meter",
                volume=Decimal("1"),
                tariff=Decimal(amount),
                amount=Decimal(amount),
            )
        )
    factories.make_bills(session, account, ["1000.00", "0.00", "0.00", "0.00"], first=DECEMBER)
    return account


def april_penalty(session, account) -> Penalty:
    ledger.compute_penalties(session, APRIL)
    return session.scalar(select(Penalty).where(Penalty.account_id == account.id))


def test_art_155_p14_households_by_default(db_session):
    """Days 81..90 at 1/300: 10 × 1000 × 0.16 / 300 = 5.33; days 91..110 at 1/130:
    20 × 1000 × 0.16 / 130 = 24.62. Together 29.95."""
    assert april_penalty(db_session, indebted(db_session)).amount == Decimal("29.95")


def test_legal_entities_default_to_1_130_from_the_first_day(db_session):
    """Others: 1/130 from day 1 — 30 × 1000 × 0.16 / 130 = 36.923… → 36.92."""
    account = indebted(db_session, category="others")
    assert april_penalty(db_session, account).amount == Decimal("36.92")


def test_a_scheme_for_one_service_wins_over_the_category(db_session):
    """Electricity 600.00 by the households' default (10 × 600 × 0.16 / 300 = 3.20; 20 ×
    600 × 0.16 / 130 = 14.77); cold water 400.00 by its own scheme, 1/100 from day 1
    (30 × 400 × 0.16 / 100 = 19.20). Together 37.17."""
    account = indebted(db_session, lines=[("electricity", "600.00"), ("cold_water", "400.00")])
    penalty_schemes.add_scheme(
        db_session,
        category="population",
        service="cold_water",
        stages="1: 1/100",
        valid_from=date(2025, 1, 1),
    )
    penalty = april_penalty(db_session, account)
    assert sorted((row["base"], row["divisor"], row["amount"]) for row in penalty.details) == [
        ("400.00", 100, "19.20"),
        ("600.00", 130, "14.77"),
        ("600.00", 300, "3.20"),
    ]
    assert penalty.amount == Decimal("37.17")


def test_a_later_version_applies_from_its_date(db_session):
    """Others with "1: 1/300" from 2025 and "1: 1/150" from 1 April 2026: April takes the
    latter, 30 × 1000 × 0.16 / 150 = 32.00."""
    account = indebted(db_session, category="others")
    for stages, day in (("1: 1/300", date(2025, 1, 1)), ("1: 1/150", APRIL)):
        penalty_schemes.add_scheme(
            db_session, category="others", service="", stages=stages, valid_from=day
        )
    assert april_penalty(db_session, account).amount == Decimal("32.00")


@pytest.mark.parametrize(
    ("typed", "stages"),
    [
        ("31: 1/300, 91: 1/130", (Stage(31, 300), Stage(91, 130))),
        ("31 300; 91 130", (Stage(31, 300), Stage(91, 130))),
        ("1:1/130", (Stage(1, 130),)),
    ],
)
def test_stages_as_people_type_them(typed, stages):
    assert penalty_schemes.parse_stages(typed) == stages


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "31",
        "91: 1/130, 31: 1/300",
        "31: 1/300, 31: 1/130",
        "0: 1/300",
        "31: 1/0",
        "1:1/2,2:1/3,3:1/4,4:1/5,5:1/6,6:1/7",
        "thirty: 1/300",
    ],
)
def test_bad_stages_are_refused(app, typed):
    with app.test_request_context(), pytest.raises(DomainError) as refused:
        penalty_schemes.parse_stages(typed)
    assert refused.value.field == "stages"


def test_the_page_saves_a_scheme_and_keeps_what_was_typed_on_a_refusal(client, db_session):
    sign_in_staff(client, db_session, "billing", language="en")
    url = "/admin/billing/penalty-schemes"
    bad = {
        "category": "others",
        "service": "heat",
        "stages": "91: 1/130, 31: 1/300",
        "valid_from": "2030-01-01",
    }
    response = post_form(client, url, bad)
    assert response.status_code == 200
    assert "later day" in field_error(response, "stages")
    assert "91: 1/130, 31: 1/300" in page(response)
    good = {**bad, "stages": "1: 1/300, 61: 1/170, 91: 1/130"}
    assert post_form(client, url, good).status_code == 303
    html = page(client.get(url))
    assert "1: 1/300, 61: 1/170, 91: 1/130" in html
    assert "31: 1/300, 91: 1/130" in html  # the households' default
    row = db_session.scalar(select(PenaltyScheme))
    assert (row.category, row.service, row.stages) == (
        "others",
        "heat",
        [[1, 300], [61, 170], [91, 130]],
    )
    assert post_form(client, url, good).status_code == 200  # the same date again: refused
