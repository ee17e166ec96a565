"""Staff permissions by role, checked in one place."""

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

# Which roles may use which area of the back office. Administrators may use all.
AREA_ROLES = {
    "dashboard": {"operator", "metering", "billing", "supervisor", "admin"},
    "customers": {"operator", "metering", "billing", "supervisor", "admin"},
    "customers.edit": {"operator", "supervisor", "admin"},
    "mailbox": {"operator", "supervisor", "admin"},
    "mailbox.retry": {"supervisor", "admin"},
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


def staff_required(area: str):
    """Only signed-in staff whose role may use ``area``; others get the sign-in page or 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or not current_user.is_staff:
                return redirect(url_for("admin.login", next=request.full_path))
            if current_user.role not in AREA_ROLES[area]:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
