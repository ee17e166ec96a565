"""Back-office staff: administrators create employees, change roles, block and unblock them."""

import phonenumbers
from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from portal.models import Staff, StaffRole
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, names, sessions
from portal.services.errors import DomainError
from portal.services.users import check_password_strength, normalise_email


def list_staff() -> Select:
    """Everyone, active first, then by name."""
    return select(Staff).order_by(Staff.active.desc(), Staff.full_name, Staff.id)


def normalise_work_phone(raw: str | None) -> str | None:
    """Any valid Russian number, mobile or landline, in E.164; empty means none."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, "RU")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise DomainError(_("Enter a valid phone number, e.g. +7 831 771-23-45."), "phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _check_role(role: str) -> StaffRole:
    if role not in StaffRole.values():
        raise DomainError(_("Choose a role from the list."), "role")
    return StaffRole(role)


def _clean_name(raw: str | None) -> str:
    """An employee's name by the rule of every person's name: it goes onto letters."""
    return names.person_name(raw, missing=_("Enter the employee's full name."))


def _snapshot(staff: Staff) -> dict:
    return {
        "email": staff.email,
        "full_name": staff.full_name,
        "phone": staff.phone,
        "position": staff.position,
        "role": staff.role,
        "active": staff.active,
    }


def _record(session: Session, staff: Staff, action: str, actor: Staff | None, **fields) -> None:
    audit.record(
        session,
        staff_id=actor.id if actor else None,
        action=action,
        object_type=AuditObject.STAFF,
        object_id=staff.id,
        summary=fields.pop("summary", f"{staff.full_name} <{staff.email}>"),
        **fields,
    )


def record_sign_in(session: Session, staff: Staff, *, how: str, ip: str | None) -> None:
    """An employee signed in (``how``: with a code, with a recovery code, or empty): audited
    in the transaction that starts the session."""
    _record(session, staff, AuditAction.SIGN_IN, staff, summary=how, ip_address=ip)


def create_staff(
    session: Session,
    *,
    email: str,
    full_name: str,
    phone: str | None,
    position: str | None,
    role: str,
    password: str,
    actor: Staff | None,
    ip: str | None,
) -> Staff:
    """A new employee who signs in with the e-mail and the initial password (the caller
    commits). ``actor`` is None when the first administrator is made from the command line."""
    email = normalise_email(email)
    if session.scalar(select(Staff.id).where(func.lower(Staff.email) == email)):
        raise DomainError(_("An employee with this e-mail already exists."), "email")
    staff = Staff(
        email=email,
        full_name=_clean_name(full_name),
        phone=normalise_work_phone(phone),
        position=(position or "").strip() or None,
        role=_check_role(role),
        active=True,
    )
    check_password_strength(password)
    staff.set_password(password)
    session.add(staff)
    session.flush()
    _record(
        session,
        staff,
        AuditAction.CREATE,
        actor,
        changes=audit.diff({}, _snapshot(staff)),
        ip_address=ip,
    )
    session.flush()
    return staff


def update_staff(
    session: Session,
    staff: Staff,
    *,
    full_name: str,
    phone: str | None,
    position: str | None,
    role: str,
    active: bool,
    new_password: str | None = None,
    actor: Staff,
    ip: str | None,
) -> dict:
    """Change an employee; return the changes as {field: [old, new]}.

    Administrators cannot block themselves or give up their own administrator role,
    so the back office always keeps someone who can manage staff. The caller commits.
    """
    role = _check_role(role)
    if staff.id == actor.id:
        if not active:
            raise DomainError(_("You cannot block your own account."), "active")
        if role != StaffRole.ADMIN and staff.role == StaffRole.ADMIN:
            raise DomainError(_("You cannot remove your own administrator role."), "role")
    after = {
        "full_name": _clean_name(full_name),
        "phone": normalise_work_phone(phone),
        "position": (position or "").strip() or None,
        "role": role,
        "active": bool(active),
    }
    if new_password:
        try:
            check_password_strength(new_password)
        except DomainError as error:
            raise DomainError(error.message, "new_password") from error
    changes = audit.diff(_snapshot(staff), after)
    for name, value in after.items():
        setattr(staff, name, value)
    if new_password:
        staff.set_password(new_password)
        sessions.end_all(session, staff)  # whoever knew the old password is signed out
        changes["password"] = [None, "reset"]
    if not changes:
        return {}
    _record(session, staff, AuditAction.UPDATE, actor, changes=changes, ip_address=ip)
    session.flush()
    return changes
