"""Test data: small functions that build valid objects with overridable fields."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from werkzeug.security import generate_password_hash

from portal.models import (
    Account,
    AccountLink,
    AccountService,
    Consent,
    Contract,
    Customer,
    Meter,
    Organisation,
    OrganisationMember,
    Premises,
    Reading,
    Staff,
    User,
    utcnow,
)
from portal.services.clock import local_today
from portal.services.second_factor import ALWAYS_REQUIRED_ROLES

PASSWORD = "secret-pass-1"
# Hashing is slow on purpose (scrypt: about half a second here), and checking it is as slow:
# test users carry a cheap hash of the one password, so signing in costs nothing.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
_sequence = itertools.count(1)
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the shared secret of enrolled test staff


def _next() -> int:
    return next(_sequence)


def make_user(session, **fields) -> User:
    n = _next()
    values = {
        "email": f"user{n}@example.ru",
        "phone": "+79161234567",
        "full_name": f"Иванов Иван {n}",
        "email_confirmed_at": utcnow(),
        "password_hash": PASSWORD_HASH,
    } | fields
    user = User(**values)
    session.add(user)
    session.flush()
    session.add(Consent(user_id=user.id, text_version="2026-01", given_at=utcnow()))
    session.flush()
    return user


def make_staff(
    session, role: str = "operator", second_factor: bool | None = None, **fields
) -> Staff:
    """An employee; enrolled in two-factor sign-in (``TOTP_SECRET``) where the role requires
    it, unless ``second_factor`` says otherwise."""
    n = _next()
    if second_factor is None:
        second_factor = role in ALWAYS_REQUIRED_ROLES
    values = (
        {
            "email": f"{role}{n}@staff.example.ru",
            "full_name": f"Петрова Анна {n}",
            "role": role,
            "password_hash": PASSWORD_HASH,
        }
        | ({"totp_secret": TOTP_SECRET, "totp_enabled_at": utcnow()} if second_factor else {})
        | fields
    )
    staff = Staff(**values)
    session.add(staff)
    session.flush()
    return staff


def make_customer(session, **fields) -> Customer:
    n = _next()
    values = {
        "full_name": f"Сидоров Пётр Алексеевич {n}",
        "phone": f"+7916{n:07d}",
        "email": f"customer{n}@example.ru",
        "kind": "person",
    } | fields
    customer = Customer(**values)
    session.add(customer)
    session.flush()
    return customer


def make_account(session, customer: Customer | None = None, **fields) -> Account:
    n = _next()
    customer = customer or make_customer(session)
    premises = Premises(
        address=f"г. Выкса, ул. Ленина, д. {n}, кв. {n % 90 + 1}",
        district="Центральный",
        area_m2=Decimal("54.30"),
        residents=2,
    )
    session.add(premises)
    session.flush()
    values = {
        "number": f"52{n:08d}",
        "secret_code": "AB12CD",
        "customer_id": customer.id,
        "premises_id": premises.id,
        "opened_on": date(2020, 1, 1),
    } | fields
    account = Account(**values)
    session.add(account)
    session.flush()
    session.add(
        AccountService(account_id=account.id, service="electricity", started_on=date(2020, 1, 1))
    )
    session.flush()
    return account


def make_meter(session, account: Account, **fields) -> Meter:
    n = _next()
    values = {
        "account_id": account.id,
        "service": "electricity",
        "serial_number": f"SN{n:08d}",
        "zones": 2,
        "whole_digits": 6,
        "fraction_digits": 1,
        "installed_on": date(2021, 3, 1),
        "verification_due": local_today() + timedelta(days=400),
    } | fields
    meter = Meter(**values)
    session.add(meter)
    session.flush()
    return meter


def make_reading(
    session, meter: Meter, value="100", taken_on: date | None = None, **fields
) -> Reading:
    """An accepted reading by the customer of the meter's first zone, taken on the 20th of
    this month unless told otherwise."""
    taken_on = taken_on or local_today().replace(day=20)
    values = {
        "meter_id": meter.id,
        "zone": meter.zone_names[0],
        "period": taken_on.replace(day=1),
        "taken_on": taken_on,
        "value": Decimal(str(value)),
        "source": "customer",
        "status": "accepted",
    } | fields
    reading = Reading(**values)
    session.add(reading)
    session.flush()
    return reading


def link(session, user: User, account: Account) -> AccountLink:
    account_link = AccountLink(user_id=user.id, account_id=account.id)
    session.add(account_link)
    session.flush()
    return account_link


def make_organisation(session, owner: User | None = None, **fields) -> Organisation:
    n = _next()
    values = {
        "name": f"ООО «Ромашка {n}»",
        "inn": f"77{n:08d}",
        "kpp": "770101001",
        "ogrn": f"10277{n:08d}",
        "legal_address": "г. Москва, ул. Тверская, д. 1",
    } | fields
    organisation = Organisation(**values)
    session.add(organisation)
    session.flush()
    if owner is not None:
        session.add(
            OrganisationMember(organisation_id=organisation.id, user_id=owner.id, role="owner")
        )
        session.flush()
    return organisation


def make_contract(session, organisation: Organisation, **fields) -> Contract:
    n = _next()
    values = {
        "number": f"Д-2026/{n:04d}",
        "signed_on": date(2024, 1, 15),
        "organisation_id": organisation.id,
    } | fields
    contract = Contract(**values)
    session.add(contract)
    session.flush()
    return contract


# Builders added by area (keep each area's together, below its heading).

# --- metering: readings, meters, imports ------------------------------------------------


def meter_with_history(session, **meter_fields) -> Meter:
    """A single-rate meter on a new account, read on the 20th of each of the six months
    before this one at 100 a month: 1000 first, 1500 last."""
    from portal.services import clock, months

    meter = make_meter(session, make_account(session), zones=1, **meter_fields)
    this_period = months.period_of(clock.local_today())
    for ago in range(6, 0, -1):
        make_reading(
            session,
            meter,
            1500 - 100 * (ago - 1),
            months.add_months(this_period, -ago).replace(day=20),
            consumption=None if ago == 6 else Decimal(100),
        )
    return meter


def downloaded_csv(response, filename: str) -> list[list[str]]:
    """The rows of a CSV download, after checking it is sent and written the one way."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f"attachment; filename={filename}"
    return standard_csv_rows(response.get_data())


def standard_csv_rows(body: bytes) -> list[list[str]]:
    """The rows of a CSV file after checking the BOM, ";" and CRLF line endings."""
    import csv
    import io

    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8")[1:]
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def project_dir():
    """The project's folder, where a worker started by a test runs."""
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


# --- billing: tariffs, periods, charges, bills, payments, debt -------------------------------


def default_penalty_scheme():
    """The penalty scheme of the settings' defaults (Housing Code art. 155 p. 14)."""
    from portal.services.penalties import two_stages
    from portal.services.settings import SPECS

    return two_stages(
        **{
            name: SPECS[f"penalties.{name}"].default
            for name in ("free_days", "high_from_day", "low_divisor", "high_divisor")
        }
    )


def make_payment(session, account, day: date, amount: str, **fields):
    """A payment of ``amount`` on ``day`` with a reference of its own."""
    import uuid

    from portal.models import Payment

    payment = Payment(
        account_id=account.id,
        amount=Decimal(amount),
        paid_on=day,
        agent="Тест-банк",
        reference=uuid.uuid4().hex,
        **fields,
    )
    session.add(payment)
    session.flush()
    return payment


def make_bills(session, account, amounts, *, first=date(2026, 1, 1), payments=(), counted=True):
    """One bill a month from ``first`` with these charges, issued on the 1st and due on the
    10th of the next month; the payments are stored and, as the ledger does, counted in the
    first bill whose month ends on or after their date (unless ``counted`` is off)."""
    from portal.models import Bill
    from portal.services.months import add_months, month_end

    for day, amount in payments:
        make_payment(session, account, day, amount)
    opening = counted_so_far = Decimal("0.00")
    bills = []
    for index, amount in enumerate(amounts):
        period = add_months(first, index)
        following = add_months(period, 1)
        paid_to_date = sum(
            (Decimal(a) for d, a in payments if d <= month_end(period)), Decimal("0.00")
        )
        paid = paid_to_date - counted_so_far if counted else Decimal("0.00")
        counted_so_far = paid_to_date if counted else counted_so_far
        closing = opening + Decimal(amount) - paid
        bill = Bill(
            account_id=account.id,
            period=period,
            opening_balance=opening,
            charges_total=Decimal(amount),
            penalties_total=Decimal("0.00"),
            payments_total=paid,
            closing_balance=closing,
            issued_on=following,
            due_on=following.replace(day=10),
        )
        session.add(bill)
        bills.append(bill)
        opening = closing
    session.flush()
    return bills


# --- people and messages: customers, organisations, staff, outbox, settings -----------------


# The plan of 003 (Mon–Thu 9–18, Fri 9–17, lunch 13–14; Saturday and Sunday off).
OFFICE_PLAN_003 = {
    **{day: ["09:00", "18:00", "13:00", "14:00"] for day in ("mon", "tue", "wed", "thu")},
    "fri": ["09:00", "17:00", "13:00", "14:00"],
}


def make_office(session, **fields):
    from portal.models import Office

    n = _next()
    values = {
        "name": f"Офис {n}",
        "address": f"г. Выкса, ул. Ленина, д. {n}",
        "phones": "+7 (83177) 3-00-00",
        "district": "Центральный",
        "weekly_plan": OFFICE_PLAN_003,
        "windows": 1,
        "timezone": "Europe/Moscow",
        "services": ["reception", "invoices", "contract", "manager"],
        "booking_seq": 0,
    } | fields
    office = Office(**values)
    session.add(office)
    session.flush()
    return office
