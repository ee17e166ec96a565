"""Record every staff view and change of personal data (152-ФЗ)."""

from sqlalchemy.orm import Session

from portal.models import AuditEvent
from portal.models.audit import AuditAction, AuditObject

# What an event may be about: the members of AuditObject, each with its label.
OBJECT_TYPES = frozenset(AuditObject.values())


def record(
    session: Session,
    *,
    staff_id: int | None,
    action: AuditAction,
    object_type: AuditObject,
    object_id: int | None,
    summary: str = "",
    changes: dict | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit stores it with the change."""
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"unknown audit object type {object_type!r}")
    if action not in AuditAction.values():
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(
        staff_id=staff_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary[:400],
        changes=changes,
        ip_address=ip_address,
    )
    session.add(event)
    return event


def diff(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields that changed, values as strings."""
    return {
        key: [
            None if before.get(key) is None else str(before.get(key)),
            None if value is None else str(value),
        ]
        for key, value in after.items()
        if before.get(key) != value
    }
