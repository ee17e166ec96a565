"""The user's own profile: name, contacts, notice channel, language, password."""

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from portal.extensions import db
from portal.profile.forms import PasswordForm, ProfileForm
from portal.services import users
from portal.services.errors import DomainError
from portal.web import attach_error, customer_required

bp = Blueprint("profile", __name__, url_prefix="/profile")


@bp.route("/", methods=["GET", "POST"])
@customer_required
def edit():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            users.update_profile(
                db.session,
                current_user,
                full_name=form.full_name.data,
                phone=form.phone.data,
                preferred_channel=form.preferred_channel.data,
                language=form.language.data,
            )
        except DomainError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            session["language"] = current_user.language
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("profile.edit"), code=303)
    return render_template(
        "portal/profile/edit.html", form=form, password_form=PasswordForm(formdata=None)
    )


@bp.route("/password", methods=["POST"])
@customer_required
def change_password():
    password_form = PasswordForm()
    if password_form.validate_on_submit():
        try:
            users.change_password(
                db.session,
                current_user,
                password_form.current_password.data,
                password_form.password.data,
            )
        except DomainError as error:
            attach_error(password_form, error)
        else:
            # The session id carries the password's fingerprint: renew this session, while
            # every other session of the person ends.
            login_user(current_user._get_current_object())
            flash(_("Your password is changed. Other devices are signed out."), "success")
            return redirect(url_for("profile.edit"), code=303)
    return render_template(
        "portal/profile/edit.html",
        form=ProfileForm(obj=current_user, formdata=None),
        password_form=password_form,
    )
