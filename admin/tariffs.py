"""Tariffs, consumption norms and key rates in the back office: what is in force, the full
history of each, and a new value from a date. Every rule is in ``portal.services.tariffs``."""

from flask import flash, render_template
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.formatting import as_date_ending
from portal.models import Category, NormBasis, Service, Zone
from portal.services import penalty_schemes, tariffs
from portal.services.clock import local_today
from portal.services.months import add_months
from portal.web import (
    client_ip,
    options,
    redirect_after_post,
    refusal_shown_on,
    rule_check,
    staff_member,
)


def _date_field(label):
    return DateField(
        label,
        validators=[DataRequired(message=_l("Enter the date the value starts on."))],
        description=_l("The previous value stays in force until the day before"),
    )


class TariffForm(FlaskForm):
    rate = StringField(
        _l("Price per unit, ₽"),
        validators=[
            DataRequired(message=_l("Enter the price.")),
            Length(max=30),
            rule_check(tariffs.parse_rate),
        ],
        description=_l("Above zero, at most 4 digits after the point, e.g. 7.38"),
    )
    valid_from = _date_field(_l("Valid from"))


class NormForm(FlaskForm):
    basis = SelectField(_l("Counted"), choices=options(NormBasis.options()))
    volume = StringField(
        _l("Monthly volume"),
        validators=[
            DataRequired(message=_l("Enter the volume.")),
            Length(max=30),
            rule_check(lambda raw: tariffs.parse_rate(raw, "volume")),
        ],
        description=_l("Above zero, at most 4 digits after the point, e.g. 4.85"),
    )
    valid_from = _date_field(_l("Valid from"))


class KeyRateForm(FlaskForm):
    percent = StringField(
        _l("Key rate, % a year"),
        validators=[
            DataRequired(message=_l("Enter the key rate.")),
            Length(max=30),
            rule_check(tariffs.parse_percent),
        ],
        description=_l("From 0 to 100, at most 2 digits after the point, e.g. 16.5"),
    )
    valid_from = DateField(
        _l("Valid from"),
        validators=[DataRequired(message=_l("Enter the date the value starts on."))],
        description=_l("The rate holds until the next one starts"),
    )


def _context(**extra) -> dict:
    earliest = tariffs.earliest_start(db.session)
    return {
        "today": local_today(),
        "earliest": earliest,
        "closed_month": None if earliest is None else add_months(earliest, -1),
        **extra,
    }


def _saved(added: tariffs.Added, message: str) -> None:
    flash(message, "success")
    if added.rerun:
        flash(
            _(
                "Periods already charged that the new value changes: %(months)s. Run them again.",
                months=", ".join(format_date(p, "LLLL yyyy") for p in added.rerun),
            ),
            "warning",
        )


def _save_new_value(form: FlaskForm, add, saved_message, back_to: str, **values):
    """Add a dated value from a valid form and redirect back to its history (the endpoint
    ``back_to``); None when the form or the rule behind it refused, with the messages
    attached to the form's fields."""
    if not form.validate_on_submit():
        return None
    with refusal_shown_on(form):
        added = add(staff_id=staff_member().id, ip=client_ip())
        db.session.commit()
        _saved(added, saved_message % {"date": as_date_ending(added.row.valid_from, "medium")})
        return redirect_after_post(back_to, **values)
    return None


# --- tariffs ---------------------------------------------------------------------------------


@bp.get("/billing/tariffs")
@staff_required("billing")
def tariffs_index():
    return render_template(
        "admin/billing/tariffs.html", lines=tariffs.tariff_table(db.session, local_today())
    )


def _tariff_page(service: str, zone: str, category: str, form: TariffForm):
    history = tariffs.tariff_history(db.session, service, zone, category)  # 404 if unknown
    return render_template(
        "admin/billing/tariff_history.html",
        service=Service(service),
        zone=Zone(zone),
        category=Category(category),
        history=history,
        form=form,
        **_context(),
    )


@bp.get("/billing/tariffs/<service>/<zone>/<category>")
@staff_required("billing")
def tariffs_history(service: str, zone: str, category: str):
    return _tariff_page(service, zone, category, TariffForm(formdata=None))


@bp.post("/billing/tariffs/<service>/<zone>/<category>")
@staff_required("billing.edit")
def tariffs_history_add(service: str, zone: str, category: str):
    tariffs.check_key(service, zone, category)
    form = TariffForm()
    saved = _save_new_value(
        form,
        lambda **staff: tariffs.add_tariff(
            db.session,
            service=service,
            zone=zone,
            category=category,
            rate=form.rate.data,
            valid_from=form.valid_from.data,
            **staff,
        ),
        _l("The new tariff is saved: it is in force from %(date)s."),
        "admin.tariffs_history",
        service=service,
        zone=zone,
        category=category,
    )
    return saved or _tariff_page(service, zone, category, form)


# --- norms -----------------------------------------------------------------------------------


@bp.get("/billing/norms")
@staff_required("billing")
def tariffs_norms():
    return render_template(
        "admin/billing/norms.html",
        lines=tariffs.norm_table(db.session, local_today()),
    )


def _norm_page(service: str, form: NormForm):
    history = tariffs.norm_history(db.session, service)  # 404 for an unknown service
    return render_template(
        "admin/billing/norm_history.html",
        service=Service(service),
        history=history,
        form=form,
        **_context(),
    )


@bp.get("/billing/norms/<service>")
@staff_required("billing")
def tariffs_norm_history(service: str):
    tariffs.check_key(service)
    form = NormForm(formdata=None, basis=tariffs.NORM_BASIS_DEFAULTS[service].value)
    return _norm_page(service, form)


@bp.post("/billing/norms/<service>")
@staff_required("billing.edit")
def tariffs_norm_add(service: str):
    tariffs.check_key(service)
    form = NormForm()
    saved = _save_new_value(
        form,
        lambda **staff: tariffs.add_norm(
            db.session,
            service=service,
            basis=form.basis.data,
            volume=form.volume.data,
            valid_from=form.valid_from.data,
            **staff,
        ),
        _l("The new norm is saved: it is in force from %(date)s."),
        "admin.tariffs_norm_history",
        service=service,
    )
    return saved or _norm_page(service, form)


# --- key rates -------------------------------------------------------------------------------


class KeyRateCapForm(FlaskForm):
    percent = StringField(
        _l("Cap, % a year"),
        validators=[
            DataRequired(message=_l("Enter the cap.")),
            Length(max=30),
            rule_check(tariffs.parse_percent),
        ],
        description=_l("Penalties take the key rate, but at most this, on the days of the cap"),
    )
    valid_from = DateField(
        _l("From"), validators=[DataRequired(message=_l("Enter the date the value starts on."))]
    )
    valid_to = DateField(
        _l("To (inclusive)"),
        validators=[DataRequired(message=_l("Enter the last day of the cap."))],
    )


def _key_rates_page(form: KeyRateForm, cap_form: KeyRateCapForm | None = None):
    return render_template(
        "admin/billing/key_rates.html",
        history=tariffs.key_rate_history(db.session),
        caps=tariffs.key_rate_caps(db.session),
        form=form,
        cap_form=cap_form or KeyRateCapForm(formdata=None, prefix="cap"),
        **_context(),
    )


@bp.get("/billing/key-rates")
@staff_required("billing")
def tariffs_key_rates():
    return _key_rates_page(KeyRateForm(formdata=None))


@bp.post("/billing/key-rates")
@staff_required("billing.edit")
def tariffs_key_rate_add():
    form = KeyRateForm()
    saved = _save_new_value(
        form,
        lambda **staff: tariffs.add_key_rate(
            db.session, percent=form.percent.data, valid_from=form.valid_from.data, **staff
        ),
        _l("The key rate is saved: it is in force from %(date)s."),
        "admin.tariffs_key_rates",
    )
    return saved or _key_rates_page(form)


@bp.post("/billing/key-rates/caps")
@staff_required("billing.edit")
def tariffs_key_rate_cap_add():
    form = KeyRateCapForm(prefix="cap")
    saved = _save_new_value(
        form,
        lambda **staff: tariffs.add_key_rate_cap(
            db.session,
            percent=form.percent.data,
            valid_from=form.valid_from.data,
            valid_to=form.valid_to.data,
            **staff,
        ),
        _l("The cap on the key rate is saved: it is in force from %(date)s."),
        "admin.tariffs_key_rates",
    )
    return saved or _key_rates_page(KeyRateForm(formdata=None), form)


# --- penalty schemes -------------------------------------------------------------------------


class PenaltySchemeForm(FlaskForm):
    category = SelectField(_l("Customer category"), choices=options(Category.options()))
    service = SelectField(
        _l("Service"), choices=options(Service.options(), blank=_l("All services"))
    )
    stages = StringField(
        _l("Stages"),
        validators=[
            DataRequired(message=_l("Enter the stages, for example 31: 1/300, 91: 1/130.")),
            Length(max=200),
            rule_check(penalty_schemes.parse_stages),
        ],
        description=_l(
            "From which day of delay which share of the key rate a day, e.g. 31: 1/300, 91: 1/130"
        ),
    )
    valid_from = _date_field(_l("Valid from"))


def _schemes_page(form: PenaltySchemeForm):
    return render_template(
        "admin/billing/penalty_schemes.html",
        history=penalty_schemes.history(db.session),
        defaults=penalty_schemes.defaults_shown(db.session),
        form=form,
        **_context(),
    )


@bp.get("/billing/penalty-schemes")
@staff_required("billing")
def tariffs_penalty_schemes():
    return _schemes_page(PenaltySchemeForm(formdata=None))


@bp.post("/billing/penalty-schemes")
@staff_required("billing.edit")
def tariffs_penalty_scheme_add():
    form = PenaltySchemeForm()
    saved = _save_new_value(
        form,
        lambda **staff: penalty_schemes.add_scheme(
            db.session,
            category=form.category.data,
            service=form.service.data,
            stages=form.stages.data,
            valid_from=form.valid_from.data,
            **staff,
        ),
        _l("The penalty scheme is saved: it is in force from %(date)s."),
        "admin.tariffs_penalty_schemes",
    )
    return saved or _schemes_page(form)
