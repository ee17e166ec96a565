"""The back office's start page."""

from flask import render_template
from sqlalchemy import func, select

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import Account, Customer, MessageStatus, Meter, OutboxMessage, User


@bp.route("/")
@staff_required("dashboard")
def dashboard():
    counts = {
        "customers": db.session.scalar(select(func.count(Customer.id))),
        "accounts": db.session.scalar(select(func.count(Account.id))),
        "meters": db.session.scalar(select(func.count(Meter.id))),
        "portal_users": db.session.scalar(select(func.count(User.id))),
        "failed_messages": db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == MessageStatus.FAILED)
        ),
    }
    return render_template("admin/dashboard.html", counts=counts)
