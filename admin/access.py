"""Staff permissions by role, checked in one place."""

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from portal.extensions import db
from portal.models import StaffRole
from portal.services import second_factor, sessions
from portal.web import end_session

OPERATOR, METERING, BILLING, SUPERVISOR, ADMIN = StaffRole

# Which roles may use which area of the back office. Administrators may use all.
AREA_ROLES = {
    "dashboard": {OPERATOR, METERING, BILLING, SUPERVISOR, ADMIN},
    "customers": {OPERATOR, METERING, BILLING, SUPERVISOR, ADMIN},
    "customers.edit": {OPERATOR, SUPERVISOR, ADMIN},
    "mailbox": {OPERATOR, SUPERVISOR, ADMIN},
    "mailbox.retry": {SUPERVISOR, ADMIN},
    "mailbox.body": {SUPERVISOR, ADMIN},  # a message's text: letters carry secret links
    "campaigns": {SUPERVISOR, ADMIN},  # mass mailings to a segment of customers
    "staff": {ADMIN},
    "audit": {SUPERVISOR, ADMIN},
    "readings.enter": {OPERATOR, METERING, SUPERVISOR, ADMIN},
    "readings.review": {METERING, SUPERVISOR, ADMIN},
    "readings.acceptance": {METERING, SUPERVISOR, ADMIN},
    "readings.import": {METERING, SUPERVISOR, ADMIN},  # CSV of remote readings
    "meters": {OPERATOR, METERING, SUPERVISOR, ADMIN},
    "meters.manage": {METERING, SUPERVISOR, ADMIN},
    "billing": {BILLING, SUPERVISOR, ADMIN},  # periods, tariffs, norms: view
    "billing.edit": {BILLING, ADMIN},  # new tariffs, norms, key rates; recalculations
    "billing.run": {BILLING, ADMIN},
    "billing.close": {BILLING, SUPERVISOR, ADMIN},
    "payments": {BILLING, SUPERVISOR, ADMIN},  # registries, payments by account
    "debt": {OPERATOR, BILLING, SUPERVISOR, ADMIN},  # debtors, an account's debt: view
    "debt.manage": {BILLING, SUPERVISOR, ADMIN},  # escalation steps
    "settings": {ADMIN},  # deadlines, windows, thresholds (portal/services/settings.py)
    "calendar": {ADMIN},  # exceptions to the production calendar (work calendar)
    # Appeals: any employee may be an executor; operators register what comes by phone,
    # post or in the office; supervisors assign, sign answers and see the figures.
    "appeals": {OPERATOR, METERING, BILLING, SUPERVISOR, ADMIN},
    "appeals.register": {OPERATOR, SUPERVISOR, ADMIN},
    "appeals.assign": {SUPERVISOR, ADMIN},
    "appeals.templates": {SUPERVISOR, ADMIN},
    "appeals.figures": {SUPERVISOR, ADMIN},
    "visits": {OPERATOR, SUPERVISOR, ADMIN},  # the office's day: check-in, queue, screen
    "visits.manage": {ADMIN},  # offices, their plans, closures, services, windows
    "visits.figures": {SUPERVISOR, ADMIN},  # waiting and service time figures
    "contracts": {OPERATOR, BILLING, SUPERVISOR, ADMIN},  # organisations' contracts: view
    "contracts.edit": {BILLING, ADMIN},  # create, amend, terminate, link accounts
    "documents": {BILLING, SUPERVISOR, ADMIN},  # invoices, VAT invoices, acts: the register
    "documents.issue": {BILLING, ADMIN},  # bulk issue of a period, corrections
    # Contract applications: operators and billing specialists work them; supervisors
    # answer complaints about decisions, keep the checklists and refusal reasons, see figures.
    "applications": {OPERATOR, BILLING, SUPERVISOR, ADMIN},
    "applications.figures": {SUPERVISOR, ADMIN},
    "applications.lists": {SUPERVISOR, ADMIN},  # document checklists, refusal reasons
    "quality": {SUPERVISOR, ADMIN},  # surveys, the feedback book, the quality dashboard
}


def can(area: str) -> bool:
    return (
        current_user.is_authenticated
        and current_user.is_staff
        and current_user.role in AREA_ROLES[area]
    )


def _owes_second_factor():
    """Where to send a signed-in employee whose session lacks a required second factor
    (e.g. the requirement came after they signed in), or None."""
    staff = current_user._get_current_object()
    if sessions.has_second_factor(staff) or not second_factor.is_required(db.session, staff):
        return None
    if not second_factor.is_enrolled(staff):
        return redirect(url_for("admin.security_enrol"))
    end_session()  # enrolled elsewhere since: sign in again, with the code
    return redirect(url_for("admin.login", next=request.full_path))


def staff_signed_in(view):
    """Any signed-in employee, second factor or not (their own sign-in settings)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.is_staff:
            return redirect(url_for("admin.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapper


def staff_required(area: str):
    """Only signed-in staff whose role may use ``area`` and who gave the second factor
    where it is required; others get the sign-in page, the enrolment page or 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or not current_user.is_staff:
                return redirect(url_for("admin.login", next=request.full_path))
            if (detour := _owes_second_factor()) is not None:
                return detour
            if current_user.role not in AREA_ROLES[area]:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
