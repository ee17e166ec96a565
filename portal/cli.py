"""Flask commands: `flask demo seed`, `flask setup`, `flask outbox dispatch`, `flask scheduler`,
`flask billing run|close`."""

import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import select

from portal.extensions import db
from portal.models import STAFF_ROLES
from portal.services.months import iso

demo_cli = AppGroup("demo", help="Demo data for a local portal.")
outbox_cli = AppGroup("outbox", help="The e-mail and SMS outbox.")
billing_cli = AppGroup("billing", help="Billing periods: charge a month, close it.")


def _seed_and_describe(seed_number: int = 2026, residents: int = 220, organisations: int = 5):
    """Seed an empty database and keep the printed logins in instance/ for later starts."""
    from portal.services import demo

    text = demo.seed(
        db.session, seed_number=seed_number, residents=residents, organisations=organisations
    ).as_text()
    Path(current_app.instance_path).mkdir(parents=True, exist_ok=True)
    _logins_file().write_text(text, encoding="utf-8")
    return text


def _logins_file() -> Path:
    return Path(current_app.instance_path) / "demo-logins.txt"


@demo_cli.command("seed")
@click.option("--seed", "seed_number", default=2026, show_default=True, help="Random seed.")
@click.option("--residents", default=220, show_default=True)
@click.option("--organisations", default=5, show_default=True)
def demo_seed(seed_number: int, residents: int, organisations: int) -> None:
    """Fill an empty database with demo customers, accounts, meters, staff and offices."""
    from portal.services import demo

    if demo.is_seeded(db.session):
        raise click.ClickException(
            "The database already has data; demo data goes into an empty one."
        )
    click.echo(_seed_and_describe(seed_number, residents, organisations))


@click.command("setup")
@click.option("--demo/--no-demo", default=False, help="Seed demo data into an empty database.")
def setup(demo: bool) -> None:
    """Apply migrations; with --demo also seed demo data on first start and print the logins."""
    from portal.services import demo as demo_service

    upgrade()
    if not demo:
        return
    if not demo_service.is_seeded(db.session):
        click.echo(_seed_and_describe())
    elif _logins_file().exists():
        click.echo(_logins_file().read_text(encoding="utf-8"))


@outbox_cli.command("dispatch")
def outbox_dispatch() -> None:
    """Send every message that is due, once."""
    from portal.services.notify import dispatch_due

    click.echo(f"sent: {dispatch_due(db.session)}")


def _period_argument(text: str):
    from portal.services.errors import DomainError
    from portal.services.months import parse_period

    try:
        return parse_period(text)
    except DomainError as error:
        raise click.BadParameter(error.message) from None


@billing_cli.command("run")
@click.argument("period")
def billing_run(period: str) -> None:
    """Charge every account for PERIOD (YYYY-MM) now and print the totals by method."""
    from portal.models import ChargeMethod
    from portal.services import billing_periods
    from portal.services.errors import DomainError

    month = _period_argument(period)
    started = time.perf_counter()
    try:
        totals = billing_periods.run_now(db.session, month)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    seconds = time.perf_counter() - started
    click.echo(f"{'method':<14}{'lines':>10}{'amount':>18}{'seconds':>10}")
    for method in ChargeMethod:
        figures = totals.by_method.get(method)
        if figures:
            click.echo(f"{method:<14}{figures['lines']:>10}{figures['amount']:>18}")
    click.echo(f"{'total':<14}{totals.lines:>10}{totals.amount!s:>18}{seconds:>10.2f}")
    click.echo(f"{totals.accounts} accounts charged for {iso(month)}")
    _echo_uncharged(month)


def _echo_uncharged(month) -> None:
    """Every account service the run could not charge, with the reason."""
    from portal.services import billing_periods

    rows, total = billing_periods.uncharged(db.session, month, limit=None)
    if total:
        click.echo(f"{total} account services not charged (the period cannot be closed):")
        for item, number in rows:
            click.echo(
                f"  {number}  {item.service}/{item.zone}  {item.category}  {item.reason.label}"
            )


@billing_cli.command("close")
@click.argument("period")
def billing_close(period: str) -> None:
    """Close PERIOD (YYYY-MM): penalties on overdue debt, then one bill per account."""
    from portal.services import billing_periods
    from portal.services.errors import DomainError, NotFound

    month = _period_argument(period)
    try:
        closing = billing_periods.close(db.session, month)
        db.session.commit()
    except NotFound:
        raise click.ClickException(f"no billing period {iso(month)}: run it first") from None
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    click.echo(
        f"{iso(month)} closed: {closing.bills} bills, "
        f"penalties on {closing.penalised_accounts} accounts"
    )


def _run_queued_billing() -> None:
    """The scheduler's billing hook: charge the periods queued on the web."""
    from portal.services.billing_periods import process_queued_billing

    try:
        done = process_queued_billing(db.session)
    except Exception as error:  # noqa: BLE001 (the loop must go on; the period stays queued)
        db.session.rollback()
        click.echo(f"scheduler: billing queue unavailable: {error}", err=True)
        return
    for period, totals in done:
        click.echo(f"scheduler: charged {iso(period)}: {totals.lines} lines, {totals.amount} ₽")


def _run_queued_imports() -> None:
    """The scheduler's hook for CSV imports of remote readings queued on the web."""
    from portal.services.readings_import import process_queued_imports

    try:
        imported = process_queued_imports(db.session)
    except Exception as error:  # noqa: BLE001  (the loop goes on; the batch stays queued)
        click.echo(f"scheduler: readings import failed: {error}", err=True)
        return
    if imported:
        click.echo(f"scheduler: checked or imported {imported} readings file(s)")


def _issue_pending_documents() -> None:
    """The scheduler's hook: documents of closed periods for organisations not issued yet."""
    from portal.services.contract_documents import process_pending

    try:
        issued = process_pending(db.session)
    except Exception as error:  # noqa: BLE001  (the loop goes on; the next pass retries)
        db.session.rollback()
        click.echo(f"scheduler: issuing documents failed: {error}", err=True)
        return
    if issued:
        click.echo(f"scheduler: issued documents for {issued} contract(s)")


def _end_unanswered_applications() -> None:
    """The scheduler's hook: applications whose requested documents did not come within
    the month end consideration, with a notice (003 п. 6); idempotent."""
    from portal.services import applications
    from portal.services.notify.outbox import commit_and_send

    ended = applications.end_unanswered(db.session)
    commit_and_send(db.session)
    if ended:
        click.echo(f"scheduler: ended consideration of {len(ended)} application(s)")


documents_cli = AppGroup("documents", help="Documents for organisations (invoices, acts).")


@documents_cli.command("issue")
@click.argument("period")
def documents_issue(period: str) -> None:
    """Issue the documents of a closed PERIOD (2026-10) for every contract that has none."""
    from portal.models import BillingPeriod, PeriodStatus
    from portal.services import contract_documents

    month = _period_argument(period)
    row = db.session.scalar(select(BillingPeriod).where(BillingPeriod.period == month))
    if row is None or row.status != PeriodStatus.CLOSED:
        raise click.ClickException(f"{iso(month)} is not closed: close it first")

    def report(done: int, total: int) -> None:
        click.echo(f"{done}/{total} contracts")

    issued = contract_documents.issue_period(
        db.session, month, progress=report, commit=db.session.commit
    )
    db.session.commit()
    click.echo(f"{iso(month)}: documents issued for {issued} contract(s)")


notify_cli = AppGroup("notify", help="Reminders planned into the outbox.")


@notify_cli.command("plan")
@click.option("--rule", default=None, help="Plan this rule only (window_opened, bill_issued…).")
@click.option("--dry-run", is_flag=True, help="Count what would be planned, plan nothing.")
def notify_plan(rule: str | None, dry_run: bool) -> None:
    """Plan today's reminders by every rule (idempotent) and print the counts per channel."""
    from portal.services.notify import reminders

    if rule is not None and rule not in reminders.RULES:
        raise click.BadParameter(f"one of {', '.join(reminders.RULES)}", param_hint="--rule")
    planned = reminders.plan(db.session, rule=rule, dry_run=dry_run)
    db.session.commit()
    for item in planned:
        click.echo(f"{item.rule:<22}{item.channel.value:<7}{item.count:>8}")
    done = "would be planned" if dry_run else "planned"
    click.echo(f"{sum(item.count for item in planned)} message(s) {done}")


def _plan_reminders(last_planned_on):
    """The scheduler's daily hook: today's reminders once the planning hour has come.
    Returns the day planned (the one given when nothing was due)."""
    from portal.services.clock import local_today
    from portal.services.notify import reminders

    today = local_today()
    if last_planned_on == today or not reminders.due_now(db.session):
        return last_planned_on
    try:
        count = sum(item.count for item in reminders.plan(db.session))
        db.session.commit()
    except Exception as error:  # the scheduler goes on and tries again next round
        db.session.rollback()
        click.echo(f"scheduler: planning reminders failed: {error}", err=True)
        return last_planned_on
    click.echo(f"scheduler: planned {count} reminder(s) for {today}")
    return today


@click.command("scheduler")
@click.option("--interval", default=10, show_default=True, help="Seconds between runs.")
def scheduler(interval: int) -> None:
    """The embedded background worker for `make run`: sends due messages, charges queued
    billing periods and imports queued readings files every few seconds.

    In production Celery workers and beat on Redis do this job instead (see README).
    """
    from portal.services.notify import dispatch_due

    click.echo(f"scheduler: dispatching the outbox every {interval} s; Ctrl+C stops")
    planned_on = None
    while True:
        try:
            planned_on = _plan_reminders(planned_on)
        finally:
            db.session.remove()
        try:
            sent = dispatch_due(db.session)
            if sent:
                click.echo(f"scheduler: sent {sent} message(s)")
        finally:
            db.session.remove()
        try:
            _run_queued_billing()
        finally:
            db.session.remove()
        try:
            _run_queued_imports()
        finally:
            db.session.remove()
        try:
            _issue_pending_documents()
        finally:
            db.session.remove()
        try:
            _end_unanswered_applications()
        finally:
            db.session.remove()
        time.sleep(interval)


staff_cli = AppGroup("staff", help="Back-office employees.")


@staff_cli.command("create")
@click.option("--email", prompt=True, help="Work e-mail, the sign-in name.")
@click.option("--name", "full_name", prompt="Full name", help="Full name.")
@click.option(
    "--role", type=click.Choice(STAFF_ROLES), default="admin", show_default=True, help="Role."
)
@click.password_option(help="Initial password (asked for when not given).")
def staff_create(email: str, full_name: str, role: str, password: str) -> None:
    """Create an employee, e.g. the first administrator of a new installation."""
    from portal.services import staff
    from portal.services.errors import DomainError

    try:
        staff.create_staff(
            db.session,
            email=email,
            full_name=full_name,
            phone=None,
            position=None,
            role=role,
            password=password,
            actor=None,
            ip=None,
        )
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"created {email} ({role}); sign in at /admin/login")


def register_commands(app: Flask) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(notify_cli)
    app.cli.add_command(billing_cli)
    app.cli.add_command(documents_cli)
    app.cli.add_command(setup)
    app.cli.add_command(scheduler)
