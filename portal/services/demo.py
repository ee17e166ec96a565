"""Deterministic demo data: staff, residents, organisations, accounts, meters and offices,
and a year of billing history: tariffs, norms, key rates, readings, closed periods with
bills and penalties, and payments.

``seed(session)`` fills an empty database with a small town's worth of believable Russian
data (Faker ``ru_RU``) and returns the logins a newcomer needs. The same ``seed_number``
always gives the same people, numbers and codes; dates are placed relative to today.
Customers' e-mail addresses are on reserved domains (example.com/.org/.net, demo.portal),
so no demo message can reach a real mailbox.
"""

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import phonenumbers
from faker import Faker
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import generate_password_hash

from portal.models import (
    Account,
    AccountLink,
    AccountService,
    Bill,
    Channel,
    Consent,
    ConsumptionNorm,
    Contract,
    Customer,
    CustomerKind,
    KeyRate,
    Meter,
    MeterStatus,
    Office,
    Organisation,
    OrganisationMember,
    OrgRole,
    Payment,
    Premises,
    Reading,
    Staff,
    StaffRole,
    Tariff,
    User,
)
from portal.services import billing, ledger, names
from portal.services import settings as domain_settings
from portal.services.clock import local_today, supplier_zone, utcnow
from portal.services.months import add_months
from portal.services.numbers import money

STAFF_PASSWORD = "demo-staff-2026"
RESIDENT_PASSWORD = "demo-resident-2026"
CONSENT_TEXT_VERSION = "2026-01"

CITY = "г. Выкса"
POSTAL_PREFIX = "607060, Нижегородская обл."
TAX_OFFICE = "5247"  # Межрайонная ИФНС по Нижегородской области, Выкса
REGION = "52"
DISTRICTS = ("Центральный", "мкр. Гоголя", "мкр. Юбилейный", "мкр. Жуковского", "Шиморское")
GARDEN_SOCIETIES = ("Рябинка", "Ветеран", "Металлург", "Родник", "Мечта")
MOBILE_PREFIXES = ("903", "905", "910", "915", "916", "920", "926", "985")
CITY_PHONE_PREFIX = "+783177"  # Выкса: 8 (83177) x-xx-xx
SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
LINKED_RESIDENTS = 20

STAFF_PLAN = (
    (StaffRole.OPERATOR, "operator@demo.portal", "Специалист по абонентскому обслуживанию"),
    (StaffRole.OPERATOR, "operator2@demo.portal", "Специалист по абонентскому обслуживанию"),
    (StaffRole.METERING, "metering@demo.portal", "Инженер по учёту энергоресурсов"),
    (StaffRole.BILLING, "billing@demo.portal", "Специалист по расчётам с потребителями"),
    (StaffRole.SUPERVISOR, "supervisor@demo.portal", "Начальник отдела по работе с потребителями"),
    (StaffRole.ADMIN, "admin@demo.portal", "Администратор портала"),
)

WEEKDAY_HOURS = ["09:00", "18:00", "13:00", "14:00"]
FRIDAY_HOURS = ["09:00", "17:00", "13:00", "14:00"]
SATURDAY_HOURS = ["10:00", "14:00", None, None]
OFFICE_PLAN = (
    # name, address, district, windows, open on Saturday
    ("Центральный офис обслуживания", "ул. Ленина, д. 12", "Центральный", 4, True),
    ("Офис в мкр. Гоголя", "мкр. Гоголя, д. 45", "мкр. Гоголя", 2, False),
    ("Офис в мкр. Юбилейный", "мкр. Юбилейный, д. 8", "мкр. Юбилейный", 3, False),
)

COMPANY_ROOTS = ("Вык", "Ока", "Металл", "Сталь", "Лес", "Тепло", "Альфа", "Гранд", "Волга")
COMPANY_TRADES = ("Торг", "Строй", "Сервис", "Хлеб", "Пром", "Мебель", "Авто", "Фарм")


@dataclass(frozen=True)
class MeterKind:
    models: tuple[str, ...]
    whole_digits: int
    fraction_digits: int
    verification_years: int


METER_KINDS = {
    "electricity": MeterKind(("Меркурий 201.5", "Нева 101 1S0", "СЕ 101 R5"), 6, 1, 16),
    "electricity_multi": MeterKind(("Нева МТ 124", "Меркурий 200.02", "СЕ 102М R5"), 6, 1, 16),
    "cold_water": MeterKind(("ВСКМ 90-15", "СВК-15Х", "Пульсар 15Х"), 5, 3, 6),
    "hot_water": MeterKind(("СГВ-15", "ВСКМ 90-15 ДГ", "Пульсар 15Г"), 5, 3, 4),
    "heat": MeterKind(("Пульсар 15", "СТК-15", "Sanext Mono RU"), 5, 3, 4),
}


# --- what the newcomer is told ------------------------------------------------------------


@dataclass(frozen=True)
class StaffLogin:
    email: str
    password: str
    role: str
    full_name: str


@dataclass(frozen=True)
class ResidentLogin:
    email: str
    password: str
    full_name: str
    account_number: str
    secret_code: str


@dataclass(frozen=True)
class CompanyLogin:
    email: str
    password: str
    role: str
    organisation: str


@dataclass(frozen=True)
class SpareAccount:
    """An account no portal user has linked yet: sign up and link it with these."""

    account_number: str
    secret_code: str
    address: str


@dataclass
class DemoLogins:
    staff: list[StaffLogin]
    residents: list[ResidentLogin]
    companies: list[CompanyLogin]
    spare_accounts: list[SpareAccount]

    def as_text(self) -> str:
        lines = ["Staff (back office):"]
        lines += [f"  {s.email} / {s.password}  [{s.role}] {s.full_name}" for s in self.staff]
        lines.append("Residents (portal):")
        lines += [
            f"  {r.email} / {r.password}  account {r.account_number}, code {r.secret_code}"
            for r in self.residents
        ]
        lines.append("Company users (portal):")
        lines += [
            f"  {c.email} / {c.password}  [{c.role}] {c.organisation}" for c in self.companies
        ]
        lines.append("Accounts to link after signing up (number / code):")
        lines += [
            f"  {a.account_number} / {a.secret_code}  {a.address}" for a in self.spare_accounts
        ]
        return "\n".join(lines)


# --- check digits of Russian registration numbers ---------------------------------------

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11_WEIGHTS = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _check_digit(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10)


def complete_inn(body: str) -> str:
    """Append the check digit(s): 9 digits → a company's ИНН, 10 → a person's ИНН."""
    if len(body) == 9:
        return body + _check_digit(body, _INN10_WEIGHTS)
    if len(body) == 10:
        body += _check_digit(body, _INN11_WEIGHTS)
        return body + _check_digit(body, _INN12_WEIGHTS)
    raise ValueError("an ИНН body has 9 or 10 digits")


def is_valid_inn(inn: str) -> bool:
    if not inn.isdigit() or len(inn) not in (10, 12):
        return False
    return complete_inn(inn[: len(inn) - (1 if len(inn) == 10 else 2)]) == inn


def complete_ogrn(body: str) -> str:
    """Append the check digit: 12 digits → ОГРН, 14 digits → ОГРНИП."""
    if len(body) not in (12, 14):
        raise ValueError("an ОГРН body has 12 or 14 digits")
    modulus = 11 if len(body) == 12 else 13
    return body + str(int(body) % modulus % 10)


def is_valid_ogrn(ogrn: str) -> bool:
    return ogrn.isdigit() and len(ogrn) in (13, 15) and complete_ogrn(ogrn[:-1]) == ogrn


# --- the seeder ---------------------------------------------------------------------------


def is_seeded(session: Session) -> bool:
    return session.scalar(select(Staff.id).limit(1)) is not None


def seed(
    session: Session,
    *,
    seed_number: int = 2026,
    residents: int = 220,
    organisations: int = 5,
    history_months: int = 12,
    today: date | None = None,
) -> DemoLogins:
    """Fill an empty database with demo data and commit; return the logins to print.

    ``history_months`` closed billing periods before the current month come with it:
    readings, charges, penalties, bills and payments (see :func:`seed_billing_history`).
    Dates are placed relative to ``today``, by default the supplier's calendar day.
    """
    if is_seeded(session):
        raise RuntimeError("The database already holds staff; demo data goes into an empty one.")
    if organisations > len(COMPANY_ROOTS) * len(COMPANY_TRADES) // 2:
        raise ValueError("Too many demo organisations for the pool of company names.")
    seeder = _Seeder(seed_number, today)
    staff = seeder.add_staff()
    seeder.add_offices()
    people = [seeder.add_resident(showcase=index == 0) for index in range(residents)]
    logins = DemoLogins(
        staff=staff,
        residents=seeder.add_resident_users(people),
        companies=seeder.add_organisations(organisations),
        spare_accounts=seeder.spare_accounts(people),
    )
    session.add_all(seeder.objects)
    session.commit()
    session.expunge_all()  # the history commits often: keep the identity map small
    seed_billing_history(
        session, months=history_months, seed_number=seed_number, today=seeder.today
    )
    seed_appeals(session, seed_number=seed_number, today=seeder.today)
    from portal.services.demo_visits import seed_visits

    seed_visits(session, seed_number=seed_number, now=seeder.now)
    from flask import has_app_context

    from portal.services.applications import demo_applications

    if has_app_context():  # its letters and contract PDFs are rendered by the app
        demo_applications.seed(session)
    from portal.services import demo_quality

    if has_app_context():  # its criteria are translated and its report rendered: `setup --demo`
        demo_quality.seed(session, seed_number=seed_number, today=seeder.today)
    return logins


class _Seeder:
    """Builds the objects; every random choice comes from one seeded Faker and one Random."""

    def __init__(self, seed_number: int, today: date | None = None):
        self.fake = Faker("ru_RU")
        self.fake.seed_instance(seed_number)
        self.rng = random.Random(seed_number)
        # The supplier's calendar day, as the portal counts it (not the server's date); a
        # given day is seeded as at its local noon.
        if today is None:
            self.now = utcnow()
            self.today = self.now.astimezone(supplier_zone()).date()
        else:
            self.today = today
            self.now = datetime.combine(today, time(12), tzinfo=supplier_zone()).astimezone(UTC)
        self.staff_hash = generate_password_hash(STAFF_PASSWORD)
        self.resident_hash = generate_password_hash(RESIDENT_PASSWORD)
        self.objects: list = []
        self.streets = self._street_pool()
        self._used: set[str] = set()
        self._contract_seq = self.rng.randint(100, 150)

    # small generators

    def _unique(self, make) -> str:
        value = make()
        while value in self._used:
            value = make()
        self._used.add(value)
        return value

    def _digits(self, count: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(count))

    def mobile(self) -> str:
        return self._unique(lambda: f"+79{self.rng.choice(MOBILE_PREFIXES)[1:]}{self._digits(7)}")

    def city_phone(self) -> str:
        number = phonenumbers.parse(f"{CITY_PHONE_PREFIX}{self.rng.randint(20000, 79999)}")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    def full_name(self, female: bool | None = None) -> str:
        """A person's name, by the rule sign-up and the back office apply."""
        fake = self.fake
        if female is None:
            female = self.rng.random() < 0.55
        if female:
            name = (
                f"{fake.last_name_female()} {fake.first_name_female()} {fake.middle_name_female()}"
            )
        else:
            name = f"{fake.last_name_male()} {fake.first_name_male()} {fake.middle_name_male()}"
        return names.person_name(name)

    def days_ago(self, low: int, high: int) -> date:
        return self.today - timedelta(days=self.rng.randint(low, high))

    def moment_ago(self, low_days: int, high_days: int) -> datetime:
        return self.now - timedelta(
            days=self.rng.randint(low_days, high_days), minutes=self.rng.randint(0, 1439)
        )

    def birth_date(self) -> date:
        age = self.rng.randint(67, 92) if self.rng.random() < 0.22 else self.rng.randint(19, 64)
        return self.today - timedelta(days=round(age * 365.25) + self.rng.randint(0, 360))

    def secret_code(self) -> str:
        return "".join(self.rng.choice(SECRET_ALPHABET) for _ in range(6))

    def account_number(self) -> str:
        return self._unique(lambda: "52" + self._digits(8))

    # addresses

    def _street_pool(self) -> list[tuple[str, str]]:
        titles: list[str] = []
        while len(titles) < 24:
            title = self.fake.street_title()
            if title not in titles:
                titles.append(title)
        return [(f"ул. {title}", DISTRICTS[i % 4]) for i, title in enumerate(titles)]

    def flat(self) -> Premises:
        street, district = self.rng.choice(self.streets)
        address = f"{CITY}, {street}, д. {self.rng.randint(1, 60)}, кв. {self.rng.randint(1, 120)}"
        return self._premises(address, district, 28, 120, self.rng.randint(1, 5))

    def house(self) -> Premises:
        street, district = self.rng.choice(self.streets)
        address = f"{CITY}, {street}, д. {self.rng.randint(1, 140)}"
        return self._premises(address, district, 60, 120, self.rng.randint(1, 5))

    def dacha(self) -> Premises:
        society = self.rng.choice(GARDEN_SOCIETIES)
        address = f"{CITY}, СНТ «{society}», уч. {self.rng.randint(1, 250)}"
        return self._premises(address, DISTRICTS[4], 28, 60, 1)

    def non_residential(self) -> Premises:
        street, district = self.rng.choice(self.streets)
        address = f"{CITY}, {street}, д. {self.rng.randint(1, 90)}, пом. {self.rng.randint(1, 12)}"
        return self._premises(address, district, 40, 900, 0)

    def _premises(self, address: str, district: str, low: int, high: int, residents: int):
        area = Decimal(self.rng.randint(low * 10, high * 10)) / 10
        premises = Premises(
            address=address,
            district=district,
            area_m2=area.quantize(Decimal("0.01")),
            residents=residents,
            # Who owns it: one owner, a couple for a larger household (ПП 354 п. 56(2)).
            owners=2 if residents > 2 else 1,
        )
        self.objects.append(premises)
        return premises

    # staff and offices

    def add_staff(self) -> list[StaffLogin]:
        logins = []
        for role, email, position in STAFF_PLAN:
            staff = Staff(
                email=email,
                full_name=self.full_name(),
                phone=self.mobile(),
                position=position,
                role=role,
                password_hash=self.staff_hash,
            )
            self.objects.append(staff)
            logins.append(StaffLogin(email, STAFF_PASSWORD, role, staff.full_name))
        return logins

    def add_offices(self) -> None:
        for name, street, district, windows, saturday in OFFICE_PLAN:
            plan = {day: list(WEEKDAY_HOURS) for day in ("mon", "tue", "wed", "thu")}
            plan["fri"] = list(FRIDAY_HOURS)
            if saturday:
                plan["sat"] = list(SATURDAY_HOURS)
            phones = ", ".join((self.city_phone(), self.city_phone()))
            self.objects.append(
                Office(
                    name=name,
                    address=f"{CITY}, {street}",
                    phones=phones,
                    district=district,
                    weekly_plan=plan,
                    windows=windows,
                )
            )

    # residents

    def add_resident(self, showcase: bool = False) -> Customer:
        """A person with one account, or two (a dacha or a parent's flat) for about 10%."""
        first_home = self.house() if self.rng.random() < 0.2 and not showcase else self.flat()
        customer = Customer(
            kind=CustomerKind.PERSON,
            full_name=self.full_name(),
            birth_date=self.birth_date(),
            phone=self.mobile(),
            email=self.fake.unique.safe_email() if self.rng.random() < 0.7 else None,
            postal_address=f"{POSTAL_PREFIX}, {first_home.address}",
            lives_alone_disabled=self.rng.random() < 0.04,
            is_veteran=self.rng.random() < 0.05,
            consent_given_at=self.moment_ago(30, 1500) if self.rng.random() < 0.8 else None,
        )
        self.objects.append(customer)
        self.add_account(customer, first_home, showcase=showcase)
        if showcase or self.rng.random() < 0.1:
            second = self.dacha() if self.rng.random() < 0.5 else self.flat()
            self.add_account(customer, second, showcase=showcase)
        return customer

    def add_account(
        self,
        customer: Customer,
        premises: Premises,
        contract: Contract | None = None,
        showcase: bool = False,
    ) -> Account:
        opened_on = contract.signed_on if contract else self.days_ago(200, 7000)
        account = Account(
            number=self.account_number(),
            secret_code=self.secret_code(),
            category="others" if contract else "population",
            customer=customer,
            premises=premises,
            contract=contract,
            opened_on=opened_on,
        )
        services, metered = self._services_for(premises, contract is not None)
        self.objects.append(account)
        for service in services:
            self.objects.append(
                AccountService(account=account, service=service, started_on=opened_on)
            )
        for service in metered:
            self.objects.append(self.meter(account, service, showcase))
        return account

    def _services_for(self, premises: Premises, business: bool) -> tuple[list[str], list[str]]:
        """The services supplied, and the (at most three) of them that have a meter."""
        if "СНТ" in premises.address:
            return ["electricity"], ["electricity"]
        if "кв." not in premises.address and not business:
            return ["electricity", "cold_water"], ["electricity", "cold_water"]
        services = ["electricity", "heat", "cold_water", "hot_water"]
        chances = (("heat", 0.5 if business else 0.15), ("cold_water", 0.85), ("hot_water", 0.7))
        extra = [service for service, chance in chances if self.rng.random() < chance]
        return services, ["electricity"] + extra[:2]

    # meters

    def meter(self, account: Account, service: str, showcase: bool = False) -> Meter:
        zones = self.rng.choices((1, 2, 3), weights=(5, 4, 1))[0] if service == "electricity" else 1
        kind = METER_KINDS["electricity_multi" if zones > 1 else service]
        due = self._verification_due(kind.verification_years)
        remote = service == "electricity" and self.rng.random() < 0.15
        faulty = self.rng.random() < 0.03
        return Meter(
            account=account,
            service=service,
            serial_number=self._serial_number(service),
            model=self.rng.choice(kind.models),
            zones=zones,
            whole_digits=kind.whole_digits,
            fraction_digits=kind.fraction_digits,
            verification_due=due,
            installed_on=due - timedelta(days=round(kind.verification_years * 365.25)),
            seal_number=self._digits(7),
            status="faulty" if faulty and not showcase else "active",
            remote_read=remote and not showcase,
        )

    def _verification_due(self, years: int) -> date:
        """About 8% overdue, 10% due within 30 days, the rest later within the interval."""
        roll = self.rng.random()
        if roll < 0.08:
            offset = -self.rng.randint(1, 180)
        elif roll < 0.18:
            offset = self.rng.randint(1, 30)
        else:
            offset = self.rng.randint(31, round(years * 365.25) - 60)
        return self.today + timedelta(days=offset)

    def _serial_number(self, service: str) -> str:
        length = 8 if service == "electricity" else 10
        return self._unique(lambda: self._digits(length))

    # portal users of residents

    def add_resident_users(self, people: list[Customer]) -> list[ResidentLogin]:
        count = min(LINKED_RESIDENTS, max(1, len(people) // 4))
        linked = people[:1] + self.rng.sample(people[1:], count - 1)
        logins = []
        for index, customer in enumerate(linked, start=1):
            email = "resident@demo.portal" if index == 1 else f"resident{index}@demo.portal"
            customer.email = email
            user = self._portal_user(email, customer.full_name, customer.phone)
            customer.consent_given_at = user.email_confirmed_at
            for account in customer.accounts:
                self.objects.append(AccountLink(user=user, account=account, linked_at=self.now))
            first = customer.accounts[0]
            logins.append(
                ResidentLogin(
                    email, RESIDENT_PASSWORD, customer.full_name, first.number, first.secret_code
                )
            )
        return logins[:3]

    def _portal_user(self, email: str, full_name: str, phone: str) -> User:
        confirmed = self.moment_ago(1, 700)
        user = User(
            email=email,
            phone=phone,
            full_name=full_name,
            password_hash=self.resident_hash,
            email_confirmed_at=confirmed,
            language="ru",
            preferred_channel=self.rng.choice((Channel.EMAIL, Channel.EMAIL, Channel.SMS)),
        )
        consent = Consent(
            user=user,
            text_version=CONSENT_TEXT_VERSION,
            given_at=confirmed,
            ip_address=self.fake.ipv4_private(),
        )
        self.objects += [user, consent]
        return user

    def spare_accounts(self, people: list[Customer], count: int = 3) -> list[SpareAccount]:
        """Accounts nobody has linked, whose meters all take readings from the customer."""
        linked = {id(link.account) for link in self.objects if isinstance(link, AccountLink)}
        spare = []
        for customer in people:
            account = customer.accounts[0]
            takes_readings = all(m.status == "active" and not m.remote_read for m in account.meters)
            if id(account) not in linked and takes_readings:
                spare.append(
                    SpareAccount(account.number, account.secret_code, account.premises.address)
                )
            if len(spare) == count:
                break
        return spare

    # organisations

    def add_organisations(self, count: int) -> list[CompanyLogin]:
        logins = []
        for index in range(count):
            organisation, customer = self._organisation(sole_trader=index % 4 == 3)
            for _ in range(self.rng.randint(1, 3)):
                self._contract(organisation, customer)
            roles = tuple(OrgRole) if index == 0 else (OrgRole.OWNER,)
            for role in roles:
                email = (
                    f"owner{index + 1}@demo.portal"
                    if role == OrgRole.OWNER
                    else f"{role}@demo.portal"
                )
                user = self._portal_user(email, self.full_name(), self.mobile())
                self.objects.append(
                    OrganisationMember(organisation=organisation, user=user, role=role)
                )
                logins.append(CompanyLogin(email, RESIDENT_PASSWORD, role, organisation.name))
        return logins

    def _organisation(self, sole_trader: bool) -> tuple[Organisation, Customer]:
        street, _district = self.rng.choice(self.streets)
        legal_address = f"{POSTAL_PREFIX}, {CITY}, {street}, д. {self.rng.randint(1, 90)}"
        if sole_trader:
            name = f"ИП {self.full_name()}"
            inn = self._unique(lambda: complete_inn(TAX_OFFICE + self._digits(6)))
            kpp = None
            ogrn = complete_ogrn(f"3{self.rng.randint(4, 24):02d}{REGION}" + self._digits(9))
        else:
            name = self._unique(
                lambda: f"ООО «{self.rng.choice(COMPANY_ROOTS)}{self.rng.choice(COMPANY_TRADES)}»"
            )
            inn = self._unique(lambda: complete_inn(TAX_OFFICE + self._digits(5)))
            kpp = f"{TAX_OFFICE}01001"
            ogrn = complete_ogrn(
                f"1{self.rng.randint(2, 24):02d}{REGION}{TAX_OFFICE[2:]}" + self._digits(5)
            )
            legal_address += f", оф. {self.rng.randint(1, 30)}"
        name = names.organisation_name(name)  # the rule the back office applies
        organisation = Organisation(
            name=name, inn=inn, kpp=kpp, ogrn=ogrn, legal_address=legal_address
        )
        customer = Customer(
            kind=CustomerKind.ORGANISATION,
            full_name=name,
            organisation=organisation,
            phone=self.mobile(),
            email=self.fake.unique.safe_email(),
            postal_address=legal_address,
        )
        self.objects += [organisation, customer]
        return organisation, customer

    def _contract(self, organisation: Organisation, customer: Customer) -> None:
        signed_on = self.days_ago(60, 2500)
        self._contract_seq += self.rng.randint(1, 40)
        contract = Contract(
            number=f"Д-{signed_on.year}/{self._contract_seq:04d}",
            signed_on=signed_on,
            organisation=organisation,
        )
        self.objects.append(contract)
        for _ in range(self.rng.randint(1, 3)):
            self.add_account(customer, self.non_residential(), contract)


# --- billing history ----------------------------------------------------------------------

# Household prices of 2026 (₽ per unit, VAT included), close to those of Russian regions;
# businesses ("others") pay 1.6 times as much. Indexed by 9.9 % on 1 July 2026.
HOUSEHOLD_TARIFFS = {
    ("electricity", "total"): Decimal("6.43"),
    ("electricity", "day"): Decimal("7.38"),
    ("electricity", "night"): Decimal("3.12"),
    ("electricity", "peak"): Decimal("8.60"),
    ("electricity", "semi_peak"): Decimal("6.43"),
    ("cold_water", "total"): Decimal("48.20"),
    ("hot_water", "total"): Decimal("245.30"),
    ("heat", "total"): Decimal("2950.45"),
}
BUSINESS_FACTOR = Decimal("1.6")
TARIFF_CHANGE = date(2026, 7, 1)
TARIFF_INDEXATION = Decimal("1.099")
TARIFFS_FROM = date(2025, 1, 1)
# Monthly norms: kWh, m³ per resident; Gcal per m² of the premises.
NORMS = {
    "electricity": ("per_resident", Decimal("100")),
    "cold_water": ("per_resident", Decimal("4.85")),
    "hot_water": ("per_resident", Decimal("3.6")),
    "heat": ("per_m2", Decimal("0.0185")),
}
# The Bank of Russia key rate, per cent a year, from the day given. Plausible values close
# to the real decisions of 2024-2025, for demo penalties only: check cbr.ru before relying.
KEY_RATES = (
    (date(2024, 10, 28), Decimal("21.00")),
    (date(2025, 6, 9), Decimal("20.00")),
    (date(2025, 7, 28), Decimal("18.00")),
    (date(2025, 9, 15), Decimal("17.00")),
    (date(2025, 10, 27), Decimal("16.50")),
    (date(2025, 12, 22), Decimal("16.00")),
)
PAYMENT_AGENTS = ("Сбербанк", "Почта России", "ВТБ", "Т-Банк", "Газпромбанк")
PAYMENT_AGENT_WEIGHTS = (50, 15, 18, 12, 5)

# How a month's consumption moves over the year (January first).
SEASON = (1.18, 1.12, 1.02, 0.95, 0.88, 0.82, 0.80, 0.83, 0.90, 1.00, 1.10, 1.20)
DACHA_KWH = (30, 30, 35, 50, 110, 160, 180, 170, 110, 60, 35, 30)
HEATING = (1.35, 1.2, 1.0, 0.6, 0.1, 0, 0, 0, 0.1, 0.6, 0.9, 1.2)
ZONE_SHARES = {
    ("total",): (1.0,),
    ("day", "night"): (0.7, 0.3),
    ("peak", "semi_peak", "night"): (0.28, 0.45, 0.27),
}
SILENT_ACCOUNTS = 0.04  # never send a reading: billed by the norm
IRREGULAR_PAYERS = 0.05  # pay now and then, often part of the bill
NON_PAYERS = 0.03  # never pay: debtors with penalties


def seed_billing_history(
    session: Session, *, months: int = 12, seed_number: int = 2026, today: date | None = None
) -> None:
    """Tariffs, norms and key rates; then ``months`` closed periods before the current one:
    monthly readings, the billing run, penalties and bills, and the payments of each bill.

    Deterministic for a seed; bulk inserts and the set-based run keep it quick.
    """
    today = today or local_today()
    current = today.replace(day=1)
    periods = [add_months(current, -back) for back in range(months, 0, -1)]
    rng = random.Random(f"{seed_number}:billing")
    add_rates(session, min(TARIFFS_FROM, periods[0] if periods else current))
    staff = {
        role: staff_id
        for role, staff_id in session.execute(
            select(Staff.role, Staff.id).order_by(Staff.id.desc())
        )
    }
    accounts = list(
        session.scalars(
            select(Account)
            .options(selectinload(Account.premises), selectinload(Account.meters))
            .order_by(Account.id)
        )
    )
    linked = {
        account_id: email
        for account_id, email in session.execute(
            select(AccountLink.account_id, User.email).join(User, User.id == AccountLink.user_id)
        )
    }
    window = (
        domain_settings.get(session, "readings.window_first_day"),
        domain_settings.get(session, "readings.window_last_day"),
    )
    plan = _HistoryPlan(rng, today, periods, window, staff.get(StaffRole.OPERATOR))
    readings = [row for account in accounts for row in plan.readings(account, linked)]
    for start in range(0, len(readings), 5000):
        session.execute(insert(Reading), readings[start : start + 5000])
    session.commit()
    payers = {account.id: plan.payer(account, linked) for account in accounts}
    references = itertools.count(1)
    for period in periods:
        billing.run(session, period)
        ledger.close_period(session, period, staff.get(StaffRole.BILLING))
        session.commit()  # each month closed for good before the payments that follow it
        payments = plan.payments(session, period, payers, references)
        if payments:
            session.execute(insert(Payment), payments)
            session.commit()


def add_rates(session: Session, start: date) -> None:
    """Tariffs for every service, zone and category (one indexation), norms, key rates."""
    rows = []
    for (service, zone), household in HOUSEHOLD_TARIFFS.items():
        for category, factor in (("population", Decimal(1)), ("others", BUSINESS_FACTOR)):
            before = money(household * factor)
            after = money(before * TARIFF_INDEXATION)
            common = {"service": service, "zone": zone, "category": category}
            if start < TARIFF_CHANGE:
                end = TARIFF_CHANGE - timedelta(days=1)
                rows.append(Tariff(**common, rate=before, valid_from=start, valid_to=end))
            rows.append(Tariff(**common, rate=after, valid_from=max(start, TARIFF_CHANGE)))
    for service, (basis, volume) in NORMS.items():
        rows.append(ConsumptionNorm(service=service, basis=basis, volume=volume, valid_from=start))
    rows += [KeyRate(valid_from=day, percent=percent) for day, percent in KEY_RATES]
    session.add_all(rows)
    session.commit()


class _HistoryPlan:
    """Readings and payments of the demo history; every choice from one seeded Random."""

    def __init__(self, rng, today, periods, window: tuple[int, int], operator_id):
        self.rng = rng
        self.today = today
        self.periods = periods
        self.current = today.replace(day=1)
        self.first_day, self.last_day = window
        self.operator_id = operator_id

    # readings

    def readings(self, account: Account, linked: dict[int, str]) -> list[dict]:
        showcase = linked.get(account.id) == "resident@demo.portal"
        silent = not showcase and self.rng.random() < SILENT_ACCOUNTS
        rows = []
        for meter in account.meters:
            if silent and not meter.remote_read:
                continue
            rows += self._meter_readings(account, meter, showcase)
        return rows

    def _meter_readings(self, account: Account, meter: Meter, showcase: bool) -> list[dict]:
        rng = self.rng
        months = list(self.periods)
        window_open = self.today.day >= self.first_day
        if window_open:
            months.append(self.current)
        if not months:
            return []
        started = max(meter.installed_on, account.opened_on)
        new_meter = started >= months[0]
        missing = 0.0 if showcase else 0.02 if meter.remote_read else rng.choice((0.03, 0.08, 0.15))
        stops = (
            self.periods[-rng.randint(2, min(5, len(self.periods)))]
            if meter.status == MeterStatus.FAULTY and self.periods
            else None
        )
        personal = rng.uniform(0.75, 1.25)
        zones = meter.zone_names
        shares = ZONE_SHARES[zones]
        step = Decimal(1).scaleb(-meter.fraction_digits)
        capacity = 10**meter.whole_digits
        start = self._start_value(meter.service, capacity) if not new_meter else rng.uniform(0, 3)
        values = {
            zone: Decimal(str(start * share)).quantize(step)
            for zone, share in zip(zones, shares, strict=True)
        }
        rows = []
        # The reading the history starts from: the month before, or the installation.
        if new_meter:
            baseline_day = started
        else:
            before = add_months(months[0], -1)
            baseline_day = before.replace(day=20)
        for zone in zones:
            rows.append(self._row(meter, zone, baseline_day, values[zone], None, "operator"))
        last = dict(values)
        for period in months:
            if period <= baseline_day.replace(day=1):
                continue
            usage = self._usage(account, meter, period) * personal
            for zone, share in zip(zones, shares, strict=True):
                volume = Decimal(str(usage * share * rng.uniform(0.85, 1.15))).quantize(step)
                values[zone] += volume
            if stops is not None and period >= stops:
                continue
            day = self._reading_day(meter, period, missing, showcase)
            if day is None:
                continue
            source = self._source(meter)
            for zone in zones:
                consumption = values[zone] - last[zone]
                rows.append(self._row(meter, zone, day, values[zone], consumption, source))
                last[zone] = values[zone]
        return rows

    def _reading_day(
        self, meter: Meter, period: date, missing: float, showcase: bool
    ) -> date | None:
        """The day the meter was read in the period, or None when it was not (a share
        ``missing`` of months; in the current month some have not sent theirs yet)."""
        rng = self.rng
        if rng.random() < missing:
            return None
        if period == self.current:
            if rng.random() > 0.65 and not showcase:
                return None
            latest = min(self.today.day, self.last_day)
            return period.replace(day=rng.randint(self.first_day, max(self.first_day, latest)))
        return period.replace(day=20 if meter.remote_read else rng.randint(15, 25))

    def _start_value(self, service: str, capacity: int) -> float:
        low, high = {
            "electricity": (2_000, 45_000),
            "cold_water": (50, 900),
            "hot_water": (30, 600),
            "heat": (5, 300),
        }[service]
        return min(self.rng.uniform(low, high), capacity * 0.5)

    def _source(self, meter: Meter) -> str:
        if meter.remote_read:
            return "remote"
        roll = self.rng.random()
        return "customer" if roll < 0.85 else "operator" if roll < 0.95 else "controller"

    def _row(self, meter, zone, day, value, consumption, source) -> dict:
        moment = datetime.combine(day, time(6), tzinfo=UTC) + timedelta(
            minutes=self.rng.randint(0, 14 * 60)
        )
        return {
            "meter_id": meter.id,
            "zone": zone,
            "period": day.replace(day=1),
            "taken_on": day,
            "value": value,
            "consumption": consumption,
            "source": source,
            "status": "accepted",
            "entered_by_staff_id": self.operator_id if source == "operator" else None,
            "created_at": moment,
        }

    @staticmethod
    def _usage(account: Account, meter: Meter, period: date) -> float:
        """A believable month's consumption of the meter's service, before noise."""
        premises = account.premises
        month = period.month - 1
        residents = premises.residents or 0
        area = float(premises.area_m2 or 40)
        business = account.category == "others"
        house = "кв." not in premises.address and not business
        if meter.service == "electricity":
            if "СНТ" in premises.address:
                return DACHA_KWH[month]
            if business:
                return area * 3.5 * SEASON[month]
            return (180 + 70 * residents if house else 80 + 45 * residents) * SEASON[month]
        if meter.service == "cold_water":
            if business:
                return 1 + area * 0.01
            summer = 1.5 if house and 5 <= month <= 7 else 1
            return max(residents, 1) * 3.1 * summer
        if meter.service == "hot_water":
            return 0.5 + area * 0.004 if business else max(residents, 1) * 2.2
        return area * 0.0165 * HEATING[month]

    # payments

    def payer(self, account: Account, linked: dict[int, str]) -> str:
        email = linked.get(account.id)
        if email == "resident@demo.portal":
            return "regular"
        if email == "resident2@demo.portal":
            return "irregular"  # a portal user with a debt, for the demo
        roll = self.rng.random()
        if roll < NON_PAYERS:
            return "never"
        if roll < NON_PAYERS + IRREGULAR_PAYERS:
            return "irregular"
        return "regular"

    def payments(self, session: Session, period: date, payers, references) -> list[dict]:
        """Payments of the period's bills, made from the 5th to the 25th of the next month."""
        following = add_months(period, 1)
        rows = []
        for account_id, due in session.execute(
            select(Bill.account_id, Bill.closing_balance)
            .where(Bill.period == period, Bill.closing_balance > 0)
            .order_by(Bill.account_id)
        ):
            kind = payers.get(account_id, "regular")
            amount = due
            if kind == "never":
                continue
            if kind == "irregular":
                if self.rng.random() > 0.4:
                    continue
                if self.rng.random() < 0.5:
                    amount = min(due, Decimal(self.rng.choice((500, 1000, 1500, 2000, 3000))))
            paid_on = following.replace(day=self.rng.randint(5, 25))
            if paid_on >= self.today:
                continue
            agent = self.rng.choices(PAYMENT_AGENTS, weights=PAYMENT_AGENT_WEIGHTS)[0]
            rows.append(
                {
                    "account_id": account_id,
                    "amount": amount,
                    "paid_on": paid_on,
                    "agent": agent,
                    "reference": f"DEMO-{paid_on:%Y%m%d}-{next(references):07d}",
                    "created_at": datetime.combine(paid_on, time(12), tzinfo=UTC),
                }
            )
        return rows


# --- appeals ------------------------------------------------------------------------------

APPEAL_TEXTS = {
    "billing": (
        "В квитанции за прошлый месяц начисление за электроэнергию в два раза больше обычного. Прошу проверить расчёт.",
        "Оплатил счёт через банк, но в личном кабинете платёж не отражается. Прошу зачесть оплату.",
        "Прошу сделать перерасчёт за горячую воду: в квартире никто не проживал два месяца.",
    ),
    "readings": (
        "Передал показания 20-го числа, но счёт выставлен по среднему. Прошу пересчитать по показаниям.",
        "Контролёр записал неверные показания счётчика холодной воды.",
    ),
    "supply_quality": (
        "Третий день низкая температура батарей, в квартире +17. Прошу принять меры.",
        "Вечером постоянно скачет напряжение, перегорела техника.",
    ),
    "meter": (
        "Истекает срок поверки счётчика горячей воды. Как заменить счётчик и кто опломбирует новый?",
        "Прошу опломбировать новый прибор учёта электроэнергии.",
    ),
    "staff": (
        "Сотрудник в офисе на ул. Ленина отказался принять заявление и разговаривал грубо.",
        "Оператор горячей линии не перезвонил, как обещал.",
    ),
    "other": (
        "Благодарю сотрудников абонентского отдела за быстрое решение вопроса.",
        "Предлагаю добавить напоминание о передаче показаний по SMS.",
    ),
}
APPEAL_ANSWERS = (
    "Проведена проверка. Начисление выполнено верно, по тарифу и показаниям прибора учёта; расшифровка приведена в квитанции.",
    "По результатам проверки выполнен перерасчёт, сумма будет учтена в следующем счёте.",
    "Платёж найден и зачтён на лицевой счёт. Приносим извинения за задержку.",
    "Заявка передана в аварийную службу, работы выполнены. Параметры восстановлены.",
)
# (status, share) of the demo appeals, and how far back they were registered (days).
APPEAL_PLAN = (
    ("registered", 0.06, (0, 6)),
    ("assigned", 0.06, (1, 40)),
    ("in_work", 0.12, (2, 45)),
    ("awaiting_customer", 0.05, (3, 25)),
    ("answered", 0.12, (5, 90)),
    ("closed", 0.52, (10, 330)),
    ("no_action", 0.04, (5, 300)),
    ("reopened", 0.03, (20, 60)),
)


def seed_appeals(session: Session, *, count: int = 300, seed_number: int = 2026, today=None) -> int:
    """``count`` appeals in every state over the last year, some overdue, with their
    timelines, from the demo's residents to the demo's staff; returns how many."""
    from portal.services.appeals import demo_appeals

    return demo_appeals.seed(
        session,
        rng=random.Random(f"{seed_number}:appeals"),
        count=count,
        today=today or local_today(),
        plan=APPEAL_PLAN,
        texts=APPEAL_TEXTS,
        answers=APPEAL_ANSWERS,
    )
