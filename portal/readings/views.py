"""A resident's meter readings: send (with validation as you type), receipt, history; and
sending a reading without signing in. The rules live in ``portal.services.readings``."""

from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import db
from portal.formatting import SERVICE_UNITS, label
from portal.models import Meter
from portal.readings.forms import QuickReadingForm, reading_form
from portal.services import accounts, readings
from portal.services.errors import DomainError, NotFound
from portal.web import attach_error, customer_required, rate_limit, wants_fragment

bp = Blueprint("readings", __name__)

MAX_ID = 2**63 - 1  # larger numbers are no id of any row (and overflow SQLite's integers)
MAX_RECEIPT_READINGS = 3  # one reading per tariff zone

READING_SOURCE_LABELS = {
    "customer": _l("customer"),
    "operator": _l("operator"),
    "controller": _l("controller's visit"),
    "remote": _l("remote reading"),
    "estimated": _l("estimated"),
    "norm": _l("by consumption norm"),
}
READING_STATUS_LABELS = {
    "accepted": _l("accepted"),
    "pending_review": _l("under review"),
    "rejected": _l("rejected"),
    "superseded": _l("superseded"),
}
READING_STATUS_STYLES = {
    "accepted": "success",
    "pending_review": "warning",
    "rejected": "danger",
    "superseded": "secondary",
}


@bp.app_context_processor
def reading_labels():
    return {
        "READING_SOURCE_LABELS": READING_SOURCE_LABELS,
        "READING_STATUS_LABELS": READING_STATUS_LABELS,
        "READING_STATUS_STYLES": READING_STATUS_STYLES,
        "ESTIMATED_SOURCES": ("estimated", "norm"),
    }


@bp.app_template_filter("as_reading")
def as_reading(value, meter: Meter) -> str:
    """A register value with as many decimals as the meter's display shows."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * meter.fraction_digits if meter.fraction_digits else "")
    return format_decimal(value, format=pattern)


@bp.app_template_filter("as_month")
def as_month(period) -> str:
    """1 October 2026 → "October 2026" (the billing period)."""
    return format_date(period, "LLLL yyyy")


@bp.app_template_filter("as_day_month")
def as_day_month(day) -> str:
    """25 November (the year is this one or the next, never in doubt)."""
    return format_date(day, "d MMMM")


def source_label(reading) -> str:
    mine = (
        current_user.is_authenticated
        and not current_user.is_staff
        and reading.submitted_by_user_id == current_user.id
    )
    if reading.source == "customer" and mine:
        return _("you")
    return str(label(READING_SOURCE_LABELS, reading.source))


bp.add_app_template_global(source_label, "reading_source")


# --- the signed-in customer's meters ----------------------------------------------------


def _meter(account_id: int, meter_id: int):
    """The account and meter, if the account is the user's to see; otherwise 404."""
    if account_id > MAX_ID or meter_id > MAX_ID:
        abort(404)
    try:
        account = accounts.get_account_for(db.session, current_user, account_id)
    except NotFound:
        abort(404)
    meter = next((m for m in account.meters if m.id == meter_id), None)
    if meter is None:
        abort(404)
    session["account_id"] = account.id
    return account, meter


def _hints(meter: Meter, last: dict) -> dict[str, str]:
    hints = {}
    unit = label(SERVICE_UNITS, meter.service)
    for zone in meter.zone_names:
        reading = last.get((meter.id, zone))
        if reading is None:
            continue
        values = {
            "value": as_reading(reading.value, meter),
            "unit": unit,
            "date": format_date(reading.taken_on),
            "source": source_label(reading),
        }
        if reading.source in ("estimated", "norm"):
            hints[zone] = _(
                "Last charged: %(value)s %(unit)s on %(date)s, %(source)s — not a meter reading.",
                **values,
            )
        else:
            hints[zone] = _("Last reading: %(value)s %(unit)s on %(date)s (%(source)s).", **values)
    return hints


def _render_submit(account, meter, form, last: dict, feedback=None):
    current = readings.window(db.session)
    this_period = readings.period_of(current.today)
    resent = any(
        r.period == this_period and r.source in readings.ACTUAL_SOURCES for r in last.values()
    )
    return render_template(
        "portal/readings/submit.html",
        account=account,
        meter=meter,
        form=form,
        window=current,
        refusal=readings.customer_refusal(meter),
        closed_message=None if current.is_open else readings.window_closed_message(current),
        resent=resent,
        feedback=feedback or {},
        unit=label(SERVICE_UNITS, meter.service),
    )


@bp.route("/accounts/<int:account_id>/meters/<int:meter_id>/submit", methods=["GET", "POST"])
@customer_required
def submit(account_id: int, meter_id: int):
    account, meter = _meter(account_id, meter_id)
    last = readings.last_readings(db.session, [meter.id])
    form = reading_form(meter, _hints(meter, last))
    feedback = {}
    if form.validate_on_submit():
        try:
            receipts = readings.submit(
                db.session,
                meter,
                form.values(),
                source="customer",
                user_id=current_user.id,
                confirmed=form.is_confirmed(),
            )
        except readings.ZoneErrors as error:
            for zone, message in error.errors.items():
                form[zone].errors = [*form[zone].errors, message]
        except DomainError as error:
            attach_error(form, error)
        else:
            if all(r.reading_id is not None for r in receipts):
                return redirect(
                    url_for(
                        "readings.receipt",
                        account_id=account.id,
                        meter_id=meter.id,
                        r=[r.reading_id for r in receipts],
                    ),
                    code=303,
                )
            # Nothing stored: a value is far above the usual and needs the sender's word.
            feedback = {r.zone: r.verdict for r in receipts}
            form.ask_confirmation()
    return _render_submit(account, meter, form, last, feedback)


@bp.route("/accounts/<int:account_id>/meters/<int:meter_id>/check", methods=["POST"])
@customer_required
def check(account_id: int, meter_id: int):
    """The verdict on one zone's value as it is typed: the field's feedback for htmx, the
    whole form with that feedback for a browser without JavaScript."""
    account, meter = _meter(account_id, meter_id)
    zone = request.form.get("zone", "")
    if zone not in meter.zone_names:
        abort(404)
    raw = (request.form.get(zone) or "").strip()
    verdict = error = None
    if raw:
        try:
            verdict = readings.check(db.session, meter, zone, raw, "customer")
        except DomainError as problem:
            error = problem.message
    if wants_fragment():
        return render_template(
            "portal/readings/_feedback.html",
            meter=meter,
            zone=zone,
            verdict=verdict,
            error=error,
            unit=label(SERVICE_UNITS, meter.service),
        )
    last = readings.last_readings(db.session, [meter.id])
    form = reading_form(meter, _hints(meter, last))
    form.validate()  # keeps the typed values; the submit button sends them for real
    if error:
        form[zone].errors = [error]
    for name in meter.zone_names:
        if name != zone:
            form[name].errors = []
    return _render_submit(account, meter, form, last, {zone: verdict} if verdict else {})


@bp.route("/accounts/<int:account_id>/meters/<int:meter_id>/receipt")
@customer_required
def receipt(account_id: int, meter_id: int):
    account, meter = _meter(account_id, meter_id)
    ids = request.args.getlist("r", type=int)
    if not ids or len(ids) > MAX_RECEIPT_READINGS or not all(0 < i <= MAX_ID for i in ids):
        abort(404)
    try:
        received = readings.readings_of_meter(db.session, meter.id, ids)
    except NotFound:
        abort(404)
    order = {zone: index for index, zone in enumerate(meter.zone_names)}
    received.sort(key=lambda r: order.get(r.zone, len(order)))
    return render_template(
        "portal/readings/receipt.html",
        account=account,
        meter=meter,
        received=received,
        unit=label(SERVICE_UNITS, meter.service),
    )


@bp.route("/accounts/<int:account_id>/meters/<int:meter_id>/history")
@customer_required
def history(account_id: int, meter_id: int):
    account, meter = _meter(account_id, meter_id)
    past = readings.history(db.session, meter.id)
    series = readings.consumption_series(meter, past)
    unit = label(SERVICE_UNITS, meter.service)
    current = readings.window(db.session)
    return render_template(
        "portal/readings/history.html",
        account=account,
        meter=meter,
        past=past,
        series=series,
        chart=_chart(series, unit),
        unit=unit,
        window=current,
        refusal=readings.customer_refusal(meter),
    )


def _chart(series: readings.Series, unit) -> dict:
    """What consumption-chart.js draws: labels, one dataset per zone, texts it shows."""
    from portal.readings.forms import zone_label

    return {
        "labels": [format_date(period, "LLL yyyy") for period in series.periods],
        "unit": str(unit),
        "axis": _("Consumption, %(unit)s", unit=unit),
        "estimatedLabel": _("estimated"),
        "datasets": [
            {
                "label": zone_label(zone) if len(series.zones) > 1 else _("Consumption"),
                "data": [None if v is None else float(v) for v in series.values[zone]],
                "estimated": series.estimated[zone],
            }
            for zone in series.zones
        ],
    }


# --- without signing in -------------------------------------------------------------------

QUICK_RESULT = "quick_reading_result"


def _account_tried() -> str:
    """Guessing serial numbers of one account is limited whatever the address."""
    return "account:" + "".join(request.form.get("account_number", "").split())[:40]


@bp.route("/readings/quick", methods=["GET", "POST"])
@rate_limit("quick_reading", methods=["POST"])
@rate_limit("quick_reading_account", methods=["POST"], key_func=_account_tried)
def quick():
    form = QuickReadingForm()
    current = readings.window(db.session)
    if form.validate_on_submit():
        try:
            receipts = readings.quick_submit(
                db.session,
                form.account_number.data,
                form.serial_number.data,
                form.tariffs(),
                confirmed=form.is_confirmed(),
                user_id=current_user.id
                if current_user.is_authenticated and not current_user.is_staff
                else None,
            )
        except readings.ZoneErrors as error:
            for name, message in error.errors.items():
                form[name].errors = [*form[name].errors, message]
        except DomainError as error:
            attach_error(form, error)
        else:
            if all(r.reading_id is not None for r in receipts):
                session[QUICK_RESULT] = [
                    {
                        "tariff": readings.TARIFF_FIELDS[index],
                        "zone": r.zone,
                        "value": form.tariffs()[readings.TARIFF_FIELDS[index]],
                        "outcome": r.verdict.outcome,
                        "reason": r.verdict.reason,
                    }
                    for index, r in enumerate(receipts)
                ]
                return redirect(url_for("readings.quick_result"), code=303)
            form.ask_confirmation()
            return render_template(
                "portal/readings/quick.html",
                form=form,
                window=current,
                warnings=[r.verdict.reason for r in receipts if r.verdict.outcome == "confirm"],
            )
    return render_template(
        "portal/readings/quick.html",
        form=form,
        window=current,
        closed_message=None if current.is_open else readings.window_closed_message(current),
        warnings=[],
    )


@bp.route("/readings/quick/result")
def quick_result():
    result = session.get(QUICK_RESULT)
    if not result:
        return redirect(url_for("readings.quick"))
    response = render_template("portal/readings/quick_result.html", result=result)
    return response, 200, {"Cache-Control": "no-store"}
