"""The reminder rules (DOMAIN.md "Notifications and reminders"; 002 §18.7, 004 §18): who is
told what and when, planned into the outbox set-based.

Each rule is a query of its recipients: the portal users linked to an account (AccountLink)
and the users of the organisation whose contract it is on, by the channel they chose for
the kind (``preferences``: a confirmed e-mail, or a phone for SMS) and in their language, with a dedup key naming the rule, the period or object and the recipient. The
outbox sends stored bodies, so bodies are rendered before they are stored, in one of two
ways, never with a query per account:

- a rule whose text is the same for everyone (the readings window) is ONE
  ``INSERT … SELECT`` per channel: its bodies are rendered once per language and picked in
  SQL by the user's language; the account number is put in by SQL ``replace`` of a marker;
- a rule whose text carries the figures of one object (a bill's amount and due date, a
  meter's verification date) runs ONE ``SELECT`` per channel, renders each row from what
  the query returned (identical contents once) and stores them all with one executemany
  ``INSERT``.

Both skip keys planned already and insert with ``ON CONFLICT DO NOTHING`` (a second run, or
another worker at the same moment, plans nothing new). Quiet hours and working days apply
through ``earliest_send_time``. The caller commits.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import String, and_, case, cast, exists, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.models import (
    Account,
    AccountLink,
    Bill,
    Booking,
    BookingStatus,
    Channel,
    Contract,
    MessageStatus,
    Meter,
    MeterStatus,
    Office,
    OrganisationMember,
    OutboxMessage,
    Reading,
    User,
)
from portal.services import debt, readings, settings
from portal.services.appeals import escalation
from portal.services.clock import local_now, local_today, supplier_zone, utcnow
from portal.services.months import iso, period_of
from portal.services.notify import preferences
from portal.services.notify.keys import dedup_key
from portal.services.notify.outbox import (
    earliest_send_time,
    link_context,
    render_letter,
    render_message,
    sending_hours,
)

# The account number goes into a window letter by SQL: rendered with this marker in its place.
NUMBER_MARK = "\x1enumber\x1e"
MESSAGE_TABLE = OutboxMessage.__table__


@dataclass(frozen=True)
class Planned:
    rule: str
    channel: Channel
    count: int


@dataclass(frozen=True)
class Rule:
    """``recipients(session, today, channel)`` is the SELECT of its messages (None: the rule
    has nothing to say today); ``context`` the template values of one row (None: the same
    text for everyone, planned by one INSERT … SELECT)."""

    name: str
    recipients: Callable
    context: Callable | None = None
    subject: Callable = field(default=lambda values: "")


# --- recipients ---------------------------------------------------------------------------


def _address(channel: Channel):
    return User.email if channel == Channel.EMAIL else User.phone


def _audience():
    """(user, account) pairs of who is told about an account: the portal users who linked
    it, and the users of the organisation whose contract it is on."""
    linked = select(
        AccountLink.user_id.label("user_id"), AccountLink.account_id.label("account_id")
    )
    via_organisation = (
        select(OrganisationMember.user_id, Account.id)
        .join(Contract, Account.contract_id == Contract.id)
        .join(OrganisationMember, OrganisationMember.organisation_id == Contract.organisation_id)
    )
    return linked.union(via_organisation).subquery("audience")


def _month(column):
    """A period column as "2026-10", the way keys name a month (``months.iso``)."""
    return func.substr(cast(column, String), 1, 7)


def _linked(session: Session, kind: str, channel: Channel, *columns, key):
    """Users told about an open account who want ``kind`` by ``channel`` and can get it
    there (``preferences``), with the message's key; only keys not planned yet."""
    audience = _audience()
    return (
        select(
            User.id.label("user_id"),
            _address(channel).label("recipient"),
            User.language.label("language"),
            key.label("dedup_key"),
            *columns,
        )
        .join(audience, audience.c.user_id == User.id)
        .join(Account, Account.id == audience.c.account_id)
        .where(
            preferences.reachable_by(session, kind, channel, User.id, Account.id),
            Account.closed_on.is_(None),
            ~exists().where(OutboxMessage.dedup_key == key),
        )
    )


def _customer_read(today: date, *conditions):
    """The account has an active meter the customer reads: not read remotely, and not past
    its verification date (then it is out of service, ПП 354 п. 81(12))."""
    return exists().where(
        Meter.account_id == Account.id,
        Meter.status == MeterStatus.ACTIVE,
        Meter.remote_read.is_(False),
        Meter.verification_due >= today,
        *conditions,
    )


def _window_opened(session: Session, today: date, channel: Channel):
    window = readings.window(session, today)
    # A first day missed (the scheduler was down) is caught up on the next days, until the
    # closing reminders start; the key (one per month) keeps it to once.
    lead = settings.get(session, "notify.window_closing_days")
    if not window.opens <= today < window.closes - timedelta(days=lead):
        return None
    key = dedup_key("window_opened", iso(today), "user", User.id, channel.value)
    return (
        _linked(session, "window_opened", channel, key=key)
        .where(_customer_read(today))
        .group_by(User.id)
    )


def _window_closing(session: Session, today: date, channel: Channel):
    window = readings.window(session, today)
    lead = settings.get(session, "notify.window_closing_days")
    if not window.closes - timedelta(days=lead) <= today <= window.closes:
        return None
    unread = ~exists().where(
        Reading.meter_id == Meter.id,
        Reading.period == period_of(today),
        Reading.source.in_(readings.ACTUAL_SOURCES),
        Reading.status.in_(readings.TAKEN_STATUSES),
    )
    key = dedup_key(
        "window_closing", iso(today), "account", Account.id, "user", User.id, channel.value
    )
    return _linked(
        session, "window_closing", channel, Account.number.label("number"), key=key
    ).where(_customer_read(today, unread))


def _bill_issued(session: Session, today: date, channel: Channel):
    key = dedup_key(
        "bill_issued", _month(Bill.period), "account", Account.id, "user", User.id, channel.value
    )
    return _linked(
        session,
        "bill_issued",
        channel,
        Account.id.label("account_id"),
        Account.number.label("number"),
        Bill.period.label("period"),
        Bill.closing_balance.label("amount"),
        Bill.due_on.label("due_on"),
        key=key,
    ).join(
        Bill,
        and_(
            Bill.account_id == Account.id,
            Bill.issued_on.between(
                today - timedelta(days=settings.get(session, "notify.bill_news_days")), today
            ),
        ),
    )


def _payment_due(session: Session, today: date, channel: Channel):
    lead = settings.get(session, "notify.payment_due_days")
    bills = debt.per_bill(today).subquery("per_bill")
    key = dedup_key(
        "payment_due", _month(bills.c.period), "account", Account.id, "user", User.id, channel.value
    )
    return _linked(
        session,
        "payment_due",
        channel,
        Account.id.label("account_id"),
        Account.number.label("number"),
        bills.c.period.label("period"),
        bills.c.unpaid.label("amount"),
        bills.c.due_on.label("due_on"),
        key=key,
    ).join(
        bills,
        and_(
            bills.c.account_id == Account.id,
            bills.c.unpaid > 0,
            bills.c.due_on.between(today, today + timedelta(days=lead)),
        ),
    )


def _meters(session: Session, kind: str, channel: Channel, due):
    key = dedup_key(kind, "meter", Meter.id, Meter.verification_due, "user", User.id, channel.value)
    return _linked(
        session,
        kind,
        channel,
        Account.id.label("account_id"),
        Account.number.label("number"),
        Meter.serial_number.label("serial_number"),
        Meter.service.label("service"),
        Meter.verification_due.label("due_on"),
        key=key,
    ).join(Meter, and_(Meter.account_id == Account.id, Meter.status == MeterStatus.ACTIVE, due))


def _verification_due(session: Session, today: date, channel: Channel):
    lead = settings.get(session, "meters.verification_warning_days")
    due = Meter.verification_due.between(today, today + timedelta(days=lead))
    return _meters(session, "verification_due", channel, due)


def _verification_overdue(session: Session, today: date, channel: Channel):
    return _meters(session, "verification_overdue", channel, Meter.verification_due < today)


def _visit_tomorrow(session: Session, today: date, channel: Channel):
    """Booked visits of tomorrow (the supplier's day), to their customers (004 §8.4)."""
    zone = supplier_zone()
    first = datetime.combine(today + timedelta(days=1), time(0), zone).astimezone(UTC)
    last = datetime.combine(today + timedelta(days=2), time(0), zone).astimezone(UTC)
    key = dedup_key("visit_reminder", Booking.id, Booking.code, "user", User.id, channel.value)
    return (
        select(
            User.id.label("user_id"),
            _address(channel).label("recipient"),
            User.language.label("language"),
            key.label("dedup_key"),
            Booking.id.label("booking_id"),
            Booking.code.label("code"),
            Booking.starts_at.label("starts_at"),
            Booking.service.label("service"),
            Office.name.label("name"),
            Office.address.label("address"),
            Office.phones.label("phones"),
            Office.timezone.label("zone"),
        )
        .join(Booking, Booking.user_id == User.id)
        .join(Office, Office.id == Booking.office_id)
        .where(
            preferences.reachable_by(session, "visit_reminder", channel, User.id, None),
            Booking.status == BookingStatus.BOOKED,
            Booking.starts_at >= first,
            Booking.starts_at < last,
            ~exists().where(OutboxMessage.dedup_key == key),
        )
    )


# --- texts --------------------------------------------------------------------------------


def _url(endpoint: str, **values) -> str:
    from portal.services.users import external_url

    return external_url(endpoint, **values)


def _window_context(session: Session, today: date) -> dict:
    window = readings.window(session, today)
    return {
        "period": period_of(today),
        "opens": window.opens,
        "today": today,
        "closes": window.closes,
        "number": NUMBER_MARK,
        "accounts_url": _url("accounts.index"),
    }


def _bill_context(row) -> dict:
    return {
        "number": row.number,
        "period": row.period,
        "amount": row.amount,
        "due_on": row.due_on,
        "bill_url": _url(
            "bills.show", account_id=row.account_id, year=row.period.year, month=row.period.month
        ),
    }


def _visit_context(row) -> dict:
    from portal.services.visit_letters import letter_values

    return letter_values(
        booking_id=row.booking_id,
        code=row.code,
        starts_at=row.starts_at,
        service=row.service,
        name=row.name,
        address=row.address,
        phones=row.phones,
        zone=row.zone,
    )


def _meter_context(row) -> dict:
    return {
        "number": row.number,
        "serial_number": row.serial_number,
        "service": row.service,
        "due_on": row.due_on,
        "meters_url": _url("accounts.dashboard", account_id=row.account_id),
    }


RULES = {
    rule.name: rule
    for rule in [
        Rule(
            "window_opened",
            _window_opened,
            subject=lambda values: (
                _("Meter readings are accepted from today")
                if values["today"] == values["opens"]
                else _(
                    "Meter readings are accepted until %(date)s",
                    date=values["closes"].strftime("%d.%m.%Y"),
                )
            ),
        ),
        Rule(
            "window_closing",
            _window_closing,
            subject=lambda values: _(
                "Send your meter readings by %(date)s", date=values["closes"].strftime("%d.%m.%Y")
            ),
        ),
        Rule(
            "bill_issued",
            _bill_issued,
            _bill_context,
            lambda values: _("Your bill for account %(number)s", number=values["number"]),
        ),
        Rule(
            "payment_due",
            _payment_due,
            _bill_context,
            lambda values: _("Payment for account %(number)s is due soon", number=values["number"]),
        ),
        Rule(
            "verification_due",
            _verification_due,
            _meter_context,
            lambda values: _("Meter verification is due soon"),
        ),
        Rule(
            "verification_overdue",
            _verification_overdue,
            _meter_context,
            lambda values: _("Meter verification is overdue"),
        ),
        Rule(
            "appeal_due_soon",
            escalation.due_soon,
            escalation.context,
            lambda values: _("Appeal %(number)s is due soon", number=values["number"]),
        ),
        Rule(
            "appeal_overdue",
            escalation.overdue,
            escalation.context,
            lambda values: _("Appeal %(number)s is overdue", number=values["number"]),
        ),
        Rule(
            "visit_reminder",
            _visit_tomorrow,
            _visit_context,
            lambda values: _(
                "Reminder: your visit to the office tomorrow, %(when)s", when=values["when"]
            ),
        ),
    ]
}


def _render(rule: Rule, channel: Channel, values: dict) -> dict:
    if channel == Channel.SMS:
        body = render_message(f"sms/{rule.name}.txt", **values).strip()
        return {"subject": "", "body_text": body, "body_html": None}
    subject = str(rule.subject(values))
    body_text, body_html = render_letter(rule.name, {"subject": subject, **values})
    return {"subject": subject, "body_text": body_text, "body_html": body_html}


# --- planning -----------------------------------------------------------------------------


def _insert(session: Session):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(MESSAGE_TABLE)


def _fixed(rule: Rule, channel: Channel, scheduled_at: datetime, now: datetime) -> dict:
    table = MESSAGE_TABLE.c
    return {
        "kind": literal(rule.name, table.kind.type),
        "channel": literal(channel.value, table.channel.type),
        "scheduled_at": literal(scheduled_at, table.scheduled_at.type),
        "status": literal(MessageStatus.PENDING.value, table.status.type),
        "attempts": literal(0),
        "created_at": literal(now, table.created_at.type),
    }


def _by_language(texts: dict[str, dict], part: str, language, number):
    """The body in the user's language, the account number put in its place."""
    default = current_app.config["BABEL_DEFAULT_LOCALE"]

    def text(language_code):
        value = texts[language_code][part]
        if value is None:
            return literal(None, String)
        value = literal(value, String)
        return func.replace(value, NUMBER_MARK, number) if number is not None else value

    whens = [(language == code, text(code)) for code in texts if code != default]
    return case(*whens, else_=text(default)) if whens else text(default)


def _plan_same_text(session, rule, channel, rows, today, scheduled_at, now) -> int:
    """One INSERT … SELECT: the bodies rendered once per language."""
    values = _window_context(session, today)
    texts = {}
    for code in current_app.config["LANGUAGES"]:
        with force_locale(code):
            texts[code] = _render(rule, channel, values)
    rows = rows.subquery("recipients")
    number = rows.c.number if "number" in rows.c else None
    columns = _fixed(rule, channel, scheduled_at, now) | {
        "recipient": rows.c.recipient,
        "user_id": rows.c.user_id,
        "dedup_key": rows.c.dedup_key,
        **{
            part: _by_language(texts, part, rows.c.language, number)
            for part in ("subject", "body_text", "body_html")
        },
    }
    source = select(*(value.label(name) for name, value in columns.items())).where(
        rows.c.user_id.is_not(None)
    )
    statement = _insert(session).from_select(list(columns), source)
    # Counted by RETURNING: drivers need not report a rowcount for INSERT … SELECT.
    returning = statement.on_conflict_do_nothing().returning(MESSAGE_TABLE.c.id)
    return len(session.execute(returning).all())


def _plan_rows(session, rule, channel, rows, scheduled_at, now) -> int:
    """One SELECT, the bodies rendered from its rows (identical ones once), one executemany."""
    found = session.execute(rows).all()
    if not found:
        return 0
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    rendered: dict[tuple, dict] = {}
    messages = []
    for row in found:
        language = row.language if row.language in current_app.config["LANGUAGES"] else default
        values = rule.context(row)
        content = (language, *values.items())
        if content not in rendered:
            with force_locale(language):
                rendered[content] = _render(rule, channel, values)
        messages.append(
            {
                "kind": rule.name,
                "channel": channel,
                "scheduled_at": scheduled_at,
                "status": MessageStatus.PENDING,
                "attempts": 0,
                "created_at": now,
                "recipient": row.recipient,
                "user_id": row.user_id,
                "dedup_key": row.dedup_key,
                **rendered[content],
            }
        )
    statement = _insert(session).on_conflict_do_nothing().returning(MESSAGE_TABLE.c.id)
    return len(session.execute(statement, messages).all())


def _count(session: Session, rows) -> int:
    return session.scalar(select(func.count()).select_from(rows.subquery()))


def plan(
    session: Session, *, rule: str | None = None, dry_run: bool = False, now: datetime | None = None
) -> list[Planned]:
    """Plan every rule (or the one named) for today; with ``dry_run`` only count what would
    be planned. The caller commits."""
    now = now or utcnow()
    today = local_today()
    hours = sending_hours(session)
    planned = []
    for current in [RULES[rule]] if rule else RULES.values():
        for channel in Channel:
            rows = current.recipients(session, today, channel)
            if rows is None:
                count = 0
            elif dry_run:
                count = _count(session, rows)
            else:
                at = earliest_send_time(current.name, channel, now, hours)
                with link_context():
                    if current.context is None:
                        count = _plan_same_text(session, current, channel, rows, today, at, now)
                    else:
                        count = _plan_rows(session, current, channel, rows, at, now)
            planned.append(Planned(current.name, channel, count))
    session.flush()
    return planned


def due_now(session: Session) -> bool:
    """Whether the day's planning may run: from ``notify.plan_hour`` o'clock local time on.
    The scheduler and beat ask every so often; planning twice plans nothing new."""
    return local_now().hour >= settings.get(session, "notify.plan_hour")
