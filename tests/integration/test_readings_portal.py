"""Meter readings on the resident's side, through the Flask test client with CSRF on: the
meters on the account page, sending in the window (with validation as you type), the
receipt, superseding, history with its chart, 404 on other people's meters, sending without
signing in, and constant numbers of queries on the list pages."""

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from portal.models import Reading
from portal.services import settings
from tests import factories
from tests.conftest import (
    counted_queries,
    csrf_token,
    field_error,
    field_value,
    login_as,
    page,
    post_form,
    strip_token,
)

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # inside the default window, 15–25
NOVEMBER, OCTOBER = date(2026, 11, 1), date(2026, 10, 1)


@pytest.fixture(autouse=True)
def now(request):
    """Every clock stopped at NOW, or at the moment a test gives with
    ``@pytest.mark.parametrize("now", [moment], indirect=True)``."""
    with time_machine.travel(getattr(request, "param", NOW), tick=False):
        yield


@pytest.fixture
def resident(db_session):
    return factories.make_user(db_session, language="en")


@pytest.fixture
def account(db_session, resident):
    account = factories.make_account(db_session)
    factories.link(db_session, resident, account)
    return account


@pytest.fixture
def meter(db_session, account):
    """A two-rate electricity meter: 6 whole digits, 1 decimal."""
    return factories.make_meter(db_session, account, serial_number="77001122")


@pytest.fixture
def signed_in(client, resident):
    login_as(client, resident)
    return client


def make_reading(session, meter, zone, period, value, consumption=None, **fields):
    reading = Reading(
        meter_id=meter.id,
        zone=zone,
        period=period,
        taken_on=fields.pop("taken_on", period.replace(day=20)),
        value=Decimal(value),
        consumption=None if consumption is None else Decimal(consumption),
        source=fields.pop("source", "customer"),
        status=fields.pop("status", "accepted"),
        **fields,
    )
    session.add(reading)
    session.flush()
    return reading


def months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def monthly_history(session, meter, months: int, start=Decimal("1000"), step=Decimal("100")):
    """Accepted readings of every zone, one a month, the last in October 2026: the values
    go up by ``step`` from ``start``."""
    for n in range(months):
        period = months_before(OCTOBER, months - 1 - n)
        for zone in meter.zone_names:
            make_reading(session, meter, zone, period, start + step * n, step if n else None)


def url(meter, what: str) -> str:
    return f"/accounts/{meter.account_id}/meters/{meter.id}/{what}"


def send(client, meter, **values):
    return post_form(client, url(meter, "submit"), values)


def stored(session, meter) -> list[Reading]:
    return list(
        session.scalars(select(Reading).where(Reading.meter_id == meter.id).order_by(Reading.id))
    )


# --- the account page -------------------------------------------------------------------


def meter_card(response, serial: str) -> str:
    for card in re.findall(r"<article.*?</article>", page(response), re.S):
        if serial in card:
            return card
    raise AssertionError(f"no card for meter {serial}")


def test_account_page_shows_zones_last_readings_and_the_open_window(
    signed_in, db_session, meter, resident
):
    make_reading(db_session, meter, "day", OCTOBER, "1234.5", submitted_by_user_id=resident.id)
    make_reading(db_session, meter, "night", OCTOBER, "567.8", source="operator")
    card = meter_card(signed_in.get(f"/accounts/{meter.account_id}"), "77001122")
    text = " ".join(re.sub(r"<[^>]+>", " ", card).split())
    assert "day, night" in text
    assert "1,234.5 kWh · Oct 20, 2026 · you" in text
    assert "567.8 kWh · Oct 20, 2026 · operator" in text
    assert "Readings: open until 25 November" in text
    assert url(meter, "submit") in card
    assert url(meter, "history") in card


@pytest.mark.parametrize("now", [datetime(2026, 11, 27, 9, tzinfo=UTC)], indirect=True)
def test_account_page_marks_estimates_and_says_when_the_window_opens(signed_in, db_session, meter):
    make_reading(db_session, meter, "day", OCTOBER, "1234.5", source="estimated")
    card = meter_card(signed_in.get(f"/accounts/{meter.account_id}"), "77001122")
    text = " ".join(re.sub(r"<[^>]+>", " ", card).split())
    assert "≈ 1,234.5" in text
    assert "estimated, not a meter reading" in text
    assert "the window opens on 15 December" in text
    assert url(meter, "submit") not in card


def test_account_page_gives_the_reason_for_remote_and_faulty_meters(signed_in, db_session, account):
    factories.make_meter(db_session, account, serial_number="REMOTE1", remote_read=True)
    factories.make_meter(db_session, account, serial_number="BROKEN1", status="faulty")
    response = signed_in.get(f"/accounts/{account.id}")
    assert "read remotely" in meter_card(response, "REMOTE1")
    assert "marked faulty" in meter_card(response, "BROKEN1")
    assert "/submit" not in meter_card(response, "REMOTE1")


def test_the_window_comes_from_the_settings(signed_in, db_session, meter):
    settings.put(db_session, "readings.window_first_day", 1)
    settings.put(db_session, "readings.window_last_day", 10)
    card = meter_card(signed_in.get(f"/accounts/{meter.account_id}"), "77001122")
    assert "the window opens on 1 December" in card


# --- the submit page ----------------------------------------------------------------------


def test_submit_page_has_one_input_per_zone_with_unit_and_last_value(
    signed_in, db_session, meter, resident
):
    make_reading(db_session, meter, "day", OCTOBER, "1234.5", submitted_by_user_id=resident.id)
    response = signed_in.get(url(meter, "submit"))
    body = page(response)
    assert response.status_code == 200
    assert re.search(r'<label[^>]*for="day"[^>]*>Day</label>', body)
    assert re.search(r'<label[^>]*for="night"[^>]*>Night</label>', body)
    assert body.count("kWh</span>") == 2
    assert "Last reading: 1,234.5 kWh on Oct 20, 2026 (you)." in body
    day_input = re.search(r'<input[^>]*id="day"[^>]*>', body).group(0)
    assert f'hx-post="{url(meter, "check")}"' in day_input
    assert 'hx-trigger="input changed delay:400ms"' in day_input
    assert 'inputmode="decimal"' in day_input
    assert "X-CSRFToken" in body  # htmx requests carry the token from <body hx-headers>


def test_sending_in_the_window_stores_customer_readings_and_shows_a_receipt(
    signed_in, db_session, meter, resident
):
    response = send(signed_in, meter, day="1200,5", night=" 600 ")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(url(meter, "receipt") + "?r=")
    rows = stored(db_session, meter)
    assert [(r.zone, r.value, r.status) for r in rows] == [
        ("day", Decimal("1200.5"), "accepted"),
        ("night", Decimal("600"), "accepted"),
    ]
    assert {(r.source, r.submitted_by_user_id, r.period) for r in rows} == {
        ("customer", resident.id, NOVEMBER)
    }
    receipt = page(signed_in.get(response.headers["Location"]))
    assert "Readings accepted" in receipt
    assert "1,200.5" in receipt
    assert "600.0" in receipt
    assert receipt.count('data-status="accepted"') == 2


def test_receipt_shows_rejections_with_their_reason(signed_in, db_session, meter):
    monthly_history(db_session, meter, 2)  # day and night: 1000 then 1100
    response = send(signed_in, meter, day="1150", night="900")
    assert response.status_code == 303
    receipt = signed_in.get(response.headers["Location"])
    body = page(receipt)
    assert "Readings partly accepted" in body
    assert 'data-status="accepted"' in body
    assert 'data-status="rejected"' in body
    assert "lower than the last accepted one (1100" in body
    assert "Send again" in body


def test_a_far_higher_consumption_asks_for_confirmation_then_goes_to_review(
    signed_in, db_session, meter
):
    monthly_history(db_session, meter, 4)  # 100 a month; last value 1300
    first = send(signed_in, meter, day="9000", night="1400")
    assert first.status_code == 200
    body = page(first)
    assert "more than 3 times your usual" in body
    assert "Yes, the value is correct" in body
    assert field_value(first, "day") == "9000"
    assert field_value(first, "night") == "1400"
    assert len(stored(db_session, meter)) == 8  # nothing stored yet

    fingerprint = re.search(r'name="confirmed_values" type="hidden" value="([^"]*)"', body)
    confirmed = send(
        signed_in,
        meter,
        day="9000",
        night="1400",
        confirmed="y",
        confirmed_values=fingerprint.group(1).replace("&#34;", '"'),
    )
    assert confirmed.status_code == 303
    new = stored(db_session, meter)[-2:]
    assert [(r.zone, r.status) for r in new] == [("day", "pending_review"), ("night", "accepted")]
    receipt = page(signed_in.get(confirmed.headers["Location"]))
    assert "Readings sent for review" in receipt
    assert "under review" in receipt


def test_a_confirmation_holds_only_for_the_values_it_was_given_for(signed_in, db_session, meter):
    monthly_history(db_session, meter, 4)
    response = send(
        signed_in,
        meter,
        day="9500",
        night="1400",
        confirmed="y",
        confirmed_values="day=9000|night=1400",
    )
    assert response.status_code == 200
    assert "Yes, the value is correct" in page(response)
    assert len(stored(db_session, meter)) == 8


def test_a_second_reading_in_the_period_supersedes_the_first_and_history_keeps_both(
    signed_in, db_session, meter
):
    monthly_history(db_session, meter, 2)
    assert send(signed_in, meter, day="1150", night="1120").status_code == 303
    assert send(signed_in, meter, day="1160", night="1125").status_code == 303
    november = [r for r in stored(db_session, meter) if r.period == NOVEMBER]
    assert [(r.zone, r.value, r.status) for r in november] == [
        ("day", Decimal("1150"), "superseded"),
        ("night", Decimal("1120"), "superseded"),
        ("day", Decimal("1160"), "accepted"),
        ("night", Decimal("1125"), "accepted"),
    ]
    assert november[2].consumption == Decimal("60")  # against October, not the superseded one
    history = page(signed_in.get(url(meter, "history")))
    table = re.search(
        r'<table class="table align-middle readings-table">.*?</table>', history, re.S
    )
    assert table.group(0).count("superseded</span>") == 2
    phone_list = re.search(
        r'<ul class="list-group d-md-none readings-list">.*?</ul>', history, re.S
    )
    assert phone_list.group(0).count("superseded</span>") == 2
    assert "1,150.0" in history
    assert "1,160.0" in history
    assert "Readings for this month have already been received" in page(
        signed_in.get(url(meter, "submit"))
    )


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "abc", "1e30", "-5", "9" * 40, "12,34", "1 000 000", "NaN", "١٢٣", "0x10", "½"],
)
def test_bad_input_is_explained_next_to_the_field_and_kept(signed_in, db_session, meter, typed):
    response = send(signed_in, meter, day=typed, night="100")
    assert response.status_code == 200
    assert field_error(response, "day")
    assert field_error(response, "night") is None
    if typed.strip() and len(typed) <= 24:
        assert field_value(response, "day") == typed.strip()
    assert field_value(response, "night") == "100"
    assert stored(db_session, meter) == []


def test_every_zone_must_be_sent(signed_in, db_session, meter):
    response = post_form(signed_in, url(meter, "submit"), {"day": "100"})
    assert response.status_code == 200
    assert field_error(response, "night")
    assert stored(db_session, meter) == []


@pytest.mark.parametrize("now", [datetime(2026, 11, 26, 9, tzinfo=UTC)], indirect=True)
def test_outside_the_window_the_page_says_when_it_opens_and_has_no_form(
    signed_in, db_session, meter
):
    response = signed_in.get(url(meter, "submit"))
    body = page(response)
    assert "The window opens on December 15, 2026" in body
    assert 'name="day"' not in body
    sent = send(signed_in, meter, day="100", night="100")
    assert sent.status_code == 200
    assert stored(db_session, meter) == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"remote_read": True}, "read remotely"), ({"status": "faulty"}, "marked faulty")],
)
def test_remote_read_and_faulty_meters_show_the_reason_instead_of_a_form(
    signed_in, db_session, account, fields, reason
):
    other = factories.make_meter(db_session, account, zones=1, **fields)
    body = page(signed_in.get(url(other, "submit")))
    assert reason in body
    assert 'name="total"' not in body
    assert send(signed_in, other, total="100").status_code == 200
    assert stored(db_session, other) == []


def test_the_submit_form_works_in_russian_too(client, db_session, account):
    russian = factories.make_user(db_session)  # the default language
    factories.link(db_session, russian, account)
    other = factories.make_meter(db_session, account, zones=1)
    login_as(client, russian)
    response = client.get(url(other, "submit"))
    assert response.status_code == 200
    assert '<html lang="ru">' in response.get_data(as_text=True)


# --- validation as you type ---------------------------------------------------------------


def check(client, meter, zone, value, htmx=True):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        url(meter, "check"),
        data={"zone": zone, zone: value},
        headers={"X-CSRFToken": csrf_token(client), **headers},
    )


def test_check_returns_the_fields_feedback_for_htmx(signed_in, db_session, meter):
    monthly_history(db_session, meter, 2)
    good = check(signed_in, meter, "day", "1150,5")
    assert good.status_code == 200
    assert "<html" not in good.get_data(as_text=True)
    assert "Looks right: consumption 50.5 kWh." in page(good)
    assert good.headers["Vary"]
    assert "HX-Request" in good.headers["Vary"]

    lower = check(signed_in, meter, "night", "900")
    assert 'id="night-error"' in lower.get_data(as_text=True)
    assert "lower than the last accepted one" in page(lower)

    typo = check(signed_in, meter, "day", "12,34")
    assert "at most 1 digit after the decimal point" in page(typo)

    far = check(signed_in, meter, "day", "99999")
    assert "times your usual" in page(far)
    assert stored(db_session, meter)[-1].period == OCTOBER  # checking stores nothing

    assert check(signed_in, meter, "day", "").get_data(as_text=True).strip() == ""


def test_check_without_javascript_answers_the_whole_page(signed_in, db_session, meter):
    response = check(signed_in, meter, "day", "12,34", htmx=False)
    body = page(response)
    assert response.status_code == 200
    assert "<html" in body
    assert field_value(response, "day") == "12,34"
    assert "at most 1 digit" in field_error(response, "day")


def test_check_needs_the_csrf_token(signed_in, meter):
    response = signed_in.post(
        url(meter, "check"), data={"zone": "day", "day": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400


def test_check_of_an_unknown_zone_is_404(signed_in, meter):
    assert check(signed_in, meter, "peak", "1").status_code == 404


# --- other people's meters, readings and receipts ---------------------------------------


@pytest.fixture
def strangers_meter(db_session):
    stranger = factories.make_user(db_session)
    their_account = factories.make_account(db_session)
    factories.link(db_session, stranger, their_account)
    return factories.make_meter(db_session, their_account)


@pytest.mark.parametrize("what", ["submit", "history", "receipt?r=1"])
def test_another_customers_meter_is_404(signed_in, strangers_meter, what):
    assert signed_in.get(url(strangers_meter, what)).status_code == 404


def test_a_meter_under_the_wrong_account_is_404(signed_in, account, strangers_meter):
    path = f"/accounts/{account.id}/meters/{strangers_meter.id}/history"
    assert signed_in.get(path).status_code == 404
    assert post_form(signed_in, path.replace("history", "submit"), {}).status_code == 404
    response = signed_in.post(
        path.replace("history", "check"),
        data={"zone": "day", "day": "1"},
        headers={"X-CSRFToken": csrf_token(signed_in), "HX-Request": "true"},
    )
    assert response.status_code == 404


def test_another_customers_reading_is_not_on_my_receipt(
    signed_in, db_session, meter, strangers_meter
):
    theirs = make_reading(db_session, strangers_meter, "day", OCTOBER, "500")
    mine = make_reading(db_session, meter, "day", OCTOBER, "500")
    assert signed_in.get(url(meter, f"receipt?r={mine.id}")).status_code == 200
    assert signed_in.get(url(meter, f"receipt?r={theirs.id}")).status_code == 404
    assert signed_in.get(url(meter, f"receipt?r={mine.id}&r={theirs.id}")).status_code == 404
    assert signed_in.get(url(strangers_meter, f"receipt?r={theirs.id}")).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/{a}/meters/99999999/history",
        "/accounts/{a}/meters/99999999999999999999999/submit",
        "/accounts/99999999999999999999999/meters/{m}/history",
        "/accounts/{a}/meters/{m}/receipt",
        "/accounts/{a}/meters/{m}/receipt?r=abc",
        "/accounts/{a}/meters/{m}/receipt?r=99999999999999999999999",
        "/accounts/{a}/meters/{m}/receipt?r=0",
        "/accounts/{a}/meters/{m}/receipt?r=1&r=2&r=3&r=4",
        "/accounts/{a}/meters/-1/history",
    ],
)
def test_bad_ids_are_404_never_500(signed_in, meter, path):
    response = signed_in.get(path.format(a=meter.account_id, m=meter.id))
    assert response.status_code == 404


def test_visitors_are_sent_to_sign_in(client, meter):
    response = client.get(url(meter, "history"))
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- history ------------------------------------------------------------------------------


def test_history_lists_every_reading_with_source_status_and_reason(
    signed_in, db_session, meter, resident
):
    other_user = factories.make_user(db_session)
    make_reading(db_session, meter, "day", date(2026, 7, 1), "900.0", source="controller")
    make_reading(db_session, meter, "day", date(2026, 8, 1), "1000.0", "100", source="operator")
    make_reading(db_session, meter, "day", date(2026, 9, 1), "1090.0", "90", source="estimated")
    make_reading(
        db_session,
        meter,
        "day",
        OCTOBER,
        "1200.0",
        "200",
        submitted_by_user_id=other_user.id,
        status="pending_review",
        reason="Consumption far above the usual: sent for review.",
    )
    make_reading(
        db_session,
        meter,
        "day",
        NOVEMBER,
        "800.0",
        status="rejected",
        submitted_by_user_id=resident.id,
        reason="Lower than the last one.",
    )
    make_reading(db_session, meter, "night", NOVEMBER, "10.0", source="remote")
    make_reading(db_session, meter, "night", OCTOBER, "9.0", source="norm", consumption="3")
    response = signed_in.get(url(meter, "history"))
    body = page(response)
    assert response.status_code == 200
    rows = {
        match.group(1): " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())
        for match in re.finditer(r'<tr[^>]*data-reading="(\d+)"[^>]*>(.*?)</tr>', body, re.S)
    }
    texts = list(rows.values())
    assert len(texts) == 7
    assert any(
        "November 2026" in t
        and "800.0" in t
        and "you" in t
        and "rejected" in t
        and "Lower than the last one." in t
        for t in texts
    )
    assert any(
        "October 2026" in t and "customer" in t and "under review" in t and "sent for review" in t
        for t in texts
    )
    assert any("estimated 1,090.0" in t and "90" in t for t in texts)
    assert any("estimated 9.0" in t and "by consumption norm" in t for t in texts)
    assert any("operator" in t and "1,000.0" in t for t in texts)
    assert any("controller's visit" in t for t in texts)
    assert any("remote reading" in t for t in texts)
    estimated_row = next(t for t in texts if "1,090.0" in t)
    assert " you " not in f" {estimated_row} "
    assert "customer" not in estimated_row


def test_history_has_a_chart_drawn_by_our_script_and_the_same_data_as_a_table(
    signed_in, db_session, meter
):
    monthly_history(db_session, meter, 4)
    make_reading(db_session, meter, "day", NOVEMBER, "1380", "80", source="estimated")
    body = signed_in.get(url(meter, "history")).get_data(as_text=True)
    data = json.loads(
        re.search(
            r'<script type="application/json" id="consumption-data">(.*?)</script>', body, re.S
        ).group(1)
    )
    assert data["labels"] == ["Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026"]
    assert [d["label"] for d in data["datasets"]] == ["Day", "Night"]
    assert data["datasets"][0]["data"] == [100.0, 100.0, 100.0, 80.0]
    assert data["datasets"][0]["estimated"] == [False, False, False, True]
    assert data["datasets"][1]["data"] == [100.0, 100.0, 100.0, None]
    assert 'src="/static/vendor/chartjs/chart.umd.min.js"' in body
    assert 'src="/static/js/consumption-chart.js"' in body
    assert 'data-chart-source="consumption-data"' in body
    # No inline script code: every <script> has a src or is a JSON data block.
    for attributes, content in re.findall(r"<script([^>]*)>(.*?)</script>", body, re.S):
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
        if "src=" in attributes:
            assert not content.strip()
    assert " style=" not in body
    table = re.search(r"<details[^>]*data-chart-table.*?</details>", body, re.S).group(0)
    assert "<caption" in table
    assert "November 2026" in table
    assert "estimated" in table


def test_history_without_readings(signed_in, meter):
    body = page(signed_in.get(url(meter, "history")))
    assert "No readings yet." in body
    assert "consumption-chart.js" not in body


# --- constant numbers of queries ----------------------------------------------------------


def queries_for(client, path: str) -> int:
    with counted_queries() as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements)


def test_meter_list_and_history_run_the_same_number_of_queries_for_3_or_30_readings(
    signed_in, db_session, account, resident
):
    short = factories.make_meter(db_session, account, zones=1)
    long_ = factories.make_meter(db_session, account, zones=1)
    for n in range(3):
        make_reading(db_session, short, "total", date(2026, 8 + n, 1), 100 + n, 1)
    for n in range(30):
        period = months_before(OCTOBER, 29 - n)
        make_reading(
            db_session, long_, "total", period, 100 + n, 1, submitted_by_user_id=resident.id
        )
    assert queries_for(signed_in, url(short, "history")) == queries_for(
        signed_in, url(long_, "history")
    )
    dashboard = f"/accounts/{account.id}"
    before = queries_for(signed_in, dashboard)
    third = factories.make_meter(db_session, account, zones=3)
    for n in range(30):
        for zone in third.zone_names:
            make_reading(db_session, third, zone, months_before(OCTOBER, 29 - n), 10 + n)
    assert queries_for(signed_in, dashboard) == before


# --- without signing in ------------------------------------------------------------------


def quick(client, **fields):
    return post_form(client, "/readings/quick", fields)


@pytest.fixture
def visitor(client):
    """A visitor who is not signed in and reads the site in English."""
    assert post_form(client, "/language/en", {}).status_code == 303
    return client


@pytest.fixture
def known(db_session, account, meter):
    """A two-rate meter with history: last value 1100 in both zones."""
    monthly_history(db_session, meter, 2)
    return account, meter


def test_home_page_links_to_the_quick_page(client):
    assert 'href="/readings/quick"' in client.get("/").get_data(as_text=True)


def test_quick_submission_accepts_a_customer_reading(visitor, db_session, known):
    account, meter = known
    response = quick(
        visitor, account_number=account.number, serial_number="7700 1122", t1="1150", t2="1130"
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/readings/quick/result"
    new = [r for r in stored(db_session, meter) if r.period == NOVEMBER]
    assert [(r.zone, r.value, r.source, r.status, r.submitted_by_user_id) for r in new] == [
        ("day", Decimal("1150"), "customer", "accepted", None),
        ("night", Decimal("1130"), "customer", "accepted", None),
    ]
    result = visitor.get("/readings/quick/result")
    body = page(result)
    assert result.headers["Cache-Control"] == "no-store"
    assert body.count('data-status="accepted"') == 2
    for secret in (account.premises.address, account.customer.full_name, "1100", "1,100"):
        assert secret not in body


def test_unknown_account_and_a_meter_of_another_account_get_the_same_refusal(
    visitor, db_session, known
):
    account, meter = known
    other_account = factories.make_account(db_session)
    unknown = quick(visitor, account_number="5299999999", serial_number="77001122", t1="1", t2="1")
    elsewhere = quick(
        visitor, account_number=other_account.number, serial_number="77001122", t1="1", t2="1"
    )
    wrong_serial = quick(
        visitor, account_number=account.number, serial_number="00000000", t1="1", t2="1"
    )
    assert unknown.status_code == elsewhere.status_code == wrong_serial.status_code == 200
    assert "We found no meter with this serial number on this account" in page(unknown)
    assert strip_token(page(unknown)) == strip_token(page(elsewhere)).replace(
        other_account.number, "5299999999"
    )
    assert strip_token(page(unknown)) == strip_token(page(wrong_serial)).replace(
        account.number, "5299999999"
    ).replace('value="00000000"', 'value="77001122"')
    assert len(stored(db_session, meter)) == 4


def test_quick_refusals_reveal_nothing_about_the_account(visitor, db_session, known):
    account, meter = known
    lower = quick(
        visitor, account_number=account.number, serial_number="77001122", t1="900", t2="1150"
    )
    assert lower.status_code == 303
    body = page(visitor.get("/readings/quick/result"))
    assert "lower than the last accepted reading of this meter" in body
    for secret in ("1100", "1,100", "1 100", account.premises.address, account.customer.full_name):
        assert secret not in body


def test_quick_confirmation_does_not_disclose_the_consumption(visitor, db_session, account, meter):
    monthly_history(db_session, meter, 4)  # 100 a month, last 1300
    asked = quick(
        visitor, account_number=account.number, serial_number="77001122", t1="9000", t2="1350"
    )
    body = page(asked)
    assert asked.status_code == 200
    assert "far above the usual consumption of this meter" in body
    assert "7700" not in body.replace("77001122", "")  # 9000 − 1300: the consumption
    assert "1300" not in body
    assert "1,300" not in body
    assert field_value(asked, "t1") == "9000"
    fingerprint = re.search(r'name="confirmed_values" type="hidden" value="([^"]*)"', body).group(1)
    done = quick(
        visitor,
        account_number=account.number,
        serial_number="77001122",
        t1="9000",
        t2="1350",
        confirmed="y",
        confirmed_values=fingerprint,
    )
    assert done.status_code == 303
    assert [r.status for r in stored(db_session, meter)[-2:]] == ["pending_review", "accepted"]


def test_quick_needs_the_meters_registers(visitor, db_session, known):
    account, _meter = known
    response = quick(visitor, account_number=account.number, serial_number="77001122", t1="1150")
    assert response.status_code == 200
    assert "two tariff zones: enter T1 (day) and T2 (night)" in page(response)
    assert field_value(response, "t1") == "1150"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"account_number": "", "serial_number": "1", "t1": "1"}, "account_number"),
        ({"account_number": "abc", "serial_number": "1", "t1": "1"}, "account_number"),
        ({"account_number": "5200000001", "serial_number": "", "t1": "1"}, "serial_number"),
        ({"account_number": "5200000001", "serial_number": "1", "t1": ""}, "t1"),
        ({"account_number": "5200000001", "serial_number": "1", "t1": "9" * 50}, "t1"),
    ],
)
def test_quick_form_errors_are_shown_and_values_kept(client, fields, field):
    response = quick(client, **fields)
    assert response.status_code == 200
    assert field_error(response, field)
    if fields["serial_number"]:
        assert field_value(response, "serial_number") == fields["serial_number"]


def test_quick_bad_values_never_crash(client, db_session, known):
    account, meter = known
    for typed in ("abc", "1e30", "-1", "9" * 20, "1,23"):
        response = quick(
            client, account_number=account.number, serial_number="77001122", t1=typed, t2="1150"
        )
        assert response.status_code == 200, typed
        assert field_error(response, "t1"), typed
    assert len(stored(db_session, meter)) == 4


@pytest.mark.parametrize("now", [NOW + timedelta(days=10)], indirect=True)
def test_quick_page_outside_the_window_has_no_form(visitor):
    body = page(visitor.get("/readings/quick"))
    assert "The window opens on" in body
    assert 'name="t1"' not in body


def test_quick_result_without_a_submission_goes_back_to_the_form(client):
    response = client.get("/readings/quick/result")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/readings/quick")


def quick_post(client, account_number: str, address: str) -> int:
    data = {"account_number": account_number, "serial_number": "1", "t1": "1"}
    return client.post(
        "/readings/quick",
        data={"csrf_token": csrf_token(client), **data},
        environ_base={"REMOTE_ADDR": address},
    ).status_code


def limit_of(app, name: str) -> int:
    return int(app.config["RATE_LIMITS"][name].split()[0])


def test_quick_submission_is_rate_limited_per_account_whatever_the_address(rate_limited_app):
    """Guessing one account's serial numbers from many addresses."""
    client = rate_limited_app.test_client()
    n = limit_of(rate_limited_app, "quick_reading_account")
    codes = [quick_post(client, "5299999999", f"198.51.100.{i + 1}") for i in range(n + 1)]
    assert codes == [200] * n + [429]
    assert quick_post(client, "5288888888", "198.51.100.250") == 200  # another account
    assert client.get("/readings/quick").status_code == 200  # reading the page is not limited


def test_quick_submission_is_rate_limited_per_address(rate_limited_app):
    """Many accounts from one address; a city behind one NAT still has room."""
    client = rate_limited_app.test_client()
    n = limit_of(rate_limited_app, "quick_reading")
    assert n >= 50
    codes = [quick_post(client, f"52{i:08d}", "203.0.113.9") for i in range(n + 1)]
    assert codes == [200] * n + [429]
    assert quick_post(client, "5277777777", "203.0.113.10") == 200  # another address
