"""Legal-entity customers: their users, roles and invitations."""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.models import (
    Account,
    Contract,
    Invitation,
    Organisation,
    OrganisationMember,
    OrgRole,
    User,
)
from portal.services.clock import utcnow
from portal.services.errors import DomainError, NotFound
from portal.services.notify import enqueue_email, send_after_commit
from portal.services.tokens import lifetime_hours, make_token, read_token
from portal.services.users import external_url, normalise_email


def memberships_of(session: Session, user: User) -> list[OrganisationMember]:
    return list(
        session.scalars(
            select(OrganisationMember)
            .where(OrganisationMember.user_id == user.id)
            .options(selectinload(OrganisationMember.organisation))
        )
    )


def membership(session: Session, user: User, organisation_id: int) -> OrganisationMember:
    """The user's membership of the organisation; NotFound if they are not a member."""
    found = session.scalar(
        select(OrganisationMember)
        .where(
            OrganisationMember.user_id == user.id,
            OrganisationMember.organisation_id == organisation_id,
        )
        .options(
            selectinload(OrganisationMember.organisation)
            .selectinload(Organisation.contracts)
            .selectinload(Contract.accounts)
            .selectinload(Account.premises),
            selectinload(OrganisationMember.organisation)
            .selectinload(Organisation.members)
            .selectinload(OrganisationMember.user),
        )
    )
    if found is None:
        raise NotFound()
    return found


def pending_invitations(session: Session, organisation_id: int) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.organisation_id == organisation_id, Invitation.accepted_at.is_(None))
            .order_by(Invitation.created_at.desc())
        )
    )


def require_owner(member: OrganisationMember) -> None:
    """Only owners manage users and invitations; others get a DomainError."""
    if member.role != OrgRole.OWNER:
        raise DomainError(_("Only the owner can manage the organisation's users."))


def invite(session: Session, owner: OrganisationMember, email: str, role: str) -> Invitation:
    require_owner(owner)
    email = normalise_email(email)
    organisation = owner.organisation
    if any(m.user.email == email for m in organisation.members):
        raise DomainError(_("This person is already a user of the organisation."), "email")
    invitation = Invitation(
        organisation_id=organisation.id,
        email=email,
        role=OrgRole(role),
        invited_by_id=owner.user_id,
    )
    session.add(invitation)
    session.flush()
    token = make_token("invite", {"invitation": invitation.id, "email": email})
    message = enqueue_email(
        session,
        kind="invitation",
        recipient=email,
        subject=_("Invitation to the customer portal of %(name)s", name=organisation.name),
        context={
            "organisation": organisation,
            "inviter": owner.user,
            "role": OrgRole(role),
            "accept_url": external_url("organisations.accept", token=token),
            "days": lifetime_hours("invite") // 24,
        },
        dedup_key=f"invitation:{invitation.id}",
    )
    send_after_commit(session, message)  # the caller's notify.commit_and_send
    return invitation


def invitation_for_token(session: Session, token: str) -> Invitation:
    payload = read_token("invite", token)
    invitation = (
        session.get(Invitation, payload["invitation"])
        if payload and "invitation" in payload
        else None
    )
    if invitation is None or invitation.accepted_at is not None:
        raise DomainError(_("The invitation is invalid, expired or already used."))
    return invitation


def accept(session: Session, token: str, user: User) -> Organisation:
    invitation = invitation_for_token(session, token)
    if normalise_email(user.email) != invitation.email:
        raise DomainError(
            _(
                "This invitation was sent to %(email)s. Sign in with that address.",
                email=invitation.email,
            )
        )
    exists = session.scalar(
        select(OrganisationMember).where(
            OrganisationMember.organisation_id == invitation.organisation_id,
            OrganisationMember.user_id == user.id,
        )
    )
    if exists is None:
        session.add(
            OrganisationMember(
                organisation_id=invitation.organisation_id, user_id=user.id, role=invitation.role
            )
        )
    invitation.accepted_at = utcnow()
    session.flush()
    return invitation.organisation


def revoke_invitation(session: Session, owner: OrganisationMember, invitation_id: int) -> None:
    require_owner(owner)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != owner.organisation_id:
        raise NotFound()
    session.delete(invitation)
    session.flush()


def remove_member(session: Session, owner: OrganisationMember, member_id: int) -> None:
    require_owner(owner)
    member = session.get(OrganisationMember, member_id)
    if member is None or member.organisation_id != owner.organisation_id:
        raise NotFound()
    if member.id == owner.id:
        raise DomainError(_("You cannot remove yourself; ask another owner."))
    session.delete(member)
    session.flush()


def change_role(session: Session, owner: OrganisationMember, member_id: int, role: str) -> None:
    require_owner(owner)
    member = session.get(OrganisationMember, member_id)
    if member is None or member.organisation_id != owner.organisation_id:
        raise NotFound()
    if member.id == owner.id and role != OrgRole.OWNER:
        raise DomainError(_("You cannot take the owner role from yourself."))
    member.role = OrgRole(role)
    session.flush()


# --- contracts: the company cabinet ----------------------------------------------------------

CHANGING_ROLES = (OrgRole.OWNER, OrgRole.ACCOUNTANT)


def contract_of(session: Session, user: User, organisation_id: int, contract_id: int):
    """(membership, contract) when the user is a member of the organisation the contract
    is with; NotFound otherwise — another organisation's contract is a 404."""
    member = membership(session, user, organisation_id)
    contract = session.scalar(
        select(Contract)
        .where(Contract.id == contract_id, Contract.organisation_id == organisation_id)
        .options(
            selectinload(Contract.accounts).selectinload(Account.premises),
            selectinload(Contract.accounts).selectinload(Account.meters),
            selectinload(Contract.amendments),
        )
    )
    if contract is None:
        raise NotFound()
    return member, contract


def require_changer(member: OrganisationMember) -> None:
    """Readings and other changes are for owners and accountants; a viewer only reads."""
    if member.role not in CHANGING_ROLES:
        raise DomainError(_("Your role in the organisation lets you view, not change."))
