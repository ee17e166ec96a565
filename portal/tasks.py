"""Celery app and tasks: the production background workers (Redis as broker).

    celery -A portal.tasks worker     # any number of them
    celery -A portal.tasks beat       # exactly one: puts periodic tasks on the queue

Each task runs inside the Flask app context and calls the same services as the web.
"""

from celery import Celery, Task
from flask import Flask

from portal import create_app
from portal.extensions import db

OUTBOX_DISPATCH_SECONDS = 30.0
BILLING_QUEUE_SECONDS = 60.0
IMPORT_QUEUE_SECONDS = 60.0
# Reminders are planned from the hour set in notify.plan_hour; beat asks every hour and
# planning again the same day plans nothing new.
REMINDERS_SECONDS = 3600.0


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                try:
                    return self.run(*args, **kwargs)
                finally:
                    db.session.remove()

    broker = app.config["CELERY_BROKER_URL"] or "redis://127.0.0.1:6379/0"
    celery_app = Celery(app.name, task_cls=FlaskTask, broker=broker, backend=broker)
    celery_app.conf.update(
        task_acks_late=True,  # a task lost with a dying worker runs again
        worker_prefetch_multiplier=1,
        timezone="UTC",
        broker_connection_retry_on_startup=True,
        beat_schedule={
            "dispatch-outbox": {
                "task": "portal.tasks.dispatch_outbox",
                "schedule": OUTBOX_DISPATCH_SECONDS,
            },
            # Periods queued on the web whose task never reached a worker.
            "process-queued-billing": {
                "task": "portal.tasks.process_queued_billing",
                "schedule": BILLING_QUEUE_SECONDS,
            },
            # Readings imports queued on the web whose task never reached a worker.
            "process-queued-imports": {
                "task": "portal.tasks.process_queued_imports",
                "schedule": IMPORT_QUEUE_SECONDS,
            },
            # Documents for organisations of closed periods not issued yet (#13).
            "issue-pending-documents": {
                "task": "portal.tasks.issue_pending_documents",
                "schedule": IMPORT_QUEUE_SECONDS,
            },
            # Applications whose requested documents did not come within the month (003).
            "end-unanswered-applications": {
                "task": "portal.tasks.end_unanswered_applications",
                "schedule": REMINDERS_SECONDS,
            },
            # The monthly quality report of last month, made once from the 1st (#16).
            "make-quality-report": {
                "task": "portal.tasks.make_quality_report",
                "schedule": IMPORT_QUEUE_SECONDS,
            },
            "plan-reminders": {
                "task": "portal.tasks.plan_reminders",
                "schedule": REMINDERS_SECONDS,
            },
        },
    )
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


flask_app = create_app()
celery = celery_init_app(flask_app)


@celery.task(name="portal.tasks.dispatch_outbox")
def dispatch_outbox(limit: int = 200) -> int:
    """Send due outbox messages; safe with many workers (rows are claimed atomically)."""
    from portal.services.notify import dispatch_due

    return dispatch_due(db.session, limit=limit)


@celery.task(name="portal.tasks.run_billing")
def run_billing(period_iso: str) -> dict | None:
    """Charge one period queued on the web (YYYY-MM); nothing if another worker has it."""
    from portal.services import billing_periods
    from portal.services.months import parse_period

    totals = billing_periods.run_queued(db.session, parse_period(period_iso))
    if totals is None:
        return None
    return {"accounts": totals.accounts, "lines": totals.lines, "amount": str(totals.amount)}


@celery.task(name="portal.tasks.process_queued_billing")
def process_queued_billing() -> int:
    """Charge every period still queued; returns how many were charged."""
    from portal.services.billing_periods import process_queued_billing as process

    return len(process(db.session))


@celery.task(name="portal.tasks.import_readings")
def import_readings(batch_id: int) -> str | None:
    """Check (a large upload) or import (a started one) a CSV of remote readings; nothing
    if another worker has it. Returns the batch's status after."""
    from portal.services.readings_import import process_batch

    batch = process_batch(db.session, batch_id)
    return None if batch is None else batch.status


@celery.task(name="portal.tasks.process_queued_imports")
def process_queued_imports() -> int:
    """Check or import every readings file still waiting; returns how many were processed."""
    from portal.services.readings_import import process_queued_imports as process

    return process(db.session)


@celery.task(name="portal.tasks.plan_reminders")
def plan_reminders() -> int | None:
    """Plan today's reminders once the planning hour has come (None before it); idempotent."""
    from portal.services.notify import reminders

    if not reminders.due_now(db.session):
        return None
    count = sum(item.count for item in reminders.plan(db.session))
    db.session.commit()
    return count


@celery.task(name="portal.tasks.end_unanswered_applications")
def end_unanswered_applications() -> int:
    """End consideration of applications whose requested documents did not come in time."""
    from portal.services import applications
    from portal.services.notify.outbox import commit_and_send

    ended = applications.end_unanswered(db.session)
    commit_and_send(db.session)
    return len(ended)


@celery.task(name="portal.tasks.issue_pending_documents")
def issue_pending_documents() -> int:
    """Issue the documents of closed periods for every contract still without them."""
    from portal.services.contract_documents import process_pending

    return process_pending(db.session)


@celery.task(name="portal.tasks.make_quality_report")
def make_quality_report() -> str | None:
    """Make last month's quality report once it is due and not made yet (001: by the 5th)."""
    from portal.services import quality_reports

    report = quality_reports.make_due(db.session)
    return report.period.isoformat() if report else None
