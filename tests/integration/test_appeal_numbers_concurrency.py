"""Two registrations at the same moment never share a number (PostgreSQL: the year's
counter row is locked by the first UPDATE until its transaction ends)."""

import os
import threading

import pytest
from sqlalchemy import create_engine, delete
from sqlalchemy.orm import Session

from portal.models import AppealCounter
from portal.services.appeals import next_sequence

YEAR = 2099  # a year no other test numbers appeals in


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="row locks between two connections: PostgreSQL",
)
def test_concurrent_registrations_get_different_numbers(app):
    engine = create_engine(
        os.environ["TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    )
    results, started, errors = [], threading.Barrier(8), []

    def register():
        try:
            with Session(engine) as session:
                started.wait()
                results.append(next_sequence(session, YEAR))
                session.commit()
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=register) for _n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        assert sorted(results) == list(range(1, 9))
    finally:
        with Session(engine) as session:
            session.execute(delete(AppealCounter).where(AppealCounter.year == YEAR))
            session.commit()
        engine.dispose()
