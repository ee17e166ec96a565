"""Billing periods in the back office: run a month in the background and follow its progress,
see its totals by method, close it, and add recalculations with a reason.

Every rule is in ``portal.services.billing_periods`` (and the billing and ledger services
it calls)."""

from flask import abort, current_app, flash, render_template, request
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from admin import bp
from admin.access import staff_required
from portal.extensions import db, htmx
from portal.models import ChargeMethod, PeriodStatus, Zone
from portal.services import billing_periods, statements
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.services.months import iso, parse_period
from portal.services.numbers import money
from portal.services.tariffs import SERVICE_ZONES, parse_rate
from portal.web import (
    client_ip,
    options,
    page_of,
    redirect_after_post,
    refusal_shown_on,
    rule_check,
    staff_member,
)

# The element the period page polls while a run goes on: htmx asks for it alone.
STATUS_TARGET = "period-status"


@bp.app_template_filter("billing_money")
def billing_money(value) -> str:
    """An amount in roubles with kopecks: 1 234,50."""
    if value is None:
        return "—"
    return format_decimal(money(value), format="#,##0.00")


@bp.app_template_filter("billing_rate")
def billing_rate(value) -> str:
    """A tariff or a norm: two to four decimals."""
    return "—" if value is None else format_decimal(value, format="#,##0.00##")


def template_context(**extra) -> dict:
    return {"ChargeMethod": ChargeMethod, "PeriodStatus": PeriodStatus, "Zone": Zone, **extra}


def _to_period(month):
    """After a POST: the period page (an htmx request loads it whole)."""
    return redirect_after_post("admin.billing_period", period=iso(month))


def _period_or_404(text: str):
    try:
        return parse_period(text)
    except DomainError:
        abort(404)


# --- forms -----------------------------------------------------------------------------------


class RunForm(FlaskForm):
    period = StringField(
        _l("Month"),
        validators=[
            DataRequired(message=_l("Enter the month as YYYY-MM.")),
            Length(max=10),
            rule_check(parse_period),
        ],
    )


class RecalculationForm(FlaskForm):
    account_number = StringField(
        _l("Account number"),
        validators=[DataRequired(message=_l("Enter the account number.")), Length(max=20)],
    )
    service = SelectField(
        _l("Service"),
        choices=options((service, service.label) for service in SERVICE_ZONES),
    )
    zone = SelectField(_l("Tariff zone"), choices=options(Zone.options()), default=Zone.TOTAL.value)
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
    form = RunForm(formdata=None, period=iso(suggested))
    return _periods_page(form)


@bp.post("/billing/periods")
@staff_required("billing.run")
def billing_run():
    form = RunForm()
    if form.validate_on_submit():
        period = parse_period(form.period.data)
        with refusal_shown_on(form):
            billing_periods.queue_run(
                db.session,
                period,
                today=local_today(),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            db.session.commit()
            if billing_periods.send_to_worker(current_app.config.get("CELERY_BROKER_URL"), period):
                flash(_("The run is queued: a background worker is charging the period."), "info")
            else:
                flash(_("The run is queued: the background scheduler starts it shortly."), "info")
            return _to_period(period)
    return _periods_page(form)


# --- one period ------------------------------------------------------------------------------


def _period_page(period, recalculation_form: RecalculationForm | None = None):
    summary = billing_periods.summary(db.session, period)
    context = template_context(
        summary=summary,
        row=summary.row,
        iso=iso(period),
        by_service=billing_periods.by_service(db.session, period),
        uncharged=billing_periods.uncharged(db.session, period),
    )
    if request.method == "GET" and htmx and htmx.target == STATUS_TARGET:
        return render_template("admin/billing/_status.html", **context)
    form = recalculation_form or RecalculationForm(formdata=None)
    return render_template(
        "admin/billing/period.html",
        recalculations=billing_periods.recalculations(db.session, period),
        estimates_taken_back=statements.estimates_taken_back,
        form=form,
        run_form=RunForm(formdata=None, period=iso(period)),
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
        db.session.commit()
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
    billing_periods.get_period(db.session, month)
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
            db.session.commit()
            flash(
                _(
                    "The recalculation of %(amount)s ₽ is added.",
                    amount=billing_money(charge.amount),
                ),
                "success",
            )
            return _to_period(month)
    return _period_page(month, form)
