"""Billing to the letter of the rules (issue #9): what the run cannot charge is listed and
blocks closing; a key-rate table that starts too late is a clear refusal; a per-resident
norm with nobody registered counts the owners (ПП 354 п. 56(2)).

Figures are worked out by hand in each test."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from portal.models import (
    AccountService,
    Bill,
    BillingPeriod,
    Charge,
    ConsumptionNorm,
    KeyRate,
    Reading,
    Tariff,
    UnchargedService,
)
from portal.services import billing, ledger, readings, settings, statements
from portal.services.errors import DomainError
from tests import factories
from tests.conftest import (
    counted_queries,
    english_request,
    form_alert,
    page,
    post_form,
    sign_in_staff,
)

OCTOBER = date(2026, 10, 1)


def tariff(service, zone, rate, category="population", valid_from=date(2026, 1, 1)):
    return Tariff(
        service=service, zone=zone, category=category, rate=Decimal(rate), valid_from=valid_from
    )


def norm(service, volume, basis="per_resident"):
    return ConsumptionNorm(
        service=service, basis=basis, volume=Decimal(volume), valid_from=date(2026, 1, 1)
    )


def accepted(session, meter, zone, consumption, period=OCTOBER):
    session.add(
        Reading(
            meter_id=meter.id,
            zone=zone,
            period=period,
            taken_on=period.replace(day=20),
            value=Decimal(1000) + Decimal(consumption),
            consumption=Decimal(consumption),
            source="customer",
            status="accepted",
        )
    )
    session.flush()


def uncharged_of(session, period=OCTOBER):
    session.expire_all()
    return {
        (row.account_id, row.service, row.zone, row.reason)
        for row in session.scalars(
            select(UnchargedService).where(UnchargedService.period == period)
        )
    }


def charges_of(session, account, period=OCTOBER):
    return {
        (c.service, c.zone): (c.volume, c.amount)
        for c in session.scalars(
            select(Charge).where(Charge.account_id == account.id, Charge.period == period)
        )
    }


@pytest.fixture
def gaps(db_session):
    """A two-zone electricity meter with a day tariff but none for the night; an account
    also supplied with cold water that has no meter, no norm and no tariff."""
    db_session.add_all([tariff("electricity", "day", "6.43"), norm("electricity", "100")])
    metered = factories.make_account(db_session)
    meter = factories.make_meter(db_session, metered, zones=2)
    accepted(db_session, meter, "day", "100")
    accepted(db_session, meter, "night", "40")
    watered = factories.make_account(db_session)
    db_session.add(
        AccountService(account_id=watered.id, service="cold_water", started_on=date(2020, 1, 1))
    )
    db_session.flush()
    return {"metered": metered, "watered": watered}


# --- item 7: no tariff, no silence -------------------------------------------------------


def test_what_the_run_cannot_charge_is_listed_with_its_reason(db_session, gaps):
    """ПП 354 п. 38: a charge needs the tariff in force; the run says what it could not
    charge instead of leaving it out silently."""
    metered, watered = gaps["metered"], gaps["watered"]
    billing.run(db_session, OCTOBER)
    assert uncharged_of(db_session) == {
        (metered.id, "electricity", "night", "no_tariff"),  # 40 kWh at night, no night tariff
        (watered.id, "electricity", "total", "no_tariff"),  # 2 residents × 100 kWh, no tariff
        (watered.id, "cold_water", "total", "no_volume"),  # no meter, no norm
    }
    # The day zone is charged: 100 kWh × 6.43 = 643.00.
    assert charges_of(db_session, metered) == {
        ("electricity", "day"): (Decimal("100.0000"), Decimal("643.00"))
    }
    with pytest.raises(DomainError, match="3"):
        ledger.close_period(db_session, OCTOBER)


def test_once_the_tariffs_and_norm_exist_a_new_run_clears_the_list_and_closing_works(
    db_session, gaps
):
    billing.run(db_session, OCTOBER)
    db_session.add_all(
        [
            tariff("electricity", "night", "2.91"),
            tariff("electricity", "total", "5.50"),
            tariff("cold_water", "total", "48.00"),
            norm("cold_water", "4.85"),
        ]
    )
    db_session.flush()
    # Not re-run yet: the list is the run's, so closing is still refused.
    with pytest.raises(DomainError):
        ledger.close_period(db_session, OCTOBER)
    billing.run(db_session, OCTOBER)
    assert uncharged_of(db_session) == set()
    # Night 40 × 2.91 = 116.40; cold water 2 residents × 4.85 m³ = 9.7 × 48 = 465.60.
    assert charges_of(db_session, gaps["metered"])[("electricity", "night")][1] == Decimal("116.40")
    assert charges_of(db_session, gaps["watered"])[("cold_water", "total")] == (
        Decimal("9.7000"),
        Decimal("465.60"),
    )
    ledger.close_period(db_session, OCTOBER)
    assert db_session.scalar(select(BillingPeriod.status).where(BillingPeriod.period == OCTOBER))


def test_a_business_account_needs_a_tariff_of_its_own_category(db_session):
    """Tariffs differ by customer category: a household tariff does not charge a business."""
    db_session.add_all([tariff("electricity", "total", "6.43"), norm("electricity", "100")])
    business = factories.make_account(db_session, category="others")
    billing.run(db_session, OCTOBER)
    assert uncharged_of(db_session) == {(business.id, "electricity", "total", "no_tariff")}


def test_the_period_page_lists_them_and_refuses_to_close(client, db_session, gaps):
    billing.run(db_session, OCTOBER)
    sign_in_staff(client, db_session, "billing", language="en")
    url = "/admin/billing/periods/2026-10"
    html = page(client.get(url))
    assert "3 account services not charged" in html
    assert gaps["watered"].number in html
    assert "no reading, no average and no consumption norm in force" in html
    assert "no tariff in force for the service, zone and customer category" in html
    response = post_form(client, f"{url}/close", {}, follow_redirects=True)
    assert response.status_code == 200
    assert "could not charge 3 account services" in form_alert(response)
    assert db_session.scalar(
        select(BillingPeriod.status).where(BillingPeriod.period == OCTOBER)
    ) == ("draft")


def test_the_period_page_makes_a_constant_number_of_queries(client, db_session, gaps):
    billing.run(db_session, OCTOBER)
    sign_in_staff(client, db_session, "billing")
    url = "/admin/billing/periods/2026-10"
    client.get(url)
    with counted_queries() as few:
        client.get(url)
    for _ in range(5):
        factories.make_account(db_session)
    billing.run(db_session, OCTOBER)
    assert len(uncharged_of(db_session)) == 8
    with counted_queries() as many:
        client.get(url)
    assert len(many) == len(few)


def test_the_command_line_lists_them_and_close_exits_non_zero(app, db_session, gaps):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["billing", "run", "2026-10"])
    assert result.exit_code == 0, result.output
    assert "3 account services not charged" in result.output
    assert f"{gaps['watered'].number}  cold_water/total" in result.output
    closed = runner.invoke(args=["billing", "close", "2026-10"])
    assert closed.exit_code != 0
    assert "3" in closed.output


# --- item 8: a key-rate table that starts too late ----------------------------------------


def test_a_key_rate_table_starting_too_late_is_a_clear_refusal(app, client, db_session):
    """With each day's rate (the setting's option) the penalty needs the key rate in force
    on each day of delay. December 2025's 1000.00, due on 10 January 2026 and never paid,
    is 50 days overdue on 1 March 2026 (21 + 28 + 1, past the 30 free days), so closing
    March needs the rate of 1 March 2026; the table starts on 15 March."""
    db_session.add_all([tariff("electricity", "total", "6.43"), norm("electricity", "100")])
    db_session.add(KeyRate(valid_from=date(2026, 3, 15), percent=Decimal("16.00")))
    settings.put(db_session, "penalties.rate_each_day", 1)
    account = factories.make_account(db_session)
    factories.make_bills(db_session, account, ["1000.00", "0.00", "0.00"], first=date(2025, 12, 1))
    db_session.add(BillingPeriod(period=date(2026, 2, 1), status="closed"))
    billing.run(db_session, date(2026, 3, 1))
    with english_request(app), pytest.raises(DomainError, match="1 March 2026") as refused:
        ledger.close_period(db_session, date(2026, 3, 1))
    assert "Tariffs → Key rate" in refused.value.message

    sign_in_staff(client, db_session, "billing", language="en")
    response = post_form(client, "/admin/billing/periods/2026-03/close", {}, follow_redirects=True)
    assert response.status_code == 200
    assert "No key rate in force on 1 March 2026" in form_alert(response)
    assert db_session.scalar(select(Bill.id).where(Bill.period == date(2026, 3, 1))) is None


def test_by_the_law_only_the_rate_of_the_day_of_calculation_is_needed(db_session):
    """ЖК РФ ст. 155 п. 14: unpaid, the debt takes the rate in force on the day of the
    calculation, 31 March 2026: 16 % from 15 March is enough. Delay days 50..80 in March
    (31 days) at 1/300: 31 × 1000 × 0.16 / 300 = 16.5333… → 16.53."""
    db_session.add_all([tariff("electricity", "total", "6.43"), norm("electricity", "100")])
    db_session.add(KeyRate(valid_from=date(2026, 3, 15), percent=Decimal("16.00")))
    account = factories.make_account(db_session)
    factories.make_bills(db_session, account, ["1000.00", "0.00", "0.00"], first=date(2025, 12, 1))
    db_session.add(BillingPeriod(period=date(2026, 2, 1), status="closed"))
    billing.run(db_session, date(2026, 3, 1))
    ledger.close_period(db_session, date(2026, 3, 1))
    assert db_session.scalar(
        select(Bill.penalties_total).where(Bill.period == date(2026, 3, 1))
    ) == Decimal("16.53")


# --- item 11: a per-resident norm with nobody registered ---------------------------------


def test_nobody_registered_the_norm_counts_the_owners(db_session):
    """ПП 354 п. 56(2): with nobody living there the per-resident norm is multiplied by the
    number of owners. 3 owners × 100 kWh = 300 kWh × 6.43 = 1929.00; with 2 registered
    residents the owners do not count: 200 kWh × 6.43 = 1286.00."""
    db_session.add_all([tariff("electricity", "total", "6.43"), norm("electricity", "100")])
    empty = factories.make_account(db_session)
    empty.premises.residents = 0
    empty.premises.owners = 3
    lived_in = factories.make_account(db_session)
    lived_in.premises.owners = 4
    db_session.flush()
    billing.run(db_session, OCTOBER)
    assert charges_of(db_session, empty) == {
        ("electricity", "total"): (Decimal("300.0000"), Decimal("1929.00"))
    }
    assert charges_of(db_session, lived_in) == {
        ("electricity", "total"): (Decimal("200.0000"), Decimal("1286.00"))
    }


def test_non_residential_premises_with_nobody_registered_count_no_owners(db_session):
    """ПП 354 п. 56(2) is about a dwelling (жилое помещение): a business's premises with
    nobody registered get 0 × 100 kWh = 0 by the per-resident norm, whatever its owners."""
    db_session.add_all(
        [tariff("electricity", "total", "6.43", category="others"), norm("electricity", "100")]
    )
    shop = factories.make_account(db_session, category="others")
    shop.premises.residents = 0
    shop.premises.owners = 2
    db_session.flush()
    billing.run(db_session, OCTOBER)
    assert charges_of(db_session, shop) == {
        ("electricity", "total"): (Decimal("0.0000"), Decimal("0.00"))
    }


# --- item 10: a meter past its state verification is out of service ----------------------


def test_the_meter_is_out_of_service_from_the_day_after_the_due_date(app, db_session):
    """ПП 354 п. 81(12): due by 10 October → still in service on the 10th, out from the 11th."""
    meter = factories.make_meter(
        db_session, factories.make_account(db_session), verification_due=date(2026, 10, 10)
    )
    with english_request(app):
        assert readings.verification_refusal(meter, date(2026, 10, 10)) is None
        refusal = readings.verification_refusal(meter, date(2026, 10, 11))
    assert "October 10, 2026" in refusal
    assert "Call us to have it verified or replaced" in refusal


def test_customer_and_operator_readings_of_a_lapsed_meter_are_refused(app, db_session):
    """ПП 354 п. 81(12): no readings from a meter out of service, whoever sends them; a
    reading taken before the due date is still taken."""
    meter = factories.make_meter(
        db_session,
        factories.make_account(db_session),
        zones=1,
        verification_due=date(2026, 10, 10),
    )
    with time_machine.travel(datetime(2026, 10, 20, 9, tzinfo=UTC), tick=False):
        with english_request(app), pytest.raises(DomainError, match="out of service"):
            readings.submit(db_session, meter, {"total": "1200"}, source="customer")
        with english_request(app), pytest.raises(DomainError, match="out of service") as late:
            readings.submit(
                db_session, meter, {"total": "1200"}, source="operator", taken_on=date(2026, 10, 11)
            )
        assert late.value.field == "taken_on"
        receipts = readings.submit(
            db_session, meter, {"total": "1200"}, source="operator", taken_on=date(2026, 10, 9)
        )
    assert [r.verdict.outcome for r in receipts] == ["accepted"]


def test_a_lapsed_meter_is_charged_by_average_then_norm_and_the_bill_says_why(app, db_session):
    """ПП 354 п. 81(12), 59, 60: the meter due by 5 October is out of service from the 6th;
    its accepted reading of 20 October (300 kWh) is not used. By the average over June–
    September (90 + 120 + 150) / 3 months = 120 kWh × 5.50 = 660.00. A meter lapsed on 30
    September with a reading this month but none earlier: by the norm, 2 residents × 100 kWh
    = 200 × 5.50 = 1100.00."""
    db_session.add_all([tariff("electricity", "total", "5.50"), norm("electricity", "100")])
    averaged = factories.make_account(db_session)
    meter = factories.make_meter(
        db_session, averaged, zones=1, serial_number="LAPSED-1", verification_due=date(2026, 10, 5)
    )
    for month, consumption in ((6, "80"), (7, "90"), (8, "120"), (9, "150")):
        accepted(db_session, meter, "total", consumption, period=date(2026, month, 1))
    accepted(db_session, meter, "total", "300")
    normed = factories.make_account(db_session)
    lapsed = factories.make_meter(db_session, normed, zones=1, verification_due=date(2026, 9, 30))
    accepted(db_session, lapsed, "total", "300")
    billing.run(db_session, OCTOBER)
    assert charges_of(db_session, averaged) == {
        ("electricity", "total"): (Decimal("120.0000"), Decimal("660.00"))
    }
    assert charges_of(db_session, normed) == {
        ("electricity", "total"): (Decimal("200.0000"), Decimal("1100.00"))
    }
    assert db_session.scalar(select(Charge.method).where(Charge.account_id == averaged.id)) == (
        "average"
    )
    ledger.close_period(db_session, OCTOBER)
    with english_request(app):
        notes = statements.statement(db_session, averaged.id, OCTOBER).notes
    assert len(notes) == 1
    assert "LAPSED-1" in notes[0]
    assert "October 5, 2026" in notes[0]


def test_a_meter_verified_in_time_is_charged_by_its_reading(app, db_session):
    """The due date itself is still in service: due by 20 October, read on the 20th:
    300 kWh × 5.50 = 1650.00 by meter, and the bill has no out-of-service note for it."""
    db_session.add_all([tariff("electricity", "total", "5.50"), norm("electricity", "100")])
    account = factories.make_account(db_session)
    meter = factories.make_meter(db_session, account, zones=1, verification_due=date(2026, 10, 20))
    accepted(db_session, meter, "total", "300")
    billing.run(db_session, OCTOBER)
    assert charges_of(db_session, account) == {
        ("electricity", "total"): (Decimal("300.0000"), Decimal("1650.00"))
    }
    ledger.close_period(db_session, OCTOBER)
    with english_request(app):
        assert statements.statement(db_session, account.id, OCTOBER).notes == []


def test_the_verification_list_marks_a_lapsed_meter_out_of_service(client, db_session):
    """ПП 354 п. 81(12): the metering specialists' list says the lapsed meter is out of
    service (3 days past its due date), not only that it is overdue."""
    from portal.services.clock import local_today

    lapsed = factories.make_meter(
        db_session,
        factories.make_account(db_session),
        verification_due=local_today() - timedelta(days=3),
    )
    sign_in_staff(client, db_session, "metering", language="en")
    html = page(client.get("/admin/meters/verification"))
    row = html.split(lapsed.serial_number)[0].rsplit("<tr>", 1)[1]
    assert "overdue by 3 days" in row
    assert "out of service" in row


# --- item 14: one full stop after «г.» ------------------------------------------------------


def test_the_tariff_saved_message_ends_with_one_full_stop(client, db_session):
    """«Новый тариф сохранён и действует с 1 июл. 2030 г.» — not «г..»."""
    sign_in_staff(client, db_session, "billing")
    response = post_form(
        client,
        "/admin/billing/tariffs/electricity/total/population",
        {"rate": "7,07", "valid_from": "2030-07-01"},
        follow_redirects=True,
    )
    html = page(response).replace("\u202f", " ").replace("\u00a0", " ")
    assert "действует с 1 июл. 2030 г." in html
    assert "г.." not in html
