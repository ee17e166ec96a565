"""The feedback book for customers: an entry in the portal (signed in or not) and on the
tablet in an office hall. The rules live in ``portal.services.feedback_book``."""

from flask import Blueprint, render_template, request
from flask_login import current_user

from portal.extensions import db
from portal.feedback.forms import FeedbackForm, new_entry
from portal.models import FeedbackSource, Office
from portal.services import feedback_book
from portal.services.errors import FieldErrors
from portal.services.notify import commit_and_send
from portal.web import rate_limit

bp = Blueprint("feedback", __name__)


def _customer():
    signed_in = current_user.is_authenticated and not getattr(current_user, "is_staff", False)
    return current_user._get_current_object() if signed_in else None


def _written(form: FeedbackForm, **where):
    """The entry written and committed, or None with the refusals next to their fields."""
    try:
        entry = feedback_book.add_entry(db.session, new_entry(form, **where))
    except FieldErrors as refusal:
        db.session.rollback()
        for field, message in refusal.errors.items():
            if field in form:
                form[field].errors = [*form[field].errors, message]
        return None
    commit_and_send(db.session)
    return entry


@bp.route("/feedback-book", methods=["GET", "POST"])
@rate_limit("feedback_book", methods=["POST"])
def write():
    user = _customer()
    form = FeedbackForm()
    if request.method == "GET" and user is not None:
        form.author_name.data, form.email.data = user.full_name, user.email
    if form.validate_on_submit():
        entry = _written(form, source=FeedbackSource.PORTAL, user=user)
        if entry is not None:
            return render_template("portal/feedback/written.html", entry=entry, tablet=False)
    return render_template("portal/feedback/write.html", form=form, office=None)


@bp.route("/offices/<int:office_id>/feedback-book", methods=["GET", "POST"])
@rate_limit("feedback_book", methods=["POST"])
def tablet(office_id: int):
    """The page the office's tablet shows: no sign-in, a fresh form after each entry."""
    office = db.get_or_404(Office, office_id)
    form = FeedbackForm()
    if form.validate_on_submit():
        entry = _written(form, source=FeedbackSource.TABLET, office_id=office.id)
        if entry is not None:
            return render_template(
                "portal/feedback/written.html", entry=entry, tablet=True, office=office
            )
    return render_template("portal/feedback/write.html", form=form, office=office)
