"""The quality figures of appeals (002 §19, 004 §6), worked out by hand.

A1 registered 2 Mar 2026, answered 20 Mar (18 days; due 1 Apr: on time), rated 10.
A2 registered 10 Mar, answered 15 Apr (36 days; due 9 Apr: late), rated 6.
A3 registered 25 Mar, still open on 2 Dec 2026 (due 24 Apr): overdue now.
A4 registered 1 Apr, answered 3 Apr (2 days, on time), not rated.
"""

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from portal.models import AppealTopic
from portal.services import appeals
from portal.services.appeals import figures
from tests.factories import make_staff, make_user, standard_csv_rows

TODAY = date(2026, 12, 2)


def at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 9, tzinfo=UTC), tick=False)


def filed(session, topic=AppealTopic.BILLING):
    user = make_user(session)
    new = appeals.NewAppeal(kind="complaint", topic=topic, text="Текст", language="en")
    return appeals.register(
        session, new, appeals.Applicant(name="Иванов", email=user.email, user=user)
    )


@pytest.fixture
def four(db_session):
    boss = make_staff(db_session, "supervisor")

    def answered(registered, answered_on, rating=None, topic=AppealTopic.BILLING):
        with at(registered):
            appeal = filed(db_session, topic)
            appeals.assign(db_session, appeal, boss, boss)
        with at(answered_on):
            appeals.answer(db_session, appeal, boss, "Ответ", boss)
            if rating:
                appeals.rate(db_session, appeal, rating, "Долго" if rating < 9 else None)
        return appeal

    answered(date(2026, 3, 2), date(2026, 3, 20), 10)
    answered(date(2026, 3, 10), date(2026, 4, 15), 6, AppealTopic.METER)
    with at(date(2026, 3, 25)):
        filed(db_session)
    answered(date(2026, 4, 1), date(2026, 4, 3), topic=AppealTopic.METER)
    with at(TODAY):
        yield


def summary(row):
    return (
        figures.period_label(
            row.period,
            "month" if row.period > 99999 else "quarter" if row.period > 9999 else "year",
        ),
        row.received,
        row.overdue_now,
        row.answered,
        row.on_time,
        row.on_time_share,
        row.average_days,
        row.top_share,
        row.average_rating,
    )


def test_by_month(db_session, four):
    rows = figures.figures(db_session, granularity="month", year=2026, by=None, today=TODAY)
    assert [summary(row) for row in rows] == [
        (
            "2026-03",
            3,
            1,
            1,
            1,
            Decimal("100.0"),
            Decimal("18.0"),
            Decimal("100.0"),
            Decimal("10.0"),
        ),
        ("2026-04", 1, 0, 2, 1, Decimal("50.0"), Decimal("19.0"), Decimal("0.0"), Decimal("6.0")),
    ]


def test_by_quarter_and_year(db_session, four):
    quarters = figures.figures(db_session, granularity="quarter", year=2026, by=None, today=TODAY)
    assert [
        (figures.period_label(r.period, "quarter"), r.received, r.answered) for r in quarters
    ] == [
        ("2026-Q1", 3, 1),
        ("2026-Q2", 1, 2),
    ]
    (year,) = figures.figures(db_session, granularity="year", year=2026, by=None, today=TODAY)
    # 4 received, 1 overdue; 3 answered, 2 on time (66.7 %); (18 + 36 + 2) / 3 = 18.7 days;
    # 2 rated, 1 of them 9–10 (50 %), average (10 + 6) / 2 = 8.0.
    assert (year.received, year.overdue_now, year.answered, year.on_time) == (4, 1, 3, 2)
    assert (year.on_time_share, year.average_days) == (Decimal("66.7"), Decimal("18.7"))
    assert (year.top_share, year.average_rating) == (Decimal("50.0"), Decimal("8.0"))


def test_by_topic(db_session, four):
    rows = figures.figures(db_session, granularity="year", year=2026, by="topic", today=TODAY)
    assert {(r.group, r.received, r.answered) for r in rows} == {("billing", 2, 1), ("meter", 2, 2)}


def test_the_page_chart_and_table_show_the_same_figures(staff_client, db_session, four):
    client = staff_client("supervisor")
    with client.session_transaction() as session:
        session["language"] = "en"
    html = client.get("/admin/appeals/figures?granularity=month&year=2026").get_data(as_text=True)
    chart = json.loads(re.search(r'id="appeals-data">(.*?)</script>', html, re.S).group(1))
    assert chart["labels"] == ["2026-03", "2026-04"]
    assert [d["data"] for d in chart["datasets"]] == [[3, 1], [1, 2], [1, 1]]
    table = re.search(
        r'class="table table-sm align-middle mb-0 appeal-figures".*?</table>', html, re.S
    ).group(0)
    cells = [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", table, re.S)
    ]
    assert cells[10:20] == ["2026-03", "3", "1", "1", "100", "1", "0", "18", "100", "10"]


def test_the_csv_export(staff_client, db_session, four):
    client = staff_client("supervisor")
    with client.session_transaction() as session:
        session["language"] = "en"
    response = client.get("/admin/appeals/figures.csv?granularity=month&year=2026&by=topic")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = standard_csv_rows(response.data)
    assert rows[0][:4] == ["Period", "Topic", "Received", "Answered"]
    assert ["2026-04", "Meters", "1", "2", "1", "50,0", "0", "0", "19,0", "0,0", "6,0"] in rows


def test_operators_see_no_figures(staff_client, db_session):
    assert staff_client("operator").get("/admin/appeals/figures").status_code == 403


def test_a_reopening_is_counted_and_its_first_answer_no_longer_is(db_session):
    boss = make_staff(db_session, "supervisor")
    with at(date(2026, 5, 4)):
        appeal = filed(db_session)
        appeals.assign(db_session, appeal, boss, boss)
        appeals.answer(db_session, appeal, boss, "Ответ", boss)
    with at(date(2026, 5, 12)):
        appeals.reopen(db_session, appeal, "Не согласен")
    (may,) = figures.figures(db_session, granularity="month", year=2026, by=None, today=TODAY)
    assert (
        figures.period_label(may.period, "month"),
        may.received,
        may.reopened,
        may.answered,
    ) == (
        "2026-05",
        1,
        1,
        0,
    )
