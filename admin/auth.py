"""Staff sign-in (password, then the second factor where it is required) and sign-out.

Until the second factor is given the employee is not signed in at all: the session holds
only a pending sign-in (who, since when, how many wrong codes), which lapses after
``SECOND_FACTOR_MINUTES``.
"""

from datetime import datetime, timedelta

from flask import current_app, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from admin import bp
from portal import web
from portal.extensions import db
from portal.models import Staff
from portal.services import second_factor, users
from portal.services import staff as staff_service
from portal.services.clock import utcnow
from portal.services.errors import DomainError
from portal.web import (
    attach_error,
    client_ip,
    end_session,
    rate_limit,
    redirect_after_post,
    refusal_shown_on,
    safe_next,
    start_session,
)

PENDING = "pending_staff_sign_in"
MAX_CODE_FAILURES = 5


class StaffLoginForm(FlaskForm):
    email = EmailField(_l("Work e-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("6 digits from the authenticator app, or a recovery code"),
    )


def begin_pending(staff: Staff, next_url: str) -> None:
    session.clear()
    session[PENDING] = {"id": staff.id, "at": utcnow().isoformat(), "fails": 0, "next": next_url}


def pending_staff() -> Staff | None:
    """The employee whose password was right a moment ago and who owes the second factor."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    lapse = timedelta(minutes=current_app.config["SECOND_FACTOR_MINUTES"])
    try:
        started = datetime.fromisoformat(pending["at"])
    except (KeyError, TypeError, ValueError):
        return None
    staff = db.session.get(Staff, pending.get("id")) if utcnow() - started < lapse else None
    if staff is None or not staff.is_active:
        session.pop(PENDING, None)
        return None
    return staff


def finish_sign_in(staff: Staff, *, with_second_factor: bool, how: str = "") -> str:
    """Sign the employee in (audited) and return where to go next."""
    next_url = (session.get(PENDING) or {}).get("next") or url_for("admin.dashboard")
    staff_service.record_sign_in(db.session, staff, how=how, ip=client_ip())
    start_session(staff, second_factor=with_second_factor)  # commits the audit record too
    return next_url


@bp.route("/login", methods=["GET", "POST"])
@rate_limit("staff_sign_in", methods=["POST"])
def login():
    if current_user.is_authenticated and current_user.is_staff:
        return redirect(url_for("admin.dashboard"))
    form = StaffLoginForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            staff, email_key = users.password_sign_in(
                db.session,
                Staff,
                form.email.data,
                form.password.data,
                client_ip(),
                web.known_devices(),
            )
            web.remember_device(email_key)
            next_url = safe_next(url_for("admin.dashboard"))
            if second_factor.is_required(db.session, staff):
                db.session.commit()
                begin_pending(staff, next_url)
                if second_factor.is_enrolled(staff):
                    return redirect_after_post("admin.login_code")
                return redirect_after_post("admin.security_enrol")
            finish_sign_in(staff, with_second_factor=False)
            return redirect(next_url, code=303)
    return render_template("admin/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@rate_limit("second_factor", methods=["POST"])
def login_code():
    staff = pending_staff()
    if staff is None or not second_factor.is_enrolled(staff):
        return redirect(url_for("admin.login"), code=303)
    form = CodeForm()
    if form.validate_on_submit():
        try:
            how = second_factor.verify(db.session, staff, form.code.data)
        except DomainError as error:
            db.session.commit()  # a recovery code is never half-used, but keep state clean
            pending = session[PENDING]
            pending["fails"] = pending.get("fails", 0) + 1
            session[PENDING] = pending
            if pending["fails"] >= MAX_CODE_FAILURES:
                session.pop(PENDING, None)
                return redirect_after_post("admin.login")
            attach_error(form, error)
        else:
            used = _("with a recovery code") if how == "recovery" else _("with a code")
            next_url = finish_sign_in(staff, with_second_factor=True, how=used)
            return redirect(next_url, code=303)
    return render_template("admin/login_code.html", form=form, staff=staff)


@bp.route("/logout", methods=["POST"])
def logout():
    end_session()
    return redirect_after_post("admin.login")
