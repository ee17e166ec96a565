"""The quality dashboard (issue #16; 001 Tables 5–6): each indicator on hand-made data with
its figure written here, the honest "no data", and a constant number of queries."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from portal.models import SurveyOccasion
from portal.services import billing, quality, surveys
from portal.services.quality import Span
from tests.conftest import counted_queries, page
from tests.factories import make_account, make_bills, make_payment, make_user

# Wednesday 2 December 2026, 12:00 in Moscow.
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
NOVEMBER = Span("month", 2026, 11)


@pytest.fixture(autouse=True)
def fixed_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def answered(session, scores: list[int], reason="причина"):
    """One answer giving every criterion the scores in turn (the rest 10)."""
    user = make_user(session)
    invitation = surveys.invite(
        session, SurveyOccasion.VISIT, user.id, email=user.email, user_id=user.id
    )
    criteria = surveys.criteria(session)
    ratings = [
        surveys.Rating(c.id, scores[i] if i < len(scores) else 10, reason)
        for i, c in enumerate(criteria)
    ]
    return surveys.submit(session, invitation, ratings)


def by_key(rows):
    return {row.key: row for row in rows}


def test_cash_collection_is_paid_over_billed(db_session):
    """001 Table 5 No. 2: Кд = 900 × 100 % / 1 000 = 90,0 %."""
    account = make_account(db_session)
    make_bills(db_session, account, ["1000.00"], first=date(2026, 11, 1), counted=False)
    make_payment(db_session, account, date(2026, 11, 20), "900.00")
    make_payment(db_session, account, date(2026, 12, 1), "50.00")  # the next month's
    figure = billing.collection(db_session, date(2026, 11, 1), date(2026, 11, 1))
    assert (figure.billed, figure.paid, figure.share) == (
        Decimal("1000.00"),
        Decimal("900.00"),
        Decimal("90.0"),
    )


def test_satisfaction_average_and_share_of_9_and_10(db_session, fixed_time):
    """001 Table 5 No. 10, 002 §19: scores 6, 9, 10 on the first criterion: average
    (6 + 9 + 10) / 3 = 8,3; share 9–10 = 2 / 3 = 66,7 %."""
    fixed_time.move_to(datetime(2026, 11, 10, 9, 0, tzinfo=UTC))
    for score in (6, 9, 10):
        answered(db_session, [score])
    figures = surveys.figures(db_session, date(2026, 11, 1), date(2026, 11, 30))
    first = figures.by_criterion[0]
    assert (first.answers, first.average, first.top_share) == (3, Decimal("8.3"), Decimal("66.7"))
    # Over all 7 criteria: 21 scores, 18 of them 10, so (6 + 9 + 10 + 18 × 10) / 21 = 9,8.
    assert figures.average == Decimal("9.8")
    assert figures.top_share == Decimal("95.2")  # 20 of 21
    fixed_time.move_to(NOW)
    rows = by_key(quality.indicators(db_session, NOVEMBER, NOW.date()))
    assert rows["satisfaction_average"].value == Decimal("9.8")
    assert rows["satisfaction_average"].met is True  # target 8 (001 Table 6)


def test_contracts_on_time_says_no_data_when_no_contract_was_concluded(db_session):
    row = by_key(quality.indicators(db_session, NOVEMBER, NOW.date()))["contracts_on_time"]
    assert (row.value, row.met, row.target) == (None, None, Decimal("80"))


def test_spans_of_a_month_a_quarter_and_a_year():
    assert (Span("month", 2026, 11).first, Span("month", 2026, 11).last) == (
        date(2026, 11, 1),
        date(2026, 11, 1),
    )
    assert (Span("quarter", 2026, 4).first, Span("quarter", 2026, 4).last) == (
        date(2026, 10, 1),
        date(2026, 12, 1),
    )
    assert Span("month", 2026, 11).last_day == date(2026, 11, 30)
    assert Span("quarter", 2026, 4).last_day == date(2026, 12, 31)
    assert Span("year", 2027, 1).last_day == date(2027, 12, 31)
    assert Span("year", 2026, 1).appeal_period == 2026
    assert Span("quarter", 2026, 4).appeal_period == 20264


def test_the_dashboard_page_shows_the_table_and_the_chart(staff_client, db_session):
    answered(db_session, [6])
    db_session.commit()
    browser = staff_client("supervisor")
    html = page(browser.get("/admin/quality?granularity=month&year=2026&number=12"))
    assert 'id="quality-table"' in html
    assert 'id="satisfaction-table"' in html
    assert 'data-key="contracts_on_time"' in html
    assert staff_client("operator").get("/admin/quality").status_code == 403
    # A wrong address shows the current month, not an error.
    assert browser.get("/admin/quality?granularity=x&year=abc&number=99").status_code == 200


def test_the_query_count_does_not_grow_with_the_data(staff_client, db_session):
    browser = staff_client("supervisor")
    url = "/admin/quality?granularity=quarter&year=2026&number=4"
    browser.get(url)
    with counted_queries() as few:
        browser.get(url)
    for score in (3, 5, 7, 9, 10):
        answered(db_session, [score])
        make_bills(db_session, make_account(db_session), ["500.00"], first=date(2026, 10, 1))
    db_session.commit()
    with counted_queries() as many:
        browser.get(url)
    assert len(many) == len(few)
