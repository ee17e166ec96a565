"""Legal-entity customers: organisation card, contracts, users and invitations."""

from contextlib import contextmanager

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.models import OrgRole
from portal.organisations.forms import InviteForm, RoleForm
from portal.services import notify, organisations
from portal.services.errors import DomainError, NotFound
from portal.web import customer_required, redirect_after_post, refusal_shown_on

bp = Blueprint("organisations", __name__, url_prefix="/organisations")


def _membership(organisation_id: int):
    """The signed-in user's membership (a service's NotFound is the 404 page)."""
    return organisations.membership(db.session, current_user, organisation_id)


@contextmanager
def _refusal_flashed():
    """Run an owner's action; a rule's refusal undoes it and is flashed, a missing object
    (NotFound) is the 404 page."""
    try:
        yield
    except NotFound:
        raise
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")


def _render_card(member, invite_form=None, status=200):
    return (
        render_template(
            "portal/organisations/card.html",
            member=member,
            organisation=member.organisation,
            invitations=organisations.pending_invitations(db.session, member.organisation_id),
            invite_form=invite_form or InviteForm(formdata=None),
            role_form=RoleForm(formdata=None),
            OrgRole=OrgRole,
        ),
        status,
    )


@bp.route("/")
@customer_required
def index():
    memberships = organisations.memberships_of(db.session, current_user)
    if len(memberships) == 1:
        return redirect(
            url_for("organisations.card", organisation_id=memberships[0].organisation_id)
        )
    return render_template("portal/organisations/index.html", memberships=memberships)


@bp.route("/<int:organisation_id>")
@customer_required
def card(organisation_id: int):
    return _render_card(_membership(organisation_id))


def _back_to_card(organisation_id: int):
    return redirect_after_post("organisations.card", organisation_id=organisation_id)


@bp.route("/<int:organisation_id>/invite", methods=["POST"])
@customer_required
def invite(organisation_id: int):
    member = _membership(organisation_id)
    try:
        # Before the form: a non-owner has no invite form on the card to show errors in.
        organisations.require_owner(member)
    except DomainError as error:
        flash(error.message, "danger")
        return _back_to_card(organisation_id)
    form = InviteForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            organisations.invite(db.session, member, form.email.data, form.role.data)
            notify.commit_and_send(db.session)
            flash(_("The invitation is sent to %(email)s.", email=form.email.data), "success")
            return _back_to_card(organisation_id)
    return _render_card(member, invite_form=form, status=400)


@bp.route("/<int:organisation_id>/invitations/<int:invitation_id>/revoke", methods=["POST"])
@customer_required
def revoke(organisation_id: int, invitation_id: int):
    member = _membership(organisation_id)
    with _refusal_flashed():
        organisations.revoke_invitation(db.session, member, invitation_id)
        db.session.commit()
    return _back_to_card(organisation_id)


@bp.route("/<int:organisation_id>/members/<int:member_id>/role", methods=["POST"])
@customer_required
def change_role(organisation_id: int, member_id: int):
    member = _membership(organisation_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the roles offered."), "danger")
        return _back_to_card(organisation_id)
    with _refusal_flashed():
        organisations.change_role(db.session, member, member_id, form.role.data)
        db.session.commit()
        flash(_("The role is changed."), "success")
    return _back_to_card(organisation_id)


@bp.route("/<int:organisation_id>/members/<int:member_id>/remove", methods=["POST"])
@customer_required
def remove_member(organisation_id: int, member_id: int):
    member = _membership(organisation_id)
    with _refusal_flashed():
        organisations.remove_member(db.session, member, member_id)
        db.session.commit()
        flash(_("The user is removed from the organisation."), "info")
    return _back_to_card(organisation_id)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept(token: str):
    """GET shows the invitation; POST (signed in with the invited address) joins."""
    try:
        invitation = organisations.invitation_for_token(db.session, token)
    except DomainError as error:
        return (
            render_template("portal/auth/link_invalid.html", message=error.message, kind="invite"),
            400,
        )
    signed_in = current_user.is_authenticated and not current_user.is_staff
    if request.method == "GET" or not signed_in:
        return render_template(
            "portal/organisations/invitation.html", invitation=invitation, token=token
        )
    try:
        organisation = organisations.accept(db.session, token, current_user)
    except DomainError as error:
        flash(error.message, "danger")
        return redirect_after_post("organisations.accept", token=token)
    db.session.commit()
    flash(_("You joined %(name)s.", name=organisation.name), "success")
    return redirect_after_post("organisations.card", organisation_id=organisation.id)


from portal.organisations import contracts  # noqa: E402,F401  (routes register on import)
