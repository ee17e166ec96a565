"""Sign-up, e-mail confirmation, sign-in and out, password reset for portal users."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm, SignUpForm
from portal.extensions import db
from portal.models import User
from portal.services import notify, users
from portal.services.errors import DomainError
from portal.services.tokens import lifetime_hours
from portal.web import (
    attach_error,
    client_ip,
    customer_required,
    end_session,
    known_devices,
    rate_limit,
    redirect_after_post,
    refusal_shown_on,
    remember_device,
    safe_next,
    start_session,
)

bp = Blueprint("auth", __name__)

SIGNUP_USER = "signup_user"  # the user this browser signed up, until the link is opened


@bp.route("/signup", methods=["GET", "POST"])
@rate_limit("sign_up", methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignUpForm()
    if form.validate_on_submit():
        try:
            user = users.register(
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
            notify.commit_and_send(db.session)
            session["signup_email"] = users.normalise_email(form.email.data)
            if user is not None:  # this browser may be signed in by the link, once
                session[SIGNUP_USER] = user.id
            return redirect_after_post("auth.check_email")
    return render_template("portal/auth/signup.html", form=form)


@bp.route("/signup/check-email")
def check_email():
    return render_template(
        "portal/auth/check_email.html",
        email=session.get("signup_email"),
        hours=lifetime_hours("confirm"),
    )


@bp.route("/confirm/<token>")
def confirm(token: str):
    """Confirm the address, once. The link signs in only the browser that signed up, and
    only the first time: forwarded, scanned or found in a history it confirms nothing more."""
    try:
        user = users.confirm_email(db.session, token)
    except users.LinkUsed as used:
        flash(used.message, "info")
        return redirect(url_for("auth.login"), code=303)
    except DomainError as error:
        return (
            render_template("portal/auth/link_invalid.html", message=error.message, kind="confirm"),
            400,
        )
    signed_up_here = session.pop(SIGNUP_USER, None) == user.id
    db.session.commit()
    if current_user.is_authenticated and not current_user.is_staff and current_user.id == user.id:
        signed_up_here = False  # already in
    elif signed_up_here and not current_user.is_authenticated:
        start_session(user)
    else:
        flash(_("Your e-mail is confirmed. Sign in to link your personal account."), "success")
        return redirect(url_for("auth.login", next=url_for("accounts.link")), code=303)
    flash(_("Your e-mail is confirmed. Now link your personal account."), "success")
    return redirect(url_for("accounts.link"), code=303)


@bp.route("/confirm/resend", methods=["POST"])
@rate_limit("confirm_resend")
@customer_required
def resend_confirmation():
    users.resend_confirmation(db.session, current_user)
    notify.commit_and_send(db.session)
    flash(_("We sent the confirmation link again to %(email)s.", email=current_user.email), "info")
    return redirect_after_post("main.home")


@bp.route("/login", methods=["GET", "POST"])
@rate_limit("sign_in", methods=["POST"])
def login():
    if current_user.is_authenticated and not current_user.is_staff:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            user, email_key = users.password_sign_in(
                db.session, User, form.email.data, form.password.data, client_ip(), known_devices()
            )
            start_session(user, remember=form.remember.data)
            remember_device(email_key)
            session["language"] = user.language
            return redirect(safe_next(url_for("main.home")), code=303)
    return render_template("portal/auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    end_session()
    flash(_("You have signed out."), "info")
    return redirect_after_post("auth.login")


@bp.route("/unlock/<token>")
def unlock(token: str):
    """The link e-mailed when sign-in with an address is being guessed: the browser that
    opens it becomes a known device for that address, which the lock does not stop."""
    try:
        audience, email_key = users.read_unlock(token)
    except DomainError as error:
        return (
            render_template("portal/auth/link_invalid.html", message=error.message, kind="unlock"),
            400,
        )
    remember_device(email_key)
    flash(_("Sign-in on this device is unlocked. Sign in with your password."), "success")
    target = "admin.login" if audience == "staff" else "auth.login"
    return redirect(url_for(target), code=303)


def _email_typed() -> str:
    return users.normalise_email(request.form.get("email", ""))[:254]


@bp.route("/password/forgot", methods=["GET", "POST"])
@rate_limit("password_forgot", methods=["POST"])
@rate_limit("password_forgot_email", methods=["POST"], key_func=_email_typed)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        users.request_password_reset(db.session, form.email.data)
        notify.commit_and_send(db.session)
        return render_template(
            "portal/auth/reset_sent.html", email=form.email.data, hours=lifetime_hours("reset")
        )
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
            db.session.commit()
            end_session()  # whoever was signed in in this browser too
            flash(
                _(
                    "Your password is changed and every device is signed out. Sign in with the new one."
                ),
                "success",
            )
            return redirect_after_post("auth.login")
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
