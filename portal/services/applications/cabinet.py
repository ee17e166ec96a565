"""What a concluded application leaves behind: the contract drawn up from its data as a
PDF, and the account or contract in the customer's cabinet without a second linking step
(a resident gets the account linked; an organisation user becomes the organisation's
owner on its portal page). A guest who applied and later registers with the same e-mail
finds their concluded applications, and what they brought, in the cabinet once the
address is confirmed."""

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    Account,
    AccountLink,
    Application,
    ApplicationStatus,
    Contract,
    OrganisationMember,
    OrgRole,
    User,
)
from portal.services.clock import local_today


def supplier() -> dict:
    config = current_app.config
    return {
        key: config[f"SUPPLIER_{key.upper()}"]
        for key in ("name", "address", "inn", "kpp", "phone", "bank_name", "bic", "account")
    }


def contract_pdf(application: Application) -> tuple[str, bytes]:
    """The contract (or the agreement changing one) filled in from the application, in
    the applicant's language."""
    from portal.services.documents import render_pdf

    with force_locale(application.language):
        html = render_template(
            "documents/application_contract.html",
            application=application,
            supplier=supplier(),
            today=local_today(),
        )
    return f"dogovor-{application.number}.pdf", render_pdf(html)


def put_in_cabinet(session: Session, application: Application, user: User | None) -> None:
    """Link the signed application's account or contract to the applicant's login."""
    if user is None:
        return
    if application.account_id:
        _link_account(session, user, application.account_id)
    if application.contract_id:
        contract = session.get(Contract, application.contract_id)
        _join_organisation(session, user, contract.organisation_id)
    session.flush()


def _link_account(session: Session, user: User, account_id: int) -> None:
    exists = session.scalar(
        select(AccountLink.id).filter_by(user_id=user.id, account_id=account_id)
    )
    if not exists:
        session.add(AccountLink(user_id=user.id, account_id=account_id))


def _join_organisation(session: Session, user: User, organisation_id: int) -> None:
    exists = session.scalar(
        select(OrganisationMember.id).filter_by(user_id=user.id, organisation_id=organisation_id)
    )
    if not exists:
        session.add(
            OrganisationMember(user_id=user.id, organisation_id=organisation_id, role=OrgRole.OWNER)
        )


def claim_for(session: Session, user: User) -> list[Application]:
    """A newly confirmed user's guest applications (same e-mail): theirs from now on, and
    what the signed ones brought goes into the cabinet."""
    guest = list(
        session.scalars(
            select(Application).where(
                Application.user_id.is_(None),
                Application.applicant_email == user.email.lower(),
                Application.status != ApplicationStatus.DRAFT,
            )
        )
    )
    for application in guest:
        application.user_id = user.id
        if application.status is ApplicationStatus.SIGNED:
            put_in_cabinet(session, application, user)
    session.flush()
    return guest


def account_by_number(session: Session, number: str) -> Account | None:
    return session.scalar(select(Account).where(Account.number == (number or "").strip()))
