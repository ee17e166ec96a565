"""Forms of the application pages: choose the kind, apply (signed in or as a guest) with
one file field per checklist item, add documents, a protocol of disagreements, a
complaint, and the look-up by number and contact."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from portal.models import ApplicationKind, Segment
from portal.services.applications import MAX_TEXT_LENGTH
from portal.web import options

ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def item_field_name(item) -> str:
    return f"item_{item.id}"


class ChooseForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: it only chooses which checklist to show

    kind = RadioField(_l("What do you apply for?"), choices=options(ApplicationKind.options()))
    segment = RadioField(_l("Who applies?"), choices=options(Segment.options()))


class ApplicationForm(FlaskForm):
    name = StringField(
        _l("Full name of the applicant"),
        validators=[DataRequired(message=_l("Write your full name.")), Length(max=200)],
        filters=[_strip],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        _l("E-mail"),
        validators=[
            Optional(),
            Email(message=_l("Enter an e-mail like name@example.ru.")),
            Length(max=254),
        ],
        filters=[_strip],
        description=_l("We tell you of every step by e-mail, or by SMS if you give only a phone."),
        render_kw={"autocomplete": "email"},
    )
    phone = TelField(
        _l("Phone"),
        validators=[Optional(), Length(max=20)],
        filters=[_strip],
        render_kw={"autocomplete": "tel"},
    )
    organisation_name = StringField(
        _l("Organisation"), validators=[Optional(), Length(max=300)], filters=[_strip]
    )
    inn = StringField(
        _l("INN"),
        validators=[Optional(), Length(min=10, max=12)],
        filters=[_strip],
        render_kw={"inputmode": "numeric"},
    )
    account = SelectField(_l("Personal account it concerns"), choices=[], default="")
    account_number = StringField(
        _l("Personal account or contract number, if there is one"),
        validators=[Optional(), Length(max=40)],
        filters=[_strip],
    )
    address = StringField(
        _l("Address of the premises or supply point"),
        validators=[DataRequired(message=_l("Write the address.")), Length(max=400)],
        filters=[_strip],
        render_kw={"autocomplete": "street-address"},
    )
    details = TextAreaField(
        _l("What exactly do you ask for"),
        validators=[Length(max=MAX_TEXT_LENGTH)],
        filters=[_strip],
        description=_l(
            "For example: the new owner's name and since when; the new bank details; the heated area."
        ),
        render_kw={"rows": 5, "maxlength": MAX_TEXT_LENGTH},
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.email.data and not self.phone.data:
            message = _l("Give an e-mail or a phone number: we tell you about each step.")
            self.email.errors = [*self.email.errors, message]
            return False
        return valid


def application_form(items, **kwargs) -> ApplicationForm:
    """The form with a file field for each document of the checklist."""

    class WithDocuments(ApplicationForm):
        pass

    for item in items:
        setattr(
            WithDocuments,
            item_field_name(item),
            MultipleFileField(item.title, description=item.reason, render_kw={"accept": ACCEPT}),
        )
    return WithDocuments(**kwargs)


def documents_form(items, **kwargs) -> FlaskForm:
    class Documents(FlaskForm):
        pass

    for item in items:
        setattr(
            Documents,
            item_field_name(item),
            MultipleFileField(item.title, description=item.reason, render_kw={"accept": ACCEPT}),
        )
    return Documents(**kwargs)


class TextForm(FlaskForm):
    text = TextAreaField(
        _l("Your text"),
        validators=[DataRequired(message=_l("Write the text.")), Length(max=MAX_TEXT_LENGTH)],
        filters=[_strip],
        render_kw={"rows": 5, "maxlength": MAX_TEXT_LENGTH},
    )


class EmptyForm(FlaskForm):
    pass


class LookupForm(FlaskForm):
    number = StringField(
        _l("Application number"),
        validators=[
            DataRequired(message=_l("Enter the number, like D-2026-000123.")),
            Length(max=16),
        ],
        filters=[_strip],
    )
    contact = StringField(
        _l("The e-mail or phone given in the application"),
        validators=[DataRequired(message=_l("Enter the e-mail or phone.")), Length(max=254)],
        filters=[_strip],
    )
