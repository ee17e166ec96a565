"""The customer registry of the back office: search, the customer's card, editing.

Every staff view and change of a customer's personal data is audited (152-ФЗ).
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.models import (
    Account,
    AccountLink,
    Contract,
    Customer,
    Organisation,
    OrganisationMember,
    Premises,
    Staff,
    User,
)
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, settings
from portal.services.clock import local_today
from portal.services.errors import DomainError, NotFound
from portal.services.names import customer_name
from portal.services.users import normalise_email, normalise_phone

PAGE_SIZE = 20
MAX_TERM_LENGTH = 100
# A term made only of these characters may be an account number, a phone or an ИНН.
_NUMBER_LIKE = re.compile(r"[\d\s+()\-.]+")
MIN_PHONE_DIGITS = 5
MAX_ID = 2**63 - 1  # larger ids exist in no table (and overflow SQLite's integers)
# Older than this, a customer counts as vulnerable (004 §8.4: home visits for those over 65).
SENIOR_AGE = 65

# The fields staff may edit, in the order the form shows them.
EDITABLE_FIELDS = (
    "full_name",
    "phone",
    "email",
    "postal_address",
    "birth_date",
    "lives_alone_disabled",
    "is_veteran",
    "notes",
)


# --- search ---------------------------------------------------------------------------------


def clean_term(raw: str | None) -> str:
    """The search term as staff meant it: trimmed, single spaces, printable, of a sane length."""
    printable = "".join(ch if ch.isprintable() else " " for ch in (raw or ""))
    return " ".join(printable.split())[:MAX_TERM_LENGTH]


def case_variants(term: str) -> list[str]:
    """The term in the letter cases a name is written in.

    SQLite's ``lower()`` and ``LIKE`` fold only ASCII letters, so "иванов" would not find
    "Иванов". Searching for the term as typed and in lower, upper, "Capitalised" and
    "Title Case" forms finds Cyrillic names typed in any case on SQLite and PostgreSQL alike.
    """
    variants = [term, term.lower(), term.upper(), term.capitalize(), term.title()]
    return list(dict.fromkeys(variants))


def text_matches(column, term: str) -> ColumnElement[bool]:
    """A case-insensitive substring match that also works for Cyrillic on SQLite."""
    return or_(*(column.icontains(variant, autoescape=True) for variant in case_variants(term)))


def phone_patterns(digits: str) -> list[str]:
    """Substrings of a stored E.164 phone (+79161234567) that the typed digits stand for.

    "8 916 123-45-67", "+7 916 123 45 67" and "9161234567" all mean +79161234567:
    a leading 8 or 7 of an 11-digit number is the country's trunk code.
    """
    if len(digits) < MIN_PHONE_DIGITS:
        return []
    if len(digits) == 11 and digits[0] in "78":
        return ["+7" + digits[1:]]
    patterns = [digits]
    if digits[0] == "8":
        patterns.append("+7" + digits[1:])
    return patterns


def search_customers(term: str | None) -> Select:
    """Customers matching the term, by name, ordered for a paginated list.

    The term is an account number (exact or its first digits), a phone in any usual
    format, part of the name, of a premises address or of the e-mail, a contract number
    or an organisation's ИНН. An empty term lists every customer.
    """
    term = clean_term(term)
    query = select(Customer).options(
        selectinload(Customer.accounts).selectinload(Account.premises),
        selectinload(Customer.organisation),
    )
    if term:
        query = query.where(customer_filter(term))
    return query.order_by(Customer.full_name, Customer.id)


def customer_filter(term: str) -> ColumnElement[bool]:
    conditions = [
        text_matches(Customer.full_name, term),
        text_matches(Customer.email, term),
        Customer.accounts.any(Account.premises.has(text_matches(Premises.address, term))),
        Customer.accounts.any(Account.contract.has(text_matches(Contract.number, term))),
    ]
    if _NUMBER_LIKE.fullmatch(term):
        digits = re.sub(r"\D", "", term)
        if digits:
            conditions.append(Customer.accounts.any(Account.number.startswith(digits)))
            conditions.append(Customer.organisation.has(Organisation.inn.startswith(digits)))
            conditions.extend(
                Customer.phone.contains(pattern, autoescape=True)
                for pattern in phone_patterns(digits)
            )
    return or_(false(), *conditions)


def record_search(session: Session, term: str, *, staff: Staff, ip: str | None) -> None:
    """Audit a search of the registry (the term may be personal data)."""
    term = clean_term(term)
    if not term:
        return
    _record(session, AuditAction.SEARCH, None, term, staff, ip)
    session.flush()


# --- the customer's card --------------------------------------------------------------------


@dataclass
class PortalUserLink:
    """A portal user who sees some of the customer's data, and how."""

    user: User
    account_numbers: list[str] = field(default_factory=list)
    organisation_role: str | None = None


@dataclass
class CustomerCard:
    customer: Customer
    portal_users: list[PortalUserLink]
    vulnerability: list[str]
    today: date
    verification_warning_before: date


def age_on(birth_date: date | None, day: date) -> int | None:
    if birth_date is None:
        return None
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def vulnerability_of(customer: Customer, today: date) -> list[str]:
    """Why the customer counts as vulnerable: "lives_alone_disabled", "veteran", "senior"."""
    flags = []
    if customer.lives_alone_disabled:
        flags.append("lives_alone_disabled")
    if customer.is_veteran:
        flags.append("veteran")
    age = age_on(customer.birth_date, today)
    if age is not None and age > SENIOR_AGE:
        flags.append("senior")
    return flags


def get_customer(
    session: Session, customer_id: int, *, staff: Staff | None = None, ip: str | None = None
) -> Customer:
    """The customer, or NotFound; with ``staff`` given, the view is audited (the caller
    commits)."""
    customer = session.get(Customer, customer_id) if 0 < customer_id <= MAX_ID else None
    if customer is None:
        raise NotFound()
    if staff is not None:
        _record_view(session, customer.id, customer.full_name, staff, ip)
        session.flush()
    return customer


def _record(
    session: Session,
    action: AuditAction,
    customer_id: int | None,
    summary: str,
    staff: Staff,
    ip: str | None,
    changes: dict | None = None,
) -> None:
    """An audit event about a customer (a search: about none in particular)."""
    audit.record(
        session,
        staff_id=staff.id,
        action=action,
        object_type=AuditObject.CUSTOMER,
        object_id=customer_id,
        summary=summary,
        changes=changes,
        ip_address=ip,
    )


def _record_view(session: Session, customer_id: int, name: str, staff: Staff, ip) -> None:
    _record(session, AuditAction.VIEW, customer_id, name, staff, ip)


def _card_query(customer_id: int) -> Select:
    accounts = selectinload(Customer.accounts)
    return (
        select(Customer)
        .where(Customer.id == customer_id)
        .options(
            accounts.selectinload(Account.premises),
            accounts.selectinload(Account.services),
            accounts.selectinload(Account.meters),
            accounts.selectinload(Account.contract),
            accounts.selectinload(Account.links).selectinload(AccountLink.user),
            selectinload(Customer.organisation)
            .selectinload(Organisation.members)
            .selectinload(OrganisationMember.user),
        )
    )


def portal_users_of(customer: Customer) -> list[PortalUserLink]:
    """Users linked to the customer's accounts, and members of the customer's organisation."""
    found: dict[int, PortalUserLink] = {}
    for account in customer.accounts:
        for account_link in account.links:
            entry = found.setdefault(account_link.user_id, PortalUserLink(account_link.user))
            entry.account_numbers.append(account.number)
    if customer.organisation is not None:
        for member in customer.organisation.members:
            entry = found.setdefault(member.user_id, PortalUserLink(member.user))
            entry.organisation_role = member.role
    return sorted(found.values(), key=lambda entry: (entry.user.full_name, entry.user.id))


def open_card(session: Session, customer_id: int, *, staff: Staff, ip: str | None) -> CustomerCard:
    """Everything the back office shows about a customer; the view is audited in the
    caller's transaction (commit it once the card is shown: a commit expires what is loaded).
    """
    found = (
        session.execute(
            select(Customer.id, Customer.full_name).where(Customer.id == customer_id)
        ).first()
        if 0 < customer_id <= MAX_ID
        else None
    )
    if found is None:
        raise NotFound()
    _record_view(session, found.id, found.full_name, staff, ip)
    session.flush()
    customer = session.scalar(_card_query(customer_id))
    today = local_today()
    warning_days = settings.get(session, "meters.verification_warning_days")
    return CustomerCard(
        customer=customer,
        portal_users=portal_users_of(customer),
        vulnerability=vulnerability_of(customer, today),
        today=today,
        verification_warning_before=today + timedelta(days=warning_days),
    )


# --- editing --------------------------------------------------------------------------------


def _clean_fields(kind: str, fields: dict) -> dict:
    """The fields as stored; ``kind`` is the customer's, whose rule the name follows (it
    goes onto bills and letters as it is)."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    cleaned = dict(fields)
    if "full_name" in cleaned:
        cleaned["full_name"] = customer_name(kind, cleaned["full_name"])
    if "phone" in cleaned:
        raw = (cleaned["phone"] or "").strip()
        cleaned["phone"] = normalise_phone(raw) if raw else None
    if "email" in cleaned:
        cleaned["email"] = normalise_email(cleaned["email"] or "") or None
    if "postal_address" in cleaned:
        address = " ".join((cleaned["postal_address"] or "").split())
        if any(unicodedata.category(ch).startswith("C") for ch in address):
            raise DomainError(
                _("The address contains characters that cannot be printed."), "postal_address"
            )
        cleaned["postal_address"] = address or None
    if "notes" in cleaned:
        # Line breaks and tabs stay; other control characters go.
        notes = (cleaned["notes"] or "").replace("\r\n", "\n")
        notes = "".join(
            ch for ch in notes if ch in "\n\t" or not unicodedata.category(ch).startswith("C")
        )
        cleaned["notes"] = notes.strip() or None
    for name in ("lives_alone_disabled", "is_veteran"):
        if name in cleaned:
            cleaned[name] = bool(cleaned[name])
    birth_date = cleaned.get("birth_date")
    if birth_date is not None and birth_date > local_today():
        raise DomainError(_("The birth date cannot be in the future."), "birth_date")
    return cleaned


def update_customer(
    session: Session, customer: Customer, staff: Staff, ip: str | None, **fields
) -> dict:
    """Change the customer's personal data; return the changes as {field: [old, new]}.

    The change and its audit event are one transaction, which the caller commits; nothing
    is recorded when nothing changed.
    """
    cleaned = _clean_fields(customer.kind, fields)
    before = {name: getattr(customer, name) for name in cleaned}
    changes = audit.diff(before, cleaned)
    if not changes:
        return {}
    for name, value in cleaned.items():
        setattr(customer, name, value)
    _record(session, AuditAction.UPDATE, customer.id, ", ".join(changes), staff, ip, changes)
    session.flush()
    return changes
