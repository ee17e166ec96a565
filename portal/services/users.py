"""Portal users: sign-up, e-mail confirmation, sign-in with lockout, password reset."""

import re
from functools import cache
from typing import NamedTuple

import phonenumbers
from flask import current_app, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from portal.models import Channel, Consent, Staff, User
from portal.services import names, sessions, throttle
from portal.services.clock import utcnow
from portal.services.errors import DomainError
from portal.services.notify import commit_and_send, enqueue_email, send_after_commit
from portal.services.tokens import lifetime_hours, make_token, read_token

MIN_PASSWORD_LENGTH = 8
# What people type in a phone number: digits, spaces, brackets, dashes, dots, a plus.
PHONE_CHARACTERS = re.compile(r"^[\d\s()+.\-]+$", re.ASCII)


@cache
def _dummy_password_hash() -> str:
    """Checked when the e-mail is unknown, so both answers take as long."""
    return generate_password_hash("not-a-password-0")


def normalise_phone(raw: str) -> str:
    """A Russian mobile number in E.164 (+79161234567), or a DomainError."""
    try:
        number = phonenumbers.parse(raw, "RU") if PHONE_CHARACTERS.match(raw or "") else None
    except phonenumbers.NumberParseException:
        number = None
    if (
        number is None
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.number_type(number)
        not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
    ):
        raise DomainError(_("Enter a valid mobile phone number, e.g. +7 916 123-45-67."), "phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    return raw.strip().lower()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            ngettext(
                "The password must be at least %(num)s character long.",
                "The password must be at least %(num)s characters long.",
                MIN_PASSWORD_LENGTH,
            ),
            "password",
        )
    if not any(ch.isalpha() for ch in password) or not any(ch.isdigit() for ch in password):
        raise DomainError(_("Use both letters and digits in the password."), "password")


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def external_url(endpoint: str, **values) -> str:
    base = current_app.config["PUBLIC_BASE_URL"]
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def _warn_existing(session: Session, existing: User) -> None:
    message = enqueue_email(
        session,
        kind="signup_existing",
        recipient=existing.email,
        subject=_("Someone tried to register with your e-mail"),
        context={"user": existing, "login_url": external_url("auth.login")},
        dedup_key=f"signup_existing:{existing.id}:{utcnow():%Y%m%d%H%M%S%f}",
        user_id=existing.id,
    )
    send_after_commit(session, message)


def register(
    session: Session,
    *,
    email: str,
    phone: str,
    full_name: str,
    password: str,
    ip: str | None,
    language: str = "ru",
) -> User | None:
    """Create an unconfirmed user and plan the confirmation letter, to go once the caller
    commits (``notify.commit_and_send``).

    If the e-mail is taken, nothing is created and the owner of that address is told
    someone tried to sign up with it: the page a visitor sees is the same either way.
    """
    full_name = names.person_name(full_name)
    email = normalise_email(email)
    phone = normalise_phone(phone)
    check_password_strength(password)
    existing = find_user_by_email(session, email)
    if existing:
        _warn_existing(session, existing)
        return None
    user = User(email=email, phone=phone, full_name=full_name, language=language)
    user.set_password(password)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        # The same address registered a moment ago (a double submit racing this one).
        session.rollback()
        existing = find_user_by_email(session, email)
        if existing is None:
            raise
        _warn_existing(session, existing)
        return None
    session.add(
        Consent(
            user_id=user.id,
            text_version=current_app.config["CONSENT_TEXT_VERSION"],
            given_at=utcnow(),
            ip_address=ip,
        )
    )
    message = _plan_confirmation(session, user)
    send_after_commit(session, message)
    return user


def _plan_confirmation(session: Session, user: User):
    token = make_token("confirm", {"user": user.id, "email": user.email})
    return enqueue_email(
        session,
        kind="confirm_email",
        recipient=user.email,
        subject=_("Confirm your e-mail"),
        context={
            "user": user,
            "confirm_url": external_url("auth.confirm", token=token),
            "hours": lifetime_hours("confirm"),
        },
        dedup_key=f"confirm_email:{user.id}:{utcnow():%Y%m%d%H%M%S%f}",
        user_id=user.id,
    )


def resend_confirmation(session: Session, user: User) -> None:
    if user.is_confirmed:
        return
    message = _plan_confirmation(session, user)
    send_after_commit(session, message)


class LinkUsed(DomainError):
    """A genuine link that has done its work already."""


def confirm_email(session: Session, token: str) -> User:
    """Confirm the address the link was sent to, once: a used link (the address is already
    confirmed) or an outdated one (a newer address) is refused."""
    payload = read_token("confirm", token)
    user = session.get(User, payload["user"]) if payload and "user" in payload else None
    if user is None or user.email != payload.get("email"):
        raise DomainError(_("The confirmation link is invalid or has expired."))
    if user.is_confirmed:
        raise LinkUsed(
            _("This confirmation link has been used already: your e-mail is confirmed. Sign in.")
        )
    user.email_confirmed_at = utcnow()
    session.flush()
    from portal.services.applications import cabinet

    cabinet.claim_for(session, user)  # a guest's applications come into the new cabinet
    return user


def _audience(model: type[User] | type[Staff]) -> str:
    return "staff" if model is Staff else "user"


def sign_in_attempt(
    model: type[User] | type[Staff], email: str, ip: str | None, known_devices: dict
) -> throttle.Attempt:
    """Who is trying to sign in; ``known_devices`` maps e-mail keys to the device cookie's
    id where that cookie proves an earlier sign-in with them."""
    key = throttle.email_key(_audience(model), normalise_email(email))
    return throttle.Attempt(email_key=key, ip=ip, device=known_devices.get(key))


def authenticate(
    session: Session,
    model: type[User] | type[Staff],
    email: str,
    password: str,
    attempt: throttle.Attempt,
):
    """The person if the password is right and this client may try now.

    A wrong password and an unknown e-mail get the same answer, and so does a throttled
    client whatever the e-mail (portal.services.throttle), so the answers never tell
    whether an address is registered.
    """
    throttle.check(session, attempt)
    person = session.scalar(select(model).where(func.lower(model.email) == normalise_email(email)))
    if person is None:
        check_password_hash(_dummy_password_hash(), password)  # answer as slowly as for a user
    if person is None or not person.check_password(password) or not person.is_active:
        if throttle.record_failure(session, attempt) and person is not None:
            _plan_unlock(session, person)
        commit_and_send(session)  # the failure counts even though the caller shows a refusal
        raise DomainError(_("Wrong e-mail or password."))
    throttle.record_success(session, attempt)
    person.last_login_at = utcnow()
    session.flush()
    return person


class SignIn(NamedTuple):
    person: User | Staff
    email_key: str  # the key a device cookie remembers the address by


def password_sign_in(
    session: Session,
    model: type[User] | type[Staff],
    email: str,
    password: str,
    ip: str | None,
    known_devices: dict,
) -> SignIn:
    """Sign-in with an e-mail and a password from this client (``authenticate``): the person
    and the key their device is remembered by, or the DomainError to show on the form."""
    attempt = sign_in_attempt(model, email, ip, known_devices)
    return SignIn(authenticate(session, model, email, password, attempt), attempt.email_key)


def _plan_unlock(session: Session, person: User | Staff) -> None:
    """Tell the owner their sign-in is being guessed, with a link that makes their browser
    a known device (its key: the e-mail's, so the link works only for this address)."""
    audience = _audience(type(person))
    token = make_token("unlock", {"a": audience, "k": throttle.email_key(audience, person.email)})
    message = enqueue_email(
        session,
        kind="sign_in_unlock",
        recipient=person.email,
        subject=_("Someone is trying to sign in with your e-mail"),
        context={
            "person": person,
            "unlock_url": external_url("auth.unlock", token=token),
            "minutes": current_app.config["LOGIN_ACCOUNT_LOCK_MINUTES"],
            "hours": lifetime_hours("unlock"),
        },
        dedup_key=f"sign_in_unlock:{audience}:{person.id}:{utcnow():%Y%m%d%H%M%S%f}",
        user_id=person.id if audience == "user" else None,
    )
    send_after_commit(session, message)


def read_unlock(token: str) -> tuple[str, str]:
    """The audience ("user" or "staff") and e-mail key an unlock link is for."""
    payload = read_token("unlock", token)
    if not payload or payload.get("a") not in ("user", "staff") or not payload.get("k"):
        raise DomainError(_("The unlock link is invalid or has expired."))
    return payload["a"], str(payload["k"])


def request_password_reset(session: Session, email: str) -> None:
    """Mail a reset link if the address is registered; do nothing visible otherwise."""
    user = find_user_by_email(session, email)
    if user is None:
        return
    token = make_token("reset", {"user": user.id, "fp": user.password_fingerprint})
    message = enqueue_email(
        session,
        kind="reset_password",
        recipient=user.email,
        subject=_("Password reset"),
        context={
            "user": user,
            "reset_url": external_url("auth.reset_password", token=token),
            "hours": lifetime_hours("reset"),
        },
        dedup_key=f"reset_password:{user.id}:{utcnow():%Y%m%d%H%M%S%f}",
        user_id=user.id,
    )
    send_after_commit(session, message)


def user_for_reset_token(session: Session, token: str) -> User:
    payload = read_token("reset", token)
    user = session.get(User, payload["user"]) if payload and "user" in payload else None
    if user is None or payload.get("fp") != user.password_fingerprint:
        raise DomainError(_("The password reset link is invalid, expired or already used."))
    return user


def reset_password(session: Session, token: str, new_password: str) -> User:
    """A new password from a reset link: every session of the person ends (whoever knew
    the old password is out), and the address is proven, so its failed sign-ins are
    forgotten and it counts as confirmed."""
    user = user_for_reset_token(session, token)
    check_password_strength(new_password)
    user.set_password(new_password)
    sessions.end_all(session, user)
    throttle.forget(session, throttle.email_key("user", user.email))
    user.email_confirmed_at = user.email_confirmed_at or utcnow()
    session.flush()
    return user


def update_profile(
    session: Session,
    user: User,
    *,
    full_name: str,
    phone: str,
    preferred_channel: str,
    language: str,
) -> User:
    from portal.models.people import LANGUAGES

    full_name = names.person_name(full_name)
    phone = normalise_phone(phone)
    if preferred_channel not in Channel.values():
        raise DomainError(_("Choose how to send you notices."), "preferred_channel")
    if language not in LANGUAGES:
        raise DomainError(_("Choose a language."), "language")
    user.full_name = full_name
    user.phone = phone
    user.preferred_channel = preferred_channel
    user.language = language
    session.flush()
    return user


def change_password(session: Session, user: User, current: str, new: str) -> int:
    """A new password; every other session of the person ends. How many ended."""
    if not user.check_password(current):
        raise DomainError(_("The current password is wrong."), "current_password")
    check_password_strength(new)
    user.set_password(new)
    ended = sessions.end_all(session, user, keep_key=user.session_key)
    session.flush()
    return ended
