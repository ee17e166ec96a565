"""The user's own profile: name, contacts, notice channel, language, password."""

from flask import Blueprint, flash, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from portal import web
from portal.extensions import db
from portal.profile.forms import PasswordForm, ProfileForm, notices_form
from portal.services import accounts, sessions, users
from portal.services.notify import preferences
from portal.web import customer_required, redirect_after_post, refusal_shown_on

bp = Blueprint("profile", __name__, url_prefix="/profile")


@bp.route("/", methods=["GET", "POST"])
@customer_required
def edit():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            users.update_profile(
                db.session,
                current_user,
                full_name=form.full_name.data,
                phone=form.phone.data,
                preferred_channel=form.preferred_channel.data,
                language=form.language.data,
            )
            db.session.commit()
            session["language"] = current_user.language
            flash(_("Your profile is saved."), "success")
            return redirect_after_post("profile.edit")
    return render_template(
        "portal/profile/edit.html",
        form=form,
        password_form=PasswordForm(formdata=None),
        **devices_context(),
        **notices_context(),
    )


def _notices_account() -> int | None:
    """The account whose notices are shown (``?account=``), None for all accounts."""
    return request.args.get("account", type=int)


def notices_context(form=None) -> dict:
    """The notices section: the accounts to choose among and the form of one scope (all
    accounts, or one the user sees; another customer's account is a 404)."""
    user = current_user._get_current_object()
    account_id = _notices_account()
    choices = preferences.choices(db.session, user, account_id)
    return {
        "notice_accounts": accounts.accounts_visible_to(db.session, user),
        "notice_account_id": account_id,
        "notice_choices": choices,
        "notices_form": form or notices_form(choices, account_id is not None, formdata=None),
    }


@bp.route("/notices", methods=["POST"])
@customer_required
def save_notices():
    user = current_user._get_current_object()
    account_id = _notices_account()
    form = notices_form(preferences.choices(db.session, user, account_id), account_id is not None)
    if form.validate_on_submit():
        chosen = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
        with refusal_shown_on(form):
            preferences.save(db.session, user, chosen, account_id)
            db.session.commit()
            flash(_("Your choice of notices is saved."), "success")
            return redirect_after_post("profile.edit", account=account_id, _anchor="notices")
    return render_template(
        "portal/profile/edit.html",
        form=ProfileForm(obj=current_user, formdata=None),
        password_form=PasswordForm(formdata=None),
        **devices_context(),
        **notices_context(form),
    )


@bp.route("/password", methods=["POST"])
@customer_required
def change_password():
    password_form = PasswordForm()
    if password_form.validate_on_submit():
        with refusal_shown_on(password_form):
            users.change_password(
                db.session,
                current_user,
                password_form.current_password.data,
                password_form.password.data,
            )
            db.session.commit()
            flash(_("Your password is changed. Other devices are signed out."), "success")
            return redirect_after_post("profile.edit")
    return render_template(
        "portal/profile/edit.html",
        form=ProfileForm(obj=current_user, formdata=None),
        password_form=password_form,
        **devices_context(),
        **notices_context(),
    )


def devices_context() -> dict:
    """The devices signed in as the person, for the devices section of a profile page."""
    person = current_user._get_current_object()
    return {"devices": sessions.signed_in_devices(db.session, person), "end_form": FlaskForm()}


@bp.route("/devices/others/end", methods=["POST"])
@customer_required
def end_other_sessions():
    web.end_other_sessions(current_user._get_current_object())
    return redirect_after_post("profile.edit", _anchor="devices")


@bp.route("/devices/<int:session_id>/end", methods=["POST"])
@customer_required
def end_device_session(session_id: int):
    web.end_device_session(current_user._get_current_object(), session_id)
    return redirect_after_post("profile.edit", _anchor="devices")
