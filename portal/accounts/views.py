"""A resident's personal accounts: list, dashboard, link and unlink."""

from flask import Blueprint, abort, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from portal.accounts.forms import LinkAccountForm
from portal.extensions import db
from portal.services import accounts, debt, meters, readings, statements
from portal.services.errors import DomainError, NotFound
from portal.web import attach_error, customer_required, rate_limit

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def _user_key() -> str:
    """Attempts count per signed-in person (an office may share one address); per address
    for visitors, who are sent to sign in anyway."""
    if current_user.is_authenticated:
        return f"{current_user.session_prefix}:{current_user.id}"
    return get_remote_address()


@bp.route("/")
@customer_required
def index():
    return render_template(
        "portal/accounts/index.html",
        accounts=accounts.accounts_visible_to(db.session, current_user),
    )


@bp.route("/<int:account_id>")
@customer_required
def dashboard(account_id: int):
    try:
        account = accounts.get_account_for(db.session, current_user, account_id)
    except NotFound:
        abort(404)
    session["account_id"] = account.id
    today = readings.local_today()
    return render_template(
        "portal/accounts/dashboard.html",
        account=account,
        verification_warning_before=meters.verification_limit(db.session, today),
        today=today,
        last_readings=readings.last_readings(db.session, [m.id for m in account.meters]),
        readings_window=readings.window(db.session, today),
        reading_refusals={m.id: readings.customer_refusal(m) for m in account.meters},
        billing=statements.account_summary(db.session, account.id, today),
        debt_steps=debt.steps_for_account(db.session, account.id),
    )


@bp.route("/link", methods=["GET", "POST"])
@rate_limit("account_link", methods=["POST"], key_func=_user_key)
@customer_required
def link():
    form = LinkAccountForm()
    if form.validate_on_submit():
        try:
            account = accounts.link_account(
                db.session, current_user, form.number.data, form.secret_code.data
            )
        except DomainError as error:
            attach_error(form, error)
        else:
            flash(_("Account %(number)s is linked.", number=account.number), "success")
            return redirect(url_for("accounts.dashboard", account_id=account.id), code=303)
    return render_template("portal/accounts/link.html", form=form)


@bp.route("/<int:account_id>/unlink", methods=["POST"])
@customer_required
def unlink(account_id: int):
    try:
        accounts.unlink_account(db.session, current_user, account_id)
    except NotFound:
        abort(404)
    session.pop("account_id", None)
    flash(_("The account is unlinked from your profile."), "info")
    return redirect(url_for("accounts.index"), code=303)
