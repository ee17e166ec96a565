"""How each customer wants each kind of notice (``portal.models.NOTICE_KINDS``): by e-mail,
by SMS or not at all, for all their accounts or for one of them.

One rule answers "by which channel does this user get this kind about this account", and
it is a SQL expression (``channel_expression``), so the planner filters millions of
recipients by it in one statement and ``channel_for`` asks it for one message: a choice
for the account, else the choice for all accounts, else the default (the setting
``notify.default.<kind>``: the user's preferred channel, or nothing). A mandatory kind
is never off: a stored "none" is ignored and it goes by the preferred channel.
"""

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import and_, delete, func, literal, select
from sqlalchemy.orm import Session

from portal.models import NOTICE_KINDS, Channel, NoticeKind, NoticePreference, User
from portal.models.notifications import OFF
from portal.services import accounts, settings
from portal.services.clock import utcnow
from portal.services.errors import DomainError, NotFound

CHOICES = (Channel.EMAIL.value, Channel.SMS.value, OFF)
SAME_AS_ALL = "all"  # a choice for one account that follows the choice for all accounts


def kind_of(name: str) -> NoticeKind | None:
    return NOTICE_KINDS.get(name)


def default_on(session: Session, kind: NoticeKind) -> bool:
    return kind.mandatory or bool(settings.get(session, f"notify.default.{kind.name}"))


def _stored(kind: NoticeKind, user_id, account_id):
    """The stored choice of one scope (account None: all accounts), as a scalar subquery."""
    scope = (
        NoticePreference.account_id.is_(None)
        if account_id is None
        else NoticePreference.account_id == account_id
    )
    conditions = [NoticePreference.user_id == user_id, NoticePreference.kind == kind.name, scope]
    if kind.mandatory:
        conditions.append(NoticePreference.channel != OFF)
    return select(NoticePreference.channel).where(*conditions).scalar_subquery()


def channel_expression(session: Session, kind: NoticeKind, user_id, account_id):
    """The channel ("email", "sms" or "none") by which ``user_id`` gets ``kind`` about
    ``account_id`` (columns or values; account None: a notice about no one account).
    ``User`` must be in the query (its preferred channel is the default)."""
    default = User.preferred_channel if default_on(session, kind) else literal(OFF)
    choices = [_stored(kind, user_id, account_id)] if account_id is not None else []
    return func.coalesce(*choices, _stored(kind, user_id, None), default)


def reachable_by(session: Session, kind_name: str, channel: Channel, user_id, account_id):
    """The condition "this user wants this kind by ``channel`` and can get it there" (a
    confirmed e-mail, a phone for SMS). A kind outside the registry (a password reset)
    goes by the preferred channel."""
    kind = kind_of(kind_name)
    wanted = (
        User.preferred_channel == channel
        if kind is None
        else channel_expression(session, kind, user_id, account_id) == channel.value
    )
    if channel == Channel.EMAIL:
        return and_(wanted, User.email_confirmed_at.is_not(None))
    return and_(wanted, User.phone != "")


def channel_for(session: Session, user_id: int, kind_name: str, account_id: int | None = None):
    """The channel by which the user gets this kind (a Channel), or None when they turned
    it off. A kind outside the registry is not the customer's choice: None is never
    answered for it."""
    kind = kind_of(kind_name)
    if kind is None:
        return session.scalar(select(User.preferred_channel).where(User.id == user_id))
    chosen = session.scalar(
        select(channel_expression(session, kind, User.id, account_id)).where(User.id == user_id)
    )
    return None if chosen in (None, OFF) else Channel(chosen)


# --- the customer's page ---------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    kind: NoticeKind
    chosen: str  # "email", "sms", "none" or, for one account, "all"
    effective: str  # what it comes to: "email", "sms" or "none"


def choices(session: Session, user: User, account_id: int | None = None) -> list[Choice]:
    """Every kind with the user's choice in one scope and what it comes to (one query)."""
    if account_id is not None:
        accounts.get_account_for(session, user, account_id)  # another customer's: NotFound
    kinds = list(NOTICE_KINDS.values())
    columns = []
    for kind in kinds:
        own = _stored(kind, User.id, account_id) if account_id else _stored(kind, User.id, None)
        columns += [own, channel_expression(session, kind, User.id, account_id)]
    row = session.execute(select(*columns).where(User.id == user.id)).one()
    found = []
    for index, kind in enumerate(kinds):
        own, effective = row[2 * index], row[2 * index + 1]
        chosen = own or (SAME_AS_ALL if account_id else effective)
        found.append(Choice(kind, chosen, effective))
    return found


def options(kind: NoticeKind, one_account: bool) -> list[tuple[str, str]]:
    """The choices the page offers for a kind: no "none" for a mandatory one."""
    labels = {Channel.EMAIL.value: Channel.EMAIL.label, Channel.SMS.value: Channel.SMS.label}
    found = [(SAME_AS_ALL, _("As for all my accounts"))] if one_account else []
    found += [(value, str(label)) for value, label in labels.items()]
    if not kind.mandatory:
        found.append((OFF, _("Do not send")))
    return found


def _check(kind_name: str, value: str, one_account: bool) -> NoticeKind:
    kind = kind_of(kind_name)
    allowed = {value for value, _label in options(kind, one_account)} if kind else set()
    if value not in allowed:
        if kind is not None and kind.mandatory and value == OFF:
            raise DomainError(
                _("“%(kind)s” cannot be turned off, only its channel chosen.", kind=kind.label),
                kind_name,
            )
        raise DomainError(_("Choose how to send these notices."), kind_name)
    return kind


def save(session: Session, user: User, chosen: dict[str, str], account_id: int | None = None):
    """Store the user's choices for all accounts (``account_id`` None) or for one account
    they see (another's is NotFound); "all" for one account removes its own choice. Every
    value is checked before anything is stored. The caller commits."""
    if account_id is not None:
        accounts.get_account_for(session, user, account_id)
    checked = [
        (_check(name, value, account_id is not None), value) for name, value in chosen.items()
    ]
    for kind, value in checked:
        _put(session, user.id, kind.name, account_id, value)
    session.flush()


def _put(session: Session, user_id: int, kind: str, account_id: int | None, value: str) -> None:
    scope = (
        NoticePreference.account_id.is_(None)
        if account_id is None
        else NoticePreference.account_id == account_id
    )
    row = session.scalar(
        select(NoticePreference).where(
            NoticePreference.user_id == user_id, NoticePreference.kind == kind, scope
        )
    )
    if value == SAME_AS_ALL:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = NoticePreference(user_id=user_id, kind=kind, account_id=account_id)
        session.add(row)
    row.channel = value
    row.updated_at = utcnow()


# --- unsubscribing -----------------------------------------------------------------------


def e_mail_choices(session: Session, user_id: int, kind: str) -> list[list]:
    """The user's stored choices of a kind that send it by e-mail, as [account_id, channel]
    pairs (what an unsubscribe changes, so that undo can put them back)."""
    rows = session.execute(
        select(NoticePreference.account_id, NoticePreference.channel).where(
            NoticePreference.user_id == user_id, NoticePreference.kind == kind
        )
    ).all()
    return [[account_id, channel] for account_id, channel in rows]


def unsubscribe(session: Session, user_id: int, kind_name: str) -> list[list]:
    """No more e-mails of this kind for any account: the choice for all accounts becomes
    "none" (unless it is SMS) and the accounts' own e-mail choices go. Returns the choices as they were
    (``restore`` puts them back). The caller commits."""
    kind = kind_of(kind_name)
    if kind is None or kind.mandatory:
        raise NotFound()
    before = e_mail_choices(session, user_id, kind_name)
    session.execute(
        delete(NoticePreference).where(
            NoticePreference.user_id == user_id,
            NoticePreference.kind == kind_name,
            NoticePreference.account_id.is_not(None),
            NoticePreference.channel == Channel.EMAIL.value,
        )
    )
    # A choice of SMS for all accounts stays: it is e-mail the letter's reader stops.
    if [None, Channel.SMS.value] not in before:
        _put(session, user_id, kind_name, None, OFF)
    session.flush()
    return before


def restore(session: Session, user_id: int, kind_name: str, before: list[list]) -> None:
    """Undo an unsubscribe: the user's choices of the kind as they were."""
    kind = kind_of(kind_name)
    if kind is None or kind.mandatory:
        raise NotFound()
    session.execute(
        delete(NoticePreference).where(
            NoticePreference.user_id == user_id, NoticePreference.kind == kind_name
        )
    )
    for account_id, channel in before:
        if channel in CHOICES:
            session.add(
                NoticePreference(
                    user_id=user_id, kind=kind_name, account_id=account_id, channel=channel
                )
            )
    session.flush()


def is_unsubscribed(session: Session, user_id: int, kind_name: str) -> bool:
    """No e-mail of this kind comes for any account: not by the choice for all accounts,
    nor by an account's own choice."""
    if channel_for(session, user_id, kind_name) == Channel.EMAIL:
        return False
    return not session.scalar(
        select(NoticePreference.id)
        .where(
            NoticePreference.user_id == user_id,
            NoticePreference.kind == kind_name,
            NoticePreference.account_id.is_not(None),
            NoticePreference.channel == Channel.EMAIL.value,
        )
        .limit(1)
    )
