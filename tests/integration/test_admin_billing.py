"""The billing back office: tariffs, norms and key rates; billing periods run in the
background, their progress, closing, recalculations; the `flask billing` commands.

Through the test client with CSRF on and a real database; the background run is done by
calling the scheduler's hook, ``process_queued_billing``, directly."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from admin.access import AREA_ROLES
from portal.models import (
    STAFF_ROLES,
    AccountService,
    AuditEvent,
    Bill,
    BillingPeriod,
    Charge,
    ConsumptionNorm,
    KeyRate,
    KeyRateCap,
    Reading,
    Tariff,
)
from portal.services import billing, billing_periods, ledger, months
from portal.services.clock import local_today, utcnow
from portal.services.errors import DomainError
from tests import factories
from tests.conftest import (
    counted_queries,
    field_error,
    field_value,
    form_alert,
    page,
    post_form,
    sign_in_staff,
)

HTMX_POLL = {"HX-Request": "true", "HX-Target": "period-status"}


def this_month() -> date:
    return local_today().replace(day=1)


def last_month() -> date:
    return months.add_months(this_month(), -1)


def two_months_ago() -> date:
    return months.add_months(this_month(), -2)


def iso(period: date) -> str:
    return period.strftime("%Y-%m")


@pytest.fixture(autouse=True)
def one_day():
    """The clock stands still during a test, read once at its start: a test that runs
    across midnight at the end of a month (21:00 UTC in Moscow) sees one month, and so do
    the pages it requests."""
    with time_machine.travel(utcnow(), tick=False):
        yield


@pytest.fixture(autouse=True)
def no_broker(app):
    """The embedded scheduler's path unless a test says otherwise (CI may set REDIS_URL)."""
    saved = app.config.get("CELERY_BROKER_URL")
    app.config["CELERY_BROKER_URL"] = ""
    yield
    app.config["CELERY_BROKER_URL"] = saved


@pytest.fixture
def world(db_session):
    """Tariffs, a norm and a key rate; a metered account with readings and one billed by
    the norm (2 residents, electricity 100 kWh each)."""
    db_session.add_all(
        [
            Tariff(
                service="electricity",
                zone="total",
                category="population",
                rate=Decimal("6.43"),
                valid_from=date(2025, 1, 1),
            ),
            ConsumptionNorm(
                service="electricity",
                basis="per_resident",
                volume=Decimal("100"),
                valid_from=date(2025, 1, 1),
            ),
            KeyRate(valid_from=date(2025, 1, 1), percent=Decimal("16.00")),
        ]
    )
    metered = factories.make_account(db_session)
    meter = factories.make_meter(db_session, metered, zones=1)
    value = Decimal(1000)
    for period in (two_months_ago(), last_month()):
        value += 150
        db_session.add(
            Reading(
                meter_id=meter.id,
                zone="total",
                period=period,
                taken_on=period.replace(day=20),
                value=value,
                consumption=Decimal(150),
                source="customer",
                status="accepted",
            )
        )
    by_norm = factories.make_account(db_session)
    db_session.flush()
    return {"metered": metered, "by_norm": by_norm, "meter": meter}


@pytest.fixture
def charged(db_session, world):
    """Last month charged (a draft that may be closed)."""
    billing.run(db_session, last_month())
    return world


def period_row(session, period: date) -> BillingPeriod:
    session.expire_all()
    return session.scalar(select(BillingPeriod).where(BillingPeriod.period == period))


# --- who may use what -----------------------------------------------------------------------

ROUTES = [
    ("GET", "/admin/billing/tariffs", "billing"),
    ("GET", "/admin/billing/tariffs/electricity/total/population", "billing"),
    ("POST", "/admin/billing/tariffs/electricity/total/population", "billing.edit"),
    ("GET", "/admin/billing/norms", "billing"),
    ("GET", "/admin/billing/norms/electricity", "billing"),
    ("POST", "/admin/billing/norms/electricity", "billing.edit"),
    ("GET", "/admin/billing/key-rates", "billing"),
    ("POST", "/admin/billing/key-rates", "billing.edit"),
    ("POST", "/admin/billing/key-rates/caps", "billing.edit"),
    ("GET", "/admin/billing/penalty-schemes", "billing"),
    ("POST", "/admin/billing/penalty-schemes", "billing.edit"),
    ("GET", "/admin/billing/periods", "billing"),
    ("POST", "/admin/billing/periods", "billing.run"),
    ("GET", "/admin/billing/periods/{period}", "billing"),
    ("POST", "/admin/billing/periods/{period}/close", "billing.close"),
    ("POST", "/admin/billing/periods/{period}/recalculations", "billing.edit"),
]
ROUTE_IDS = [f"{method} {url}" for method, url, _area in ROUTES]


def form_for(url: str, objects) -> dict:
    if "/tariffs/" in url:
        return {"rate": "7,07", "valid_from": "2030-07-01"}
    if "/norms/" in url:
        return {"basis": "per_resident", "volume": "110", "valid_from": "2030-07-01"}
    if url.endswith("/key-rates"):
        return {"percent": "16.5", "valid_from": "2030-07-01"}
    if url.endswith("/penalty-schemes"):
        return {
            "category": "others",
            "service": "",
            "stages": "1: 1/130",
            "valid_from": "2030-07-01",
        }
    if url.endswith("/key-rates/caps"):
        return {"cap-percent": "9.5", "cap-valid_from": "2030-07-01", "cap-valid_to": "2030-12-31"}
    if url.endswith("/periods"):
        return {"period": iso(this_month())}
    if url.endswith("/recalculations"):
        return {
            "account_number": objects["metered"].number,
            "service": "electricity",
            "zone": "total",
            "volume": "-10",
            "tariff": "6.43",
            "reason": "The meter was checked: the register had been misread.",
        }
    return {}


def call(client, method, url, objects):
    target = url.format(period=iso(last_month()))
    if method == "GET":
        return client.get(target)
    return post_form(client, target, form_for(url, objects))


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize(("method", "url", "area"), ROUTES, ids=ROUTE_IDS)
def test_each_role_is_allowed_or_refused(client, db_session, charged, role, method, url, area):
    sign_in_staff(client, db_session, role)
    response = call(client, method, url, charged)
    if role in AREA_ROLES[area]:
        expected = 200 if method == "GET" else 303
        assert response.status_code == expected, page(response)[:800]
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("method", "url", "area"), ROUTES, ids=ROUTE_IDS)
def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client, charged, method, url, area):
    response = call(client, method, url, charged)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_the_roles_of_the_billing_areas():
    assert AREA_ROLES["billing"] == {"billing", "supervisor", "admin"}
    assert AREA_ROLES["billing.edit"] == {"billing", "admin"}
    assert AREA_ROLES["billing.run"] == {"billing", "admin"}
    assert AREA_ROLES["billing.close"] == {"billing", "supervisor", "admin"}


def test_the_menu_offers_billing_and_tariffs_by_role(client, other_client, db_session):
    sign_in_staff(client, db_session, "billing")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/billing/periods"' in html
    assert 'href="/admin/billing/tariffs"' in html
    sign_in_staff(other_client, db_session, "operator")
    html = other_client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/billing/periods"' not in html


def test_a_supervisor_sees_the_values_but_no_form(client, db_session, world):
    sign_in_staff(client, db_session, "supervisor")
    html = page(client.get("/admin/billing/tariffs/electricity/total/population"))
    assert "6,43" in html
    assert 'name="rate"' not in html


@pytest.mark.parametrize(
    "url",
    [
        "/admin/billing/tariffs/gas/total/population",
        "/admin/billing/tariffs/cold_water/night/population",
        "/admin/billing/tariffs/electricity/day/aliens",
        "/admin/billing/norms/gas",
        "/admin/billing/periods/2026-13",
        "/admin/billing/periods/abc",
        "/admin/billing/periods/99999-01",
        "/admin/billing/periods/2001-01",  # never run: no such period
    ],
)
def test_unknown_things_answer_404(client, db_session, url):
    sign_in_staff(client, db_session, "billing")
    assert client.get(url).status_code == 404


# --- tariffs, norms, key rates --------------------------------------------------------------


def test_the_tariffs_page_lists_every_key_with_its_current_value(client, db_session, world):
    sign_in_staff(client, db_session, "billing")
    html = page(client.get("/admin/billing/tariffs"))
    assert "6,43" in html
    assert html.count('href="/admin/billing/tariffs/') == 16


def test_a_new_tariff_closes_the_previous_one_and_is_audited(client, db_session, world):
    staff = sign_in_staff(client, db_session, "billing")
    url = "/admin/billing/tariffs/electricity/total/population"
    response = post_form(client, url, {"rate": "7,07", "valid_from": "2026-07-01"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(url)
    rows = db_session.scalars(
        select(Tariff).where(Tariff.service == "electricity").order_by(Tariff.valid_from)
    ).all()
    assert [(r.rate, r.valid_to) for r in rows] == [
        (Decimal("6.4300"), date(2026, 6, 30)),
        (Decimal("7.0700"), None),
    ]
    assert rows[1].staff_id == staff.id
    actions = db_session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.staff_id == staff.id, AuditEvent.object_type == "tariff"
        )
    ).all()
    assert sorted(actions) == ["create", "update"]
    html = page(client.get(url))
    assert "7,07" in html
    assert "30 июн. 2026" in html.replace("\u00a0", " ")


def test_an_overlapping_tariff_is_refused_next_to_the_date_keeping_what_was_typed(
    client, db_session, world
):
    sign_in_staff(client, db_session, "billing")
    url = "/admin/billing/tariffs/electricity/total/population"
    response = post_form(client, url, {"rate": "7,5", "valid_from": "2024-12-31"})
    assert response.status_code == 200
    assert field_error(response, "valid_from")
    assert field_value(response, "rate") == "7,5"
    assert field_value(response, "valid_from") == "2024-12-31"
    assert len(db_session.scalars(select(Tariff)).all()) == 1


def test_a_tariff_backdated_into_a_closed_period_is_refused(client, db_session, charged):
    ledger.close_period(db_session, last_month())
    sign_in_staff(client, db_session, "billing")
    url = "/admin/billing/tariffs/electricity/total/population"
    response = post_form(client, url, {"rate": "7.07", "valid_from": last_month().isoformat()})
    assert response.status_code == 200
    assert field_error(response, "valid_from")
    ok = post_form(client, url, {"rate": "7.07", "valid_from": this_month().isoformat()})
    assert ok.status_code == 303


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"rate": "", "valid_from": "2030-01-01"}, "rate"),
        ({"rate": "abc", "valid_from": "2030-01-01"}, "rate"),
        ({"rate": "0", "valid_from": "2030-01-01"}, "rate"),
        ({"rate": "6.43215", "valid_from": "2030-01-01"}, "rate"),
        ({"rate": "1" * 40, "valid_from": "2030-01-01"}, "rate"),
        ({"rate": "6.43", "valid_from": "tomorrow"}, "valid_from"),
        ({"rate": "6.43", "valid_from": "0001-01-01"}, "valid_from"),
        ({"rate": "6.43", "valid_from": ""}, "valid_from"),
    ],
)
def test_malformed_tariffs_are_refused_next_to_the_field(client, db_session, world, data, field):
    sign_in_staff(client, db_session, "billing")
    response = post_form(client, "/admin/billing/tariffs/electricity/total/population", data)
    assert response.status_code == 200
    assert field_error(response, field)


def test_a_new_norm_and_a_key_rate_from_the_pages(client, db_session, world):
    sign_in_staff(client, db_session, "billing")
    response = post_form(
        client,
        "/admin/billing/norms/electricity",
        {"basis": "per_resident", "volume": "110", "valid_from": "2027-01-01"},
    )
    assert response.status_code == 303
    norms = db_session.scalars(select(ConsumptionNorm).order_by(ConsumptionNorm.valid_from)).all()
    assert [n.valid_to for n in norms] == [date(2026, 12, 31), None]
    response = post_form(
        client, "/admin/billing/key-rates", {"percent": "101", "valid_from": "2027-01-01"}
    )
    assert response.status_code == 200
    assert field_error(response, "percent")
    assert field_value(response, "percent") == "101"
    response = post_form(
        client, "/admin/billing/key-rates", {"percent": "15,5", "valid_from": "2027-01-01"}
    )
    assert response.status_code == 303
    html = page(client.get("/admin/billing/key-rates"))
    assert "15,5 %" in html
    assert "16 %" in html
    repeated = post_form(
        client, "/admin/billing/key-rates", {"percent": "15", "valid_from": "2027-01-01"}
    )
    assert field_error(repeated, "valid_from")


def test_a_cap_on_the_key_rate_from_the_page(client, db_session, world):
    """ЖК РФ ст. 155 п. 14 with a decree's cap: 9.5 % from 1 July to 31 December 2030,
    checked (the end not before the start, no overlap) and listed."""
    sign_in_staff(client, db_session, "billing", language="en")
    url = "/admin/billing/key-rates/caps"
    backwards = {"cap-percent": "9.5", "cap-valid_from": "2030-07-01", "cap-valid_to": "2030-06-30"}
    response = post_form(client, url, backwards)
    assert response.status_code == 200
    assert "cannot end before it starts" in field_error(response, "cap-valid_to")
    assert field_value(response, "cap-percent") == "9.5"
    saved = {"cap-percent": "9,5", "cap-valid_from": "2030-07-01", "cap-valid_to": "2030-12-31"}
    assert post_form(client, url, saved).status_code == 303
    overlapping = {"cap-percent": "8", "cap-valid_from": "2030-12-01", "cap-valid_to": "2031-03-31"}
    response = post_form(client, url, overlapping)
    assert "already covers" in field_error(response, "cap-valid_from")
    html = page(client.get("/admin/billing/key-rates"))
    assert "9.5 %" in html
    assert db_session.scalar(select(func.count(KeyRateCap.id))) == 1


# --- running a period -----------------------------------------------------------------------


def test_a_run_is_queued_then_done_in_the_background(client, db_session, world):
    staff = sign_in_staff(client, db_session, "billing")
    response = post_form(client, "/admin/billing/periods", {"period": iso(last_month())})
    assert response.status_code == 303
    url = f"/admin/billing/periods/{iso(last_month())}"
    assert response.headers["Location"].endswith(url)
    row = period_row(db_session, last_month())
    assert row.status == "queued"
    assert row.total_accounts == 2
    assert row.processed_accounts == 0
    assert db_session.scalar(select(Charge.id)) is None  # nothing charged on the web

    full = client.get(url)
    html = page(full)
    assert "<html" in html
    assert 'hx-trigger="every 1s"' in html
    assert f'href="{url}"' in html  # the Refresh link, without JavaScript
    assert "<progress" in html

    fragment = page(client.get(url, headers=HTMX_POLL))
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<div id="period-status"')
    assert 'hx-trigger="every 1s"' in fragment

    done = billing_periods.process_queued_billing(db_session)
    assert [period for period, _totals in done] == [last_month()]
    row = period_row(db_session, last_month())
    assert row.status == "draft"
    assert row.processed_accounts == row.total_accounts == 2

    fragment = page(client.get(url, headers=HTMX_POLL))
    assert "hx-trigger" not in fragment
    assert "964,50" in fragment  # 150 kWh × 6.43 by meter
    assert "1 286,00" in fragment.replace("\u00a0", " ")  # 2 residents × 100 kWh by the norm
    assert "<html" in page(client.get(url))
    events = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.staff_id == staff.id, AuditEvent.object_type == "billing_period"
        )
    ).all()
    assert [e.changes["status"][1] for e in events] == ["queued"]


def test_nothing_queued_nothing_done(db_session, world):
    assert billing_periods.process_queued_billing(db_session) == []


def test_with_a_broker_the_run_goes_to_a_celery_worker(app, client, db_session, world, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "celery.Celery.send_task", lambda self, name, args=None, **kw: sent.append((name, args))
    )
    app.config["CELERY_BROKER_URL"] = "redis://127.0.0.1:6399/0"
    sign_in_staff(client, db_session, "billing")
    post_form(client, "/admin/billing/periods", {"period": iso(last_month())})
    assert sent == [("portal.tasks.run_billing", [iso(last_month())])]
    assert period_row(db_session, last_month()).status == "queued"


def test_a_failing_run_is_marked_failed_and_the_others_still_run(db_session, world, monkeypatch):
    for period in (two_months_ago(), last_month()):
        billing_periods.queue_run(db_session, period, today=local_today())
    real_run = billing.run

    def run(session, period, progress=None):
        if period == two_months_ago():
            raise RuntimeError("disk full")
        return real_run(session, period, progress)

    monkeypatch.setattr(billing, "run", run)
    done = billing_periods.process_queued_billing(db_session)
    assert [period for period, _totals in done] == [last_month()]
    assert period_row(db_session, two_months_ago()).status == "failed"
    assert period_row(db_session, last_month()).status == "draft"


def test_a_queued_period_is_claimed_once(db_session, world):
    billing_periods.queue_run(db_session, last_month(), today=local_today())
    assert billing_periods.run_queued(db_session, last_month()) is not None
    assert billing_periods.run_queued(db_session, last_month()) is None


@pytest.mark.parametrize(
    "value", ["", "2026-13", "октябрь", "2026-1-1", "9" * 12, "0-1", "0001-01"], ids=repr
)
def test_a_malformed_month_is_refused_next_to_the_field(client, db_session, value):
    sign_in_staff(client, db_session, "billing")
    response = post_form(client, "/admin/billing/periods", {"period": value})
    assert response.status_code == 200
    assert field_error(response, "period")
    assert db_session.scalar(select(BillingPeriod.id)) is None


def test_a_future_month_a_closed_one_and_a_running_one_are_refused(client, db_session, charged):
    sign_in_staff(client, db_session, "billing")
    future = months.add_months(this_month(), 1)
    response = post_form(client, "/admin/billing/periods", {"period": iso(future)})
    assert field_error(response, "period")
    assert field_value(response, "period") == iso(future)
    ledger.close_period(db_session, last_month())
    for month in (last_month(), two_months_ago()):
        response = post_form(client, "/admin/billing/periods", {"period": iso(month)})
        assert field_error(response, "period"), iso(month)
    assert (
        post_form(client, "/admin/billing/periods", {"period": iso(this_month())}).status_code
        == 303
    )
    again = post_form(client, "/admin/billing/periods", {"period": iso(this_month())})
    assert field_error(again, "period")


def test_the_periods_page_shows_totals_by_method(client, db_session, charged):
    sign_in_staff(client, db_session, "billing")
    html = page(client.get("/admin/billing/periods")).replace("\u00a0", " ")
    assert f'href="/admin/billing/periods/{iso(last_month())}"' in html
    assert "964,50" in html
    assert "1 286,00" in html
    assert "2 250,50" in html
    assert f'value="{iso(this_month())}"' in html  # the run form offers this month


def test_the_periods_page_makes_a_constant_number_of_queries(client, db_session, world):
    staff = sign_in_staff(client, db_session, "billing")
    billing.run(db_session, two_months_ago())
    ledger.close_period(db_session, two_months_ago(), staff.id)
    billing.run(db_session, last_month())
    client.get("/admin/billing/periods")  # warm up: the session's own queries
    with counted_queries() as few:
        assert client.get("/admin/billing/periods").status_code == 200
    for back in range(3, 9):
        month = months.add_months(this_month(), -back)
        row = billing.get_or_create_period(db_session, month)
        row.status = "closed"
        row.closed_by_id = factories.make_staff(db_session, role="supervisor").id
        db_session.add(
            Bill(
                account_id=charged_account(db_session),
                period=month,
                opening_balance=0,
                charges_total=10,
                penalties_total=1,
                payments_total=0,
                closing_balance=11,
                issued_on=month,
                due_on=month,
            )
        )
    db_session.flush()
    with counted_queries() as many:
        html = page(client.get("/admin/billing/periods"))
    assert html.count('href="/admin/billing/periods/') == 8
    assert len(many) == len(few)


def charged_account(session) -> int:
    return session.scalar(select(Charge.account_id).limit(1))


# --- closing --------------------------------------------------------------------------------


def test_closing_a_period_issues_bills_and_shows_them(client, db_session, charged):
    staff = sign_in_staff(client, db_session, "supervisor")
    url = f"/admin/billing/periods/{iso(last_month())}"
    html = page(client.get(url))
    assert 'hx-confirm="' in html
    assert 'data-confirm="' in html
    response = post_form(client, f"{url}/close", {})
    assert response.status_code == 303
    row = period_row(db_session, last_month())
    assert row.status == "closed"
    assert row.closed_by_id == staff.id
    assert len(db_session.scalars(select(Bill).where(Bill.period == last_month())).all()) == 2
    html = page(client.get(url)).replace("\u00a0", " ")
    assert "2 250,50" in html
    assert "hx-confirm" not in html  # nothing more to close
    assert 'name="account_number"' not in html  # no recalculations in a closed month
    closed = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.staff_id == staff.id, AuditEvent.object_type == "billing_period"
        )
    ).all()
    assert [e.changes["status"] for e in closed] == [["draft", "closed"]]


def test_closing_with_htmx_reloads_the_page(client, db_session, charged):
    sign_in_staff(client, db_session, "billing")
    url = f"/admin/billing/periods/{iso(last_month())}"
    response = post_form(client, f"{url}/close", {}, headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Location"].endswith(url)


def test_a_period_not_run_cannot_be_closed(client, db_session, world):
    billing_periods.queue_run(db_session, last_month(), today=local_today())
    sign_in_staff(client, db_session, "billing")
    url = f"/admin/billing/periods/{iso(last_month())}"
    response = post_form(client, f"{url}/close", {}, follow_redirects=True)
    assert response.status_code == 200
    assert form_alert(response)
    assert period_row(db_session, last_month()).status == "queued"


def test_closed_periods_show_penalties_and_debt(client, db_session, charged):
    ledger.close_period(db_session, last_month())
    sign_in_staff(client, db_session, "billing")
    html = page(client.get(f"/admin/billing/periods/{iso(last_month())}"))
    assert 'id="closing-heading"' in html
    assert "2 250,50" in html.replace("\u00a0", " ")
    summary = billing_periods.summary(db_session, last_month())
    assert summary.closing.bills == 2
    assert summary.closing.due == Decimal("2250.50")
    assert summary.closing.payable == 2
    assert summary.closing.debt == Decimal("0.00")  # nothing owed from earlier months
    assert summary.closing.penalties == Decimal("0.00")


def test_arrears_and_penalties_of_unpaid_bills(db_session, world):
    for month in (months.add_months(last_month(), -3), months.add_months(last_month(), -2)):
        billing.run(db_session, month)
        ledger.close_period(db_session, month)
    billing.run(db_session, two_months_ago())
    ledger.close_period(db_session, two_months_ago())
    closing = billing_periods.summary(db_session, two_months_ago()).closing
    first = billing_periods.summary(db_session, months.add_months(last_month(), -3))
    assert closing.debtors == 2
    assert closing.debt >= first.amount  # nothing was ever paid
    assert closing.penalties > 0
    assert closing.penalised == 2


# --- recalculations -------------------------------------------------------------------------


def recalculation(account, **changes) -> dict:
    return {
        "account_number": account.number,
        "service": "electricity",
        "zone": "total",
        "volume": "-1,5",
        "tariff": "6.43",
        "reason": "Meter check on site: 1.5 kWh were billed twice.",
    } | changes


def test_a_recalculation_is_added_rounded_half_up_listed_and_audited(client, db_session, charged):
    staff = sign_in_staff(client, db_session, "billing")
    url = f"/admin/billing/periods/{iso(last_month())}"
    response = post_form(client, f"{url}/recalculations", recalculation(charged["metered"]))
    assert response.status_code == 303
    charge = db_session.scalar(select(Charge).where(Charge.method == "recalculation"))
    assert charge.amount == Decimal("-9.65")  # −1.5 × 6.43 = −9.645, half away from zero
    assert charge.volume == Decimal("-1.5000")
    assert charge.staff_id == staff.id
    html = page(client.get(url))
    assert "Meter check on site: 1.5 kWh were billed twice." in html
    assert "-9,65" in html or "−9,65" in html
    event_ = db_session.scalar(
        select(AuditEvent).where(
            AuditEvent.object_type == "charge", AuditEvent.object_id == charge.id
        )
    )
    assert event_.staff_id == staff.id
    billing.run(db_session, last_month())  # a re-run keeps it
    assert db_session.scalar(select(Charge.id).where(Charge.method == "recalculation")) == charge.id


def test_a_recalculation_in_a_closed_period_is_refused(client, db_session, charged):
    ledger.close_period(db_session, last_month())
    sign_in_staff(client, db_session, "billing")
    url = f"/admin/billing/periods/{iso(last_month())}/recalculations"
    response = post_form(client, url, recalculation(charged["metered"]))
    assert response.status_code == 200
    assert form_alert(response)
    assert db_session.scalar(select(Charge.id).where(Charge.method == "recalculation")) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"account_number": "0000000000"}, "account_number"),
        ({"account_number": ""}, "account_number"),
        ({"service": "heat"}, "service"),  # the account has no heating
        ({"service": "gas"}, "service"),
        ({"zone": "night", "service": "electricity"}, None),  # a zone of electricity: fine
        ({"service": "cold_water", "zone": "night"}, "zone"),
        ({"volume": "0"}, "volume"),
        ({"volume": "abc"}, "volume"),
        ({"volume": "1.23456"}, "volume"),
        ({"tariff": "-6.43"}, "tariff"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 401}, "reason"),
    ],
)
def test_recalculation_errors_show_next_to_the_field(client, db_session, charged, changes, field):
    account = charged["metered"]
    db_session.add(
        AccountService(account_id=account.id, service="cold_water", started_on=date(2020, 1, 1))
    )
    db_session.flush()
    sign_in_staff(client, db_session, "billing")
    url = f"/admin/billing/periods/{iso(last_month())}/recalculations"
    response = post_form(client, url, recalculation(account, **changes))
    if field is None:
        assert response.status_code == 303
        return
    assert response.status_code == 200, response.status_code
    assert field_error(response, field), page(response)[:3000]
    if field != "volume" and field != "reason":
        assert field_value(response, "volume") == "-1,5"


# --- the command line -----------------------------------------------------------------------


def test_flask_billing_run_and_close(app, db_session, world):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["billing", "run", iso(last_month())])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["method", "lines", "amount", "seconds"]
    table = {line.split()[0]: line.split()[1:] for line in lines[1:-1]}
    assert table["meter"] == ["1", "964.50"]
    assert table["norm"] == ["1", "1286.00"]
    assert table["total"][:2] == ["2", "2250.50"]
    assert "2 accounts" in lines[-1]

    result = runner.invoke(args=["billing", "close", iso(last_month())])
    assert result.exit_code == 0, result.output
    assert "2 bills" in result.output
    assert period_row(db_session, last_month()).status == "closed"

    again = runner.invoke(args=["billing", "close", iso(last_month())])
    assert again.exit_code != 0
    frozen = runner.invoke(args=["billing", "run", iso(last_month())])
    assert frozen.exit_code != 0
    bad = runner.invoke(args=["billing", "run", "2026-13"])
    assert bad.exit_code == 2


def test_periods_close_in_order_and_never_behind_a_closed_one(db_session, world):
    billing.run(db_session, two_months_ago())
    billing.run(db_session, last_month())
    ledger.close_period(db_session, two_months_ago())
    ledger.close_period(db_session, last_month())
    earlier = months.add_months(two_months_ago(), -1)
    billing.run(db_session, earlier)
    with pytest.raises(DomainError):
        ledger.close_period(db_session, earlier)
    assert period_row(db_session, earlier).status == "draft"
    assert (
        timedelta(0)
        <= period_row(db_session, last_month()).closed_at
        - period_row(db_session, two_months_ago()).closed_at
    )
