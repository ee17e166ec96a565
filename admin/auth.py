"""Staff sign-in and sign-out."""

from flask import redirect, render_template, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from admin import bp
from portal.auth.views import safe_next
from portal.extensions import db, limiter
from portal.models import Staff
from portal.services import audit, users
from portal.services.errors import DomainError
from portal.web import attach_error, client_ip


class StaffLoginForm(FlaskForm):
    email = EmailField(_l("Work e-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated and current_user.is_staff:
        return redirect(url_for("admin.dashboard"))
    form = StaffLoginForm()
    if form.validate_on_submit():
        try:
            staff = users.authenticate(db.session, Staff, form.email.data, form.password.data)
        except DomainError as error:
            attach_error(form, error)
        else:
            session.clear()
            logout_user()
            login_user(staff)
            audit.record(
                db.session,
                staff_id=staff.id,
                action="sign_in",
                object_type="staff",
                object_id=staff.id,
                ip_address=client_ip(),
            )
            db.session.commit()
            return redirect(safe_next(url_for("admin.dashboard")), code=303)
    return render_template("admin/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    # clear() first: logout_user() leaves the note that deletes a "remember me" cookie.
    session.clear()
    logout_user()
    return redirect(url_for("admin.login"), code=303)
