"""The quality dashboard for supervisors (issue #16): each indicator of a month, quarter or
year against its target, as a table and as a chart of the same figures."""

from flask import abort, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, NumberRange, Optional

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import Office, QualityReport
from portal.services import months, quality, quality_reports, surveys
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.services.months import month_end
from portal.web import options, page_of, redirect_after_post, send_download, staff_member


class SpanForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    granularity = SelectField(
        _l("Period"), choices=options(quality.GRANULARITIES.items()), default="month"
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
    form.office.choices = options([(0, _l("All offices"))] + [(o.id, o.name) for o in offices])
    form.validate()
    span = span_of(form)
    office_id = form.office.data if form.office.data in {o.id for o in offices} else None
    rows = quality.indicators(db.session, span, local_today(), office_id)
    satisfaction = surveys.figures(db.session, span.first, month_end(span.last), office_id)
    return render_template(
        "admin/quality/dashboard.html", form=form, span=span, rows=rows, satisfaction=satisfaction
    )


class MakeReportForm(FlaskForm):
    period = StringField(_l("Month"), validators=[DataRequired()])


@bp.route("/quality/reports")
@staff_required("quality")
def quality_reports_list():
    page = page_of(quality_reports.reports_query(), 24)
    return render_template(
        "admin/quality/reports.html", page=page, form=MakeReportForm(), year=local_today().year
    )


@bp.route("/quality/reports", methods=["POST"])
@staff_required("quality")
def quality_report_make():
    form = MakeReportForm()
    if form.validate_on_submit():
        try:
            period = months.parse_period(form.period.data)
            if period > months.period_of(local_today()):
                raise DomainError(_("Choose a month that has begun."), "period")
        except DomainError as error:
            flash(error.message, "danger")
            return redirect_after_post("admin.quality_reports_list")
        report = quality_reports.make(db.session, period, staff_member().id)
        db.session.commit()
        flash(_("The report for %(month)s is made.", month=months.iso(report.period)), "success")
    return redirect_after_post("admin.quality_reports_list")


@bp.route("/quality/reports/<int:report_id>.<any(pdf, xlsx):kind>")
@staff_required("quality")
def quality_report_file(report_id: int, kind: str):
    report = db.get_or_404(QualityReport, report_id)
    body = report.pdf if kind == "pdf" else report.xlsx
    name = f"quality-{months.iso(report.period)}.{kind}"
    return send_download(body, name, MIMETYPES[kind])


@bp.route("/quality/review.xlsx")
@staff_required("quality")
def quality_review():
    year = request.args.get("year", type=int) or local_today().year
    if not 2000 <= year <= local_today().year:
        abort(404)
    body = quality_reports.annual_review(db.session, year)
    return send_download(body, f"management-review-{year}.xlsx", MIMETYPES["xlsx"])


MIMETYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
