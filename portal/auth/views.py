"""Sign-up, e-mail confirmation, sign-in and out, password reset for portal users."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal.auth.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm, SignUpForm
from portal.extensions import db, limiter
from portal.models import User
from portal.services import users
from portal.services.errors import DomainError
from portal.web import attach_error, client_ip, customer_required

bp = Blueprint("auth", __name__)


def safe_next(default: str) -> str:
    """Follow ?next= only to a path on this site.

    Browsers read a backslash as a slash, so "/\\evil.com" would leave the site like
    "//evil.com"; control characters are dropped by URL parsers. Both are refused.
    """
    target = request.args.get("next", "")
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            users.register(
                db.session,
                email=form.email.data,
                phone=form.phone.data,
                full_name=form.full_name.data,
                password=form.password.data,
                ip=client_ip(),
                language=str(get_locale()),
            )
        except DomainError as error:
            attach_error(form, error)
        else:
            session["signup_email"] = users.normalise_email(form.email.data)
            return redirect(url_for("auth.check_email"), code=303)
    return render_template("portal/auth/signup.html", form=form)


@bp.route("/signup/check-email")
def check_email():
    return render_template("portal/auth/check_email.html", email=session.get("signup_email"))


@bp.route("/confirm/<token>")
def confirm(token: str):
    try:
        user = users.confirm_email(db.session, token)
    except DomainError as error:
        return (
            render_template("portal/auth/link_invalid.html", message=error.message, kind="confirm"),
            400,
        )
    if not current_user.is_authenticated:
        login_user(user)
    flash(_("Your e-mail is confirmed. Now link your personal account."), "success")
    return redirect(url_for("accounts.link"), code=303)


@bp.route("/confirm/resend", methods=["POST"])
@limiter.limit("5 per hour")
@customer_required
def resend_confirmation():
    users.resend_confirmation(db.session, current_user)
    flash(_("We sent the confirmation link again to %(email)s.", email=current_user.email), "info")
    return redirect(url_for("main.home"), code=303)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated and not current_user.is_staff:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = users.authenticate(db.session, User, form.email.data, form.password.data)
        except DomainError as error:
            attach_error(form, error)
        else:
            # A fresh session: nothing of a previous visitor (their account, e-mail) stays.
            session.clear()
            session.permanent = True  # clear() dropped it: the session still ends when idle
            logout_user()  # after clear(): it marks a remembered visitor's cookie for removal
            login_user(user, remember=form.remember.data)
            session["language"] = user.language
            return redirect(safe_next(url_for("main.home")), code=303)
    return render_template("portal/auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    # clear() first: logout_user() leaves a note in the session to delete the "remember me"
    # cookie, which clear() would wipe, leaving the visitor signed in through that cookie.
    language = session.get("language")
    session.clear()
    session.permanent = True
    if language:
        session["language"] = language  # the site stays in the language the person reads
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per 15 minutes", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        users.request_password_reset(db.session, form.email.data)
        return render_template("portal/auth/reset_sent.html", email=form.email.data)
    return render_template("portal/auth/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        users.user_for_reset_token(db.session, token)
    except DomainError as error:
        return (
            render_template("portal/auth/link_invalid.html", message=error.message, kind="reset"),
            400,
        )
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            users.reset_password(db.session, token, form.password.data)
        except DomainError as error:
            attach_error(form, error)
        else:
            flash(_("Your password is changed. Sign in with the new one."), "success")
            return redirect(url_for("auth.login"), code=303)
    return render_template("portal/auth/reset_password.html", form=form)


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str):
    from flask import current_app

    if code in current_app.config["LANGUAGES"]:
        session["language"] = code
        if current_user.is_authenticated and not current_user.is_staff:
            current_user.language = code
            db.session.commit()
    return redirect(safe_next(url_for("main.home")), code=303)
