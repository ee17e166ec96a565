"""The state machine of an appeal: which action may move it from which status, and where.

registered → assigned → in work (⇄ awaiting the customer's clarification) → answered →
closed (rated or closed by staff); answered or closed → in work again when the customer
reopens it (once); any open appeal → closed without consideration (002 §15.6–15.10).
Reassigning, an interim answer, a note and a link to an earlier appeal keep the status.
Guards beyond the status (once only, within N days, who may act) are the service's.
"""

from enum import StrEnum

from flask_babel import gettext as _

from portal.models import AppealStatus
from portal.services.errors import DomainError

REGISTERED, ASSIGNED, IN_WORK, AWAITING, ANSWERED, CLOSED, NO_ACTION = AppealStatus
OPEN = (REGISTERED, ASSIGNED, IN_WORK, AWAITING)


class Action(StrEnum):
    ASSIGN = "assign"
    START = "start"
    ASK_CLARIFICATION = "ask_clarification"
    GIVE_CLARIFICATION = "give_clarification"
    INTERIM_ANSWER = "interim_answer"
    ANSWER = "answer"
    RATE = "rate"
    CLOSE = "close"
    REOPEN = "reopen"
    NO_ACTION = "no_action"
    NOTE = "note"
    LINK = "link"


def _stay(action: Action, statuses) -> dict:
    return {(action, status): status for status in statuses}


# (action, from) → to. Anything not listed is refused.
TRANSITIONS: dict[tuple[Action, AppealStatus], AppealStatus] = {
    (Action.ASSIGN, REGISTERED): ASSIGNED,
    **_stay(Action.ASSIGN, (ASSIGNED, IN_WORK, AWAITING)),
    (Action.START, ASSIGNED): IN_WORK,
    (Action.ASK_CLARIFICATION, ASSIGNED): AWAITING,
    (Action.ASK_CLARIFICATION, IN_WORK): AWAITING,
    (Action.GIVE_CLARIFICATION, AWAITING): IN_WORK,
    **_stay(Action.INTERIM_ANSWER, (ASSIGNED, IN_WORK, AWAITING)),
    (Action.ANSWER, ASSIGNED): ANSWERED,
    (Action.ANSWER, IN_WORK): ANSWERED,
    (Action.RATE, ANSWERED): CLOSED,
    (Action.RATE, CLOSED): CLOSED,
    (Action.CLOSE, ANSWERED): CLOSED,
    (Action.REOPEN, ANSWERED): IN_WORK,
    (Action.REOPEN, CLOSED): IN_WORK,
    **{(Action.NO_ACTION, status): NO_ACTION for status in OPEN},
    **_stay(Action.NOTE, tuple(AppealStatus)),
    **_stay(Action.LINK, OPEN),
}


def allowed(action: Action, status: AppealStatus) -> bool:
    return (action, status) in TRANSITIONS


def next_status(action: Action, status: AppealStatus) -> AppealStatus:
    """Where ``action`` takes an appeal in ``status``; a DomainError when it may not."""
    try:
        return TRANSITIONS[(action, status)]
    except KeyError:
        raise DomainError(
            _("This cannot be done to an appeal that is %(status)s.", status=status.label)
        ) from None


def actions_from(status: AppealStatus) -> frozenset[Action]:
    """What may be done to an appeal in ``status`` (the pages offer only these)."""
    return frozenset(action for action, source in TRANSITIONS if source == status)
