"""Forms of meter readings: one input per tariff zone of a meter, and the quick form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp, StopValidation

from portal.formatting import ZONE_LABELS
from portal.models import Meter
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
        try:
            value = readings.parse_value(field.data)
        except DomainError as error:
            raise StopValidation(error.message) from None
        problem = readings.value_refusal(meter, value) if meter is not None else None
        if problem is not None:
            raise StopValidation(problem.reason)

    return validator


def _value_field(label, required: bool = True, description=None, meter=None) -> StringField:
    presence = (
        InputRequired(message=_l("Enter the value shown on the meter.")) if required else Optional()
    )
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
    text = str(ZONE_LABELS.get(zone, zone))
    return text[:1].upper() + text[1:]


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


class ReadingForm(ConfirmableForm):
    """Fields are added per meter by ``reading_form``: one per zone, named by the zone."""


def reading_form(meter: Meter, hints: dict[str, str], **kwargs) -> ReadingForm:
    fields = {
        zone: _value_field(zone_label(zone), description=hints.get(zone), meter=meter)
        for zone in meter.zone_names
    }
    form_class = type("MeterReadingForm", (ReadingForm,), fields)
    form = form_class(**kwargs)
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
    t1 = _value_field("T1", description=_l("single rate, day or peak"))
    t2 = _value_field("T2", required=False, description=_l("night"))
    t3 = _value_field("T3", required=False, description=_l("semi-peak"))

    value_names = TARIFF_FIELDS

    def tariffs(self) -> dict[str, str]:
        return self.values()
