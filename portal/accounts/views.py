"""A resident's personal accounts: list, dashboard, link and unlink."""

from flask import Blueprint, flash, render_template, session
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from portal.accounts.forms import LinkAccountForm
from portal.extensions import db
from portal.models import MeterStatus
from portal.services import accounts, debt, meters, readings, statements
from portal.services.clock import local_today
from portal.web import customer_required, rate_limit, redirect_after_post, refusal_shown_on

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
    account = accounts.get_account_for(db.session, current_user, account_id)
    session["account_id"] = account.id
    today = local_today()
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
        MeterStatus=MeterStatus,
    )


@bp.route("/link", methods=["GET", "POST"])
@rate_limit("account_link", methods=["POST"], key_func=_user_key)
@customer_required
def link():
    form = LinkAccountForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            account = accounts.link_account(
                db.session, current_user, form.number.data, form.secret_code.data
            )
            db.session.commit()
            flash(_("Account %(number)s is linked.", number=account.number), "success")
            return redirect_after_post("accounts.dashboard", account_id=account.id)
    return render_template("portal/accounts/link.html", form=form)


@bp.route("/<int:account_id>/unlink", methods=["POST"])
@customer_required
def unlink(account_id: int):
    accounts.unlink_account(db.session, current_user, account_id)
    db.session.commit()
    session.pop("account_id", None)
    flash(_("The account is unlinked from your profile."), "info")
    return redirect_after_post("accounts.index")
