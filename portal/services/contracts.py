"""Supply contracts with organisations in the back office: create, amend by an additional
agreement (with its date), terminate, link the accounts of supply points. Every change is
audited in the caller's transaction."""

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.models import (
    Account,
    Contract,
    ContractAmendment,
    ContractStatus,
    Organisation,
)
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit
from portal.services.errors import DomainError, NotFound

LAST_BILL_DAY = 28  # every month has it
LAST_DUE_DAY = 31  # a shorter month pays on its last day (contract_documents.due_date)


@dataclass(frozen=True)
class Terms:
    bill_day: int
    due_day: int


def search(term: str | None):
    """Contracts, newest first, found by number, organisation name or ИНН."""
    query = (
        select(Contract)
        .join(Organisation, Organisation.id == Contract.organisation_id)
        .options(selectinload(Contract.organisation))
        .order_by(Contract.signed_on.desc(), Contract.id.desc())
    )
    term = (term or "").strip()[:100]
    if term:
        like = f"%{term.lower()}%"
        query = query.where(
            or_(
                func.lower(Contract.number).like(like),
                func.lower(Organisation.name).like(like),
                Organisation.inn.like(f"{term}%"),
            )
        )
    return query


def get(session: Session, contract_id: int) -> Contract:
    found = session.scalar(
        select(Contract)
        .where(Contract.id == contract_id)
        .options(
            selectinload(Contract.organisation),
            selectinload(Contract.accounts).selectinload(Account.premises),
            selectinload(Contract.amendments),
        )
    )
    if found is None:
        raise NotFound()
    return found


def check_terms(terms: Terms) -> None:
    if not 1 <= terms.bill_day <= LAST_BILL_DAY:
        raise DomainError(
            _("The day documents are issued is from 1 to %(last)s.", last=LAST_BILL_DAY),
            "bill_day",
        )
    if not 1 <= terms.due_day <= LAST_DUE_DAY:
        raise DomainError(
            _("The day payment is due is from 1 to %(last)s.", last=LAST_DUE_DAY), "due_day"
        )


def _check_number(session: Session, number: str, field: str = "number") -> str:
    number = " ".join((number or "").split())
    if not number:
        raise DomainError(_("Enter the number."), field)
    if len(number) > 40:
        raise DomainError(_("At most 40 characters."), field)
    return number


def create(
    session: Session,
    *,
    inn: str,
    number: str,
    signed_on: date,
    terms: Terms,
    staff_id: int,
    ip: str | None = None,
) -> Contract:
    organisation = session.scalar(select(Organisation).where(Organisation.inn == inn.strip()))
    if organisation is None:
        raise DomainError(_("No organisation with this INN."), "inn")
    number = _check_number(session, number)
    if session.scalar(select(Contract.id).where(Contract.number == number)):
        raise DomainError(_("A contract with this number exists."), "number")
    check_terms(terms)
    contract = Contract(
        number=number,
        signed_on=signed_on,
        organisation_id=organisation.id,
        bill_day=terms.bill_day,
        due_day=terms.due_day,
    )
    session.add(contract)
    session.flush()
    _audit(session, contract, AuditAction.CREATE, f"contract {number} with {inn}", staff_id, ip)
    return contract


def amend(
    session: Session,
    contract_id: int,
    *,
    number: str,
    signed_on: date,
    summary: str,
    terms: Terms,
    staff_id: int,
    ip: str | None = None,
) -> ContractAmendment:
    """An additional agreement: its number, date and what it changes; new payment terms
    apply from the next documents issued."""
    contract = get(session, contract_id)
    if contract.status == ContractStatus.TERMINATED:
        raise DomainError(_("The contract is terminated: it cannot be amended."))
    number = _check_number(session, number)
    if signed_on < contract.signed_on:
        raise DomainError(_("An additional agreement cannot precede the contract."), "signed_on")
    summary = " ".join((summary or "").split())[:400]
    if not summary:
        raise DomainError(_("Say what the agreement changes."), "summary")
    check_terms(terms)
    changes = {
        name: [getattr(contract, name), getattr(terms, name)]
        for name in ("bill_day", "due_day")
        if getattr(contract, name) != getattr(terms, name)
    }
    contract.bill_day, contract.due_day = terms.bill_day, terms.due_day
    amendment = ContractAmendment(
        contract_id=contract.id,
        number=number,
        signed_on=signed_on,
        summary=summary,
        staff_id=staff_id,
    )
    session.add(amendment)
    session.flush()
    _audit(
        session,
        contract,
        AuditAction.UPDATE,
        f"contract {contract.number}: agreement {number} of {signed_on.isoformat()}",
        staff_id,
        ip,
        changes or None,
    )
    return amendment


def terminate(
    session: Session, contract_id: int, *, on: date, staff_id: int, ip: str | None = None
) -> Contract:
    contract = get(session, contract_id)
    if contract.status == ContractStatus.TERMINATED:
        raise DomainError(_("The contract is already terminated."))
    if on < contract.signed_on:
        raise DomainError(_("A contract cannot end before it was signed."), "terminated_on")
    contract.status = ContractStatus.TERMINATED
    contract.terminated_on = on
    session.flush()
    summary = f"contract {contract.number} terminated on {on.isoformat()}"
    _audit(session, contract, AuditAction.UPDATE, summary, staff_id, ip)
    return contract


def link_account(
    session: Session, contract_id: int, account_number: str, *, staff_id: int, ip=None
) -> Account:
    """Put an account (a supply point) under the contract: it must be the organisation's
    own account and under no other contract."""
    contract = get(session, contract_id)
    account = session.scalar(
        select(Account)
        .where(Account.number == (account_number or "").strip())
        .options(selectinload(Account.customer))
    )
    if account is None:
        raise DomainError(_("No account with this number."), "account_number")
    if account.customer.organisation_id != contract.organisation_id:
        raise DomainError(_("The account's customer is not this organisation."), "account_number")
    if account.contract_id == contract.id:
        raise DomainError(_("The account is already under this contract."), "account_number")
    if account.contract_id is not None:
        raise DomainError(_("The account is under another contract."), "account_number")
    account.contract_id = contract.id
    session.flush()
    summary = f"contract {contract.number}: account {account.number} linked"
    _audit(session, contract, AuditAction.UPDATE, summary, staff_id, ip)
    return account


def _audit(session, contract, action, summary, staff_id, ip, changes=None) -> None:
    audit.record(
        session,
        staff_id=staff_id,
        action=action,
        object_type=AuditObject.CONTRACT,
        object_id=contract.id,
        summary=summary,
        changes=changes,
        ip_address=ip,
    )
