"""Meter readings in the back office: operators enter readings taken by phone, in the office
or on a site visit; metering specialists review readings far above the usual; supervisors
follow the acceptance figure. Every rule is in ``portal.services.readings``."""

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.formatting import ZONE_LABELS
from portal.services import meters, readings
from portal.services.customers import clean_term
from portal.services.errors import DomainError, NotFound
from portal.web import attach_error, client_ip, list_page, page_of, staff_member, wants_fragment

PAGE_SIZE = 20
ACCEPTANCE_MONTHS = 6
EARLIEST_PERIOD = date(2000, 1, 1)

READING_SOURCE_LABELS = {
    "customer": _l("customer, on the portal"),
    "operator": _l("operator: phone or office"),
    "controller": _l("controller: site visit"),
    "remote": _l("remote reading"),
    "estimated": _l("estimated by the average"),
    "norm": _l("by the norm"),
}
READING_STATUS_LABELS = {
    "accepted": _l("accepted"),
    "pending_review": _l("under review"),
    "rejected": _l("rejected"),
    "superseded": _l("superseded"),
}
READING_STATUS_BADGES = {
    "accepted": "text-bg-success",
    "pending_review": "text-bg-warning",
    "rejected": "text-bg-danger",
    "superseded": "text-bg-light border",
}


def template_context() -> dict:
    return {
        "READING_SOURCE_LABELS": READING_SOURCE_LABELS,
        "READING_STATUS_LABELS": READING_STATUS_LABELS,
        "READING_STATUS_BADGES": READING_STATUS_BADGES,
    }


def reading_value(_form, field) -> None:
    """A register value as the readings service reads it (comma or point, spaces)."""
    if field.data and field.data.strip():
        try:
            readings.parse_value(field.data)
        except DomainError as error:
            raise ValidationError(error.message) from None


# --- entering readings ----------------------------------------------------------------------


@bp.route("/readings/enter")
@staff_required("readings.enter")
def reading_entry():
    term = clean_term(request.args.get("q"))
    # Audit first: its commit would otherwise expire the meters just loaded.
    meters.record_search(db.session, term, staff_id=staff_member().id, ip=client_ip())
    page = page_of(meters.find_meters(term), PAGE_SIZE)
    last = readings.last_readings(db.session, [meter.id for meter in page.items])
    return list_page(
        "admin/readings/enter.html",
        "admin/readings/_meters.html",
        term=term,
        page=page,
        last=last,
        **template_context(),
    )


class EntryForm(FlaskForm):
    source = SelectField(
        _l("Where the reading comes from"),
        choices=[
            SelectChoice(source, READING_SOURCE_LABELS[source]) for source in readings.STAFF_SOURCES
        ],
        default="operator",
    )
    taken_on = DateField(
        _l("Date taken"),
        validators=[DataRequired(message=_l("Enter the date the reading was taken."))],
    )
    confirmed = BooleanField(_l("The value is right: send it to the metering specialist"))


def entry_form_for(meter, **kwargs) -> EntryForm:
    """The entry form with one value field per tariff zone of the meter."""

    class MeterEntryForm(EntryForm):
        pass

    for zone in meter.zone_names:
        setattr(
            MeterEntryForm,
            f"value_{zone}",
            StringField(
                _l("Reading: %(zone)s", zone=ZONE_LABELS[zone]),
                validators=[
                    DataRequired(message=_l("Enter the reading of this zone.")),
                    Length(max=24),
                    reading_value,
                ],
            ),
        )
    return MeterEntryForm(**kwargs)


@bp.route("/readings/enter/<int:meter_id>", methods=["GET", "POST"])
@staff_required("readings.enter")
def reading_entry_meter(meter_id: int):
    staff = staff_member()
    try:
        if request.method == "GET":
            meters.record_view(db.session, meter_id, staff_id=staff.id, ip=client_ip())
        meter = meters.get_meter(db.session, meter_id)
    except NotFound:
        abort(404)
    form = entry_form_for(meter, taken_on=meters.today())
    to_confirm: dict[str, str] = {}
    if form.validate_on_submit():
        values = {zone: form[f"value_{zone}"].data for zone in meter.zone_names}
        try:
            receipts = readings.submit(
                db.session,
                meter,
                values,
                source=form.source.data,
                taken_on=form.taken_on.data,
                staff_id=staff.id,
                confirmed=form.confirmed.data,
                ip=client_ip(),
            )
        except readings.ZoneErrors as error:
            db.session.rollback()
            for zone, message in error.errors.items():
                form[f"value_{zone}"].errors.append(message)
        except DomainError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            to_confirm = {
                r.zone: r.verdict.reason for r in receipts if r.verdict.outcome == "confirm"
            }
            if not to_confirm:
                ids = [r.reading_id for r in receipts]
                return redirect(url_for("admin.reading_receipt", id=ids), code=303)
    return render_template(
        "admin/readings/entry_form.html",
        meter=meter,
        form=form,
        to_confirm=to_confirm,
        last=readings.last_readings(db.session, [meter.id]),
        window=readings.window(db.session),
        **template_context(),
    )


@bp.route("/readings/receipt")
@staff_required("readings.enter")
def reading_receipt():
    ids = request.args.getlist("id", type=int)
    try:
        stored = meters.receipt(db.session, ids)
    except NotFound:
        abort(404)
    return render_template(
        "admin/readings/receipt.html",
        readings=stored,
        meter=stored[0].meter,
        **template_context(),
    )


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
        **template_context(),
        **extra,
    }


@bp.route("/readings/review")
@staff_required("readings.review")
def readings_review():
    return list_page("admin/readings/review.html", "admin/readings/_queue.html", **queue_context())


def review_action(reading_id: int, action: str):
    """Accept, reject or correct one reading; htmx gets the row back, a browser the queue."""
    form = ReviewForm()
    form.validate()
    staff_id, ip = staff_member().id, client_ip()
    try:
        if action == "accept":
            readings.accept(db.session, reading_id, staff_id, ip=ip)
            message = _("The reading is accepted.")
        elif action == "reject":
            readings.reject(db.session, reading_id, staff_id, form.reason.data or "", ip=ip)
            message = _("The reading is rejected; the customer sees the reason.")
        else:
            readings.correct(
                db.session,
                reading_id,
                staff_id,
                form.value.data or "",
                form.reason.data or "",
                ip=ip,
            )
            message = _("The reading is corrected; the customer sees the new value.")
    except NotFound:
        abort(404)
    except DomainError as error:
        db.session.rollback()
        return review_refused(reading_id, action, error, form)
    if wants_fragment():
        return review_row(reading_id, message=message)
    flash(message, "success")
    return redirect(url_for("admin.readings_review", page=_page(form)), code=303)


def _page(form: ReviewForm) -> int | None:
    raw = form.page.data or ""
    return int(raw) if raw.isdigit() and 1 < int(raw) < 100_000 else None


def review_row(reading_id: int, *, message=None, error=None, action=None, typed=None):
    try:
        reading = meters.reading_with_meter(db.session, reading_id)
    except NotFound:
        abort(404)
    return render_template(
        "admin/readings/_review_row.html",
        reading=reading,
        previous=readings.previous_for(db.session, [reading]),
        message=message,
        errors={reading.id: {"action": action, "error": error}} if error else {},
        typed={reading.id: typed or {}},
        **template_context(),
    )


def review_refused(reading_id: int, action: str, error: DomainError, form: ReviewForm):
    typed = {"reason": form.reason.data or "", "value": form.value.data or ""}
    if error.field is None:
        # Reviewed meanwhile by someone else (or by this person in another tab).
        if wants_fragment():
            return review_row(reading_id, message=error.message)
        flash(error.message, "warning")
        return redirect(url_for("admin.readings_review", page=_page(form)), code=303)
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


def parse_period(raw: str | None) -> date | None:
    """ "2026-11" → 1 November 2026; anything else → None."""
    try:
        year, month = (int(part) for part in (raw or "").strip().split("-"))
        return date(year, month, 1)
    except (ValueError, TypeError):
        return None


def months_up_to(period: date, count: int) -> list[date]:
    """The period and the ``count - 1`` months before it, newest first."""
    months = []
    year, month = period.year, period.month
    for _step in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


@bp.route("/readings/acceptance")
@staff_required("readings.acceptance")
def readings_acceptance():
    current = readings.period_of(meters.today())
    raw = request.args.get("period")
    period = parse_period(raw) if raw else current
    error = None
    if period is None or not EARLIEST_PERIOD <= period <= current:
        error = _(
            "Choose a month from January 2000 to the current one, for example %(example)s.",
            example=current.strftime("%Y-%m"),
        )
        period = current
    figures = [
        readings.acceptance(db.session, month) for month in months_up_to(period, ACCEPTANCE_MONTHS)
    ]
    return render_template(
        "admin/readings/acceptance.html",
        period=period,
        raw_period=raw if error else period.strftime("%Y-%m"),
        error=error,
        figures=figures,
        max_period=current.strftime("%Y-%m"),
        window=readings.window(db.session),
    )
