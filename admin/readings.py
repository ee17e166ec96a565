"""Meter readings in the back office: operators enter readings taken by phone, in the office
or on a site visit; metering specialists review readings far above the usual; supervisors
follow the acceptance figure. Every rule is in ``portal.services.readings``."""

from flask import flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Optional

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import Meter, ReadingSource, Zone
from portal.readings.forms import (
    MAX_VALUE_LENGTH,
    ConfirmableForm,
    with_zone_fields,
)
from portal.services import meters, months, readings
from portal.services.clock import local_today
from portal.services.customers import clean_term
from portal.services.errors import DomainError
from portal.web import (
    client_ip,
    options,
    page_of,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    staff_member,
    wants_fragment,
)

PAGE_SIZE = 20

# --- entering readings ----------------------------------------------------------------------


@bp.route("/readings/enter")
@staff_required("readings.enter")
def reading_entry():
    term = clean_term(request.args.get("q"))
    meters.record_search(db.session, term, staff_id=staff_member().id, ip=client_ip())
    page = page_of(meters.find_meters(term), PAGE_SIZE)
    html = page_or_fragment(
        "admin/readings/enter.html",
        "admin/readings/_meters.html",
        term=term,
        page=page,
        last=readings.last_readings(db.session, [meter.id for meter in page.items]),
    )
    db.session.commit()  # the search's audit record; after the page, which it would expire
    return html


class EntryForm(ConfirmableForm):
    """The readings of one meter (its zone fields are added by ``entry_form_for``); a value
    far above the usual is confirmed for exactly the values typed."""

    source = SelectField(
        _l("Where the reading comes from"),
        choices=options((source, source.staff_label) for source in readings.STAFF_SOURCES),
        default=ReadingSource.OPERATOR,
    )
    taken_on = DateField(
        _l("Date taken"),
        validators=[DataRequired(message=_l("Enter the date the reading was taken."))],
    )
    confirmed = BooleanField(_l("The value is right: send it to the metering specialist"))


def _entry_label(zone: str):
    return _l("Reading: %(zone)s", zone=Zone(zone).label)


def entry_form_for(meter: Meter, **kwargs) -> EntryForm:
    """The entry form with one value field per tariff zone of the meter (``value_<zone>``)."""
    form_class = with_zone_fields(
        EntryForm,
        meter.zone_names,
        prefix="value_",
        label=_entry_label,
        required=_l("Enter the reading of this zone."),
        meter=meter,
    )
    form = form_class(**kwargs)
    form.value_names = tuple(f"value_{zone}" for zone in meter.zone_names)
    return form


@bp.route("/readings/enter/<int:meter_id>", methods=["GET", "POST"])
@staff_required("readings.enter")
def reading_entry_meter(meter_id: int):
    staff = staff_member()
    if request.method == "GET":
        meters.record_view(db.session, meter_id, staff_id=staff.id, ip=client_ip())
    meter = meters.get_meter(db.session, meter_id)
    form = entry_form_for(meter, taken_on=local_today())
    to_confirm: dict[str, str] = {}
    if form.validate_on_submit():
        with refusal_shown_on(form, prefix="value_"):
            receipts = readings.submit(
                db.session,
                meter,
                {zone: form[f"value_{zone}"].data for zone in meter.zone_names},
                source=ReadingSource(form.source.data),
                taken_on=form.taken_on.data,
                staff_id=staff.id,
                confirmed=form.is_confirmed(),
                ip=client_ip(),
            )
            to_confirm = {r.zone: r.verdict.reason for r in receipts if r.verdict.asks_confirmation}
            if not to_confirm:
                db.session.commit()
                ids = [receipt.reading_id for receipt in receipts]
                return redirect_after_post("admin.reading_receipt", id=ids)
            form.ask_confirmation()
    return _entry_page(meter, form, to_confirm)


def _entry_page(meter: Meter, form: EntryForm, to_confirm: dict[str, str]):
    html = render_template(
        "admin/readings/entry_form.html",
        meter=meter,
        form=form,
        to_confirm=to_confirm,
        last=readings.last_readings(db.session, [meter.id]),
        window=readings.window(db.session),
    )
    db.session.commit()  # the view's audit record (GET); after the page, which it would expire
    return html


@bp.route("/readings/receipt")
@staff_required("readings.enter")
def reading_receipt():
    stored = meters.receipt(db.session, request.args.getlist("id", type=int))
    return render_template("admin/readings/receipt.html", readings=stored, meter=stored[0].meter)


# --- the review queue -----------------------------------------------------------------------


class ReviewForm(FlaskForm):
    """The row's small forms: the rules on reason and value are the service's."""

    reason = StringField(validators=[Optional()])
    value = StringField(validators=[Optional()])
    page = HiddenField()


def queue_context(**extra) -> dict:
    page = page_of(readings.review_queue(db.session), PAGE_SIZE)
    return {
        "page": page,
        "previous": readings.previous_for(db.session, page.items),
        "errors": {},
        "typed": {},
        "max_value_length": MAX_VALUE_LENGTH,
        **extra,
    }


@bp.route("/readings/review")
@staff_required("readings.review")
def readings_review():
    return page_or_fragment(
        "admin/readings/review.html", "admin/readings/_queue.html", **queue_context()
    )


def _decide(reading_id: int, action: str, form: ReviewForm) -> str:
    """Accept, reject or correct the reading (the service's rules); what to tell staff."""
    staff_id, ip = staff_member().id, client_ip()
    if action == "accept":
        readings.accept(db.session, reading_id, staff_id, ip=ip)
        return _("The reading is accepted.")
    if action == "reject":
        readings.reject(db.session, reading_id, staff_id, form.reason.data or "", ip=ip)
        return _("The reading is rejected; the customer sees the reason.")
    readings.correct(
        db.session, reading_id, staff_id, form.value.data or "", form.reason.data or "", ip=ip
    )
    return _("The reading is corrected; the customer sees the new value.")


def review_action(reading_id: int, action: str):
    """Accept, reject or correct one reading; htmx gets the row back, a browser the queue."""
    meters.reading_with_meter(db.session, reading_id)  # NotFound: 404
    form = ReviewForm()
    form.validate()
    try:
        message = _decide(reading_id, action, form)
    except DomainError as error:
        db.session.rollback()
        return review_refused(reading_id, action, error, form)
    db.session.commit()
    if wants_fragment():
        return review_row(reading_id, message=message)
    flash(message, "success")
    return redirect_after_post("admin.readings_review", page=_page(form))


def _page(form: ReviewForm) -> int | None:
    raw = form.page.data or ""
    return int(raw) if raw.isdigit() and 1 < int(raw) < 100_000 else None


def review_row(reading_id: int, *, message=None, error=None, action=None, typed=None):
    reading = meters.reading_with_meter(db.session, reading_id)
    return render_template(
        "admin/readings/_review_row.html",
        reading=reading,
        previous=readings.previous_for(db.session, [reading]),
        message=message,
        errors={reading.id: {"action": action, "error": error}} if error else {},
        typed={reading.id: typed or {}},
        max_value_length=MAX_VALUE_LENGTH,
    )


def review_refused(reading_id: int, action: str, error: DomainError, form: ReviewForm):
    typed = {"reason": form.reason.data or "", "value": form.value.data or ""}
    if error.field is None:
        # Reviewed meanwhile by someone else (or by this person in another tab).
        if wants_fragment():
            return review_row(reading_id, message=error.message)
        flash(error.message, "warning")
        return redirect_after_post("admin.readings_review", page=_page(form))
    if wants_fragment():
        return review_row(reading_id, error=error, action=action, typed=typed)
    context = queue_context(
        errors={reading_id: {"action": action, "error": error}}, typed={reading_id: typed}
    )
    return render_template("admin/readings/review.html", **context), 422


@bp.route("/readings/<int:reading_id>/accept", methods=["POST"])
@staff_required("readings.review")
def readings_review_accept(reading_id: int):
    return review_action(reading_id, "accept")


@bp.route("/readings/<int:reading_id>/reject", methods=["POST"])
@staff_required("readings.review")
def readings_review_reject(reading_id: int):
    return review_action(reading_id, "reject")


@bp.route("/readings/<int:reading_id>/correct", methods=["POST"])
@staff_required("readings.review")
def readings_review_correct(reading_id: int):
    return review_action(reading_id, "correct")


# --- the acceptance figure ------------------------------------------------------------------


@bp.route("/readings/acceptance")
@staff_required("readings.acceptance")
def readings_acceptance():
    current = months.period_of(local_today())
    raw = request.args.get("period")
    error = None
    try:
        period = readings.acceptance_period(raw)
    except DomainError as refused:
        error, period = refused.message, current
    return render_template(
        "admin/readings/acceptance.html",
        period=period,
        raw_period=raw if error else months.iso(period),
        error=error,
        figures=readings.acceptance_by_month(db.session, period),
        min_period=months.iso(months.EARLIEST_PERIOD),
        max_period=months.iso(current),
        window=readings.window(db.session),
    )
