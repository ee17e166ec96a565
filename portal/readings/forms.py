"""Forms of meter readings, for the portal and the back office alike: the one builder of
per-zone register fields (``with_zone_fields``), the confirmation of an unusual value bound
to the values typed (``ConfirmableForm``), the quick form; and the one way a refusal of the
readings rules reaches a form's fields is ``web.refusal_shown_on``."""

from collections.abc import Callable, Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    StopValidation,
)

from portal.models import Meter, Zone
from portal.services import readings
from portal.services.errors import DomainError
from portal.services.readings import TARIFF_FIELDS

MAX_VALUE_LENGTH = 24


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def register_value(meter: Meter | None):
    """A validator: the service's rules for a value typed alone (a plain number; for a
    known meter also not negative, not too large, not too many decimals), so that every
    field shows its error at once. The service applies them again when the form is sent."""

    def validator(_form, field):
        if not field.data:
            return  # the presence rule speaks for an empty field
        try:
            value = readings.parse_value(field.data)
        except DomainError as error:
            raise StopValidation(error.message) from None
        problem = readings.value_refusal(meter, value) if meter is not None else None
        if problem is not None:
            raise StopValidation(problem.reason)

    return validator


def value_field(
    label,
    *,
    required=_l("Enter the value shown on the meter."),
    description=None,
    meter: Meter | None = None,
) -> StringField:
    """One register value: ``required`` is the message of an empty field (None: the field
    may stay empty), ``meter`` the meter whose rules apply as it is typed."""
    presence = DataRequired(message=required) if required else Optional()
    return StringField(
        label,
        validators=[
            presence,
            Length(max=MAX_VALUE_LENGTH, message=_l("The value is too long for a meter.")),
            register_value(meter),
        ],
        filters=[_strip],
        description=description,
    )


def zone_label(zone: str) -> str:
    text = str(Zone(zone).label)
    return text[:1].upper() + text[1:]


def with_zone_fields(
    form_class: type[FlaskForm],
    zones: Iterable[str],
    *,
    prefix: str = "",
    label: Callable[[str], object] = zone_label,
    hints: dict[str, str] | None = None,
    **field_options,
) -> type[FlaskForm]:
    """A subclass of the form with one register value field per zone, named
    ``{prefix}{zone}`` (``value_field``'s ``field_options`` apply to each)."""
    fields = {
        f"{prefix}{zone}": value_field(
            label(zone), description=(hints or {}).get(zone), **field_options
        )
        for zone in zones
    }
    return type(form_class.__name__, (form_class,), fields)


class ConfirmableForm(FlaskForm):
    """A form whose values may need the sender's confirmation ("Yes, the value is correct").

    The confirmation holds only for the values it was given for: ``confirmed_values``
    carries them, so a value changed after the warning is judged afresh."""

    confirmed = BooleanField(_l("Yes, the value is correct"))
    confirmed_values = HiddenField()

    value_names: tuple[str, ...] = ()

    def values(self) -> dict[str, str]:
        return {name: self[name].data or "" for name in self.value_names}

    def fingerprint(self) -> str:
        return "|".join(f"{name}={value}" for name, value in self.values().items())

    def is_confirmed(self) -> bool:
        return bool(self.confirmed.data) and self.confirmed_values.data == self.fingerprint()

    def ask_confirmation(self) -> None:
        """Show the form again asking to confirm exactly these values."""
        self.confirmed.data = False
        self.confirmed_values.data = self.fingerprint()


def reading_form(meter: Meter, hints: dict[str, str], **kwargs) -> ConfirmableForm:
    """The resident's form: one field per zone of the meter, named by the zone."""
    form = with_zone_fields(ConfirmableForm, meter.zone_names, hints=hints, meter=meter)(**kwargs)
    form.value_names = meter.zone_names
    return form


class QuickReadingForm(ConfirmableForm):
    account_number = StringField(
        _l("Personal account number"),
        validators=[
            InputRequired(message=_l("Enter the account number.")),
            Length(max=30),
            Regexp(r"^[\d\s-]+$", message=_l("The account number has digits only.")),
        ],
        filters=[_strip],
        description=_l("10 digits, printed at the top of your bill"),
    )
    serial_number = StringField(
        _l("Meter serial number"),
        validators=[
            InputRequired(message=_l("Enter the serial number of the meter.")),
            Length(max=40),
        ],
        filters=[_strip],
        description=_l("Printed on the meter's front panel, usually under a bar code"),
    )
    t1 = value_field("T1", description=_l("single rate, day or peak"))
    t2 = value_field("T2", required=None, description=_l("night"))
    t3 = value_field("T3", required=None, description=_l("semi-peak"))

    value_names = TARIFF_FIELDS

    def tariffs(self) -> dict[str, str]:
        return self.values()
