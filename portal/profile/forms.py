from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField, TelField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from portal.auth.forms import new_password_field, password_again_field
from portal.models import Channel
from portal.services import names, users
from portal.web import rule_check


class ProfileForm(FlaskForm):
    full_name = StringField(
        _l("Full name"),
        validators=[DataRequired(), Length(max=200), rule_check(names.person_name)],
    )
    phone = TelField(
        _l("Mobile phone"),
        validators=[DataRequired(), Length(max=30), rule_check(users.normalise_phone)],
    )
    preferred_channel = RadioField(
        _l("Send me notices by"),
        choices=[SelectChoice(channel, channel.label) for channel in Channel],
        validators=[DataRequired()],
    )
    language = RadioField(
        _l("Language"),
        choices=[SelectChoice("ru", "Русский"), SelectChoice("en", "English")],
        validators=[DataRequired()],
    )


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=128)]
    )
    password = new_password_field(_l("New password"))
    password_again = password_again_field()


def notices_form(choices, one_account: bool, **kwargs) -> FlaskForm:
    """One group of radio buttons per kind of notice (``preferences.choices``), each set to
    the user's current choice; a mandatory kind offers no "do not send"."""
    from portal.services.notify import preferences

    class NoticesForm(FlaskForm):
        pass

    for choice in choices:
        field = RadioField(
            choice.kind.label,
            choices=[
                SelectChoice(value, label)
                for value, label in preferences.options(choice.kind, one_account)
            ],
            default=choice.chosen,
            validators=[DataRequired()],
        )
        setattr(NoticesForm, choice.kind.name, field)
    return NoticesForm(**kwargs)
