"""The satisfaction survey opened by a letter's signed link: no sign-in, no JavaScript
needed. The rules (scores, reasons, one answer per link) live in
``portal.services.surveys``."""

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.extensions import db
from portal.services import surveys
from portal.services.errors import DomainError
from portal.services.notify import commit_and_send
from portal.web import redirect_after_post

bp = Blueprint("surveys", __name__)


class SurveyForm(FlaskForm):
    """The free fields; the scores are one radio group per criterion (``score-<id>``)."""

    suggestions = TextAreaField(
        _l("Your suggestions"), validators=[Optional(), Length(max=surveys.MAX_TEXT)]
    )
    name = StringField(
        _l("Your name and phone (if you wish)"), validators=[Optional(), Length(max=200)]
    )


def _score(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) <= 2 else None


def typed_ratings(criteria) -> list[surveys.Rating]:
    return [
        surveys.Rating(
            c.id,
            _score(request.form.get(f"score-{c.id}")),
            request.form.get(f"reason-{c.id}", "")[: surveys.MAX_TEXT + 1],
        )
        for c in criteria
    ]


@bp.route("/survey/<token>", methods=["GET", "POST"])
def form(token: str):
    invitation = surveys.invitation_by_token(db.session, token)
    if invitation.answered_at is not None:
        return render_template("portal/surveys/done.html", already=True)
    criteria = surveys.criteria(db.session)
    survey_form, errors, ratings = SurveyForm(), {}, typed_ratings(criteria)
    if survey_form.validate_on_submit():
        errors = surveys.check(db.session, ratings)
        if not errors:
            return _kept(invitation, ratings, survey_form)
    typed = {r.criterion_id: r for r in ratings}
    return render_template(
        "portal/surveys/form.html",
        form=survey_form,
        criteria=criteria,
        typed=typed,
        errors=errors,
        invitation=invitation,
        posted=request.method == "POST",
    )


def _kept(invitation, ratings, survey_form: SurveyForm):
    """Write the answer once; a second submission (another tab, a replay) is thanked."""
    try:
        surveys.submit(
            db.session,
            invitation,
            ratings,
            survey_form.suggestions.data or "",
            survey_form.name.data or "",
        )
    except DomainError:
        db.session.rollback()
        return render_template("portal/surveys/done.html", already=True)
    commit_and_send(db.session)
    return redirect_after_post("surveys.thanks")


@bp.route("/survey/thanks")
def thanks():
    return render_template("portal/surveys/done.html", already=False)
