"""Demo appeals: a few hundred in every state, some overdue, with unique numbers and terms
counted by the rules, so the queue, the figures and a resident's list show something."""

from datetime import date

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from portal.models import Appeal, AppealCounter, AppealStatus, Base, User
from portal.services.demo import seed

TODAY = date(2026, 12, 2)


@pytest.fixture(scope="module")
def seeded():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        seed(session, residents=40, organisations=2, history_months=3, today=TODAY)
        yield session


def test_every_state_and_some_overdue(seeded):
    counts = dict(seeded.execute(select(Appeal.status, func.count()).group_by(Appeal.status)).all())
    assert set(counts) == set(AppealStatus)
    assert sum(counts.values()) == 300
    open_statuses = [s for s in AppealStatus if s.is_open]
    overdue = seeded.scalar(
        select(func.count()).where(Appeal.status.in_(open_statuses), Appeal.due_on < TODAY)
    )
    assert overdue > 5


def test_numbers_are_unique_and_the_counter_follows(seeded):
    numbers = list(seeded.scalars(select(Appeal.number)))
    assert len(set(numbers)) == len(numbers)
    for counter in seeded.scalars(select(AppealCounter)):
        last = seeded.scalar(select(func.max(Appeal.sequence)).where(Appeal.year == counter.year))
        assert counter.last == last


def test_the_showcase_resident_has_an_appeal_in_several_states(seeded):
    resident = seeded.scalar(select(User).where(User.email == "resident@demo.portal"))
    statuses = set(seeded.scalars(select(Appeal.status).where(Appeal.user_id == resident.id)))
    assert len(statuses) >= 5


def test_answered_appeals_name_executor_and_signatory(seeded):
    answered = list(seeded.scalars(select(Appeal).where(Appeal.answered_at.is_not(None))))
    assert answered
    assert all(a.answered_by_id and a.signed_by_id and a.answer_text for a in answered)
    assert all(a.registered_at <= a.answered_at for a in answered)
