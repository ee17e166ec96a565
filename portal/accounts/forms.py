from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp


class LinkAccountForm(FlaskForm):
    number = StringField(
        _l("Personal account number"),
        validators=[
            DataRequired(),
            Length(max=30),
            Regexp(r"^[\d\s-]+$", message=_l("The account number has digits only.")),
        ],
        description=_l("10 digits, printed at the top of your bill"),
    )
    secret_code = StringField(
        _l("Code from the bill"),
        validators=[DataRequired(), Length(min=4, max=12)],
        description=_l("6 characters, printed next to the account number"),
    )
