"""Readings for all the meters of a contract (#13): one table, or a CSV in the back
office's import format, with the checks every reading gets; a viewer changes nothing."""

import io
from datetime import date

import pytest
import time_machine
from sqlalchemy import select

from portal.models import OrganisationMember, Reading
from tests import factories
from tests.conftest import login_as, rate_limits_off

IN_WINDOW = date(2026, 11, 20)  # the readings window: 15th to 25th (settings' default)


@pytest.fixture
def contract(db_session):
    owner = factories.make_user(db_session)
    organisation = factories.make_organisation(db_session, owner)
    viewer = factories.make_user(db_session)
    db_session.add(
        OrganisationMember(organisation_id=organisation.id, user_id=viewer.id, role="viewer")
    )
    contract = factories.make_contract(db_session, organisation)
    account = factories.make_account(db_session, contract_id=contract.id)
    contract.single = factories.make_meter(db_session, account, zones=1)
    contract.double = factories.make_meter(db_session, account, zones=2)
    for meter in (contract.single, contract.double):
        for zone in meter.zone_names:
            factories.make_reading(db_session, meter, 1000, date(2026, 10, 20), zone=zone)
    contract.owner, contract.viewer, contract.account = owner, viewer, account
    return contract


def browser_of(app, user):
    rate_limits_off()
    browser = app.test_client()
    login_as(browser, user)
    return browser


def url(contract, tail=""):
    return f"/organisations/{contract.organisation_id}/contracts/{contract.id}{tail}"


def stored(db_session, meter):
    return {
        (r.zone, str(r.value))
        for r in db_session.scalars(
            select(Reading).where(Reading.meter_id == meter.id, Reading.taken_on == IN_WINDOW)
        )
    }


def test_the_table_lists_every_meter_and_stores_each(app, db_session, contract):
    from tests.conftest import post_form

    with time_machine.travel(IN_WINDOW, tick=False):
        browser = browser_of(app, contract.owner)
        page = browser.get(url(contract)).get_data(as_text=True)
        assert contract.single.serial_number in page
        assert f"reading-{contract.double.id}-night" in page
        response = post_form(
            browser,
            url(contract, "/readings"),
            {
                f"reading-{contract.single.id}-total": "1100",
                f"reading-{contract.double.id}-day": "1200",
                f"reading-{contract.double.id}-night": "1050,5",
            },
        )
    assert response.status_code == 303
    assert stored(db_session, contract.single) == {("total", "1100.0000")}
    assert stored(db_session, contract.double) == {("day", "1200.0000"), ("night", "1050.5000")}


def test_a_refused_meter_keeps_what_was_typed_and_the_others_are_stored(app, db_session, contract):
    from tests.conftest import post_form

    with time_machine.travel(IN_WINDOW, tick=False):
        browser = browser_of(app, contract.owner)
        response = post_form(
            browser,
            url(contract, "/readings"),
            {
                f"reading-{contract.single.id}-total": "1100",
                # only one zone of a two-rate meter: a customer reads the whole register
                f"reading-{contract.double.id}-day": "1200",
            },
        )
    assert response.status_code == 400
    assert 'value="1200"' in response.get_data(as_text=True)
    assert stored(db_session, contract.single) == {("total", "1100.0000")}
    assert stored(db_session, contract.double) == set()


def test_outside_the_window_nothing_is_stored(app, db_session, contract):
    from tests.conftest import post_form

    with time_machine.travel(date(2026, 11, 5), tick=False):
        browser = browser_of(app, contract.owner)
        response = post_form(
            browser, url(contract, "/readings"), {f"reading-{contract.single.id}-total": "1100"}
        )
    assert response.status_code == 400
    assert db_session.scalar(select(Reading).where(Reading.value == 1100)) is None


def test_csv_upload_in_the_import_format(app, db_session, contract):
    from tests.conftest import csrf_token

    other_meter = factories.make_meter(db_session, factories.make_account(db_session), zones=1)
    factories.make_reading(db_session, other_meter, 777, date(2026, 10, 20), zone="total")
    text = (
        "account;meter;zone;date;value\r\n"
        f"{contract.account.number};{contract.single.serial_number};1;20.11.2026;1100,0\r\n"
        f"{contract.account.number};{contract.double.serial_number};день;2026-11-20;1200\r\n"
        f"{contract.account.number};{contract.double.serial_number};ночь;2026-11-20;1050\r\n"
        f"{other_meter.account.number};{other_meter.serial_number};1;2026-11-20;5\r\n"
    ).encode("cp1251")
    contract.owner.language = "en"  # the refusals are read in English below
    db_session.flush()
    with time_machine.travel(IN_WINDOW, tick=False):
        browser = browser_of(app, contract.owner)
        response = browser.post(
            url(contract, "/readings/upload"),
            data={"file": (io.BytesIO(text), "readings.csv"), "csrf_token": csrf_token(browser)},
            content_type="multipart/form-data",
        )
    assert response.status_code == 400  # one line refused, shown on the page
    page = response.get_data(as_text=True)
    assert "Line 5" in page
    # Another customer's meter: refused as not ours, its reading (777) never judged or shown.
    assert "The meter is not at this contract&#39;s supply points." in page
    assert "777" not in page
    assert stored(db_session, contract.single) == {("total", "1100.0000")}
    assert stored(db_session, contract.double) == {("day", "1200.0000"), ("night", "1050.0000")}
    assert stored(db_session, other_meter) == set()


@pytest.mark.parametrize(
    ("tail", "data"),
    [("/readings", {"reading-1-total": "1"}), ("/readings/upload", {})],
)
def test_a_viewer_can_do_no_changing_action(app, db_session, contract, tail, data):
    from tests.conftest import post_form

    with time_machine.travel(IN_WINDOW, tick=False):
        browser = browser_of(app, contract.viewer)
        page = browser.get(url(contract)).get_data(as_text=True)
        assert "Send the readings" not in page
        response = post_form(browser, url(contract, tail), data)
    assert response.status_code == 403
