"""Forms of the appeal pages: file (signed in or as a guest), clarify, rate, reopen."""

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
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from portal.models import AnswerChannel, AppealKind, AppealTopic
from portal.services.appeals import MAX_REASON_LENGTH, MAX_TEXT_LENGTH, files
from portal.services.appeals.files import Upload
from portal.web import options


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def uploads_of(field) -> list[Upload]:
    """The files a MultipleFileField received, as the service takes them."""
    return [
        Upload(filename=item.filename or "", data=item.read())
        for item in (field.data or [])
        if getattr(item, "filename", None)
    ]


class AppealForm(FlaskForm):
    kind = SelectField(
        _l("Kind of appeal"), choices=options(AppealKind.options()), default="information"
    )
    topic = SelectField(_l("Topic"), choices=options(AppealTopic.options()), default="other")
    account = SelectField(_l("Account or contract it concerns"), choices=[], default="")
    text = TextAreaField(
        _l("Your appeal"),
        validators=[
            DataRequired(message=_l("Write the text of your appeal.")),
            Length(max=MAX_TEXT_LENGTH),
        ],
        filters=[_strip],
        render_kw={"rows": 8, "maxlength": MAX_TEXT_LENGTH},
    )
    files = MultipleFileField(
        _l("Attachments"),
        description=_l("Up to %(num)d files: PDF, JPEG or PNG.", num=files.MAX_FILES),
        render_kw={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"},
    )
    answer_channel = RadioField(
        _l("How should we answer?"), choices=options(AnswerChannel.options()), default="portal"
    )
    postal_address = StringField(
        _l("Postal address for the answer"),
        validators=[Optional(), Length(max=400)],
        filters=[_strip],
        description=_l("Needed only for an answer by post."),
    )


class GuestAppealForm(AppealForm):
    name = StringField(
        _l("Your full name"),
        validators=[DataRequired(message=_l("Enter your name.")), Length(max=200)],
        filters=[_strip],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        _l("E-mail"),
        validators=[
            DataRequired(message=_l("Enter your e-mail: the number and the answer come to it.")),
            Email(message=_l("Enter an e-mail like name@example.ru.")),
            Length(max=254),
        ],
        filters=[_strip],
        render_kw={"autocomplete": "email"},
    )
    phone = TelField(
        _l("Phone"),
        validators=[Optional(), Length(max=20)],
        filters=[_strip],
        render_kw={"autocomplete": "tel"},
    )
    account_number = StringField(
        _l("Personal account or contract number"),
        validators=[Optional(), Length(max=40)],
        filters=[_strip],
    )


class ClarificationForm(FlaskForm):
    text = TextAreaField(
        _l("Your clarification"),
        validators=[
            DataRequired(message=_l("Write the clarification.")),
            Length(max=MAX_TEXT_LENGTH),
        ],
        filters=[_strip],
        render_kw={"rows": 5},
    )
    files = MultipleFileField(
        _l("Attachments"),
        description=_l("Up to %(num)d files: PDF, JPEG or PNG.", num=files.MAX_FILES),
        render_kw={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"},
    )


class RatingForm(FlaskForm):
    rating = RadioField(
        _l("Your mark, from 1 (bad) to 10 (excellent)"),
        choices=options((mark, str(mark)) for mark in range(1, 11)),
        coerce=int,
        validators=[InputRequired(message=_l("Choose a mark from 1 to 10."))],
        validate_choice=True,
    )
    reason = TextAreaField(
        _l("What could we have done better?"),
        validators=[Length(max=MAX_REASON_LENGTH)],
        filters=[_strip],
        description=_l("Required for a mark below 9."),
        render_kw={"rows": 3},
    )


class ReopenForm(FlaskForm):
    reason = TextAreaField(
        _l("Why is the answer not enough?"),
        validators=[
            DataRequired(message=_l("Tell us why you reopen the appeal.")),
            Length(max=MAX_REASON_LENGTH),
        ],
        filters=[_strip],
        render_kw={"rows": 3},
    )
