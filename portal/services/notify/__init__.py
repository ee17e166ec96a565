"""Notifications: messages are planned into the outbox, then dispatched by a worker."""

from portal.services.notify.outbox import dispatch_due, enqueue_email, enqueue_sms, send_now

__all__ = ["dispatch_due", "enqueue_email", "enqueue_sms", "send_now"]
