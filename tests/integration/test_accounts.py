"""A resident's personal accounts: linking by number and code, the dashboard, unlinking,
and that nobody sees an account that is not theirs."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from flask_babel import force_locale
from sqlalchemy import select

from portal.formatting import as_date, as_date_ending
from portal.models import AccountLink, AccountService
from portal.services import readings
from portal.services.clock import local_today
from tests import factories
from tests.conftest import (
    field_error,
    field_value,
    login_as,
    page,
    post_form,
    texts_with_class,
    translated,
)


@pytest.fixture
def resident(db_session):
    return factories.make_user(db_session, full_name="Кузнецова Анна Сергеевна")


@pytest.fixture
def account(db_session):
    return factories.make_account(db_session, number="5200001234", secret_code="K7M2QX")


@pytest.fixture
def signed_in(client, resident):
    login_as(client, resident)
    return client


def links_of(session, user) -> list[int]:
    return list(
        session.scalars(select(AccountLink.account_id).where(AccountLink.user_id == user.id))
    )


def link(client, number: str, code: str):
    return post_form(client, "/accounts/link", {"number": number, "secret_code": code})


def shown(app, value) -> str:
    """A date as the page shows it in the default locale."""
    with app.test_request_context():
        return as_date(value)


def meter_card(response, serial: str) -> str:
    """The HTML of the meter card that shows this serial number."""
    for card in re.findall(r"<article.*?</article>", response.get_data(as_text=True), re.S):
        if serial in card:
            return card
    raise AssertionError(f"no card for meter {serial}")


# --- Linking ---------------------------------------------------------------------------


def test_link_form_renders(signed_in):
    response = signed_in.get("/accounts/link")
    assert response.status_code == 200
    assert 'name="number"' in response.get_data(as_text=True)
    assert 'name="secret_code"' in response.get_data(as_text=True)


def test_link_with_number_and_code(signed_in, db_session, resident, account):
    response = link(signed_in, "5200001234", "K7M2QX")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/accounts/{account.id}"
    assert links_of(db_session, resident) == [account.id]
    dashboard = signed_in.get(f"/accounts/{account.id}")
    assert dashboard.status_code == 200
    assert "5200001234" in page(dashboard)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("52 0000 1234", "K7M2QX"),
        ("52-0000-1234", "k7m2qx"),
        (" 5200001234 ", " k7M2qX "),
        ("520-000 1234", "К7М2QХ"),  # Cyrillic К, М and Х typed with the Russian layout
    ],
)
def test_link_tolerates_spaces_dashes_and_case(
    signed_in, db_session, resident, account, number, code
):
    assert link(signed_in, number, code).status_code == 303
    assert links_of(db_session, resident) == [account.id]


def test_wrong_code_and_unknown_number_give_the_same_error(
    signed_in, db_session, resident, account
):
    wrong_code = link(signed_in, "5200001234", "ZZZZZZ")
    unknown_number = link(signed_in, "5299999999", "K7M2QX")
    assert wrong_code.status_code == unknown_number.status_code == 200
    error = field_error(wrong_code, "number")
    assert error
    assert error == field_error(unknown_number, "number")
    assert field_value(wrong_code, "number") == "5200001234"
    assert links_of(db_session, resident) == []


def test_non_ascii_code_is_refused_not_a_crash(signed_in, db_session, resident, account):
    response = link(signed_in, "5200001234", "ЖЖЖЖЖЖ😀")
    assert response.status_code == 200
    assert field_error(response, "number")
    assert links_of(db_session, resident) == []


def test_closed_account_cannot_be_linked(signed_in, db_session, resident):
    factories.make_account(
        db_session, number="5200004321", secret_code="AB12CD", closed_on=date(2025, 1, 1)
    )
    response = link(signed_in, "5200004321", "AB12CD")
    assert response.status_code == 200
    assert field_error(response, "number")
    assert links_of(db_session, resident) == []


@pytest.mark.parametrize(
    ("number", "code", "field"),
    [
        ("52000A1234", "K7M2QX", "number"),
        ("", "K7M2QX", "number"),
        ("5200001234", "", "secret_code"),
        ("5200001234", "K7", "secret_code"),
        ("5" * 500, "K7M2QX", "number"),
    ],
)
def test_link_form_validation(signed_in, db_session, resident, account, number, code, field):
    response = link(signed_in, number, code)
    assert response.status_code == 200
    assert field_error(response, field)
    assert links_of(db_session, resident) == []


def test_linking_twice_is_harmless(signed_in, db_session, resident, account):
    assert link(signed_in, "5200001234", "K7M2QX").status_code == 303
    assert link(signed_in, "5200001234", "K7M2QX").status_code == 303
    assert links_of(db_session, resident) == [account.id]


def test_two_residents_may_link_one_account(client, other_client, db_session, account):
    first, second = factories.make_user(db_session), factories.make_user(db_session)
    login_as(client, first)
    login_as(other_client, second)
    assert link(client, "5200001234", "K7M2QX").status_code == 303
    assert link(other_client, "5200001234", "K7M2QX").status_code == 303
    assert links_of(db_session, first) == links_of(db_session, second) == [account.id]


def test_visitor_is_sent_to_sign_in(client, account):
    for url in ("/accounts/", f"/accounts/{account.id}", "/accounts/link"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login?next=" in response.headers["Location"]


# --- Only one's own accounts ----------------------------------------------------------------


def test_dashboard_of_an_account_not_linked_is_404(signed_in, db_session, account):
    stranger = factories.make_user(db_session)
    factories.link(db_session, stranger, account)
    response = signed_in.get(f"/accounts/{account.id}")
    assert response.status_code == 404
    assert "5200001234" not in page(response)
    assert signed_in.get("/accounts/999999").status_code == 404


def test_unlink_of_an_account_not_yours_is_404(signed_in, db_session, account):
    stranger = factories.make_user(db_session)
    factories.link(db_session, stranger, account)
    response = post_form(signed_in, f"/accounts/{account.id}/unlink", {})
    assert response.status_code == 404
    assert links_of(db_session, stranger) == [account.id]


def test_unlink_own_account(signed_in, db_session, resident, account):
    factories.link(db_session, resident, account)
    signed_in.get(f"/accounts/{account.id}")
    response = post_form(signed_in, f"/accounts/{account.id}/unlink", {})
    assert response.status_code == 303
    assert response.headers["Location"] == "/accounts/"
    assert links_of(db_session, resident) == []
    assert signed_in.get(f"/accounts/{account.id}").status_code == 404
    assert signed_in.get("/").headers["Location"] == "/accounts/"


def test_unlink_needs_csrf(signed_in, db_session, resident, account):
    factories.link(db_session, resident, account)
    assert signed_in.post(f"/accounts/{account.id}/unlink").status_code == 400
    assert links_of(db_session, resident) == [account.id]


def test_another_residents_list_does_not_show_my_account(
    signed_in, other_client, db_session, resident, account
):
    factories.link(db_session, resident, account)
    login_as(other_client, factories.make_user(db_session))
    response = other_client.get("/accounts/")
    assert response.status_code == 200
    assert "5200001234" not in page(response)


# --- The dashboard ---------------------------------------------------------------------


@pytest.fixture
def furnished(db_session, resident, account):
    """An account with two services and meters: fine, due soon, overdue, remote-read."""
    account.premises.area_m2 = Decimal("61.70")
    account.premises.residents = 3
    db_session.add(
        AccountService(account_id=account.id, service="cold_water", started_on=date(2020, 1, 1))
    )
    today = local_today()  # the supplier's day, as the dashboard counts it
    meters = {
        "fine": factories.make_meter(db_session, account, serial_number="EL-FINE-1", zones=2),
        "soon": factories.make_meter(
            db_session,
            account,
            service="cold_water",
            serial_number="CW-SOON-2",
            zones=1,
            verification_due=today + timedelta(days=10),
        ),
        "overdue": factories.make_meter(
            db_session,
            account,
            service="electricity",
            serial_number="EL-LATE-3",
            zones=3,
            verification_due=today - timedelta(days=10),
        ),
    }
    factories.link(db_session, resident, account)
    return meters


def test_dashboard_shows_premises_services_and_meters(app, signed_in, account, furnished):
    response = signed_in.get(f"/accounts/{account.id}")
    assert response.status_code == 200
    text = page(response)
    assert account.premises.address in text
    assert account.customer.full_name in text
    with app.test_request_context():
        from portal.formatting import as_number

        assert as_number(Decimal("61.70")) in text
    assert re.search(r"<dd[^>]*>\s*3\s*</dd>", text)
    for service in ("Electricity", "Cold water"):
        assert translated(app, service) in text
    for meter in furnished.values():
        card = meter_card(response, meter.serial_number)
        assert shown(app, meter.verification_due) in page_of(card)
        for zone in meter.zone_names:
            assert translated(
                app, {"total": "single rate", "semi_peak": "semi-peak"}.get(zone, zone)
            ) in page_of(card)


def page_of(html_fragment: str) -> str:
    import html

    return html.unescape(html_fragment)


def test_meter_due_soon_is_highlighted(app, signed_in, account, furnished):
    response = signed_in.get(f"/accounts/{account.id}")
    soon = meter_card(response, "CW-SOON-2")
    assert "border-warning" in soon
    assert "alert-warning" in soon
    assert translated(
        app, "Verification is due soon. Arrange it in advance with an accredited laboratory."
    ) in page_of(soon)
    assert "border-danger" not in soon


def test_overdue_meter_is_marked(app, signed_in, account, furnished):
    response = signed_in.get(f"/accounts/{account.id}")
    late = meter_card(response, "EL-LATE-3")
    assert "border-danger" in late
    assert "alert-danger" in late
    with app.test_request_context(), force_locale("ru"):
        due = as_date_ending(furnished["overdue"].verification_due)
        lapsed = readings.verification_refusal(furnished["overdue"], local_today())
    message = "Out of service: the state verification was due by %(date)s."
    assert translated(app, message, date=due) in page_of(late)
    assert lapsed in page_of(late)  # ПП 354 п. 81(12): no readings, and what to do instead
    assert f"/meters/{furnished['overdue'].id}/submit" not in late
    fine = meter_card(response, "EL-FINE-1")
    for mark in ("alert-warning", "alert-danger", "border-warning", "border-danger"):
        assert mark not in fine


def test_verification_warning_follows_the_setting(app, signed_in, db_session, account, furnished):
    from portal.services import settings

    settings.put(db_session, "meters.verification_warning_days", 5)
    response = signed_in.get(f"/accounts/{account.id}")
    assert "border-warning" not in meter_card(response, "CW-SOON-2")


@time_machine.travel(datetime(2030, 12, 31, 21, 30, tzinfo=UTC), tick=False)
def test_verification_is_overdue_from_midnight_in_the_supplier_zone(
    client, db_session, resident, account
):
    """At 00:30 on 1 January 2031 in Moscow (21:30 UTC on 31 December) a meter due on
    31 December is overdue, although the UTC date is still its due date, and one due within
    the warning period (30 days) counted from the Moscow day is due soon. The clock is set
    years away from the real one, so only the supplier's clock can make this pass."""
    login_as(client, resident)  # at that time: a session four years old would have lapsed
    late = factories.make_meter(
        db_session, account, serial_number="EL-DUE-1231", verification_due=date(2030, 12, 31)
    )
    soon = factories.make_meter(
        db_session,
        account,
        service="cold_water",
        zones=1,
        serial_number="CW-DUE-0131",
        verification_due=date(2031, 1, 31),
    )
    factories.link(db_session, resident, account)
    response = client.get(f"/accounts/{account.id}")
    assert "border-danger" in meter_card(response, late.serial_number)
    assert "border-warning" in meter_card(response, soon.serial_number)


def test_dashboard_without_meters_or_services(signed_in, db_session, resident):
    bare = factories.make_account(db_session)
    for service in bare.services:
        db_session.delete(service)
    factories.link(db_session, resident, bare)
    response = signed_in.get(f"/accounts/{bare.id}")
    assert response.status_code == 200
    assert "<article" not in response.get_data(as_text=True)


def test_navbar_switcher_lists_all_my_accounts(signed_in, db_session, resident, account):
    second = factories.make_account(db_session)
    other_persons = factories.make_account(db_session)
    factories.link(db_session, resident, account)
    factories.link(db_session, resident, second)
    response = signed_in.get(f"/accounts/{second.id}")
    menu = " ".join(texts_with_class(response, "dropdown-menu"))
    assert account.number in menu
    assert second.number in menu
    assert other_persons.number not in menu
    active = texts_with_class(response, "dropdown-item active")
    assert len(active) == 1
    assert second.number in active[0]


def test_home_goes_to_the_only_account(signed_in, db_session, resident, account):
    factories.link(db_session, resident, account)
    response = signed_in.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/{account.id}"


def test_home_goes_to_the_current_account(signed_in, db_session, resident, account):
    second = factories.make_account(db_session)
    factories.link(db_session, resident, account)
    factories.link(db_session, resident, second)
    assert signed_in.get("/").headers["Location"] == "/accounts/"  # none chosen yet
    signed_in.get(f"/accounts/{second.id}")
    assert signed_in.get("/").headers["Location"] == f"/accounts/{second.id}"
    signed_in.get(f"/accounts/{account.id}")
    assert signed_in.get("/").headers["Location"] == f"/accounts/{account.id}"


def test_home_without_accounts_goes_to_the_list(signed_in):
    assert signed_in.get("/").headers["Location"] == "/accounts/"
    listing = signed_in.get("/accounts/")
    assert listing.status_code == 200
    assert 'href="/accounts/link"' in listing.get_data(as_text=True)


def test_index_lists_my_accounts(signed_in, db_session, resident, account):
    factories.link(db_session, resident, account)
    response = signed_in.get("/accounts/")
    assert account.number in page(response)
    assert account.premises.address in page(response)


# --- Organisation members ----------------------------------------------------------------


def test_organisation_member_sees_the_contracts_accounts(signed_in, db_session, resident):
    organisation = factories.make_organisation(db_session)
    db_session.add(
        factories.OrganisationMember(
            organisation_id=organisation.id, user_id=resident.id, role="viewer"
        )
    )
    contract = factories.make_contract(db_session, organisation)
    supplied = factories.make_account(db_session, contract_id=contract.id, category="others")
    elsewhere = factories.make_account(
        db_session,
        contract_id=factories.make_contract(db_session, factories.make_organisation(db_session)).id,
    )
    listing = signed_in.get("/accounts/")
    assert supplied.number in page(listing)
    assert elsewhere.number not in page(listing)
    dashboard = signed_in.get(f"/accounts/{supplied.id}")
    assert dashboard.status_code == 200
    assert contract.number in page(dashboard)
    assert signed_in.get(f"/accounts/{elsewhere.id}").status_code == 404
    # visible through the organisation, not linked: nothing to unlink
    assert "/unlink" not in dashboard.get_data(as_text=True)
    assert post_form(signed_in, f"/accounts/{supplied.id}/unlink", {}).status_code == 404


def test_removed_member_loses_the_accounts(signed_in, db_session, resident):
    organisation = factories.make_organisation(db_session)
    member = factories.OrganisationMember(
        organisation_id=organisation.id, user_id=resident.id, role="accountant"
    )
    db_session.add(member)
    supplied = factories.make_account(
        db_session, contract_id=factories.make_contract(db_session, organisation).id
    )
    assert signed_in.get(f"/accounts/{supplied.id}").status_code == 200
    db_session.delete(member)
    db_session.flush()
    assert signed_in.get(f"/accounts/{supplied.id}").status_code == 404


def test_dashboard_queries_do_not_grow_with_meters(app, signed_in, db_session, resident, account):
    """No query per meter or per service (N+1)."""
    from sqlalchemy import event

    factories.link(db_session, resident, account)

    def count_queries() -> int:
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db_session.get_bind(), "before_cursor_execute", listener)
        try:
            assert signed_in.get(f"/accounts/{account.id}").status_code == 200
        finally:
            event.remove(db_session.get_bind(), "before_cursor_execute", listener)
        return len(statements)

    factories.make_meter(db_session, account)
    few = count_queries()
    for _ in range(5):
        factories.make_meter(db_session, account)
    assert count_queries() == few
