"""Which accounts a portal user may see, and linking accounts by number and secret code.

Every lookup of a customer's account from the public site goes through
``accounts_visible_to`` / ``get_account_for``: another customer's account answers NotFound.
"""

import hmac

from flask_babel import gettext as _
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session, selectinload

from portal.models import (
    Account,
    AccountLink,
    Contract,
    OrganisationMember,
    User,
)
from portal.services.errors import DomainError, NotFound


def visible_account_ids(user: User) -> Select:
    """Ids of accounts the user linked, plus the accounts of their organisations' contracts."""
    linked = select(AccountLink.account_id).where(AccountLink.user_id == user.id)
    via_organisation = (
        select(Account.id)
        .join(Contract, Account.contract_id == Contract.id)
        .join(OrganisationMember, OrganisationMember.organisation_id == Contract.organisation_id)
        .where(OrganisationMember.user_id == user.id)
    )
    return linked.union(via_organisation)


def accounts_visible_to(session: Session, user: User) -> list[Account]:
    return list(
        session.scalars(
            select(Account)
            .where(Account.id.in_(visible_account_ids(user)))
            .options(selectinload(Account.premises), selectinload(Account.customer))
            .order_by(Account.number)
        )
    )


def get_account_for(session: Session, user: User, account_id: int) -> Account:
    account = session.scalar(
        select(Account)
        .where(Account.id == account_id, Account.id.in_(visible_account_ids(user)))
        .options(
            selectinload(Account.premises),
            selectinload(Account.customer),
            selectinload(Account.services),
            selectinload(Account.meters),
            selectinload(Account.contract),
        )
    )
    if account is None:
        raise NotFound()
    return account


# Cyrillic letters that look like the Latin ones printed in codes: a person typing with the
# Russian keyboard layout on gets the code they see on the bill.
_LOOKALIKES = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")


def normalise_account_number(raw: str) -> str:
    return "".join(ch for ch in raw if ch in "0123456789")


def normalise_secret_code(raw: str) -> str:
    return "".join(raw.split()).upper().translate(_LOOKALIKES)


def link_account(session: Session, user: User, number: str, secret_code: str) -> Account:
    """Link an account when its number and the code printed on the bill match.

    The refusal is the same for an unknown number and a wrong code.
    """
    account = session.scalar(
        select(Account).where(
            Account.number == normalise_account_number(number), Account.closed_on.is_(None)
        )
    )
    # Bytes, not str: compare_digest refuses non-ASCII strings (a TypeError, so a 500).
    expected = normalise_secret_code(account.secret_code if account else "").encode()
    typed = normalise_secret_code(secret_code).encode()
    code_matches = hmac.compare_digest(expected, typed) and account is not None
    if not code_matches:
        raise DomainError(
            _("No account matches this number and code. Check both on your latest bill."),
            "number",
        )
    already = session.scalar(
        select(AccountLink).where(
            AccountLink.user_id == user.id, AccountLink.account_id == account.id
        )
    )
    if already is None:
        session.add(AccountLink(user_id=user.id, account_id=account.id))
        session.flush()
    return account


def unlink_account(session: Session, user: User, account_id: int) -> None:
    result = session.execute(
        delete(AccountLink).where(
            AccountLink.user_id == user.id, AccountLink.account_id == account_id
        )
    )
    if result.rowcount == 0:
        raise NotFound()
    session.flush()
