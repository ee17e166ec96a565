"""Staff permissions by role, checked in one place."""

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from portal.extensions import db
from portal.services import second_factor, sessions
from portal.web import end_session

# Which roles may use which area of the back office. Administrators may use all.
AREA_ROLES = {
    "dashboard": {"operator", "metering", "billing", "supervisor", "admin"},
    "customers": {"operator", "metering", "billing", "supervisor", "admin"},
    "customers.edit": {"operator", "supervisor", "admin"},
    "mailbox": {"operator", "supervisor", "admin"},
    "mailbox.retry": {"supervisor", "admin"},
    "mailbox.body": {"supervisor", "admin"},  # a message's text: letters carry secret links
    "staff": {"admin"},
    "audit": {"supervisor", "admin"},
    "readings.enter": {"operator", "metering", "supervisor", "admin"},
    "readings.review": {"metering", "supervisor", "admin"},
    "readings.acceptance": {"metering", "supervisor", "admin"},
    "readings.import": {"metering", "supervisor", "admin"},  # CSV of remote readings
    "meters": {"operator", "metering", "supervisor", "admin"},
    "meters.manage": {"metering", "supervisor", "admin"},
    "billing": {"billing", "supervisor", "admin"},  # periods, tariffs, norms: view
    "billing.edit": {"billing", "admin"},  # new tariffs, norms, key rates; recalculations
    "billing.run": {"billing", "admin"},
    "billing.close": {"billing", "supervisor", "admin"},
    "payments": {"billing", "supervisor", "admin"},  # registries, payments by account
    "debt": {"operator", "billing", "supervisor", "admin"},  # debtors, an account's debt: view
    "debt.manage": {"billing", "supervisor", "admin"},  # escalation steps
    "settings": {"admin"},  # deadlines, windows, thresholds (portal/services/settings.py)
    "calendar": {"admin"},  # exceptions to the production calendar (work calendar)
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
