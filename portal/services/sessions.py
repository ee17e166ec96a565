"""Sign-in sessions kept on the server, so that they can be ended.

Flask-Login keeps ``person.get_id()`` in the signed session cookie and in the "remember me"
cookie; here that id names a row of ``sign_in_sessions`` (by a random key whose hash is
stored) instead of the person. A cookie copied before signing out is then worth nothing:
the row is gone. Every session ends after ``SESSION_MAX_HOURS`` (or ``REMEMBER_COOKIE_DURATION``
with "remember me") whatever happens, and a session not remembered after
``PERMANENT_SESSION_LIFETIME`` of inactivity.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import ua_parser
from flask import current_app
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.models import SignInSession, Staff, User
from portal.services.clock import utcnow

# last_seen_at is written at most this often: not a database write on every request.
TOUCH_EVERY = timedelta(minutes=1)
MAX_USER_AGENT = 400


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _owner_filter(person: User | Staff):
    if isinstance(person, Staff):
        return SignInSession.staff_id == person.id
    return SignInSession.user_id == person.id


def absolute_lifetime(remember: bool) -> timedelta:
    config = current_app.config
    if remember:
        return config["REMEMBER_COOKIE_DURATION"]
    return timedelta(hours=config["SESSION_MAX_HOURS"])


def idle_lifetime() -> timedelta:
    return current_app.config["PERMANENT_SESSION_LIFETIME"]


def start(
    session: Session,
    person: User | Staff,
    *,
    remember: bool = False,
    ip: str | None = None,
    user_agent: str | None = None,
    second_factor: bool = False,
) -> str:
    """A new session for ``person``; its key is set on the person for ``login_user``."""
    now = utcnow()
    _forget_lapsed(session, person, now)
    key = secrets.token_urlsafe(32)
    session.add(
        SignInSession(
            key_hash=_hash(key),
            user_id=None if isinstance(person, Staff) else person.id,
            staff_id=person.id if isinstance(person, Staff) else None,
            remember=remember,
            expires_at=now + absolute_lifetime(remember),
            created_at=now,
            last_seen_at=now,
            ip_address=ip,
            user_agent=(user_agent or "")[:MAX_USER_AGENT] or None,
            second_factor_at=now if second_factor else None,
        )
    )
    session.flush()
    person.session_key = key
    return key


def _forget_lapsed(session: Session, person: User | Staff, now: datetime) -> None:
    """Rows of sessions that ended by time are of no use: drop the person's own."""
    session.execute(
        delete(SignInSession)
        .where(_owner_filter(person))
        .where(
            or_(
                SignInSession.expires_at <= now,
                (SignInSession.remember.is_(False))
                & (SignInSession.last_seen_at <= now - idle_lifetime()),
            )
        )
        .execution_options(synchronize_session=False)
    )


def is_live(row: SignInSession, now: datetime) -> bool:
    if row.expires_at <= now:
        return False
    return row.remember or row.last_seen_at > now - idle_lifetime()


def load(session: Session, key: str, *, ip: str | None = None) -> SignInSession | None:
    """The live session with this key, its person loaded and active, or None.

    Seen now: its last-seen time (and address) move on, at most once a minute.
    """
    row = session.scalar(
        select(SignInSession)
        .where(SignInSession.key_hash == _hash(key))
        .options(joinedload(SignInSession.user), joinedload(SignInSession.staff))
    )
    now = utcnow()
    if row is None or not is_live(row, now) or not row.person.is_active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY or (ip and ip != row.ip_address):
        row.last_seen_at = now
        row.ip_address = ip or row.ip_address
    row.person.session_key = key
    row.person.sign_in_session = row
    return row


def current(session: Session, person: User | Staff) -> SignInSession | None:
    """The session the person was loaded through in this request."""
    if not getattr(person, "session_key", None):
        return None
    return session.scalar(
        select(SignInSession).where(SignInSession.key_hash == _hash(person.session_key))
    )


def end(session: Session, key: str | None) -> None:
    """Sign-out: the session is gone, with every copy of its cookies."""
    if key:
        session.execute(delete(SignInSession).where(SignInSession.key_hash == _hash(key)))


def end_all(session: Session, person: User | Staff, *, keep_key: str | None = None) -> int:
    """End every session of the person but the one with ``keep_key``; how many ended."""
    query = delete(SignInSession).where(_owner_filter(person))
    if keep_key:
        query = query.where(SignInSession.key_hash != _hash(keep_key))
    return session.execute(query.execution_options(synchronize_session=False)).rowcount


def end_by_id(session: Session, person: User | Staff, session_id: int) -> bool:
    """End one of the person's own sessions (a device in the list); False if not theirs."""
    result = session.execute(
        delete(SignInSession)
        .where(_owner_filter(person), SignInSession.id == session_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def live_sessions(session: Session, person: User | Staff) -> list[SignInSession]:
    """The person's devices, most recently seen first."""
    now = utcnow()
    rows = session.scalars(
        select(SignInSession)
        .where(_owner_filter(person))
        .order_by(SignInSession.last_seen_at.desc(), SignInSession.id.desc())
    )
    return [row for row in rows if is_live(row, now)]


def is_current(row: SignInSession, person: User | Staff) -> bool:
    key = getattr(person, "session_key", None)
    return bool(key) and row.key_hash == _hash(key)


@dataclass(frozen=True)
class Device:
    browser: str
    system: str


def describe_device(user_agent: str | None) -> Device:
    """The browser and operating system a session's User-Agent names ("Other" if unknown)."""
    parsed = ua_parser.parse(user_agent or "")
    agent, system = parsed.user_agent, parsed.os
    browser = " ".join(p for p in (agent.family, agent.major) if p) if agent else "Other"
    return Device(browser=browser, system=system.family if system else "Other")


@dataclass(frozen=True)
class SignedInDevice:
    session: SignInSession
    device: Device
    is_current: bool


def signed_in_devices(session: Session, person: User | Staff) -> list[SignedInDevice]:
    """The person's live sessions as their profile lists them, the current one marked."""
    return [
        SignedInDevice(row, describe_device(row.user_agent), is_current(row, person))
        for row in live_sessions(session, person)
    ]


def has_second_factor(person: Staff) -> bool:
    """Whether the second factor was given in the session the person was loaded through."""
    row = getattr(person, "sign_in_session", None)
    return row is not None and row.second_factor_at is not None


def mark_second_factor(session: Session, person: Staff) -> None:
    row = current(session, person)
    if row is not None:
        row.second_factor_at = utcnow()
        person.sign_in_session = row
