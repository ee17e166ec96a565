"""The customer registry's service: search terms, phone formats, Cyrillic case, editing.

Assertions look only at the customers each test creates: other tests' data may share the
database (names and phones repeat), so "found" means "among the results".
"""

import uuid
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from portal.models import AuditEvent, Customer
from portal.services import customers
from portal.services.errors import DomainError, NotFound
from tests import factories
from tests.conftest import english_request


def found(session, term: str) -> list[Customer]:
    return list(session.scalars(customers.search_customers(term)))


def unique_digits(count: int) -> str:
    return f"{uuid.uuid4().int % 10**count:0{count}d}"


# --- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Иванов   Иван ", "Иванов Иван"),
        ("", ""),
        (None, ""),
        ("я" * 5000, "я" * customers.MAX_TERM_LENGTH),
    ],
)
def test_clean_term(raw, expected):
    assert customers.clean_term(raw) == expected


def test_case_variants_cover_how_names_are_written():
    variants = customers.case_variants("иВАНОВА анна")
    assert "иВАНОВА анна" in variants
    assert "Иванова анна" in variants
    assert "Иванова Анна" in variants
    assert "иванова анна" in variants
    assert "ИВАНОВА АННА" in variants
    assert len(variants) == len(set(variants))


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("89161234567", ["+79161234567"]),
        ("79161234567", ["+79161234567"]),
        ("9161234567", ["9161234567"]),
        ("8916123", ["8916123", "+7916123"]),
        ("1234", []),
    ],
)
def test_phone_patterns(digits, expected):
    assert customers.phone_patterns(digits) == expected


def test_age_and_vulnerability():
    today = date(2026, 3, 1)
    assert customers.age_on(date(1960, 3, 1), today) == 66
    assert customers.age_on(date(1960, 3, 2), today) == 65
    assert customers.age_on(None, today) is None
    person = Customer(
        full_name="x", birth_date=date(1950, 1, 1), lives_alone_disabled=True, is_veteran=True
    )
    assert customers.vulnerability_of(person, today) == [
        "lives_alone_disabled",
        "veteran",
        "senior",
    ]
    young = Customer(
        full_name="y", birth_date=date(1990, 1, 1), lives_alone_disabled=False, is_veteran=False
    )
    assert customers.vulnerability_of(young, today) == []


# --- search against the database ------------------------------------------------------------


@pytest.fixture
def registry(db_session):
    """Three customers who differ in every searchable detail."""
    anna = factories.make_customer(
        db_session, full_name="Иванова Анна Сергеевна", phone="+79161234567", email="anna.i@mail.ru"
    )
    factories.make_account(db_session, anna, number="59" + unique_digits(8))
    petr = factories.make_customer(
        db_session, full_name="Петров Пётр Ильич", phone="+79035550011", email="petrov@yandex.ru"
    )
    petr_account = factories.make_account(db_session, petr, number="58" + unique_digits(8))
    petr_account.premises.address = "г. Выкса, ул. Островского, д. 7, кв. 3"
    organisation = factories.make_organisation(db_session, inn="5247" + unique_digits(6))
    company = factories.make_customer(
        db_session,
        kind="organisation",
        full_name="ООО «Выксунский хлеб»",
        phone=None,
        email="office@bread.example.com",
        organisation_id=organisation.id,
    )
    contract = factories.make_contract(db_session, organisation, number=f"Д-{unique_digits(9)}")
    factories.make_account(
        db_session, company, number="57" + unique_digits(8), contract_id=contract.id
    )
    db_session.flush()
    return {"anna": anna, "petr": petr, "company": company}


def account_number(customer: Customer) -> str:
    return customer.accounts[0].number


@pytest.mark.parametrize(
    ("term", "who"),
    [
        (lambda r: account_number(r["anna"]), "anna"),  # the whole account number
        (lambda r: account_number(r["anna"])[:7], "anna"),  # its first digits
        (lambda r: f"{account_number(r['petr'])[:2]} {account_number(r['petr'])[2:6]}", "petr"),
        (lambda r: r["company"].organisation.inn, "company"),  # ИНН
        (lambda r: r["company"].accounts[0].contract.number.lower(), "company"),  # any case
        ("Иванова", "anna"),
        ("иванова", "anna"),
        ("ИВАНОВА", "anna"),
        ("анна сергеевна", "anna"),
        ("ванова", "anna"),  # a part of a word
        ("пётр ильич", "petr"),
        ("островского", "petr"),
        ("Островского, д. 7", "petr"),
        ("8 916 123-45-67", "anna"),
        ("+7 (916) 123-45-67", "anna"),
        ("9161234567", "anna"),
        ("89161234567", "anna"),
        ("903 555", "petr"),
        ("ANNA.I@MAIL", "anna"),
        ("yandex", "petr"),
        ("выксунский", "company"),
    ],
)
def test_search_finds_by_every_detail(db_session, registry, term, who):
    term = term(registry) if callable(term) else term
    results = found(db_session, term)
    assert registry[who] in results
    assert [name for name, customer in registry.items() if customer in results] == [who]


def test_empty_term_lists_everyone_by_name(db_session, registry):
    everyone = found(db_session, "")
    assert all(customer in everyone for customer in registry.values())
    names = [(customer.full_name, customer.id) for customer in everyone]
    assert names == sorted(names)


@pytest.mark.parametrize("term", ["%", "_", "Щъыэ", "0000000000000", "x" * 5000])
def test_search_finds_nothing_for_unrelated_or_wildcard_terms(db_session, registry, term):
    results = found(db_session, term)
    assert not any(customer in results for customer in registry.values())


def test_search_with_a_term_is_audited(db_session):
    staff = factories.make_staff(db_session)
    customers.record_search(db_session, "  Иванова ", staff=staff, ip="10.0.0.1")
    customers.record_search(db_session, "   ", staff=staff, ip="10.0.0.1")
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.staff_id == staff.id)).all()
    assert [(e.action, e.object_type, e.summary) for e in events] == [
        ("search", "customer", "Иванова")
    ]


# --- the card and editing -------------------------------------------------------------------


def test_open_card_records_a_view_and_collects_portal_users(db_session, registry):
    staff = factories.make_staff(db_session)
    user = factories.make_user(db_session)
    factories.link(db_session, user, registry["anna"].accounts[0])
    card = customers.open_card(db_session, registry["anna"].id, staff=staff, ip="10.0.0.2")
    assert card.customer is registry["anna"]
    assert [entry.user for entry in card.portal_users] == [user]
    assert card.portal_users[0].account_numbers == [account_number(registry["anna"])]
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.staff_id == staff.id))
    assert event.action == "view"
    assert (event.object_type, event.object_id, event.staff_id) == (
        "customer",
        registry["anna"].id,
        staff.id,
    )


def test_open_card_of_an_unknown_customer_is_not_found(db_session):
    staff = factories.make_staff(db_session)
    for customer_id in (999_999, 0, 10**30):
        with pytest.raises(NotFound):
            customers.open_card(db_session, customer_id, staff=staff, ip=None)


def test_update_customer_normalises_and_audits_the_diff(db_session, registry):
    staff = factories.make_staff(db_session)
    anna = registry["anna"]
    changes = customers.update_customer(
        db_session,
        anna,
        staff,
        "10.0.0.3",
        full_name="  Иванова   Анна Сергеевна ",
        phone="8 (903) 111-22-33",
        email=" Anna.New@Mail.RU ",
        is_veteran=True,
    )
    assert changes == {
        "phone": ["+79161234567", "+79031112233"],
        "email": ["anna.i@mail.ru", "anna.new@mail.ru"],
        "is_veteran": ["False", "True"],
    }
    assert anna.phone == "+79031112233"
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.staff_id == staff.id))
    assert event.action == "update"
    assert event.changes == changes
    assert event.object_id == anna.id


def test_update_customer_without_changes_records_nothing(db_session, registry):
    staff = factories.make_staff(db_session)
    anna = registry["anna"]
    assert customers.update_customer(db_session, anna, staff, None, full_name=anna.full_name) == {}
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.staff_id == staff.id)) is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"full_name": "   "}, "full_name"),
        ({"full_name": "Иванов\x00 Иван"}, "full_name"),
        ({"full_name": "Иванов \u202eнавИ"}, "full_name"),
        ({"postal_address": "ул. Ленина\x07"}, "postal_address"),
        ({"birth_date": date(2999, 1, 1)}, "birth_date"),
    ],
)
def test_update_customer_refuses_bad_values(app, db_session, registry, fields, field):
    staff = factories.make_staff(db_session)
    with english_request(app), pytest.raises(DomainError) as refusal:
        customers.update_customer(db_session, registry["anna"], staff, None, **fields)
    assert refusal.value.field == field


@time_machine.travel(datetime(2030, 12, 31, 21, 30, tzinfo=UTC), tick=False)
def test_a_birth_date_is_in_the_future_by_the_supplier_calendar(app, db_session, registry):
    """At 00:30 on 1 January 2031 in Moscow (still 31 December in UTC) a child born that
    day can be recorded; the next day is refused."""
    staff = factories.make_staff(db_session)
    anna = registry["anna"]
    with english_request(app), pytest.raises(DomainError) as refusal:
        customers.update_customer(db_session, anna, staff, None, birth_date=date(2031, 1, 2))
    assert refusal.value.field == "birth_date"
    customers.update_customer(db_session, anna, staff, None, birth_date=date(2031, 1, 1))
    assert anna.birth_date == date(2031, 1, 1)


def test_update_customer_clears_optional_contacts(db_session, registry):
    staff = factories.make_staff(db_session)
    petr = registry["petr"]
    customers.update_customer(db_session, petr, staff, None, phone="", email="", notes="  ")
    assert (petr.phone, petr.email, petr.notes) == (None, None, None)


def test_update_customer_keeps_line_breaks_in_notes_but_no_other_control_characters(
    db_session, registry
):
    staff = factories.make_staff(db_session)
    petr = registry["petr"]
    customers.update_customer(
        db_session,
        petr,
        staff,
        None,
        notes="Первая\r\nВторая\x00\tстрока ",
    )
    assert petr.notes == "Первая\nВторая\tстрока"


def test_an_organisation_keeps_the_punctuation_and_signs_of_its_name(db_session, registry):
    staff = factories.make_staff(db_session)
    company = registry["company"]
    for name in ("ООО «Строй+» №1", "МБОУ СОШ № 5"):
        customers.update_customer(db_session, company, staff, None, full_name=name)
        assert company.full_name == name


@pytest.mark.parametrize("name", ["<b>Иван</b>", "Иван 😀", "ООО «Строй+» №1", "12345"])
def test_a_person_is_named_by_the_rule_of_sign_up(app, db_session, registry, name):
    staff = factories.make_staff(db_session)
    anna = registry["anna"]
    with english_request(app), pytest.raises(DomainError) as refusal:
        customers.update_customer(db_session, anna, staff, None, full_name=name)
    assert refusal.value.field == "full_name"
    assert anna.full_name == "Иванова Анна Сергеевна"


@pytest.mark.parametrize("name", ["<b>ООО Ромашка</b>", "ООО Ромашка 😀", "ООО\x00Ромашка"])
def test_an_organisation_name_without_markup_or_emoji(app, db_session, registry, name):
    staff = factories.make_staff(db_session)
    with english_request(app), pytest.raises(DomainError) as refusal:
        customers.update_customer(db_session, registry["company"], staff, None, full_name=name)
    assert refusal.value.field == "full_name"
