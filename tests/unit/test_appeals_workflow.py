"""The appeals state machine: every allowed move, and the refusal of every other one
(DOMAIN.md "Appeals and complaints": registered → assigned → in work ⇄ awaiting the
customer → answered → closed; rated; reopened once; no-action outcomes of 002 §15.6–15.10)."""

import itertools

import pytest

from portal.models import AppealStatus
from portal.services.appeals.workflow import TRANSITIONS, Action, actions_from, next_status
from portal.services.errors import DomainError

S = AppealStatus
# Written out by hand from the rules, not derived from the table under test.
EXPECTED = {
    (Action.ASSIGN, S.REGISTERED): S.ASSIGNED,
    (Action.ASSIGN, S.ASSIGNED): S.ASSIGNED,  # reassigning
    (Action.ASSIGN, S.IN_WORK): S.IN_WORK,
    (Action.ASSIGN, S.AWAITING_CUSTOMER): S.AWAITING_CUSTOMER,
    (Action.START, S.ASSIGNED): S.IN_WORK,
    (Action.ASK_CLARIFICATION, S.ASSIGNED): S.AWAITING_CUSTOMER,
    (Action.ASK_CLARIFICATION, S.IN_WORK): S.AWAITING_CUSTOMER,
    (Action.GIVE_CLARIFICATION, S.AWAITING_CUSTOMER): S.IN_WORK,
    (Action.INTERIM_ANSWER, S.ASSIGNED): S.ASSIGNED,
    (Action.INTERIM_ANSWER, S.IN_WORK): S.IN_WORK,
    (Action.INTERIM_ANSWER, S.AWAITING_CUSTOMER): S.AWAITING_CUSTOMER,
    (Action.ANSWER, S.ASSIGNED): S.ANSWERED,
    (Action.ANSWER, S.IN_WORK): S.ANSWERED,
    (Action.RATE, S.ANSWERED): S.CLOSED,
    (Action.RATE, S.CLOSED): S.CLOSED,  # closed by staff before the customer rated
    (Action.CLOSE, S.ANSWERED): S.CLOSED,
    (Action.REOPEN, S.ANSWERED): S.IN_WORK,
    (Action.REOPEN, S.CLOSED): S.IN_WORK,
    (Action.NO_ACTION, S.REGISTERED): S.NO_ACTION,
    (Action.NO_ACTION, S.ASSIGNED): S.NO_ACTION,
    (Action.NO_ACTION, S.IN_WORK): S.NO_ACTION,
    (Action.NO_ACTION, S.AWAITING_CUSTOMER): S.NO_ACTION,
    **{(Action.NOTE, status): status for status in S},  # notes at any time
    (Action.LINK, S.REGISTERED): S.REGISTERED,
    (Action.LINK, S.ASSIGNED): S.ASSIGNED,
    (Action.LINK, S.IN_WORK): S.IN_WORK,
    (Action.LINK, S.AWAITING_CUSTOMER): S.AWAITING_CUSTOMER,
}
ALL = list(itertools.product(Action, S))
FORBIDDEN = [pair for pair in ALL if pair not in EXPECTED]


def test_the_table_is_exactly_the_rules():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("action", "status"), list(EXPECTED), ids=lambda v: str(v))
def test_an_allowed_move(action, status):
    assert next_status(action, status) == EXPECTED[(action, status)]
    assert action in actions_from(status)


@pytest.mark.parametrize(("action", "status"), FORBIDDEN, ids=lambda v: str(v))
def test_a_forbidden_move_is_refused(action, status, app):
    with app.test_request_context(), pytest.raises(DomainError):
        next_status(action, status)
    assert action not in actions_from(status)


def test_nothing_leaves_closed_without_consideration_but_a_note():
    assert actions_from(S.NO_ACTION) == {Action.NOTE}


def test_forbidden_moves_are_most_of_the_grid():
    # 12 actions × 7 statuses = 84 pairs. Allowed: assign 4, start 1, ask 2, give 1,
    # interim 3, answer 2, rate 2, close 1, reopen 2, no action 4, note 7, link 4 = 33.
    assert len(ALL) == 84
    assert len(EXPECTED) == 33
    assert len(FORBIDDEN) == 51
