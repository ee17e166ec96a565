"""Notifications: messages are planned into the outbox, then dispatched by a worker."""

from portal.services.notify.outbox import (
    commit_and_send,
    dispatch_due,
    enqueue_email,
    enqueue_sms,
    send_after_commit,
    send_now,
)

__all__ = [
    "commit_and_send",
    "dispatch_due",
    "enqueue_email",
    "enqueue_sms",
    "send_after_commit",
    "send_now",
]
