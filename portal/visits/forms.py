"""The form of a booked visit's time: the time chosen among the free ones (radio buttons
the template draws from the service's slots, so a time taken meanwhile is refused by the
service, not by the form) and an optional note for the office."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

NOTE_LENGTH = 500


class TimeForm(FlaskForm):
    service = HiddenField()
    day = HiddenField()
    starts_at = StringField(_l("Time"))
    note = TextAreaField(
        _l("What is your question? (optional)"),
        validators=[Optional(), Length(max=NOTE_LENGTH)],
        description=_l("It helps the operator prepare: for example, the account number."),
    )


class HomeVisitForm(FlaskForm):
    """A vulnerable customer asks for a home visit (004 §8.4)."""

    account_id = SelectField(_l("Address"), coerce=int)
    reason = TextAreaField(
        _l("What is the visit about?"),
        validators=[
            DataRequired(message=_l("Tell us briefly what the visit is about.")),
            Length(max=NOTE_LENGTH),
        ],
    )
    phone = StringField(
        _l("Phone to agree the time"),
        validators=[Optional(), Length(max=20)],
        description=_l("We call before the visit; the phone of your account is used if empty."),
    )
