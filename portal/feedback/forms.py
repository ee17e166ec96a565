"""The feedback book's one form: in the portal, on the office tablet and for an operator
typing a paper form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from portal.models import AppealTopic, FeedbackKind
from portal.services.feedback_book import MAX_TEXT
from portal.web import options


class FeedbackForm(FlaskForm):
    kind = RadioField(
        _l("What you write"),
        choices=options(FeedbackKind.options()),
        default=FeedbackKind.COMPLAINT.value,
        validators=[DataRequired()],
    )
    topic = SelectField(_l("About"), choices=options(AppealTopic.options()), default="other")
    text = TextAreaField(_l("Your entry"), validators=[DataRequired(), Length(max=MAX_TEXT)])
    author_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    email = StringField(
        _l("E-mail for the answer"), validators=[Optional(), Email(), Length(max=254)]
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20)])


def new_entry(form: FeedbackForm, **where):
    from portal.services.feedback_book import NewEntry

    return NewEntry(
        kind=FeedbackKind(form.kind.data),
        topic=AppealTopic(form.topic.data),
        text=form.text.data or "",
        author_name=form.author_name.data or "",
        email=(form.email.data or "").strip(),
        phone=(form.phone.data or "").strip(),
        **where,
    )
