"""Throttling of password guessing without locking the owner out.

Locking an account after a few wrong passwords lets anyone lock anyone out, and one
address behind a proxy or a mobile operator's NAT is a whole city. So failures are counted
per e-mail *and* client, as OWASP's "device cookies" recommend:

- a browser that signed in with the e-mail before carries a device cookie naming it; its
  failures count for that device alone;
- any other client's failures count per e-mail and address.

Either way the first ``LOGIN_FREE_FAILURES`` are free, then each costs a wait that doubles
from ``LOGIN_FIRST_DELAY_MINUTES`` up to ``LOGIN_MAX_DELAY_MINUTES``. Against many addresses at
once (a botnet), when ``LOGIN_ACCOUNT_FAILURES`` come from unknown devices within
``LOGIN_ACCOUNT_WINDOW_MINUTES``, unknown devices wait ``LOGIN_ACCOUNT_LOCK_MINUTES``; known
devices are not stopped, and the owner is e-mailed a link that makes the browser it is
opened in a known device. The same holds for an e-mail nobody registered, so the answers
never tell whether an address has an account.
"""

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import ngettext
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.models import SignInFailure
from portal.services.clock import utcnow
from portal.services.errors import DomainError


@dataclass(frozen=True)
class Attempt:
    """Who is trying: the e-mail typed (as its key), from where, and the device cookie's id
    when that cookie proves an earlier sign-in with this e-mail (else None)."""

    email_key: str
    ip: str | None
    device: str | None = None


class Throttled(DomainError):
    def __init__(self, message: str, wait: timedelta):
        super().__init__(message)
        self.wait = wait


def email_key(audience: str, email: str) -> str:
    """A keyed hash of "user:e-mail" or "staff:e-mail" (stored instead of the address)."""
    secret = current_app.config["SECRET_KEY"].encode()
    text = f"{audience}:{email.strip().lower()}".encode()
    return hmac.new(secret, text, hashlib.sha256).hexdigest()


def _minutes(name: str) -> timedelta:
    return timedelta(minutes=current_app.config[name])


def _same_client(attempt: Attempt):
    query = SignInFailure.email_key == attempt.email_key
    if attempt.device:
        return query & (SignInFailure.device == attempt.device)
    return query & SignInFailure.device.is_(None) & (SignInFailure.ip_address == attempt.ip)


def _failures(session: Session, where, since: datetime) -> tuple[int, datetime | None]:
    count, last = session.execute(
        select(func.count(), func.max(SignInFailure.at)).where(where, SignInFailure.at > since)
    ).one()
    return count, last


def client_delay(failures: int) -> timedelta:
    """The wait after ``failures`` failures of one client: none while free, then doubling."""
    config = current_app.config
    beyond = failures - config["LOGIN_FREE_FAILURES"]
    if beyond < 0:
        return timedelta(0)
    first, longest = _minutes("LOGIN_FIRST_DELAY_MINUTES"), _minutes("LOGIN_MAX_DELAY_MINUTES")
    return min(first * 2 ** min(beyond, 30), longest)


def _minutes_to_wait(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds() / 60))


def check(session: Session, attempt: Attempt, now: datetime | None = None) -> None:
    """Raise Throttled, saying how long to wait, when this client must not try yet."""
    now = now or utcnow()
    memory = timedelta(hours=current_app.config["LOGIN_FAILURE_MEMORY_HOURS"])
    count, last = _failures(session, _same_client(attempt), now - memory)
    if last is not None and now < last + client_delay(count):
        wait = last + client_delay(count) - now
        raise Throttled(
            ngettext(
                "Too many failed attempts. Try again in %(num)d minute.",
                "Too many failed attempts. Try again in %(num)d minutes.",
                _minutes_to_wait(wait),
            ),
            wait,
        )
    if attempt.device is None:
        _check_unknown_devices(session, attempt, now)


def _check_unknown_devices(session: Session, attempt: Attempt, now: datetime) -> None:
    count, last = _failures(session, _unknown_devices(attempt), now - _window())
    if count < current_app.config["LOGIN_ACCOUNT_FAILURES"] or last is None:
        return
    until = last + _minutes("LOGIN_ACCOUNT_LOCK_MINUTES")
    if now < until:
        raise Throttled(
            ngettext(
                "Too many failed attempts to sign in with this e-mail from new devices. Try "
                "again in %(num)d minute, or from a device you signed in on before. If the "
                "e-mail is registered, we have sent it a link that unlocks sign-in on the "
                "device where it is opened.",
                "Too many failed attempts to sign in with this e-mail from new devices. Try "
                "again in %(num)d minutes, or from a device you signed in on before. If the "
                "e-mail is registered, we have sent it a link that unlocks sign-in on the "
                "device where it is opened.",
                _minutes_to_wait(until - now),
            ),
            until - now,
        )


def _unknown_devices(attempt: Attempt):
    return (SignInFailure.email_key == attempt.email_key) & SignInFailure.device.is_(None)


def _window() -> timedelta:
    return _minutes("LOGIN_ACCOUNT_WINDOW_MINUTES")


def record_failure(session: Session, attempt: Attempt, now: datetime | None = None) -> bool:
    """Count a wrong password. True when this failure locks unknown devices out, so the
    owner should be told (once per lock)."""
    now = now or utcnow()
    memory = timedelta(hours=current_app.config["LOGIN_FAILURE_MEMORY_HOURS"])
    session.execute(delete(SignInFailure).where(SignInFailure.at <= now - memory))
    session.add(
        SignInFailure(
            email_key=attempt.email_key, ip_address=attempt.ip, device=attempt.device, at=now
        )
    )
    session.flush()
    if attempt.device is not None:
        return False
    count, _last = _failures(session, _unknown_devices(attempt), now - _window())
    return count == current_app.config["LOGIN_ACCOUNT_FAILURES"]


def record_success(session: Session, attempt: Attempt) -> None:
    """The right password: this client starts afresh."""
    session.execute(delete(SignInFailure).where(_same_client(attempt)))


def forget(session: Session, key: str) -> None:
    """Every failure for the e-mail: its owner proved the address (a password reset)."""
    session.execute(delete(SignInFailure).where(SignInFailure.email_key == key))
