"""The feedback book (002 §8.2, 004 §13): numbered without gaps, append-only, chained by
hashes so that tampering shows; complaints become appeals with the appeals' terms."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select, text

from portal.models import Appeal, AppealKind, FeedbackEntry, FeedbackKind, FeedbackSource
from portal.models.quality import AppendOnlyError
from portal.services import feedback_book
from portal.services.errors import FieldErrors
from tests.conftest import page, post_form
from tests.factories import make_office

# Wednesday 2 December 2026, 12:00 in Moscow.
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_time():
    with time_machine.travel(NOW, tick=False):
        yield


def write(session, kind=FeedbackKind.THANKS, **fields):
    values = {
        "source": FeedbackSource.PORTAL,
        "text": "Спасибо оператору Анне",
        "author_name": "Петров П.",
    }
    return feedback_book.add_entry(session, feedback_book.NewEntry(kind=kind, **(values | fields)))


def test_entries_are_numbered_one_after_another_and_chained(db_session):
    first, second, third = (write(db_session) for _n in range(3))
    assert [first.number, second.number, third.number] == [1, 2, 3]
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.entry_hash
    assert third.prev_hash == second.entry_hash
    assert feedback_book.verify(db_session).intact


def test_a_refused_entry_takes_no_number(db_session):
    write(db_session)
    with pytest.raises(FieldErrors):
        write(db_session, text="   ")
    assert write(db_session).number == 2


def test_a_complaint_becomes_an_appeal_with_the_appeals_term(db_session):
    """A complaint in the book is an appeal: 30 days by default (59-ФЗ art. 12; DOMAIN.md)."""
    office = make_office(db_session)
    entry = write(
        db_session,
        FeedbackKind.COMPLAINT,
        source=FeedbackSource.TABLET,
        office_id=office.id,
        email="petrov@example.ru",
        text="Очередь два часа, работало одно окно",
    )
    appeal = db_session.get(Appeal, entry.appeal_id)
    assert appeal.kind == AppealKind.COMPLAINT
    assert appeal.channel == "office"
    assert appeal.due_on == date(2027, 1, 11)


def test_thanks_need_no_appeal(db_session):
    assert write(db_session).appeal_id is None


def test_an_entry_cannot_be_changed_or_deleted_through_the_portal(db_session):
    entry = write(db_session)
    db_session.commit()
    entry.text = "Переписано"
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()
    entry = db_session.scalar(select(FeedbackEntry))
    db_session.delete(entry)
    with pytest.raises(AppendOnlyError):
        db_session.flush()


def test_raw_sql_tampering_shows_in_the_check(db_session, staff_client):
    for _n in range(3):
        write(db_session)
    db_session.commit()
    browser = staff_client("supervisor", language="en")
    assert 'data-intact="1"' in page(browser.get("/admin/feedback-book/check"))
    db_session.execute(text("UPDATE feedback_entries SET text = 'Всё отлично' WHERE number = 2"))
    db_session.commit()
    check = feedback_book.verify(db_session)
    assert (check.intact, check.broken_at) == (False, 2)
    html = page(browser.get("/admin/feedback-book/check"))
    assert 'data-intact="0"' in html
    assert "No. 2" in html


def test_a_removed_last_entry_shows(db_session):
    write(db_session)
    write(db_session)
    db_session.execute(text("DELETE FROM feedback_entries WHERE number = 2"))
    assert feedback_book.verify(db_session).broken_at == 2


def test_portal_entry_without_signing_in(client, db_session):
    response = post_form(
        client,
        "/feedback-book",
        {
            "kind": "proposal",
            "topic": "other",
            "text": "Сделайте запись на субботу",
            "author_name": "Сидоров",
            "email": "s@example.ru",
        },
    )
    assert response.status_code == 200
    assert 'id="entry-appeal"' in page(response)
    entry = db_session.scalar(select(FeedbackEntry))
    assert entry.source == FeedbackSource.PORTAL
    assert entry.appeal.kind == AppealKind.PROPOSAL


def test_a_guest_without_e_mail_is_told_next_to_the_field(client, db_session):
    response = post_form(
        client,
        "/feedback-book",
        {
            "kind": "complaint",
            "topic": "other",
            "text": "Грубый оператор",
            "author_name": "Сидоров",
        },
    )
    assert 'id="email-error"' in page(response)
    assert "Грубый оператор" in page(response)
    assert db_session.scalar(select(func.count(FeedbackEntry.id))) == 0


def test_the_office_tablet_and_the_paper_form(client, staff_client, db_session):
    office = make_office(db_session)
    db_session.commit()
    response = post_form(
        client,
        f"/offices/{office.id}/feedback-book",
        {"kind": "thanks", "topic": "staff", "text": "Быстро", "author_name": "Котов"},
    )
    assert 'id="entry-number"' in page(response)
    assert client.get("/offices/999999/feedback-book").status_code == 404
    operator = staff_client("operator")
    response = post_form(
        operator,
        "/admin/feedback-book/new",
        {
            "office_id": office.id,
            "kind": "complaint",
            "topic": "billing",
            "text": "Неверный счёт",
            "author_name": "Котова",
            "phone": "+79161112233",
        },
    )
    assert response.status_code == 303
    entries = db_session.scalars(select(FeedbackEntry).order_by(FeedbackEntry.number)).all()
    assert [e.source for e in entries] == [FeedbackSource.TABLET, FeedbackSource.PAPER]
    assert entries[1].staff_id == operator.staff.id
    assert entries[1].appeal is not None
    assert "Неверный счёт" in page(staff_client("supervisor").get("/admin/feedback-book"))
