"""Eight entries written at the same moment get the numbers 1–8 without a gap and one
unbroken chain of hashes (PostgreSQL: the book's head row is locked by the first UPDATE
until its transaction ends)."""

import os
import threading

import pytest
from sqlalchemy import create_engine, delete
from sqlalchemy.orm import Session

from portal.models import FeedbackBookHead, FeedbackEntry, FeedbackKind, FeedbackSource
from portal.services import feedback_book


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks between two connections: PostgreSQL",
)
def test_concurrent_entries_are_numbered_without_gaps_and_chained(app):
    engine = create_engine(
        os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    )
    numbers, started, errors = [], threading.Barrier(8), []

    def write(n):
        try:
            with app.app_context(), Session(engine) as session:
                started.wait()
                entry = feedback_book.add_entry(
                    session,
                    feedback_book.NewEntry(
                        kind=FeedbackKind.THANKS,
                        source=FeedbackSource.PORTAL,
                        text=f"Спасибо {n}",
                        author_name=f"Гость {n}",
                    ),
                )
                numbers.append(entry.number)
                session.commit()
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        assert sorted(numbers) == list(range(1, 9))
        with app.app_context(), Session(engine) as session:
            check = feedback_book.verify(session)
            assert (check.intact, check.entries) == (True, 8)
    finally:
        with Session(engine) as session:
            session.execute(delete(FeedbackEntry))
            session.execute(delete(FeedbackBookHead))
            session.commit()
        engine.dispose()
