from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

ROLE_CHOICES = [
    SelectChoice("accountant", _l("Accountant: sees and pays bills, downloads documents")),
    SelectChoice("viewer", _l("Viewer: sees accounts and documents")),
    SelectChoice("owner", _l("Owner: also manages users")),
]


class InviteForm(FlaskForm):
    email = EmailField(
        _l("Colleague's e-mail"), validators=[DataRequired(), Email(), Length(max=254)]
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])
