"""The quality dashboard for supervisors (issue #16): each indicator of a month, quarter or
year against its target, as a table and as a chart of the same figures."""

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import Office
from portal.services import quality, surveys
from portal.services.clock import local_today
from portal.services.months import month_end


class SpanForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    granularity = SelectField(
        _l("Period"), choices=list(quality.GRANULARITIES.items()), default="month"
    )
    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(2000, 2100)])
    number = IntegerField(_l("Month or quarter"), validators=[Optional(), NumberRange(1, 12)])
    office = SelectField(_l("Office"), coerce=int, default=0)


def span_of(form: SpanForm) -> quality.Span:
    """The span asked for; the current month (or quarter, year) when the form is empty or
    wrong, so a bad address never fails."""
    today = local_today()
    granularity = (
        form.granularity.data if form.granularity.data in quality.GRANULARITIES else "month"
    )
    year = form.year.data if form.year.data and not form.year.errors else today.year
    current = {"month": today.month, "quarter": (today.month + 2) // 3, "year": 1}[granularity]
    limit = {"month": 12, "quarter": 4, "year": 1}[granularity]
    number = form.number.data if form.number.data and not form.number.errors else current
    return quality.Span(granularity, year, min(number, limit))


@bp.route("/quality")
@staff_required("quality")
def quality_dashboard():
    form = SpanForm(request.args)
    offices = db.session.execute(db.select(Office.id, Office.name).order_by(Office.name)).all()
    form.office.choices = [(0, _l("All offices"))] + [(o.id, o.name) for o in offices]
    form.validate()
    span = span_of(form)
    office_id = form.office.data if form.office.data in {o.id for o in offices} else None
    rows = quality.indicators(db.session, span, local_today(), office_id)
    satisfaction = surveys.figures(db.session, span.first, month_end(span.last), office_id)
    return render_template(
        "admin/quality/dashboard.html", form=form, span=span, rows=rows, satisfaction=satisfaction
    )
