"""The monthly quality report (001: by the 5th of the next month) as PDF and XLSX, made on
schedule and kept; the annual management review export (002 §19.23)."""

import io
from datetime import UTC, date, datetime

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.models import QualityReport
from portal.services import quality_reports
from tests.conftest import page, post_form

NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 1 December, 10:00 in Moscow


@pytest.fixture(autouse=True)
def fixed_time():
    with time_machine.travel(NOW, tick=False):
        yield


def cells(body: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(body)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_schedule_makes_last_months_report_once(db_session):
    report = quality_reports.make_due(db_session)
    assert report.period == date(2026, 11, 1)
    assert report.pdf.startswith(b"%PDF")
    rows = cells(report.xlsx)
    assert rows[0][0] == "Indicator" or rows[0][0] == "Показатель"
    keys = [row[0] for row in rows[1:]]
    assert len(keys) == 12
    # The contracts figure has no source yet: "no data", never a number.
    contracts = rows[6]
    assert contracts[1] in {"no data", "нет данных"}
    assert quality_reports.make_due(db_session) is None
    assert db_session.scalar(select(func.count(QualityReport.id))) == 1


def test_the_celery_task_runs_the_same(db_session):
    from portal.tasks import make_quality_report

    assert make_quality_report.run() == "2026-11-01"
    assert make_quality_report.run() is None


def test_supervisor_downloads_the_report_and_the_review(staff_client, db_session):
    report = quality_reports.make_due(db_session)
    browser = staff_client("supervisor")
    assert "2026-11" in page(browser.get("/admin/quality/reports"))
    pdf = browser.get(f"/admin/quality/reports/{report.id}.pdf")
    assert pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert browser.get(f"/admin/quality/reports/{report.id}.xlsx").status_code == 200
    assert browser.get("/admin/quality/reports/999999.pdf").status_code == 404
    review = browser.get("/admin/quality/review.xlsx?year=2026")
    rows = cells(review.data)
    # 12 months, 4 quarters and the year, 12 indicators each: 17 × 12 rows and the header.
    assert len(rows) == 17 * 12 + 1
    assert browser.get("/admin/quality/review.xlsx?year=1999").status_code == 404
    assert (
        staff_client("operator").get(f"/admin/quality/reports/{report.id}.pdf").status_code == 403
    )


def test_staff_make_a_month_again_and_a_future_month_is_refused(staff_client, db_session):
    browser = staff_client("supervisor")
    assert post_form(browser, "/admin/quality/reports", {"period": "2026-10"}).status_code == 303
    post_form(browser, "/admin/quality/reports", {"period": "2027-01"})
    post_form(browser, "/admin/quality/reports", {"period": "мусор"})
    periods = db_session.scalars(select(QualityReport.period)).all()
    assert periods == [date(2026, 10, 1)]
