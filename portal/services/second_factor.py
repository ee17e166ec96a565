"""Two-factor sign-in of staff: TOTP codes (RFC 6238, pyotp) and one-time recovery codes.

Staff see every customer's personal data (152-ФЗ), so administrators and supervisors
always need a second factor, and every employee when the setting
``security.second_factor_for_all_staff`` says so. In the demo (``DEMO_MODE``) nobody is
required to, so a newcomer can walk in with the printed logins; whoever enrolled is still
asked for a code.
"""

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from portal.models import RecoveryCode, Staff, StaffRole
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, sessions, settings
from portal.services.clock import utcnow
from portal.services.errors import DomainError

ALWAYS_REQUIRED_ROLES = frozenset({StaffRole.ADMIN, StaffRole.SUPERVISOR})
RECOVERY_CODES = 10
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read off paper
TOTP_DIGITS = 6


def is_required(session: Session, staff: Staff) -> bool:
    if staff.totp_enabled_at is not None:
        return True
    if current_app.config["DEMO_MODE"]:
        return False
    if staff.role in ALWAYS_REQUIRED_ROLES:
        return True
    return bool(settings.get(session, "security.second_factor_for_all_staff"))


def is_enrolled(staff: Staff) -> bool:
    return staff.totp_enabled_at is not None and bool(staff.totp_secret)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, staff: Staff) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    issuer = current_app.config["SUPPLIER_NAME"]
    return pyotp.TOTP(secret).provisioning_uri(name=staff.email, issuer_name=issuer)


def _code_digits(code: str) -> str:
    return "".join(code.split())


def _matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The 30-second time step ``code`` belongs to (this one or a neighbour, for a clock a
    little off), or None."""
    totp = pyotp.TOTP(secret)
    digits = _code_digits(code)
    if len(digits) != TOTP_DIGITS or not digits.isdigit():
        return None
    step = totp.timecode(at)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), digits):
            return candidate
    return None


def _hash_recovery(code: str) -> str:
    # Recovery codes carry 50 random bits: a keyed hash is enough, no slow password hash.
    normalised = "".join(ch for ch in code.upper() if ch.isalnum())
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, normalised.encode(), hashlib.sha256).hexdigest()


def _new_recovery_codes(session: Session, staff: Staff) -> list[str]:
    session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff.id))
    codes = []
    for _index in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _position in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(staff_id=staff.id, code_hash=_hash_recovery(raw)))
    return codes


def enrol(session: Session, staff: Staff, secret: str, code: str, ip: str | None) -> list[str]:
    """Turn the second factor on once the app shows a right code; the recovery codes,
    shown to the employee this once (only their hashes are kept)."""
    now = utcnow()
    step = _matching_step(secret, code, now)
    if step is None:
        raise DomainError(_("The code is wrong. Enter the 6 digits the app shows now."), "code")
    staff.totp_secret = secret
    staff.totp_enabled_at = now
    staff.totp_last_step = step
    codes = _new_recovery_codes(session, staff)
    _audit(session, staff, staff, AuditAction.SECOND_FACTOR_ENABLED, ip)
    session.flush()
    return codes


def verify(session: Session, staff: Staff, code: str) -> str:
    """ "totp" or "recovery" when ``code`` is a right code not used before; else DomainError.

    A TOTP code works once (its time step is remembered); a recovery code once ever.
    """
    now = utcnow()
    if is_enrolled(staff):
        step = _matching_step(staff.totp_secret, code, now)
        if step is not None and (staff.totp_last_step is None or step > staff.totp_last_step):
            staff.totp_last_step = step
            session.flush()
            return "totp"
    used = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.staff_id == staff.id,
            RecoveryCode.code_hash == _hash_recovery(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount == 1:
        return "recovery"
    raise DomainError(_("The code is wrong or has been used already."), "code")


def recovery_codes_left(session: Session, staff: Staff) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.staff_id == staff.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def renew_recovery_codes(session: Session, staff: Staff, ip: str | None) -> list[str]:
    codes = _new_recovery_codes(session, staff)
    _audit(session, staff, staff, AuditAction.RECOVERY_CODES_RENEWED, ip)
    session.flush()
    return codes


def reset(session: Session, staff: Staff, actor: Staff, ip: str | None) -> None:
    """An administrator takes a colleague's second factor away (a lost phone): the colleague
    is signed out everywhere and enrols again at the next sign-in."""
    if actor.id == staff.id:
        raise DomainError(_("Ask another administrator to reset your own second factor."))
    if not is_enrolled(staff):
        raise DomainError(_("This employee has no second factor to reset."))
    staff.totp_secret = None
    staff.totp_enabled_at = None
    staff.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff.id))
    sessions.end_all(session, staff)
    _audit(session, actor, staff, AuditAction.SECOND_FACTOR_RESET, ip)
    session.flush()


def _audit(session: Session, actor: Staff, staff: Staff, action: str, ip: str | None) -> None:
    audit.record(
        session,
        staff_id=actor.id,
        action=action,
        object_type=AuditObject.STAFF,
        object_id=staff.id,
        summary=f"{staff.full_name} <{staff.email}>",
        ip_address=ip,
    )
