"""The monthly quality report (001: the figures of a month by the 5th of the next one) as a
PDF and an XLSX, made on schedule (``portal.tasks.make_quality_report``) and kept; and the
export for the annual management review (002 §19.23): every month of a year, the quarters
and the year, each indicator against its target.
"""

from datetime import date

from flask import current_app
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import QualityReport
from portal.services import documents, exports, quality, surveys
from portal.services.clock import local_today
from portal.services.months import add_months, month_end, period_of
from portal.services.notify.outbox import render_message

DUE_DAY = 5  # 001: the report of a month is made by the 5th of the next month


def _cell(value) -> str:
    return "" if value is None else str(value).replace(".", ",")


def _table_rows(rows: list[quality.Indicator]) -> list[list]:
    return [
        [
            str(r.label),
            _cell(r.value) or _("no data"),
            str(r.unit),
            _cell(r.target),
            "" if r.met is None else (_("yes") if r.met else _("no")),
            str(r.source),
        ]
        for r in rows
    ]


def header() -> list[str]:
    return [_("Indicator"), _("Value"), _("Unit"), _("Target"), _("Met"), _("Source")]


def make(session: Session, period: date, staff_id: int | None = None) -> QualityReport:
    """Make and keep the report of the month ``period`` (replaced if made again by staff)."""
    span = quality.Span("month", period.year, period.month)
    rows = quality.indicators(session, span, local_today())
    satisfaction = surveys.figures(session, span.first, month_end(span.first))
    title = _("Quality report for %(month)s", month=format_date(period, "LLLL yyyy"))
    html = render_message(
        "documents/quality_report.html",
        title=title,
        rows=rows,
        satisfaction=satisfaction,
        made_on=local_today(),
        supplier=current_app.config.get("SUPPLIER_NAME", ""),
    )
    pdf = documents.render_pdf(html)
    xlsx = exports.xlsx_file(title, header(), _table_rows(rows), widths=(60, 12, 8, 10, 8, 24))
    report = session.scalar(select(QualityReport).filter_by(period=period))
    if report is None:
        report = QualityReport(period=period)
    report.pdf, report.xlsx, report.staff_id = pdf, xlsx, staff_id
    session.add(report)
    session.flush()
    return report


def last_month_due(session: Session, today: date | None = None) -> date | None:
    """The month whose report the schedule should make now: last month's, from the 1st
    (so it is ready well before the 5th), when it is not made yet."""
    period = add_months(period_of(today or local_today()), -1)
    made = session.scalar(select(QualityReport.id).filter_by(period=period))
    return None if made else period


def make_due(session: Session, today: date | None = None) -> QualityReport | None:
    """The scheduled run: make last month's report once; two workers at once make one."""
    period = last_month_due(session, today)
    if period is None:
        return None
    try:
        report = make(session, period)
        session.commit()
    except IntegrityError:  # another worker kept it a moment ago
        session.rollback()
        return None
    return report


def reports_query():
    return select(QualityReport).order_by(QualityReport.period.desc())


def annual_review(session: Session, year: int, today: date | None = None) -> bytes:
    """002 §19.23: the year's figures for the management review, one row per period and
    indicator (12 months, 4 quarters, the year) as an XLSX."""
    today = today or local_today()
    spans = [quality.Span("month", year, m) for m in range(1, 13)]
    spans += [quality.Span("quarter", year, q) for q in range(1, 5)] + [
        quality.Span("year", year, 1)
    ]
    rows = []
    for span in spans:
        if span.first > today:
            continue
        label = _period_label(span)
        rows += [[label, *row] for row in _table_rows(quality.indicators(session, span, today))]
    title = _("Management review %(year)s", year=year)
    return exports.xlsx_file(
        title, [_("Period"), *header()], rows, widths=(16, 60, 12, 8, 10, 8, 24)
    )


def _period_label(span: quality.Span) -> str:
    if span.granularity == "month":
        return span.first.strftime("%Y-%m")
    if span.granularity == "quarter":
        return f"{span.year} Q{span.number}"
    return str(span.year)
