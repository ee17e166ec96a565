"""Letters to organisations: the e-mail to the organisation's accountants when a period's
documents are issued (through the outbox, in each person's language)."""

from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.models import Contract, OrganisationMember, OrgRole
from portal.services.notify import enqueue_email
from portal.services.notify.outbox import link_context
from portal.services.users import external_url


def accountants(contract: Contract) -> list[OrganisationMember]:
    """Who receives an organisation's documents: its accountants, or its owners when it
    has none yet (somebody must hear of an invoice)."""
    members = contract.organisation.members
    chosen = [m for m in members if m.role == OrgRole.ACCOUNTANT]
    return chosen or [m for m in members if m.role == OrgRole.OWNER]


def documents_issued(session: Session, contract: Contract, issued: list) -> int:
    """One e-mail per accountant naming the documents; returns how many were planned."""
    if not issued:
        return 0
    first = issued[0]
    planned = 0
    with link_context():
        url = external_url(
            "organisations.contract",
            organisation_id=contract.organisation_id,
            contract_id=contract.id,
        )
        for member in accountants(contract):
            user = member.user
            with force_locale(user.language or "ru"):
                message = enqueue_email(
                    session,
                    kind="contract_documents",
                    recipient=user.email,
                    subject=_(
                        "Documents for %(month)s under contract %(number)s",
                        month=_month(first.period),
                        number=contract.number,
                    ),
                    context={
                        "contract": contract,
                        "organisation": contract.organisation,
                        "documents": issued,
                        "period": first.period,
                        "corrected": first.replaces is not None,
                        "url": url,
                    },
                    dedup_key=f"contract_documents:{contract.id}:{first.number}:{user.id}",
                    user_id=user.id,
                )
            planned += message is not None
    return planned


def _month(period) -> str:
    return format_date(period, "LLLL yyyy")
