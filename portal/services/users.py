"""Portal users: sign-up, e-mail confirmation, sign-in with lockout, password reset."""

import re
import unicodedata
from datetime import timedelta
from functools import cache

import phonenumbers
from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from portal.models import Consent, Staff, User, utcnow
from portal.services.errors import DomainError
from portal.services.notify import enqueue_email, send_now
from portal.services.tokens import make_token, read_token

MIN_PASSWORD_LENGTH = 8
MAX_NAME_LENGTH = 200
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


def normalise_full_name(raw: str) -> str:
    """A person's name with spaces tidied, or a DomainError.

    Letters of any script, digits, spaces and punctuation are fine; emoji and other
    symbols, control and invisible formatting characters (a NUL, a right-to-left
    override) and the replacement character left by input that was not UTF-8 are not.
    """
    name = " ".join(unicodedata.normalize("NFC", raw or "").split())
    if not name:
        raise DomainError(_("Enter your full name."), "full_name")
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(
            _("The name is too long: at most %(n)s characters.", n=MAX_NAME_LENGTH), "full_name"
        )
    if not any(ch.isalpha() for ch in name) or any(
        unicodedata.category(ch)[0] in "CS" for ch in name
    ):
        raise DomainError(
            _("Write the name in letters: emoji and special symbols are not allowed."),
            "full_name",
        )
    return name


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            _("The password must be at least %(n)s characters long.", n=MIN_PASSWORD_LENGTH),
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
    session.commit()
    send_now(session, message.id)


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
    """Create an unconfirmed user and mail the confirmation link.

    If the e-mail is taken, nothing is created and the owner of that address is told
    someone tried to sign up with it: the page a visitor sees is the same either way.
    """
    full_name = normalise_full_name(full_name)
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
    session.commit()
    send_now(session, message.id)
    return user


def _plan_confirmation(session: Session, user: User):
    token = make_token("confirm", {"user": user.id, "email": user.email})
    return enqueue_email(
        session,
        kind="confirm_email",
        recipient=user.email,
        subject=_("Confirm your e-mail"),
        context={"user": user, "confirm_url": external_url("auth.confirm", token=token)},
        dedup_key=f"confirm_email:{user.id}:{utcnow():%Y%m%d%H%M%S%f}",
        user_id=user.id,
    )


def resend_confirmation(session: Session, user: User) -> None:
    if user.is_confirmed:
        return
    message = _plan_confirmation(session, user)
    session.commit()
    send_now(session, message.id)


def confirm_email(session: Session, token: str) -> User:
    payload = read_token("confirm", token)
    user = session.get(User, payload["user"]) if payload and "user" in payload else None
    if user is None or user.email != payload.get("email"):
        raise DomainError(_("The confirmation link is invalid or has expired."))
    if not user.is_confirmed:
        user.email_confirmed_at = utcnow()
        session.commit()
    return user


def authenticate(session: Session, model: type[User] | type[Staff], email: str, password: str):
    """The user if the password is right and the account is not locked.

    The error is the same for an unknown e-mail, a wrong password and a locked account,
    so the answer never tells whether an address is registered.
    """
    config = current_app.config
    refusal = DomainError(
        _(
            "Wrong e-mail or password. After %(n)s failed attempts sign-in is locked for "
            "%(minutes)s minutes.",
            n=config["LOGIN_MAX_FAILURES"],
            minutes=config["LOGIN_LOCK_MINUTES"],
        )
    )
    user = session.scalar(select(model).where(func.lower(model.email) == normalise_email(email)))
    now = utcnow()
    if user is None:
        check_password_hash(_dummy_password_hash(), password)  # answer as slowly as for a user
        raise refusal
    if user.locked_until and user.locked_until > now:
        raise refusal
    if not user.check_password(password) or not user.is_active:
        user.failed_logins += 1
        if user.failed_logins >= config["LOGIN_MAX_FAILURES"]:
            user.locked_until = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
        session.commit()
        raise refusal
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.commit()
    return user


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
        context={"user": user, "reset_url": external_url("auth.reset_password", token=token)},
        dedup_key=f"reset_password:{user.id}:{utcnow():%Y%m%d%H%M%S%f}",
        user_id=user.id,
    )
    session.commit()
    send_now(session, message.id)


def user_for_reset_token(session: Session, token: str) -> User:
    payload = read_token("reset", token, max_age_hours=2)
    user = session.get(User, payload["user"]) if payload and "user" in payload else None
    if user is None or payload.get("fp") != user.password_fingerprint:
        raise DomainError(_("The password reset link is invalid, expired or already used."))
    return user


def reset_password(session: Session, token: str, new_password: str) -> User:
    user = user_for_reset_token(session, token)
    check_password_strength(new_password)
    user.set_password(new_password)
    user.failed_logins = 0
    user.locked_until = None
    # Following the link proves the address is theirs.
    user.email_confirmed_at = user.email_confirmed_at or utcnow()
    session.commit()
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
    from portal.models.people import CHANNELS, LANGUAGES

    full_name = normalise_full_name(full_name)
    phone = normalise_phone(phone)
    if preferred_channel not in CHANNELS:
        raise DomainError(_("Choose how to send you notices."), "preferred_channel")
    if language not in LANGUAGES:
        raise DomainError(_("Choose a language."), "language")
    user.full_name = full_name
    user.phone = phone
    user.preferred_channel = preferred_channel
    user.language = language
    session.commit()
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise DomainError(_("The current password is wrong."), "current_password")
    check_password_strength(new)
    user.set_password(new)
    session.commit()
