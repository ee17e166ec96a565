"""The home page: a landing page for visitors, the current account for residents."""

from flask import Blueprint, redirect, render_template, session, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.extensions import db
from portal.models import Office
from portal.services import accounts, readings

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    if current_user.is_authenticated and current_user.is_staff:
        return redirect(url_for("admin.dashboard"))
    if current_user.is_authenticated:
        visible = accounts.accounts_visible_to(db.session, current_user)
        chosen = next((a for a in visible if a.id == session.get("account_id")), None)
        if chosen or len(visible) == 1:
            return redirect(url_for("accounts.dashboard", account_id=(chosen or visible[0]).id))
        return redirect(url_for("accounts.index"))
    offices = db.session.scalars(select(Office).order_by(Office.name)).all()
    return render_template(
        "portal/main/home.html", offices=offices, window=readings.window(db.session)
    )


@bp.route("/privacy")
def privacy():
    return render_template("portal/main/privacy.html")


@bp.route("/healthz")
def healthz():
    db.session.execute(select(1))
    return {"status": "ok"}
