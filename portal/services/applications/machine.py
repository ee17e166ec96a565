"""The state machine of a contract application: which action moves it from which status.

draft → registered → formal check → (documents requested → in rework)* → accepted →
contract for signature (⇄ protocol of disagreements) → signed; formal check or rework →
refused; documents requested → ended when a month passes without them (003 п. 6); the
meter's technical conditions go from the check straight to issued; a refused or ended
application goes back to the check when a complaint about it is upheld. The applicant may
withdraw while it is open. Guards beyond the status (the kind, who may act) are the
service's.
"""

from enum import StrEnum

from flask_babel import gettext as _

from portal.models import ApplicationStatus
from portal.services.errors import DomainError

S = ApplicationStatus


class Action(StrEnum):
    SUBMIT = "submit"
    START_CHECK = "start_check"
    REQUEST_DOCUMENTS = "request_documents"
    DELIVER_DOCUMENTS = "deliver_documents"
    ACCEPT = "accept"
    ISSUE_CONTRACT = "issue_contract"
    DISAGREE = "disagree"
    ANSWER_DISAGREEMENT = "answer_disagreement"
    SIGN = "sign"
    ISSUE_CONDITIONS = "issue_conditions"
    REFUSE = "refuse"
    END = "end"
    WITHDRAW = "withdraw"
    REOPEN = "reopen"


_CHECKING = (S.REGISTERED, S.FORMAL_CHECK, S.IN_REWORK)
_WITHDRAWABLE = (
    S.DRAFT,
    S.REGISTERED,
    S.FORMAL_CHECK,
    S.DOCUMENTS_REQUESTED,
    S.IN_REWORK,
    S.ACCEPTED,
    S.FOR_SIGNATURE,
    S.DISAGREEMENT,
)

# (action, from) → to. Anything not listed is refused.
TRANSITIONS: dict[tuple[Action, ApplicationStatus], ApplicationStatus] = {
    (Action.SUBMIT, S.DRAFT): S.REGISTERED,
    (Action.START_CHECK, S.REGISTERED): S.FORMAL_CHECK,
    **{(Action.REQUEST_DOCUMENTS, status): S.DOCUMENTS_REQUESTED for status in _CHECKING},
    (Action.DELIVER_DOCUMENTS, S.DOCUMENTS_REQUESTED): S.IN_REWORK,
    **{(Action.ACCEPT, status): S.ACCEPTED for status in _CHECKING},
    (Action.ISSUE_CONTRACT, S.ACCEPTED): S.FOR_SIGNATURE,
    (Action.DISAGREE, S.FOR_SIGNATURE): S.DISAGREEMENT,
    (Action.ANSWER_DISAGREEMENT, S.DISAGREEMENT): S.FOR_SIGNATURE,
    (Action.SIGN, S.FOR_SIGNATURE): S.SIGNED,
    **{(Action.ISSUE_CONDITIONS, status): S.ISSUED for status in _CHECKING},
    **{(Action.REFUSE, status): S.REFUSED for status in _CHECKING},
    (Action.END, S.DOCUMENTS_REQUESTED): S.ENDED,
    **{(Action.WITHDRAW, status): S.WITHDRAWN for status in _WITHDRAWABLE},
    (Action.REOPEN, S.REFUSED): S.FORMAL_CHECK,
    (Action.REOPEN, S.ENDED): S.FORMAL_CHECK,
}


def allowed(action: Action, status: ApplicationStatus) -> bool:
    return (action, status) in TRANSITIONS


def next_status(action: Action, status: ApplicationStatus) -> ApplicationStatus:
    """Where ``action`` takes an application in ``status``; a DomainError when it may not."""
    try:
        return TRANSITIONS[(action, status)]
    except KeyError:
        raise DomainError(
            _("This cannot be done to an application that is %(status)s.", status=status.label)
        ) from None


def actions_from(status: ApplicationStatus) -> frozenset[Action]:
    return frozenset(action for action, source in TRANSITIONS if source == status)
