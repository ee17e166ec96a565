"""Meters in the back office: the meter's card and history, registration, replacement,
faulty and back in service, seal and verification dates, and the list of meters whose
state verification is due. Every rule is in ``portal.services.meters``."""

from flask import flash, render_template
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
from portal.extensions import db
from portal.models import Meter, MeterStatus, Zone
from portal.models.metering import ZONE_NAMES
from portal.readings.forms import with_zone_fields
from portal.services import exports, meters, readings
from portal.services.clock import local_today
from portal.web import (
    client_ip,
    options,
    page_of,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    send_download,
    staff_member,
)

# Every zone a meter may have, in the order the forms show them.
ALL_ZONES = (Zone.TOTAL, Zone.DAY, Zone.PEAK, Zone.SEMI_PEAK, Zone.NIGHT)

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


def _zone_name(zone: str):
    return Zone(zone).label


class MeterSpecForm(FlaskForm):
    """The installation act: the new meter and its initial reading."""

    serial_number = StringField(
        _l("Serial number"),
        validators=[
            _required(_l("Enter the meter's serial number.")),
            Length(max=meters.SERIAL_LENGTH),
        ],
    )
    model = StringField(_l("Model"), validators=[Optional(), Length(max=meters.MODEL_LENGTH)])
    zones = SelectField(_l("Tariff zones"), choices=ZONE_CHOICES, coerce=int, default=1)
    whole_digits = IntegerField(
        _l("Whole digits"),
        default=6,
        validators=[
            _required(_l("Enter a number from 1 to 12.")),
            NumberRange(*meters.WHOLE_DIGITS),
        ],
    )
    fraction_digits = IntegerField(
        _l("Decimal digits"),
        default=1,
        validators=[Optional(strip_whitespace=True), NumberRange(*meters.FRACTION_DIGITS)],
    )
    installed_on = DateField(
        _l("Installed on"), validators=[_required(_l("Enter the installation date."))]
    )
    verification_due = DateField(
        _l("Next verification due"),
        validators=[_required(_l("Enter the date the next verification is due."))],
    )
    seal_number = StringField(
        _l("Seal number"), validators=[Optional(), Length(max=meters.SEAL_LENGTH)]
    )
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

    def zone_values(self, prefix: str, zones=ALL_ZONES) -> dict[str, str]:
        return {zone: self[f"{prefix}_{zone}"].data for zone in zones}


def _with_initial_values(form_class):
    """The form with the new meter's initial reading, a field per zone it may have."""
    return with_zone_fields(
        form_class, ALL_ZONES, prefix="initial_", label=_zone_name, required=None
    )


class RegisterForm(MeterSpecForm):
    service = SelectField(_l("Service"))


def register_form(account, **kwargs):
    form = _with_initial_values(RegisterForm)(**kwargs)
    form.service.choices = options((item.service, item.service.label) for item in account.services)
    return form


def replace_form(old: Meter):
    """The replacement act: the old meter's final reading and the new one, like the old one
    until told otherwise, installed today."""
    form_class = with_zone_fields(
        _with_initial_values(MeterSpecForm),
        old.zone_names,
        prefix="final_",
        label=_zone_name,
        required=None,
        meter=old,
    )
    form = form_class(
        installed_on=local_today(),
        zones=old.zones,
        whole_digits=old.whole_digits,
        fraction_digits=old.fraction_digits,
        remote_read=old.remote_read,
    )
    form.installed_on.label.text = _("Replacement date")
    return form


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            _required(_l("Say why: it stays in the meter's history.")),
            Length(max=meters.MAX_REASON_LENGTH),
        ],
    )


class VerificationForm(FlaskForm):
    seal_number = StringField(
        _l("Seal number"),
        validators=[Optional(), Length(max=meters.SEAL_LENGTH)],
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


def _to_card(meter_id: int, message: str, category: str = "success"):
    flash(message, category)
    return redirect_after_post("admin.meter_card", meter_id=meter_id)


# --- the card -------------------------------------------------------------------------------


@bp.route("/meters/<int:meter_id>")
@staff_required("meters")
def meter_card(meter_id: int):
    history = page_of(readings.history_query(meter_id), meters.HISTORY_PAGE_SIZE)
    card = meters.open_card(
        db.session, meter_id, history.items, staff_id=staff_member().id, ip=client_ip()
    )
    html = render_template(
        "admin/meters/card.html", card=card, history=history, CHANGE_LABELS=CHANGE_LABELS
    )
    db.session.commit()  # the view's audit record; after the page, which it would expire
    return html


# --- registering and replacing --------------------------------------------------------------


@bp.route("/accounts/<int:account_id>/meters/new", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_register(account_id: int):
    account = meters.get_account(db.session, account_id)
    refusal = meters.installation_refusal(account)
    if refusal is not None:
        flash(refusal, "warning")
        return redirect_after_post("admin.meters_verification")
    form = register_form(account, installed_on=local_today())
    if form.validate_on_submit():
        with refusal_shown_on(form):
            meter = meters.register_meter(
                db.session,
                account.id,
                form.spec(form.service.data),
                form.zone_values("initial"),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            db.session.commit()
            return _to_card(meter.id, _("The meter is registered with its initial reading."))
    return render_template(
        "admin/meters/register.html", form=form, account=account, ALL_ZONES=ALL_ZONES
    )


@bp.route("/meters/<int:meter_id>/replace", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_replace(meter_id: int):
    old = meters.get_meter(db.session, meter_id)
    refusal = meters.change_refusal(old)
    if refusal is not None:
        return _to_card(meter_id, refusal, "warning")
    form = replace_form(old)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            new = meters.replace_meter(
                db.session,
                old.id,
                form.spec(old.service),
                final_values=form.zone_values("final", old.zone_names),
                initial_values=form.zone_values("initial"),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            db.session.commit()
            return _to_card(new.id, _("The meter is replaced: the old one is removed."))
    return render_template(
        "admin/meters/replace.html",
        form=form,
        meter=old,
        ALL_ZONES=ALL_ZONES,
        ZONE_NAMES=ZONE_NAMES,
    )


# --- status, seal and verification ----------------------------------------------------------


def _status_change(meter_id: int, status: MeterStatus, success: str):
    meter = meters.get_meter(db.session, meter_id)
    refusal = meters.status_refusal(meter, status)
    if refusal is not None:
        return _to_card(meter_id, refusal, "warning")
    change = meters.mark_faulty if status == MeterStatus.FAULTY else meters.mark_repaired
    form = ReasonForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            change(
                db.session, meter.id, form.reason.data, staff_id=staff_member().id, ip=client_ip()
            )
            db.session.commit()
            return _to_card(meter_id, success)
    return render_template("admin/meters/status.html", form=form, meter=meter, status=status)


@bp.route("/meters/<int:meter_id>/faulty", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_faulty(meter_id: int):
    return _status_change(
        meter_id,
        MeterStatus.FAULTY,
        _("The meter is marked faulty: it takes no readings until repaired or replaced."),
    )


@bp.route("/meters/<int:meter_id>/repaired", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_repaired(meter_id: int):
    return _status_change(meter_id, MeterStatus.ACTIVE, _("The meter is back in service."))


@bp.route("/meters/<int:meter_id>/verification", methods=["GET", "POST"])
@staff_required("meters.manage")
def meter_verification(meter_id: int):
    meter = meters.get_meter(db.session, meter_id)
    refusal = meters.change_refusal(meter)
    if refusal is not None:
        return _to_card(meter_id, refusal, "warning")
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
            db.session.commit()
            if not changes:
                return _to_card(meter_id, _("Nothing was changed."), "info")
            return _to_card(meter_id, _("The seal and verification dates are saved."))
    return render_template("admin/meters/verification_form.html", form=form, meter=meter)


# --- verification due -----------------------------------------------------------------------


@bp.route("/meters/verification")
@staff_required("meters")
def meters_verification():
    return page_or_fragment(
        "admin/meters/verification.html",
        "admin/meters/_verification_results.html",
        page=page_of(meters.verification_due(db.session), meters.PAGE_SIZE),
        today=local_today(),
        limit=meters.verification_limit(db.session),
    )


@bp.route("/meters/verification.csv")
@staff_required("meters")
def meters_verification_csv():
    body = meters.verification_csv(db.session, staff_id=staff_member().id, ip=client_ip())
    db.session.commit()  # the export's audit record
    filename = f"verification-due-{local_today().isoformat()}.csv"
    return send_download(body, filename, exports.CSV_MIMETYPE)
