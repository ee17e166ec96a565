"""Dispatch sends a claimed batch's letters over one SMTP connection, and writes each
outcome with one statement, reading no message again (the profile of issue 10: a
connection per letter and two reloads per message held dispatch at 17 letters/s)."""

import flask_mail
import pytest

from portal.services.notify import dispatch_due
from tests.conftest import counted_queries
from tests.unit.test_outbox import plan


@pytest.fixture
def connections(monkeypatch):
    """How many SMTP connections Flask-Mail opened."""
    opened = []
    real = flask_mail.Connection.configure_host

    def counting(self):
        opened.append(1)
        return real(self)

    monkeypatch.setattr(flask_mail.Connection, "configure_host", counting)
    return opened


def plan_letters(session, prefix: str, count: int) -> None:
    for n in range(count):
        plan(session, f"{prefix}:{n}", recipient=f"r{n}@example.ru")


def test_a_batch_of_letters_goes_over_one_connection(db_session, mailbox, connections):
    plan_letters(db_session, "batch", 5)
    assert dispatch_due(db_session) == 5
    assert sorted(letter["To"] for letter in mailbox) == [f"r{n}@example.ru" for n in range(5)]
    assert len(connections) == 1


def test_a_batch_of_sms_opens_no_mail_connection(db_session, mailbox, connections):
    assert dispatch_due(db_session) == 0
    assert connections == []


def test_each_further_letter_costs_one_statement(db_session, mailbox, connections):
    """Two letters more in the batch: two UPDATEs more, no SELECT of a message again."""
    plan_letters(db_session, "two", 2)
    with counted_queries() as two:
        assert dispatch_due(db_session) == 2
    plan_letters(db_session, "four", 4)
    with counted_queries() as four:
        assert dispatch_due(db_session) == 4
    # The test session's commits are savepoints: not the dispatcher's statements.
    two, four = sql(two), sql(four)
    assert len(four) - len(two) == 2
    assert [s.split()[0] for s in four].count("UPDATE") == 1 + 4  # the claim, each outcome
    assert [s.split()[0] for s in four].count("SELECT") == [s.split()[0] for s in two].count(
        "SELECT"
    )


def sql(statements: list[str]) -> list[str]:
    return [
        s.strip()
        for s in statements
        if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]
