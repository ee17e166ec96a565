"""Document numbers never repeat nor skip within a year (#13), also when several issues
run at once: a counter row taken by UPDATE in the issuing transaction (a rolled-back
issue gives its number back). The concurrent part needs PostgreSQL (TEST_DATABASE_URL)."""

import threading

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import DocumentCounter, DocumentKind
from portal.services.contract_documents import take_number

YEAR = 2099  # a year no other test issues in


def test_numbers_run_on_and_a_rollback_gives_the_number_back(app, db_session):
    assert [take_number(db_session, DocumentKind.ACT, YEAR) for _ in range(3)] == [1, 2, 3]
    nested = db_session.begin_nested()
    assert take_number(db_session, DocumentKind.ACT, YEAR) == 4
    nested.rollback()
    assert take_number(db_session, DocumentKind.ACT, YEAR) == 4
    assert take_number(db_session, DocumentKind.ACT, YEAR + 1) == 1  # a new year starts at 1
    assert take_number(db_session, DocumentKind.INVOICE, YEAR) == 1  # per kind


def test_concurrent_issues_take_every_number_once(app):
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect != "postgresql":
        pytest.skip("the concurrent numbering test needs PostgreSQL (TEST_DATABASE_URL)")
    taken: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def issue_many(rollback_every: int) -> None:
        with app.app_context():
            start.wait()
            for index in range(25):
                with Session(db.engine) as session:
                    number = take_number(session, DocumentKind.VAT_INVOICE, YEAR)
                    if rollback_every and index % rollback_every == 0:
                        session.rollback()  # a failed issue: its number is taken by the next
                        continue
                    session.commit()
                    with lock:
                        taken.append(number)

    try:
        threads = [threading.Thread(target=issue_many, args=(n,)) for n in (0, 0, 3, 5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        with app.app_context(), Session(db.engine) as session:
            last = session.scalar(
                select(DocumentCounter.last).where(
                    DocumentCounter.kind == DocumentKind.VAT_INVOICE, DocumentCounter.year == YEAR
                )
            )
        assert len(taken) == len(set(taken)), "no number given twice"
        assert sorted(taken) == list(range(1, len(taken) + 1)), "no gap"
        assert last == len(taken)
        assert len(taken) == 100 - 9 - 5  # 25 × 4 issues, 9 + 5 rolled back
    finally:
        with app.app_context(), Session(db.engine) as session:
            session.execute(delete(DocumentCounter).where(DocumentCounter.year == YEAR))
            session.commit()
