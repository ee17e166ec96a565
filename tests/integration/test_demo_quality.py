"""Demo quality data: a year of answers and book entries, an intact book, last month's
report, and a dashboard with trends."""

from datetime import date

from sqlalchemy import func, select

from portal.models import FeedbackEntry, QualityReport, SurveyAnswer
from portal.services import demo_quality, feedback_book, quality
from tests.factories import make_office, make_user


def test_a_year_of_demo_quality_data(db_session):
    make_office(db_session)
    make_user(db_session)
    today = date(2026, 11, 20)
    count = demo_quality.seed(db_session, seed_number=7, today=today)
    assert count == db_session.scalar(select(func.count(SurveyAnswer.id)))
    assert 200 < count <= 12 * demo_quality.ANSWERS_PER_MONTH
    assert db_session.scalar(select(func.count(FeedbackEntry.id))) == 14  # 12 thanks + 2
    assert feedback_book.verify(db_session).intact
    assert db_session.scalar(select(QualityReport.period)) == date(2026, 10, 1)
    spring = quality.surveys.figures(db_session, date(2026, 1, 1), date(2026, 3, 31)).average
    autumn = quality.surveys.figures(db_session, date(2026, 9, 1), date(2026, 11, 20)).average
    assert spring is not None
    assert autumn > spring
