from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

from portal.models import OrgRole

ROLE_CHOICES = [
    SelectChoice(OrgRole.ACCOUNTANT, _l("Accountant: sees and pays bills, downloads documents")),
    SelectChoice(OrgRole.VIEWER, _l("Viewer: sees accounts and documents")),
    SelectChoice(OrgRole.OWNER, _l("Owner: also manages users")),
]


class InviteForm(FlaskForm):
    email = EmailField(
        _l("Colleague's e-mail"), validators=[DataRequired(), Email(), Length(max=254)]
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validators=[DataRequired()])
