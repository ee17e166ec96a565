"""Places are held by the database (portal.services.visits.book): customers booking the last
place at the same moment, each in a thread with its own connection and transaction, and the
same customer booking past their limit in two offices at once. Run against PostgreSQL
(TEST_DATABASE_URL) to prove the row locks; on SQLite the write lock does the same."""

import os
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import Booking, Consent, Office, QueueTicket, User
from portal.services import office_day, visits
from portal.services.errors import DomainError
from tests.factories import OFFICE_PLAN_003, PASSWORD_HASH

TRIALS = 25
CUSTOMERS = 4
NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
NINE = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # Monday 9:00 in Moscow
TEN = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


@pytest.fixture
def committed(app):
    """Rows committed for real (the threads must see them), removed afterwards. SQLite's
    file lock would turn the race into "database is locked" instead: PostgreSQL only."""
    if not os.environ.get("TEST_DATABASE_URL"):  # CI's PostgreSQL stage runs it
        pytest.skip("the booking race runs against PostgreSQL (TEST_DATABASE_URL)")
    with app.app_context():
        session = Session(db.engine)
        made = {"offices": [], "users": []}
        yield session, made
        session.rollback()
        user_ids = [user.id for user in made["users"]]
        office_ids = [office.id for office in made["offices"]]
        session.execute(delete(QueueTicket).where(QueueTicket.office_id.in_(office_ids)))
        session.execute(delete(Booking).where(Booking.office_id.in_(office_ids)))
        session.execute(delete(Consent).where(Consent.user_id.in_(user_ids)))
        session.execute(delete(User).where(User.id.in_(user_ids)))
        session.execute(delete(Office).where(Office.id.in_(office_ids)))
        session.commit()
        session.close()


def _office(session, made, windows=1) -> Office:
    office = Office(
        name="Офис",
        address="г. Выкса",
        phones="",
        weekly_plan=OFFICE_PLAN_003,
        windows=windows,
        timezone="Europe/Moscow",
        services=["reception"],
        booking_seq=0,
    )
    session.add(office)
    made["offices"].append(office)
    return office


def _user(session, made, n) -> User:
    user = User(
        email=f"race{n}-{id(made)}@example.ru",
        phone="+79160000000",
        full_name=f"Гонка {n}",
        password_hash=PASSWORD_HASH,
    )
    session.add(user)
    made["users"].append(user)
    return user


def _race(app, attempts) -> list[str]:
    """Run each (user_id, office_id, starts_at) at the same moment; "ok" or "refused" each."""
    barrier = threading.Barrier(len(attempts))
    results = [None] * len(attempts)

    def attempt(index, user_id, office_id, starts_at):
        with app.app_context():
            session = Session(db.engine)
            try:
                user = session.get(User, user_id)
                barrier.wait()
                visits.book(
                    session,
                    user=user,
                    office_id=office_id,
                    service="reception",
                    starts_at=starts_at,
                    now=NOW,
                )
                session.commit()
                results[index] = "ok"
            except DomainError:
                session.rollback()
                results[index] = "refused"
            finally:
                session.close()

    threads = [threading.Thread(target=attempt, args=(i, *a)) for i, a in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_the_last_place_goes_to_exactly_one_of_customers_booking_at_once(app, committed):
    session, made = committed
    for trial in range(TRIALS):
        office = _office(session, made, windows=2)
        users = [_user(session, made, f"{trial}-{n}") for n in range(CUSTOMERS + 1)]
        session.flush()
        # One window of two is taken: one place is left at 9:00.
        session.add(
            Booking(
                code=f"R{trial:05d}",
                office_id=office.id,
                user_id=users[0].id,
                service="reception",
                starts_at=NINE,
                ends_at=NINE.replace(minute=15),
                full_name="Первый",
            )
        )
        session.commit()
        results = _race(app, [(user.id, office.id, NINE) for user in users[1:]])
        assert sorted(results) == ["ok"] + ["refused"] * (CUSTOMERS - 1), f"trial {trial}"
        held = session.scalar(
            select(db.func.count(Booking.id)).where(Booking.office_id == office.id)
        )
        assert held == 2


def test_one_customer_booking_in_two_offices_at_once_stays_within_the_limit(app, committed):
    session, made = committed
    for trial in range(TRIALS):
        first, second = _office(session, made), _office(session, made)
        user = _user(session, made, f"limit-{trial}")
        session.flush()
        # The limit is 2: one visit is booked, so only one of the two at once may succeed.
        session.add(
            Booking(
                code=f"L{trial:05d}",
                office_id=first.id,
                user_id=user.id,
                service="reception",
                starts_at=TEN,
                ends_at=TEN.replace(minute=15),
                full_name="Лимит",
            )
        )
        session.commit()
        results = _race(app, [(user.id, first.id, NINE), (user.id, second.id, NINE)])
        assert sorted(results) == ["ok", "refused"], f"trial {trial}"
        assert visits.active_count(session, user.id, NOW) == 2


def _call_race(app, office_id, windows) -> list:
    """Each window calls the next visitor at the same moment; the tickets' ids (or None)."""
    barrier = threading.Barrier(len(windows))
    results = [None] * len(windows)

    def attempt(index, window):
        with app.app_context():
            session = Session(db.engine)
            try:
                office = session.get(Office, office_id)
                barrier.wait()
                ticket = office_day.call_next(session, office, window, now=NINE)
                session.commit()
                results[index] = ticket.id if ticket else None
            finally:
                session.close()

    threads = [threading.Thread(target=attempt, args=(i, w)) for i, w in enumerate(windows)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_windows_calling_at_once_never_get_the_same_visitor(app, committed):
    session, made = committed
    for trial in range(TRIALS):
        office = _office(session, made, windows=3)
        session.flush()
        waiting = [office_day.walk_in(session, office.id, "reception", now=NINE) for _n in range(2)]
        session.commit()
        results = _call_race(app, office.id, [1, 2, 3])
        called = [r for r in results if r is not None]
        assert sorted(called) == sorted(t.id for t in waiting), f"trial {trial}: {results}"
        assert results.count(None) == 1
