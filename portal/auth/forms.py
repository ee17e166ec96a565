from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from portal.services import names, users
from portal.services.users import MIN_PASSWORD_LENGTH
from portal.web import rule_check


def new_password_field(label) -> PasswordField:
    """A password being chosen: the strength rules of ``users.check_password_strength``."""
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD_LENGTH, max=128),
            rule_check(users.check_password_strength),
        ],
        description=_l("At least 8 characters, letters and digits"),
    )


def password_again_field() -> PasswordField:
    return PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class SignUpForm(FlaskForm):
    full_name = StringField(
        _l("Full name"),
        validators=[DataRequired(), Length(max=200), rule_check(names.person_name)],
    )
    # No non-Latin local part (it needs SMTPUTF8, which mail servers rarely offer);
    # Cyrillic domains (почта.рф) are fine.
    email = EmailField(
        _l("E-mail"), validators=[DataRequired(), Email(allow_smtputf8=False), Length(max=254)]
    )
    phone = TelField(
        _l("Mobile phone"),
        validators=[DataRequired(), Length(max=30), rule_check(users.normalise_phone)],
        description=_l("For example +7 916 123-45-67"),
    )
    password = new_password_field(_l("Password"))
    password_again = password_again_field()
    consent = BooleanField(
        _l("I consent to the processing of my personal data"),
        validators=[DataRequired(message=_l("Consent is required to create an account."))],
    )


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    remember = BooleanField(_l("Remember me on this device"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = new_password_field(_l("New password"))
    password_again = password_again_field()
