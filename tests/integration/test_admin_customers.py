"""The customer registry in the back office: search, fragment vs page, the card, editing.

Other tests may leave customers in the database, so every test searches for details only
its own customers have.
"""

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import event, select

from portal.extensions import db
from portal.models import AuditEvent, Customer, Setting
from portal.services import settings
from portal.services.clock import local_today
from tests import factories
from tests.conftest import field_error, field_value, post_form, sign_in_staff


def token() -> str:
    """A word no other customer has, in Cyrillic, so case folding is exercised."""
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    return "Ёж" + "".join("абвгдежзик"[int(d)] for d in digits)


def card_links(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/admin/customers/(\d+)"', html)]


def events_of(db_session, staff, action: str) -> list[AuditEvent]:
    db_session.expire_all()
    return list(
        db_session.scalars(
            select(AuditEvent)
            .where(AuditEvent.staff_id == staff.id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def anna(db_session):
    word = token()
    customer = factories.make_customer(
        db_session,
        full_name=f"{word} Анна Сергеевна",
        phone="+7903" + f"{uuid.uuid4().int % 10**7:07d}",
        email=f"anna.{uuid.uuid4().hex[:10]}@mail.example.com",
        birth_date=date(1950, 5, 17),
        is_veteran=True,
    )
    account = factories.make_account(
        db_session, customer, number="59" + f"{uuid.uuid4().int % 10**8:08d}"
    )
    account.premises.address = f"г. Выкса, ул. {word}ская, д. 12, кв. 5"
    db_session.flush()
    customer.word = word
    return customer


# --- search ---------------------------------------------------------------------------------


def test_registry_page_has_the_search_form_that_works_without_javascript(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    html = client.get("/admin/customers").get_data(as_text=True)
    assert "<html" in html
    assert 'method="get"' in html
    assert 'name="q"' in html
    assert 'type="submit"' in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-target="#customer-results"' in html
    assert 'hx-push-url="true"' in html


@pytest.mark.parametrize(
    "term",
    [
        lambda c: c.accounts[0].number,
        lambda c: c.accounts[0].number[:6],
        lambda c: c.word,
        lambda c: c.word.lower(),
        lambda c: c.word.upper(),
        lambda c: f"{c.word.lower()} анна",
        lambda c: f"{c.word.upper()} АННА СЕРГЕЕВНА",
        lambda c: f"{c.word}ская, д. 12",
        lambda c: f"{c.word.lower()}ская",
        lambda c: (
            "8 " + c.phone[2:5] + " " + c.phone[5:8] + "-" + c.phone[8:10] + "-" + c.phone[10:]
        ),
        lambda c: "+7 (" + c.phone[2:5] + ") " + c.phone[5:],
        lambda c: c.phone[2:],
        lambda c: "8" + c.phone[2:],
        lambda c: c.email.upper(),
        lambda c: c.email.split("@")[0],
    ],
    ids=[
        "number",
        "number-prefix",
        "name",
        "name-lower",
        "name-upper",
        "name-words-lower",
        "full-name-upper",
        "address",
        "address-lower",
        "phone-8-spaced",
        "phone-plus7-brackets",
        "phone-10-digits",
        "phone-11-digits",
        "email-upper",
        "email-part",
    ],
)
def test_search_finds_the_customer(client, db_session, anna, term):
    sign_in_staff(client, db_session, "operator", language="en")
    other = factories.make_customer(db_session, full_name="Другой Клиент Иванович")
    factories.make_account(db_session, other)
    response = client.get("/admin/customers", query_string={"q": term(anna)})
    assert response.status_code == 200
    links = card_links(response.get_data(as_text=True))
    assert anna.id in links
    assert other.id not in links


def test_results_show_the_columns(client, db_session, anna):
    sign_in_staff(client, db_session, "operator", language="en")
    html = client.get("/admin/customers", query_string={"q": anna.word}).get_data(as_text=True)
    assert anna.full_name in html
    assert anna.accounts[0].number in html
    assert anna.accounts[0].premises.address in html
    assert anna.email in html
    assert "+7 903" in html  # the phone, formatted
    assert "Individual" in html


def test_same_url_gives_the_fragment_to_htmx_and_the_page_otherwise(client, db_session, anna):
    sign_in_staff(client, db_session, "operator", language="en")
    url = f"/admin/customers?q={anna.word}"
    page = client.get(url)
    fragment = client.get(url, headers={"HX-Request": "true"})
    boosted = client.get(url, headers={"HX-Request": "true", "HX-Boosted": "true"})
    restore = client.get(url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in page.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    assert anna.full_name in fragment.get_data(as_text=True)
    assert 'id="customer-results"' not in fragment.get_data(as_text=True)
    assert "<html" in boosted.get_data(as_text=True)
    assert "<html" in restore.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


def test_results_are_paginated_by_20(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    word = token()
    made = [factories.make_customer(db_session, full_name=f"{word} {n:02d}") for n in range(25)]
    first = card_links(client.get(f"/admin/customers?q={word}").get_data(as_text=True))
    second_html = client.get(f"/admin/customers?q={word}&page=2").get_data(as_text=True)
    second = card_links(second_html)
    assert first == [customer.id for customer in made[:20]]
    assert second == [customer.id for customer in made[20:]]
    assert "page=1" in second_html
    assert "q=" in second_html
    # Past the last page: the last page.
    assert (
        card_links(client.get(f"/admin/customers?q={word}&page=9").get_data(as_text=True)) == second
    )


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=-1",
        "page=0",
        "page=99999999999999999999999",
        "q=" + "Я" * 5000,
        "q=%25%25%25_",
        "q=%00",
        "q=' OR 1=1 --",
        "q=&page=",
        "per_page=100000",
    ],
)
def test_malformed_parameters_never_fail(client, db_session, query):
    sign_in_staff(client, db_session, "operator", language="en")
    assert client.get(f"/admin/customers?{query}").status_code == 200
    assert (
        client.get(f"/admin/customers?{query}", headers={"HX-Request": "true"}).status_code == 200
    )


def test_each_search_with_a_term_is_audited(client, db_session, anna):
    staff = sign_in_staff(client, db_session, "operator", language="en")
    client.get("/admin/customers")
    client.get(f"/admin/customers?q={anna.word}", headers={"HX-Request": "true"})
    client.get("/admin/customers?q=+++")
    events = events_of(db_session, staff, "search")
    assert [(e.object_type, e.summary) for e in events] == [("customer", anna.word)]


def count_queries(client, url: str) -> tuple[str, int]:
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)
    assert response.status_code == 200
    return response.get_data(as_text=True), len(statements)


def test_the_registry_makes_the_same_number_of_queries_for_3_and_15_customers(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    word = token()

    def add_customers(count: int):
        for _ in range(count):
            customer = factories.make_customer(db_session, full_name=f"{word} Клиент")
            for _ in range(2):
                account = factories.make_account(db_session, customer)
                factories.make_meter(db_session, account)

    add_customers(3)
    html, with_three = count_queries(client, f"/admin/customers?q={word}")
    assert len(card_links(html)) == 3
    add_customers(12)
    html, with_fifteen = count_queries(client, f"/admin/customers?q={word}")
    assert len(card_links(html)) == 15
    assert with_fifteen == with_three


# --- the card -------------------------------------------------------------------------------


def test_card_shows_the_customer_and_is_audited(client, db_session, anna):
    staff = sign_in_staff(client, db_session, "operator", language="en")
    account = anna.accounts[0]
    soon = factories.make_meter(
        db_session,
        account,
        serial_number="SOON-" + anna.word,
        verification_due=local_today() + timedelta(days=5),
        remote_read=True,
    )
    later = factories.make_meter(db_session, account, service="cold_water", zones=1)
    user = factories.make_user(db_session, email_confirmed_at=None)
    factories.link(db_session, user, account)
    response = client.get(f"/admin/customers/{anna.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in (
        anna.full_name,
        "May 17, 1950",
        "veteran",
        "over 65",
        account.number,
        account.premises.address,
        "Центральный",
        "54.3",
        "Electricity",
        "Cold water",
        soon.serial_number,
        later.serial_number,
        "remote reading",
        "day, night",
        user.email,
        "not confirmed",
    ):
        assert text in html, text
    # The verification due within the warning period stands out.
    assert re.search(r'badge text-bg-warning">[^<]*</span> <span[^>]*>soon', html)
    events = events_of(db_session, staff, "view")
    assert [(e.object_type, e.object_id) for e in events] == [("customer", anna.id)]
    assert events[0].ip_address


@time_machine.travel(datetime(2030, 12, 31, 21, 30, tzinfo=UTC), tick=False)
def test_card_counts_verification_from_the_supplier_day(client, db_session, anna):
    """At 00:30 on 1 January 2031 in Moscow (21:30 UTC on 31 December) a meter due on
    31 December is overdue and one due on 31 January (the 30-day warning period counted from
    the Moscow day) is due soon. The clock is years from the real one: only the supplier's
    clock makes this pass."""
    sign_in_staff(client, db_session, "operator", language="en")
    account = anna.accounts[0]
    factories.make_meter(db_session, account, verification_due=date(2030, 12, 31))
    factories.make_meter(
        db_session, account, service="cold_water", zones=1, verification_due=date(2031, 1, 31)
    )
    html = client.get(f"/admin/customers/{anna.id}").get_data(as_text=True)
    assert re.search(r'badge text-bg-danger">[^<]*</span> <span[^>]*>overdue', html)
    assert re.search(r'badge text-bg-warning">[^<]*</span> <span[^>]*>soon', html)


def test_card_warning_period_is_a_setting(client, db_session, anna):
    sign_in_staff(client, db_session, "operator", language="en")
    factories.make_meter(
        db_session, anna.accounts[0], verification_due=local_today() + timedelta(days=50)
    )
    due_soon = re.compile(r'badge text-bg-warning">[^<]*</span> <span[^>]*>soon')
    assert not due_soon.search(client.get(f"/admin/customers/{anna.id}").get_data(as_text=True))
    settings.put(db_session, "meters.verification_warning_days", 60)
    try:
        html = client.get(f"/admin/customers/{anna.id}").get_data(as_text=True)
    finally:  # the setting is committed: leave the default for other tests
        db_session.delete(db_session.get(Setting, "meters.verification_warning_days"))
        db_session.commit()
    assert due_soon.search(html)


def test_card_of_an_organisation_shows_its_registration_and_members(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    owner = factories.make_user(db_session)
    organisation = factories.make_organisation(db_session, owner=owner)
    company = factories.make_customer(
        db_session,
        kind="organisation",
        full_name=organisation.name,
        organisation_id=organisation.id,
    )
    contract = factories.make_contract(db_session, organisation)
    factories.make_account(db_session, company, contract_id=contract.id, category="others")
    html = client.get(f"/admin/customers/{company.id}").get_data(as_text=True)
    for text in (organisation.inn, organisation.kpp, organisation.ogrn, contract.number):
        assert text in html
    assert owner.email in html
    assert "organisation member: Owner" in html
    assert "Legal entity" in html


@pytest.mark.parametrize("customer_id", ["999999", "99999999999999999999999"])
def test_unknown_customer_is_404(client, db_session, customer_id):
    sign_in_staff(client, db_session, "operator", language="en")
    assert client.get(f"/admin/customers/{customer_id}").status_code == 404
    assert client.get(f"/admin/customers/{customer_id}/edit").status_code == 404


# --- editing --------------------------------------------------------------------------------


def edit_data(customer: Customer, **changes) -> dict:
    data = {
        "full_name": customer.full_name,
        "phone": customer.phone or "",
        "email": customer.email or "",
        "postal_address": customer.postal_address or "",
        "birth_date": customer.birth_date.isoformat() if customer.birth_date else "",
        "notes": customer.notes or "",
    }
    if customer.lives_alone_disabled:
        data["lives_alone_disabled"] = "y"
    if customer.is_veteran:
        data["is_veteran"] = "y"
    return data | changes


def test_edit_form_shows_the_current_values(client, db_session, anna):
    sign_in_staff(client, db_session, "operator", language="en")
    html = client.get(f"/admin/customers/{anna.id}/edit").get_data(as_text=True)
    assert f'value="{anna.full_name}"' in html
    assert 'value="1950-05-17"' in html
    assert 'name="csrf_token"' in html


def test_edit_saves_redirects_to_the_card_and_audits_the_diff(client, db_session, anna):
    staff = sign_in_staff(client, db_session, "operator", language="en")
    old_phone = anna.phone
    response = post_form(
        client,
        f"/admin/customers/{anna.id}/edit",
        edit_data(anna, phone="8 (916) 000-11-22", notes="Звонить после 18:00"),
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/customers/{anna.id}")
    db_session.expire_all()
    customer = db_session.get(Customer, anna.id)
    assert customer.phone == "+79160001122"
    assert customer.notes == "Звонить после 18:00"
    [update] = events_of(db_session, staff, "update")
    assert update.object_type == "customer"
    assert update.object_id == anna.id
    assert update.changes == {
        "phone": [old_phone, "+79160001122"],
        "notes": [None, "Звонить после 18:00"],
    }
    card = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "saved" in card


def test_unticking_a_flag_is_a_change(client, db_session, anna):
    staff = sign_in_staff(client, db_session, "operator", language="en")
    data = edit_data(anna)
    del data["is_veteran"]
    assert post_form(client, f"/admin/customers/{anna.id}/edit", data).status_code == 303
    [update] = events_of(db_session, staff, "update")
    assert update.changes == {"is_veteran": ["True", "False"]}


@pytest.mark.parametrize(
    ("changes", "error", "kept"),
    [
        ({"phone": "12-34"}, "Enter a valid mobile phone number", 'value="12-34"'),
        ({"phone": "+7 495 123-45-67"}, "Enter a valid mobile phone number", "495 123-45-67"),
        ({"full_name": "   "}, "This field is required", None),
        ({"full_name": "Я" * 5000}, "Field cannot be longer than 300 characters", "Я" * 5000),
        ({"notes": "ж" * 5000}, "Field cannot be longer than 2000 characters", "ж" * 5000),
        ({"email": "not-an-email"}, "Invalid email address", 'value="not-an-email"'),
        ({"birth_date": "31.02.1990"}, "Not a valid date value", None),
        ({"birth_date": "2999-01-01"}, "cannot be in the future", 'value="2999-01-01"'),
    ],
)
def test_edit_with_errors_re_renders_with_the_message_and_typed_values(
    client, db_session, anna, changes, error, kept
):
    staff = sign_in_staff(client, db_session, "operator", language="en")
    typed_address = "ул. Новая, д. 1"
    response = post_form(
        client,
        f"/admin/customers/{anna.id}/edit",
        edit_data(anna, postal_address=typed_address, **changes),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert error in html
    assert "is-invalid" in html
    assert f'value="{typed_address}"' in html  # the other typed values stay too
    if kept:
        assert kept in html
    assert events_of(db_session, staff, "update") == []
    db_session.expire_all()
    assert db_session.get(Customer, anna.id).postal_address is None


@pytest.mark.parametrize(
    ("name", "phone"), [("<b>Иван</b>", None), ("Иван 😀", None), ("Иван 😀", "12-34")]
)
def test_a_person_named_with_markup_or_emoji_is_refused_next_to_the_field(
    client, db_session, anna, name, phone
):
    """The rule of sign-up; shown at once with the form's other errors."""
    staff = sign_in_staff(client, db_session, "operator", language="en")
    changes = {"full_name": name} | ({"phone": phone} if phone else {})
    response = post_form(client, f"/admin/customers/{anna.id}/edit", edit_data(anna, **changes))
    assert response.status_code == 200
    assert field_error(response, "full_name") == (
        "Write the name in letters: emoji and special symbols are not allowed."
    )
    assert field_value(response, "full_name") == name  # what was typed stays
    assert bool(field_error(response, "phone")) == bool(phone)
    assert events_of(db_session, staff, "update") == []
    db_session.expire_all()
    assert db_session.get(Customer, anna.id).full_name == anna.full_name


def test_an_organisation_keeps_the_sign_number_in_its_name(client, db_session):
    sign_in_staff(client, db_session, "operator", language="en")
    organisation = factories.make_organisation(db_session)
    school = factories.make_customer(
        db_session,
        kind="organisation",
        full_name=organisation.name,
        organisation_id=organisation.id,
    )
    response = post_form(
        client, f"/admin/customers/{school.id}/edit", edit_data(school, full_name="МБОУ СОШ № 5")
    )
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(Customer, school.id).full_name == "МБОУ СОШ № 5"
    refused = post_form(
        client,
        f"/admin/customers/{school.id}/edit",
        edit_data(school, full_name="<b>МБОУ СОШ № 5</b>"),
    )
    assert refused.status_code == 200
    assert "special symbols" in field_error(refused, "full_name")
    assert field_value(refused, "full_name") == "<b>МБОУ СОШ № 5</b>"


def test_edit_without_csrf_token_is_refused(client, db_session, anna):
    sign_in_staff(client, db_session, "operator", language="en")
    response = client.post(f"/admin/customers/{anna.id}/edit", data=edit_data(anna))
    assert response.status_code == 400
