"""A resident's meter readings: send (with validation as you type), receipt, history; and
sending a reading without signing in. The rules live in ``portal.services.readings``."""

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.models import Meter, MeterStatus, ReadingSource, ReadingStatus
from portal.readings.forms import (
    QuickReadingForm,
    reading_form,
    zone_label,
)
from portal.services import accounts, months, readings
from portal.services.errors import DomainError
from portal.web import (
    customer_required,
    rate_limit,
    redirect_after_post,
    refusal_shown_on,
    wants_fragment,
)

bp = Blueprint("readings", __name__)


@bp.app_context_processor
def metering_choices():
    """The enums the readings and meter pages of the portal and the back office compare
    with (``reading.status == ReadingStatus.REJECTED``)."""
    return {
        "ReadingStatus": ReadingStatus,
        "ReadingSource": ReadingSource,
        "MeterStatus": MeterStatus,
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
    if reading.source == ReadingSource.CUSTOMER and mine:
        return _("you")
    return str(ReadingSource(reading.source).label)


bp.add_app_template_global(source_label, "reading_source")


# --- the signed-in customer's meters ----------------------------------------------------


def _meter(account_id: int, meter_id: int):
    """The account and meter, if the account is the user's to see; otherwise 404 (the
    service's NotFound, or no such meter on the account)."""
    account = accounts.get_account_for(db.session, current_user, account_id)
    meter = next((m for m in account.meters if m.id == meter_id), None)
    if meter is None:
        abort(404)
    session["account_id"] = account.id
    return account, meter


def _hints(meter: Meter, last: dict) -> dict[str, str]:
    hints = {}
    for zone in meter.zone_names:
        reading = last.get((meter.id, zone))
        if reading is None:
            continue
        values = {
            "value": as_reading(reading.value, meter),
            "unit": meter.service.unit,
            "date": format_date(reading.taken_on),
            "source": source_label(reading),
        }
        if reading.source.is_estimate:
            hints[zone] = _(
                "Last charged: %(value)s %(unit)s on %(date)s, %(source)s — not a meter reading.",
                **values,
            )
        else:
            hints[zone] = _("Last reading: %(value)s %(unit)s on %(date)s (%(source)s).", **values)
    return hints


def _render_submit(account, meter, form, last: dict, feedback=None):
    current = readings.window(db.session)
    this_period = months.period_of(current.today)
    resent = any(r.period == this_period and not r.source.is_estimate for r in last.values())
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
        unit=meter.service.unit,
    )


def _asks_confirmation(receipts) -> bool:
    """Nothing was stored: a value is far above the usual and needs the sender's word."""
    return any(receipt.verdict.asks_confirmation for receipt in receipts)


@bp.route("/accounts/<int:account_id>/meters/<int:meter_id>/submit", methods=["GET", "POST"])
@customer_required
def submit(account_id: int, meter_id: int):
    account, meter = _meter(account_id, meter_id)
    last = readings.last_readings(db.session, [meter.id])
    form = reading_form(meter, _hints(meter, last))
    feedback = {}
    if form.validate_on_submit():
        with refusal_shown_on(form):
            receipts = readings.submit(
                db.session,
                meter,
                form.values(),
                source=ReadingSource.CUSTOMER,
                user_id=current_user.id,
                confirmed=form.is_confirmed(),
            )
            if not _asks_confirmation(receipts):
                db.session.commit()
                ids = [receipt.reading_id for receipt in receipts]
                return redirect_after_post(
                    "readings.receipt", account_id=account.id, meter_id=meter.id, r=ids
                )
            feedback = {receipt.zone: receipt.verdict for receipt in receipts}
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
            verdict = readings.check(db.session, meter, zone, raw, ReadingSource.CUSTOMER)
        except DomainError as problem:
            error = problem.message
    if wants_fragment():
        return render_template(
            "portal/readings/_feedback.html",
            meter=meter,
            zone=zone,
            verdict=verdict,
            error=error,
            unit=meter.service.unit,
        )
    return _checked_page(account, meter, zone, verdict, error)


def _checked_page(account, meter, zone: str, verdict, error: str | None):
    """The whole form with the typed values and the one zone's feedback (no JavaScript)."""
    last = readings.last_readings(db.session, [meter.id])
    form = reading_form(meter, _hints(meter, last))
    form.validate()  # keeps the typed values; the submit button sends them for real
    for name in meter.zone_names:
        form[name].errors = [error] if name == zone and error else []
    return _render_submit(account, meter, form, last, {zone: verdict} if verdict else {})


@bp.route("/accounts/<int:account_id>/meters/<int:meter_id>/receipt")
@customer_required
def receipt(account_id: int, meter_id: int):
    account, meter = _meter(account_id, meter_id)
    ids = request.args.getlist("r", type=int)
    return render_template(
        "portal/readings/receipt.html",
        account=account,
        meter=meter,
        received=readings.readings_of_meter(db.session, meter, ids),
        unit=meter.service.unit,
    )


@bp.route("/accounts/<int:account_id>/meters/<int:meter_id>/history")
@customer_required
def history(account_id: int, meter_id: int):
    account, meter = _meter(account_id, meter_id)
    past = readings.history(db.session, meter.id)
    series = readings.consumption_series(meter, past)
    return render_template(
        "portal/readings/history.html",
        account=account,
        meter=meter,
        past=past,
        series=series,
        chart=_chart(series, meter.service.unit),
        unit=meter.service.unit,
        window=readings.window(db.session),
        refusal=readings.customer_refusal(meter),
    )


def _chart(series: readings.Series, unit) -> dict:
    """What consumption-chart.js draws: labels, one dataset per zone, texts it shows."""
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
    warnings = []
    if form.validate_on_submit():
        with refusal_shown_on(form):
            receipts = readings.quick_submit(
                db.session,
                form.account_number.data,
                form.serial_number.data,
                form.tariffs(),
                confirmed=form.is_confirmed(),
                user_id=None
                if current_user.is_anonymous or current_user.is_staff
                else current_user.id,
            )
            if not _asks_confirmation(receipts):
                db.session.commit()
                session[QUICK_RESULT] = _quick_result(form, receipts)
                return redirect_after_post("readings.quick_result")
            form.ask_confirmation()
            warnings = [r.verdict.reason for r in receipts if r.verdict.asks_confirmation]
    current = readings.window(db.session)
    return render_template(
        "portal/readings/quick.html",
        form=form,
        window=current,
        closed_message=None if current.is_open else readings.window_closed_message(current),
        warnings=warnings,
    )


def _quick_result(form: QuickReadingForm, receipts) -> list[dict]:
    """What the result page shows of each register: its T number, the value as typed, the
    outcome and its reason (nothing else about the account)."""
    return [
        {
            "tariff": readings.TARIFF_FIELDS[index],
            "zone": receipt.zone,
            "value": form.tariffs()[readings.TARIFF_FIELDS[index]],
            "outcome": receipt.verdict.outcome,
            "reason": receipt.verdict.reason,
        }
        for index, receipt in enumerate(receipts)
    ]


@bp.route("/readings/quick/result")
def quick_result():
    result = session.get(QUICK_RESULT)
    if not result:
        return redirect(url_for("readings.quick"))
    response = render_template("portal/readings/quick_result.html", result=result)
    return response, 200, {"Cache-Control": "no-store"}
