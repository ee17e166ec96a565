"""Billing periods in the back office: run a month in the background and follow its progress,
see its totals by method, close it, and add recalculations with a reason.

Every rule is in ``portal.services.billing_periods`` (and the billing and ledger services
it calls)."""

from decimal import ROUND_HALF_UP, Decimal

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from admin import bp
from admin.access import staff_required
from admin.customers import page_of, staff_member
from portal.extensions import db, htmx
from portal.formatting import SERVICE_LABELS, ZONE_LABELS
from portal.services import billing, billing_periods
from portal.services.errors import DomainError, NotFound
from portal.services.readings import local_today
from portal.services.tariffs import SERVICE_ZONES, parse_rate
from portal.web import client_ip, options, refusal_shown_on, rule_check

STATUS_LABELS = {
    "draft": _l("draft"),
    "queued": _l("queued"),
    "running": _l("running"),
    "failed": _l("run failed"),
    "closed": _l("closed"),
}
STATUS_BADGES = {
    "draft": "text-bg-light border",
    "queued": "text-bg-info",
    "running": "text-bg-primary",
    "failed": "text-bg-danger",
    "closed": "text-bg-secondary",
}
# The element the period page polls while a run goes on: htmx asks for it alone.
STATUS_TARGET = "period-status"
METHOD_LABELS = {
    "meter": _l("by meter"),
    "average": _l("by average"),
    "norm": _l("by norm"),
    "recalculation": _l("recalculations"),
}


@bp.app_template_filter("billing_money")
def billing_money(value) -> str:
    """An amount in roubles with kopecks: 1 234,50."""
    if value is None:
        return "—"
    return format_decimal(
        Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP), format="#,##0.00"
    )


@bp.app_template_filter("billing_rate")
def billing_rate(value) -> str:
    """A tariff or a norm: two to four decimals."""
    return "—" if value is None else format_decimal(value, format="#,##0.00##")


def template_context(**extra) -> dict:
    return {
        "STATUS_LABELS": STATUS_LABELS,
        "STATUS_BADGES": STATUS_BADGES,
        "METHOD_LABELS": METHOD_LABELS,
        "METHODS": billing_periods.METHODS,
        **extra,
    }


def _to_period(month):
    """After a POST: 303 to the period page; an htmx request reloads it whole."""
    target = url_for("admin.billing_period", period=billing_periods.iso(month))
    if htmx:
        return "", 204, {"HX-Redirect": target}
    return redirect(target, code=303)


def _period_or_404(text: str):
    try:
        return billing.parse_period(text)
    except DomainError:
        abort(404)


# --- forms -----------------------------------------------------------------------------------


class RunForm(FlaskForm):
    period = StringField(
        _l("Month"),
        validators=[
            DataRequired(message=_l("Enter the month as YYYY-MM.")),
            Length(max=10),
            rule_check(billing.parse_period),
        ],
    )


class RecalculationForm(FlaskForm):
    account_number = StringField(
        _l("Account number"),
        validators=[DataRequired(message=_l("Enter the account number.")), Length(max=20)],
    )
    service = SelectField(
        _l("Service"),
        choices=options((service, SERVICE_LABELS[service]) for service in SERVICE_ZONES),
    )
    zone = SelectField(
        _l("Tariff zone"),
        choices=options((zone, ZONE_LABELS[zone]) for zone in SERVICE_ZONES["electricity"]),
        default="total",
    )
    volume = StringField(
        _l("Volume"),
        validators=[
            DataRequired(message=_l("Enter the volume.")),
            Length(max=30),
            rule_check(billing_periods.parse_volume),
        ],
        description=_l("Negative to take off, e.g. -120.5"),
    )
    tariff = StringField(
        _l("Tariff, ₽ per unit"),
        validators=[
            DataRequired(message=_l("Enter the tariff.")),
            Length(max=30),
            rule_check(lambda raw: parse_rate(raw, "tariff")),
        ],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            DataRequired(message=_l("Say why: the reason stays with the charge.")),
            Length(max=billing_periods.MAX_REASON),
        ],
        description=_l("The customer's bill shows the recalculation line"),
    )


# --- the list and the run --------------------------------------------------------------------


def _periods_page(form: RunForm):
    page = page_of(billing_periods.period_list(), billing_periods.PAGE_SIZE)
    return render_template(
        "admin/billing/periods.html",
        page=page,
        summaries=billing_periods.summaries(db.session, list(page.items)),
        form=form,
        **template_context(),
    )


@bp.get("/billing/periods")
@staff_required("billing")
def billing_periods_list():
    suggested = billing_periods.suggested_period(db.session, local_today())
    form = RunForm(formdata=None, period=billing_periods.iso(suggested))
    return _periods_page(form)


@bp.post("/billing/periods")
@staff_required("billing.run")
def billing_run():
    form = RunForm()
    if form.validate_on_submit():
        period = billing.parse_period(form.period.data)
        with refusal_shown_on(form):
            billing_periods.queue_run(
                db.session,
                period,
                today=local_today(),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            if billing_periods.send_to_worker(current_app.config.get("CELERY_BROKER_URL"), period):
                flash(_("The run is queued: a background worker is charging the period."), "info")
            else:
                flash(_("The run is queued: the background scheduler starts it shortly."), "info")
            return _to_period(period)
    return _periods_page(form)


# --- one period ------------------------------------------------------------------------------


def _period_page(period, recalculation_form: RecalculationForm | None = None):
    try:
        summary = billing_periods.summary(db.session, period)
    except NotFound:
        abort(404)
    context = template_context(
        summary=summary,
        row=summary.row,
        iso=billing_periods.iso(period),
        by_service=billing_periods.by_service(db.session, period),
    )
    if request.method == "GET" and htmx and htmx.target == STATUS_TARGET:
        return render_template("admin/billing/_status.html", **context)
    form = recalculation_form or RecalculationForm(formdata=None)
    return render_template(
        "admin/billing/period.html",
        recalculations=billing_periods.recalculations(db.session, period),
        form=form,
        run_form=RunForm(formdata=None, period=billing_periods.iso(period)),
        **context,
    )


@bp.get("/billing/periods/<period>")
@staff_required("billing")
def billing_period(period: str):
    return _period_page(_period_or_404(period))


@bp.post("/billing/periods/<period>/close")
@staff_required("billing.close")
def billing_close(period: str):
    month = _period_or_404(period)
    try:
        closing = billing_periods.close(
            db.session, month, staff_id=staff_member().id, ip=client_ip()
        )
    except NotFound:
        abort(404)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        flash(
            _(
                "The period %(month)s is closed: %(bills)s bills issued, penalties for %(penalised)s accounts.",
                month=format_date(month, "LLLL yyyy"),
                bills=closing.bills,
                penalised=closing.penalised_accounts,
            ),
            "success",
        )
    return _to_period(month)


@bp.post("/billing/periods/<period>/recalculations")
@staff_required("billing.edit")
def billing_recalculation(period: str):
    month = _period_or_404(period)
    try:
        billing_periods.get_period(db.session, month)
    except NotFound:
        abort(404)
    form = RecalculationForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            charge = billing_periods.add_recalculation(
                db.session,
                period=month,
                account_number=form.account_number.data,
                service=form.service.data,
                zone=form.zone.data,
                volume=form.volume.data,
                tariff=form.tariff.data,
                reason=form.reason.data,
                today=local_today(),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            flash(
                _(
                    "The recalculation of %(amount)s ₽ is added.",
                    amount=billing_money(charge.amount),
                ),
                "success",
            )
            return _to_period(month)
    return _period_page(month, form)
