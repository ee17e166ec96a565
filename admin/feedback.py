"""The feedback book in the back office (issue #16): the entries with the appeals they
became, whether the chain of hashes is intact, and entering a paper form."""

from flask import render_template
from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.validators import DataRequired

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.feedback.forms import FeedbackForm, new_entry
from portal.models import FeedbackSource, Office
from portal.services import feedback_book
from portal.services.errors import FieldErrors
from portal.services.notify import commit_and_send
from portal.web import options, page_of, redirect_after_post, staff_member

PAGE_SIZE = 30


class PaperEntryForm(FeedbackForm):
    office_id = SelectField(
        _l("Office where it was written"), coerce=int, validators=[DataRequired()]
    )


@bp.route("/feedback-book")
@staff_required("quality")
def feedback_entries():
    page = page_of(feedback_book.entries_query(), PAGE_SIZE)
    return render_template("admin/feedback/index.html", page=page)


@bp.route("/feedback-book/check")
@staff_required("quality")
def feedback_check():
    return render_template("admin/feedback/check.html", check=feedback_book.verify(db.session))


@bp.route("/feedback-book/new", methods=["GET", "POST"])
@staff_required("appeals.register")
def feedback_paper():
    form = PaperEntryForm()
    form.office_id.choices = options(
        [(o.id, o.name) for o in db.session.scalars(db.select(Office).order_by(Office.name))]
    )
    if form.validate_on_submit():
        try:
            feedback_book.add_entry(
                db.session,
                new_entry(
                    form,
                    source=FeedbackSource.PAPER,
                    office_id=form.office_id.data,
                    staff=staff_member(),
                ),
            )
        except FieldErrors as refusal:
            db.session.rollback()
            for field, message in refusal.errors.items():
                if field in form:
                    form[field].errors = [*form[field].errors, message]
        else:
            commit_and_send(db.session)
            return redirect_after_post("admin.feedback_entries")
    return render_template("admin/feedback/new.html", form=form)
