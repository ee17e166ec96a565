"""The demo-data seeder: enough believable data, valid numbers, the same data for the same seed."""

from datetime import UTC, date, datetime, timedelta

import phonenumbers
import pytest
import time_machine
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from portal.models import (
    STAFF_ROLES,
    Account,
    AccountLink,
    Base,
    Bill,
    Customer,
    Meter,
    Office,
    Organisation,
    OrganisationMember,
    Staff,
    User,
)
from portal.services import names
from portal.services.clock import local_today
from portal.services.demo import (
    RESIDENT_PASSWORD,
    SECRET_ALPHABET,
    STAFF_PASSWORD,
    is_seeded,
    is_valid_inn,
    is_valid_ogrn,
    seed,
)
from tests.conftest import english_request

RESIDENTS = 50
ORGANISATIONS = 4


def _fresh_session() -> Session:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    return Session(engine)


@pytest.fixture(scope="module")
def seed_day() -> date:
    """The supplier's day the module's data is seeded for (one clock reading, so a run
    across midnight cannot compare the data with another day)."""
    return local_today()


@pytest.fixture(scope="module")
def seeded(seed_day):
    with _fresh_session() as session:
        logins = seed(session, residents=RESIDENTS, organisations=ORGANISATIONS, today=seed_day)
        yield session, logins


def _count(session: Session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _snapshot(seed_number: int) -> tuple[list[str], list[str], list[str]]:
    with _fresh_session() as session:
        seed(
            session,
            seed_number=seed_number,
            residents=30,
            organisations=2,
            today=date(2026, 11, 20),
        )
        numbers = list(session.scalars(select(Account.number).order_by(Account.id)))
        codes = list(session.scalars(select(Account.secret_code).order_by(Account.id)))
        names = list(session.scalars(select(Customer.full_name).order_by(Customer.id)))
    return numbers, codes, names


def test_counts(seeded):
    session, _logins = seeded
    assert _count(session, Customer, Customer.kind == "person") >= RESIDENTS
    assert set(session.scalars(select(Staff.role))) == set(STAFF_ROLES)
    assert _count(session, Organisation) == ORGANISATIONS
    assert _count(session, Customer, Customer.kind == "organisation") == ORGANISATIONS
    assert _count(session, Office) == 3
    assert _count(session, AccountLink) > 0


def test_is_seeded_and_refuses_a_second_run():
    with _fresh_session() as session:
        assert not is_seeded(session)
        seed(session, residents=5, organisations=1)
        assert is_seeded(session)
        with pytest.raises(RuntimeError):
            seed(session, residents=5, organisations=1)


def test_same_seed_same_data_other_seed_other_data():
    first = _snapshot(7)
    assert _snapshot(7) == first
    other = _snapshot(8)
    assert other[0] != first[0]
    assert other[2] != first[2]


def test_every_phone_is_a_valid_russian_number(seeded):
    session, _logins = seeded
    phones = [
        *session.scalars(select(Customer.phone)),
        *session.scalars(select(User.phone)),
        *session.scalars(select(Staff.phone)),
    ]
    for office in session.scalars(select(Office)):
        phones += office.phones.split(", ")
    assert phones
    for phone in phones:
        number = phonenumbers.parse(phone, "RU")
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.region_code_for_number(number) == "RU", phone


def test_every_name_passes_the_rule_of_its_kind(app, seeded):
    """Sign-up, profile and back office would accept every seeded name as it is."""
    session, _logins = seeded
    people = [
        *session.scalars(select(User.full_name)),
        *session.scalars(select(Staff.full_name)),
        *session.scalars(select(Customer.full_name).where(Customer.kind == "person")),
    ]
    companies = [
        *session.scalars(select(Organisation.name)),
        *session.scalars(select(Customer.full_name).where(Customer.kind == "organisation")),
    ]
    assert len(people) > RESIDENTS
    assert len(companies) >= 2 * ORGANISATIONS
    with english_request(app):
        assert [name for name in people if names.person_name(name) != name] == []
        assert [name for name in companies if names.organisation_name(name) != name] == []


def test_checksums_accept_known_numbers_and_refuse_typos():
    assert is_valid_inn("7707083893")  # a company
    assert not is_valid_inn("7707083894")
    assert is_valid_inn("500100732259")  # a person
    assert not is_valid_inn("500100732258")
    assert is_valid_ogrn("1027700132195")
    assert not is_valid_ogrn("1027700132196")
    assert is_valid_ogrn("304500116000157")  # ОГРНИП


def test_organisations_have_valid_registration_numbers(seeded):
    session, _logins = seeded
    organisations = list(session.scalars(select(Organisation)))
    assert any(len(o.inn) == 12 for o in organisations), "one sole trader (ИП)"
    for organisation in organisations:
        assert is_valid_inn(organisation.inn), organisation.inn
        assert is_valid_ogrn(organisation.ogrn), organisation.ogrn
        if len(organisation.inn) == 10:
            assert organisation.kpp
            assert len(organisation.kpp) == 9
            assert organisation.kpp.isdigit()
        else:
            assert organisation.kpp is None


def test_each_organisation_has_an_owner_and_contract_accounts(seeded):
    session, _logins = seeded
    for organisation in session.scalars(select(Organisation)):
        roles = [member.role for member in organisation.members]
        assert "owner" in roles, organisation.name
        assert organisation.contracts
        for contract in organisation.contracts:
            assert contract.accounts
            assert {account.category for account in contract.accounts} == {"others"}


def test_account_numbers_are_unique_and_codes_unambiguous(seeded):
    session, _logins = seeded
    accounts = list(session.scalars(select(Account)))
    numbers = [account.number for account in accounts]
    assert len(numbers) == len(set(numbers))
    for account in accounts:
        assert len(account.number) == 10
        assert account.number.isdigit()
        assert len(account.secret_code) == 6
        assert set(account.secret_code) <= set(SECRET_ALPHABET)
        assert account.services, account.number
        assert 1 <= len(account.meters) <= 3
        assert len({meter.service for meter in account.meters}) == len(account.meters)


def test_meters_have_dates_and_some_need_verification(seeded, seed_day):
    session, _logins = seeded
    meters = list(session.scalars(select(Meter)))
    today = seed_day
    for meter in meters:
        assert isinstance(meter.verification_due, date)
        assert not isinstance(meter.verification_due, datetime)
        assert meter.installed_on < today
    assert any(meter.verification_due < today for meter in meters)
    assert any(today <= meter.verification_due <= today + timedelta(days=30) for meter in meters)
    assert {meter.zones for meter in meters if meter.service == "electricity"} >= {1, 2}


@time_machine.travel(datetime(2030, 12, 31, 21, 30, tzinfo=UTC), tick=False)
def test_by_default_the_data_is_placed_around_the_supplier_day():
    """At 00:30 on 1 January 2031 in Moscow (still 31 December in UTC) the current period
    is January: the history closes every period up to December 2030. The clock is years
    from the real one, so only the supplier's clock can make this pass."""
    with _fresh_session() as session:
        seed(session, residents=5, organisations=1, history_months=2)
        periods = set(session.scalars(select(Bill.period)))
        installed = set(session.scalars(select(Meter.installed_on)))
    assert periods == {date(2030, 11, 1), date(2030, 12, 1)}
    assert max(installed) < date(2031, 1, 1)


def test_datetimes_are_timezone_aware(seeded):
    session, _logins = seeded
    consents = [c for c in session.scalars(select(Customer.consent_given_at)) if c]
    assert consents
    assert all(moment.tzinfo is not None for moment in consents)


def test_logins_work_and_spare_accounts_are_unlinked(seeded):
    session, logins = seeded
    assert {login.role for login in logins.staff} == set(STAFF_ROLES)
    admin = session.scalar(select(Staff).where(Staff.email == "admin@demo.portal"))
    assert admin.check_password(STAFF_PASSWORD)

    assert logins.residents[0].email == "resident@demo.portal"
    resident = session.scalar(select(User).where(User.email == "resident@demo.portal"))
    assert resident.check_password(RESIDENT_PASSWORD)
    assert resident.is_confirmed
    assert resident.consents
    linked = {link.account.number for link in resident.account_links}
    assert logins.residents[0].account_number in linked

    assert 2 <= len(logins.spare_accounts) <= 3
    for spare in logins.spare_accounts:
        account = session.scalar(select(Account).where(Account.number == spare.account_number))
        assert account.secret_code == spare.secret_code
        assert not account.links
    owners = _count(session, OrganisationMember, OrganisationMember.role == "owner")
    assert owners == ORGANISATIONS
    assert "resident@demo.portal" in logins.as_text()
