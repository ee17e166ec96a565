"""Meters in the back office: the meter's card and history, registration, replacement,
faulty and back in service, seal and verification dates, and the list of meters whose
state verification is due. Every rule is in ``portal.services.meters``."""

import io

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from admin import bp
from admin.access import staff_required
from admin.readings import reading_value, template_context
from portal.extensions import db
from portal.formatting import SERVICE_LABELS, ZONE_LABELS
from portal.models.metering import ZONE_NAMES
from portal.services import exports, meters
from portal.services.errors import DomainError, NotFound
from portal.web import (
    client_ip,
    list_page,
    page_number,
    page_of,
    refusal_shown_on,
    staff_member,
)

# Every zone name a meter may have, in the order the forms show them.
ALL_ZONES = ("total", "day", "peak", "semi_peak", "night")

# Names of what changed, as the meter's history shows them.
CHANGE_LABELS = {
    "status": _l("Status"),
    "seal_number": _l("Seal number"),
    "verification_due": _l("Next verification due"),
    "verified_on": _l("Verified on"),
    "replaced_by": _l("Replaced by meter"),
    "replaces": _l("Replaces meter"),
}

ZONE_CHOICES = [
    SelectChoice(1, _l("1 — single rate")),
    SelectChoice(2, _l("2 — day and night")),
    SelectChoice(3, _l("3 — peak, semi-peak and night")),
]


def _required(message):
    return DataRequired(message=message)


class MeterSpecForm(FlaskForm):
    """The installation act: the new meter and its initial reading."""

    serial_number = StringField(
        _l("Serial number"),
        validators=[_required(_l("Enter the meter's serial number.")), Length(max=40)],
    )
    model = StringField(_l("Model"), validators=[Optional(), Length(max=100)])
    zones = SelectField(_l("Tariff zones"), choices=ZONE_CHOICES, coerce=int, default=1)
    whole_digits = IntegerField(
        _l("Whole digits"),
        default=6,
        validators=[_required(_l("Enter a number from 1 to 12.")), NumberRange(1, 12)],
    )
    fraction_digits = IntegerField(
        _l("Decimal digits"),
        default=1,
        validators=[Optional(strip_whitespace=True), NumberRange(0, 4)],
    )
    installed_on = DateField(
        _l("Installed on"), validators=[_required(_l("Enter the installation date."))]
    )
    verification_due = DateField(
        _l("Next verification due"),
        validators=[_required(_l("Enter the date the next verification is due."))],
    )
    seal_number = StringField(_l("Seal number"), validators=[Optional(), Length(max=40)])
    remote_read = BooleanField(
        _l("Read remotely (АСКУЭ)"),
        description=_l("The customer will not be asked for its readings"),
    )

    def spec(self, service: str) -> meters.MeterSpec:
        return meters.MeterSpec(
            serial_number=self.serial_number.data,
            installed_on=self.installed_on.data,
            verification_due=self.verification_due.data,
            service=service,
            model=self.model.data,
            zones=self.zones.data,
            whole_digits=self.whole_digits.data,
            fraction_digits=self.fraction_digits.data or 0,
            seal_number=self.seal_number.data,
            remote_read=self.remote_read.data,
        )

    def initial_values(self) -> dict[str, str]:
        return {zone: self[f"initial_{zone}"].data for zone in ALL_ZONES}


def _with_zone_fields(form_class, prefix: str, zones):
    """A subclass of the form with one reading field per zone: ``{prefix}_{zone}``."""

    class Form(form_class):
        pass

    for zone in zones:
        setattr(
            Form,
            f"{prefix}_{zone}",
            StringField(
                ZONE_LABELS[zone],
                validators=[Optional(), Length(max=24), reading_value],
            ),
        )
    return Form


class RegisterForm(MeterSpecForm):
    service = SelectField(_l("Service"))


def register_form(account, **kwargs):
    form_class = _with_zone_fields(RegisterForm, "initial", ALL_ZONES)
    form = form_class(**kwargs)
    form.service.choices = [
        SelectChoice(item.service, SERVICE_LABELS.get(item.service, item.service))
        for item in account.services
    ]
    return form


def replace_form(old, **kwargs):
    initial = _with_zone_fields(MeterSpecForm, "initial", ALL_ZONES)
    form_class = _with_zone_fields(initial, "final", old.zone_names)
    form = form_class(**kwargs)
    form.installed_on.label.text = _("Replacement date")
    return form


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[_required(_l("Say why: it stays in the meter's history.")), Length(max=300)],
    )


class VerificationForm(FlaskForm):
    seal_number = StringField(
        _l("Seal number"),
        validators=[Optional(), Length(max=40)],
        description=_l("Leave empty if the meter has no seal"),
    )
    verified_on = DateField(
        _l("Verified on"),
        validators=[Optional()],
        description=_l("The day of the verification just made, if any: kept in the history"),
    )
    verification_due = DateField(
        _l("Next verification due"),
        validators=[_required(_l("Enter the date the next verification is due."))],
    )


def _meter_or_404(meter_id: int):
    try:
        return meters.get_meter(db.session, meter_id)
    except NotFound:
        abort(404)


def _to_card(meter_id: int, message: str):
    flash(message, "success")
    return redirect(url_for("admin.meter_card", meter_id=meter_id), code=303)


# --- the card -------------------------------------------------------------------------------


@bp.route("/meters/<int:meter_id>")
@staff_required("meters")
def meter_card(meter_id: int):
    try:
        card = meters.open_card(
            db.session, meter_id, staff_id=staff_member().id, ip=client_ip(), page=page_number()
        )
    except NotFound:
        abort(404)
    return render_template(
        "admin/meters/card.html", card=card, CHANGE_LABELS=CHANGE_LABELS, **template_context()
    )


# --- registering and replacing --------------------------------------------------------------


@bp.route("/accounts/<int:account_id>/meters/new", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_register(account_id: int):
    try:
        account = meters.get_account(db.session, account_id)
    except NotFound:
        abort(404)
    except DomainError as error:
        flash(error.message, "warning")
        return redirect(url_for("admin.meters_verification"), code=303)
    form = register_form(account, installed_on=meters.today())
    if form.validate_on_submit():
        with refusal_shown_on(form):
            meter = meters.register_meter(
                db.session,
                account.id,
                form.spec(form.service.data),
                form.initial_values(),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            return _to_card(meter.id, _("The meter is registered with its initial reading."))
    return render_template(
        "admin/meters/register.html", form=form, account=account, ALL_ZONES=ALL_ZONES
    )


@bp.route("/meters/<int:meter_id>/replace", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_replace(meter_id: int):
    old = _meter_or_404(meter_id)
    if old.status == "removed":
        flash(_("The meter has been removed: it cannot be changed."), "warning")
        return redirect(url_for("admin.meter_card", meter_id=meter_id), code=303)
    form = replace_form(
        old,
        installed_on=meters.today(),
        zones=old.zones,
        whole_digits=old.whole_digits,
        fraction_digits=old.fraction_digits,
        remote_read=old.remote_read,
    )
    if form.validate_on_submit():
        with refusal_shown_on(form):
            new = meters.replace_meter(
                db.session,
                old.id,
                form.spec(old.service),
                final_values={zone: form[f"final_{zone}"].data for zone in old.zone_names},
                initial_values=form.initial_values(),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            return _to_card(new.id, _("The meter is replaced: the old one is removed."))
    return render_template(
        "admin/meters/replace.html",
        form=form,
        meter=old,
        ALL_ZONES=ALL_ZONES,
        ZONE_NAMES=ZONE_NAMES,
    )


# --- status, seal and verification ----------------------------------------------------------


def _status_change(meter_id: int, change, expected: str, success: str, template_kind: str):
    meter = _meter_or_404(meter_id)
    if meter.status != expected:
        flash(
            _("The meter is already marked faulty.")
            if meter.status == "faulty"
            else _("The meter is in service.")
            if meter.status == "active"
            else _("The meter has been removed: it cannot be changed."),
            "warning",
        )
        return redirect(url_for("admin.meter_card", meter_id=meter_id), code=303)
    form = ReasonForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            change(
                db.session, meter.id, form.reason.data, staff_id=staff_member().id, ip=client_ip()
            )
            return _to_card(meter_id, success)
    return render_template("admin/meters/status.html", form=form, meter=meter, kind=template_kind)


@bp.route("/meters/<int:meter_id>/faulty", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_faulty(meter_id: int):
    return _status_change(
        meter_id,
        meters.mark_faulty,
        "active",
        _("The meter is marked faulty: it takes no readings until repaired or replaced."),
        "faulty",
    )


@bp.route("/meters/<int:meter_id>/repaired", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_repaired(meter_id: int):
    return _status_change(
        meter_id, meters.mark_repaired, "faulty", _("The meter is back in service."), "repaired"
    )


@bp.route("/meters/<int:meter_id>/verification", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_verification(meter_id: int):
    meter = _meter_or_404(meter_id)
    if meter.status == "removed":
        flash(_("The meter has been removed: it cannot be changed."), "warning")
        return redirect(url_for("admin.meter_card", meter_id=meter_id), code=303)
    form = VerificationForm(obj=meter)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            changes = meters.update_seal_and_verification(
                db.session,
                meter.id,
                seal_number=form.seal_number.data,
                verification_due=form.verification_due.data,
                verified_on=form.verified_on.data,
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            if not changes:
                flash(_("Nothing was changed."), "info")
                return redirect(url_for("admin.meter_card", meter_id=meter_id), code=303)
            return _to_card(meter_id, _("The seal and verification dates are saved."))
    return render_template("admin/meters/verification_form.html", form=form, meter=meter)


# --- verification due -----------------------------------------------------------------------


@bp.route("/meters/verification")
@staff_required("meters")
def meters_verification():
    page = page_of(meters.verification_due(db.session), meters.PAGE_SIZE)
    return list_page(
        "admin/meters/verification.html",
        "admin/meters/_verification_results.html",
        page=page,
        today=meters.today(),
        limit=meters.verification_limit(db.session),
    )


@bp.route("/meters/verification.csv")
@staff_required("meters")
def meters_verification_csv():
    body = meters.verification_csv(db.session, staff_id=staff_member().id, ip=client_ip())
    filename = f"verification-due-{meters.today().isoformat()}.csv"
    return send_file(
        io.BytesIO(body), mimetype=exports.CSV_MIMETYPE, as_attachment=True, download_name=filename
    )
