"""The back office, under /admin: one module per area, all calling the same services."""

from flask import Blueprint, has_request_context, request
from flask_babel import lazy_gettext as _l

bp = Blueprint("admin", __name__)

# (endpoint, area whose roles may see it, title, endpoint prefix that marks it active)
MENU = [
    ("admin.dashboard", "dashboard", _l("Home"), "admin.dashboard"),
    ("admin.customers", "customers", _l("Customers"), "admin.customer"),
    ("admin.readings_review", "readings.review", _l("Readings"), "admin.readings_"),
    ("admin.reading_entry", "readings.enter", _l("Enter readings"), "admin.reading_"),
    ("admin.imports", "readings.import", _l("Import"), "admin.import"),
    ("admin.meters_verification", "meters", _l("Meters"), "admin.meter"),
    ("admin.billing_periods_list", "billing", _l("Billing"), "admin.billing_"),
    ("admin.tariffs_index", "billing", _l("Tariffs"), "admin.tariffs"),
    ("admin.payment_registries", "payments", _l("Payments"), "admin.payment"),
    ("admin.contracts", "contracts", _l("Contracts"), "admin.contract"),
    ("admin.documents_register", "documents", _l("Documents"), "admin.documents"),
    ("admin.debtors", "debt", _l("Debt"), "admin.debt"),
    ("admin.appeals_queue", "appeals", _l("Appeals"), "admin.appeal"),
    ("admin.applications_queue", "applications", _l("Applications"), "admin.application"),
    ("admin.mailbox", "mailbox", _l("Mailbox"), "admin.mailbox"),
    ("admin.campaigns", "campaigns", _l("Mailings"), "admin.campaign"),
    ("admin.staff_list", "staff", _l("Staff"), "admin.staff"),
    ("admin.settings_index", "settings", _l("Settings"), "admin.settings"),
    ("admin.calendar_index", "calendar", _l("Work calendar"), "admin.calendar"),
    ("admin.audit_log", "audit", _l("Audit log"), "admin.audit"),
    ("admin.visits_day", "visits", _l("Office visits"), "admin.visits_"),
    ("admin.offices_index", "visits.manage", _l("Offices"), "admin.offices_"),
    ("admin.home_visits_index", "visits", _l("Home visits"), "admin.home_visits_"),
    ("admin.quality_dashboard", "quality", _l("Quality"), "admin.quality"),
    ("admin.surveys", "quality", _l("Surveys"), "admin.survey"),
    ("admin.feedback_entries", "quality", _l("Feedback book"), "admin.feedback"),
]


@bp.app_context_processor
def admin_navigation():
    from admin.access import can

    if not has_request_context() or request.blueprint != "admin":
        return {}
    menu = [
        (endpoint, title, (request.endpoint or "").startswith(prefix))
        for endpoint, area, title, prefix in MENU
        if can(area)
    ]
    return {"admin_menu": menu, "admin_can": can}


# Routes register on import.
from admin import (  # noqa: E402,F401
    appeals,
    applications,
    audit,
    auth,
    billing,
    calendar,
    campaigns,
    contracts,
    customers,
    dashboard,
    debt,
    documents,
    feedback,
    home_visits,
    imports,
    mailbox,
    meters,
    payments,
    quality,
    readings,
    security,
    settings,
    staff,
    surveys,
    tariffs,
    visits,
)
