"""Mass mailings staff compose (a planned outage in a street, a tariff change, news).

The recipients are chosen by a segment of accounts (part of the address, district,
service, debt above an amount, a reading missing this month), then reached like every
reminder: the users told about those accounts (linked, or of the organisation), by the
channel they chose for the campaign's kind (``preferences``), once per user and channel.
Sending plans them ALL as outbox rows in one ``INSERT … SELECT`` per channel (bodies
rendered once per language), with a dedup key per campaign, user and channel: a worker
restart neither loses nor repeats anyone, and a second click plans nothing new. The
dispatcher then sends them under the usual rules (quiet hours for SMS, working days for
tariff news). Pausing holds the rows not yet sent; resuming puts them back; cancelling
cancels them.
"""

from dataclasses import asdict, dataclass
from decimal import Decimal

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import exists, func, literal, select, update
from sqlalchemy.orm import Session

from portal.models import (
    NOTICE_KINDS,
    Account,
    AccountService,
    Campaign,
    CampaignStatus,
    Channel,
    MessageStatus,
    Meter,
    OutboxMessage,
    Premises,
    Reading,
    Service,
    User,
)
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, debt, readings
from portal.services.clock import local_today, utcnow
from portal.services.customers import clean_term, text_matches
from portal.services.errors import DomainError, FieldErrors, NotFound
from portal.services.months import period_of
from portal.services.notify import reminders
from portal.services.notify.keys import dedup_key
from portal.services.notify.outbox import (
    earliest_send_time,
    link_context,
    render_letter,
    render_message,
    sending_hours,
)

# GSM 03.38's basic set: an SMS of only these goes as 7-bit text.
GSM_CHARACTERS = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
MAX_SUBJECT = 200
MAX_BODY = 4000
# Two segments of Cyrillic (UCS-2, 67 characters each when split): an SMS of a mailing
# must fit them (issue #10).
MAX_SMS = 134


@dataclass(frozen=True)
class Segment:
    """Which accounts a campaign is about; an empty segment is every open account."""

    address: str = ""
    district: str = ""
    service: str = ""
    debt_above: str = ""
    reading_missing: bool = False


def campaign_kinds():
    return [kind for kind in NOTICE_KINDS.values() if kind.campaign]


def _segment_conditions(session: Session, segment: Segment) -> list:
    today = local_today()
    conditions = []
    if term := clean_term(segment.address):
        conditions.append(
            exists().where(Premises.id == Account.premises_id, text_matches(Premises.address, term))
        )
    if segment.district:
        conditions.append(
            exists().where(
                Premises.id == Account.premises_id, Premises.district == segment.district
            )
        )
    if segment.service:
        conditions.append(
            exists().where(
                AccountService.account_id == Account.id, AccountService.service == segment.service
            )
        )
    if segment.debt_above:
        bills = debt.per_bill(today).subquery("per_bill")
        owed = (
            select(func.coalesce(func.sum(bills.c.unpaid), 0))
            .where(bills.c.account_id == Account.id, bills.c.due_on < today)
            .scalar_subquery()
        )
        conditions.append(owed > Decimal(segment.debt_above))
    if segment.reading_missing:
        unread = ~exists().where(
            Reading.meter_id == Meter.id,
            Reading.period == period_of(today),
            Reading.source.in_(readings.ACTUAL_SOURCES),
            Reading.status.in_(readings.TAKEN_STATUSES),
        )
        conditions.append(reminders._customer_read(today, unread))
    return conditions


def _recipients(session: Session, campaign_key, kind: str, channel: Channel, segment: Segment):
    key = dedup_key("campaign", campaign_key, "user", User.id, channel.value)
    return (
        reminders._linked(session, kind, channel, key=key)
        .where(*_segment_conditions(session, segment))
        .group_by(User.id)
    )


def clean_segment(raw: dict) -> Segment:
    """A segment as staff typed it, checked: refusals next to their fields."""
    errors = {}
    debt_above = str(raw.get("debt_above") or "").strip().replace(",", ".").replace(" ", "")
    if debt_above:
        try:
            if Decimal(debt_above) < 0 or len(debt_above) > 12:
                raise ValueError
        except (ArithmeticError, ValueError):
            errors["debt_above"] = _("Enter an amount in roubles, for example 5000.")
    service = raw.get("service") or ""
    if service and service not in Service.values():
        errors["service"] = _("Choose a service from the list.")
    if errors:
        raise FieldErrors(errors)
    return Segment(
        address=clean_term(raw.get("address")),
        district=clean_term(raw.get("district")),
        service=service,
        debt_above=debt_above,
        reading_missing=bool(raw.get("reading_missing")),
    )


def preview(session: Session, kind: str, segment: Segment) -> dict[Channel, int]:
    """How many people each channel would reach (those who turned the kind off are not
    counted)."""
    counts = {}
    for channel in Channel:
        rows = _recipients(session, "preview", kind, channel, segment).subquery()
        counts[channel] = session.scalar(select(func.count()).select_from(rows))
    return counts


def sms_length(text: str) -> tuple[int, int, str]:
    """Characters, segments and encoding of an SMS: GSM-7 fits 160 (153 a part when
    split), anything else goes as UCS-2, 70 (67 a part)."""
    gsm = set(text) <= GSM_CHARACTERS
    single, part = (160, 153) if gsm else (70, 67)
    length = len(text)
    segments = 1 if length <= single else -(-length // part)
    return length, segments, "GSM-7" if gsm else "UCS-2"


def check_texts(kind: str, subject: str, body: str, sms_text: str) -> tuple[str, str, str]:
    errors = {}
    subject, body = (subject or "").strip(), (body or "").strip().replace("\r\n", "\n")
    sms_text = " ".join((sms_text or "").split())
    if not sms_text:
        errors["sms_text"] = _("Write the SMS for those who get notices by SMS.")
    elif sms_length(sms_text)[1] > 2:
        errors["sms_text"] = _(
            "The SMS must fit two segments: %(count)s characters of Cyrillic.", count=MAX_SMS
        )
    if kind not in {item.name for item in campaign_kinds()}:
        errors["kind"] = _("Choose what the mailing is about.")
    if not subject:
        errors["subject"] = _("Write the subject of the letter.")
    elif len(subject) > MAX_SUBJECT:
        errors["subject"] = _("At most %(count)s characters.", count=MAX_SUBJECT)
    if not body:
        errors["body"] = _("Write the text.")
    elif len(body) > MAX_BODY:
        errors["body"] = _("At most %(count)s characters.", count=MAX_BODY)
    if errors:
        raise FieldErrors(errors)
    return subject, body, sms_text


def _texts(campaign: Campaign, channel: Channel) -> dict[str, dict]:
    """The bodies in each language: the staff's text, the letter's frame in the reader's
    language (its footer, the unsubscribe link)."""
    texts = {}
    for code in current_app.config["LANGUAGES"]:
        with force_locale(code):
            if channel == Channel.SMS:
                body = render_message("sms/campaign.txt", text=campaign.sms_text).strip()
                texts[code] = {"subject": "", "body_text": body, "body_html": None}
                continue
            context = {"subject": campaign.subject, "body": campaign.body}
            body_text, body_html = render_letter(campaign.kind, context, template="campaign")
            texts[code] = {
                "subject": campaign.subject,
                "body_text": body_text,
                "body_html": body_html,
            }
    return texts


def _plan_channel(session: Session, campaign: Campaign, channel: Channel, hours, now) -> int:
    rows = _recipients(session, campaign.id, campaign.kind, channel, campaign_segment(campaign))
    rows = rows.subquery("recipients")
    texts = _texts(campaign, channel)
    at = earliest_send_time(campaign.kind, channel, now, hours)
    rule = reminders.Rule(campaign.kind, None)
    columns = reminders._fixed(rule, channel, at, now) | {
        "recipient": rows.c.recipient,
        "user_id": rows.c.user_id,
        "dedup_key": rows.c.dedup_key,
        "campaign_id": literal(campaign.id),
        **{
            part: reminders._by_language(texts, part, rows.c.language, None)
            for part in ("subject", "body_text", "body_html")
        },
    }
    # The WHERE is SQLite's: without it "ON CONFLICT" would parse as a join's ON.
    source = select(*(value.label(name) for name, value in columns.items())).where(
        rows.c.user_id.is_not(None)
    )
    statement = reminders._insert(session).from_select(list(columns), source)
    returning = statement.on_conflict_do_nothing().returning(OutboxMessage.id)
    return len(session.execute(returning).all())


def campaign_segment(campaign: Campaign) -> Segment:
    return Segment(**{key: value for key, value in (campaign.segment or {}).items()})


def start(
    session: Session,
    *,
    kind: str,
    subject: str,
    body: str,
    sms_text: str,
    segment: Segment,
    staff_id: int,
    request_key: str | None = None,
    ip: str | None = None,
) -> Campaign:
    """Create the campaign and plan every recipient into the outbox, audited. The caller
    commits (the rows and the campaign together: nobody is planned for a campaign that
    does not exist). The same form sent twice (``request_key``) is the first campaign."""
    if request_key and (
        earlier := session.scalar(select(Campaign).filter_by(request_key=request_key))
    ):
        return earlier
    subject, body, sms_text = check_texts(kind, subject, body, sms_text)
    campaign = Campaign(
        kind=kind,
        subject=subject,
        body=body,
        sms_text=sms_text,
        segment=asdict(segment),
        staff_id=staff_id,
        request_key=request_key or None,
    )
    session.add(campaign)
    session.flush()
    now, hours = utcnow(), sending_hours(session)
    with link_context():
        campaign.planned = sum(
            _plan_channel(session, campaign, channel, hours, now) for channel in Channel
        )
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=AuditObject.CAMPAIGN,
        object_id=campaign.id,
        summary=f"{kind}: {subject} → {campaign.planned}",
        ip_address=ip,
    )
    session.flush()
    return campaign


def get(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound()
    return campaign


@dataclass(frozen=True)
class Progress:
    total: int
    waiting: int  # pending or being sent
    held: int
    sent: int  # sent, delivered or not delivered: the provider took them
    delivered: int
    failed: int
    cancelled: int
    by_channel: dict

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.cancelled

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.done / self.total)

    @property
    def finished(self) -> bool:
        return self.waiting == 0 and self.held == 0


SENT = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)


def progress(session: Session, campaign: Campaign) -> Progress:
    """Where the campaign's messages are, by status and channel (one GROUP BY)."""
    rows = session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(OutboxMessage.campaign_id == campaign.id)
        .group_by(OutboxMessage.channel, OutboxMessage.status)
    ).all()
    totals: dict = {}
    by_channel: dict = {channel: {} for channel in Channel}
    for channel, status, count in rows:
        totals[status] = totals.get(status, 0) + count
        by_channel[channel][status] = count

    def of(*statuses):
        return sum(totals.get(status, 0) for status in statuses)

    return Progress(
        total=sum(totals.values()),
        waiting=of(MessageStatus.PENDING, MessageStatus.SENDING),
        held=of(MessageStatus.HELD),
        sent=of(*SENT),
        delivered=of(MessageStatus.DELIVERED),
        failed=of(MessageStatus.FAILED),
        cancelled=of(MessageStatus.CANCELLED),
        by_channel=by_channel,
    )


MOVES = {
    # action: (campaign status it needs, new campaign status, rows from, rows to)
    "pause": (
        CampaignStatus.SENDING,
        CampaignStatus.PAUSED,
        (MessageStatus.PENDING,),
        MessageStatus.HELD,
    ),
    "resume": (
        CampaignStatus.PAUSED,
        CampaignStatus.SENDING,
        (MessageStatus.HELD,),
        MessageStatus.PENDING,
    ),
    "cancel": (
        None,
        CampaignStatus.CANCELLED,
        (MessageStatus.PENDING, MessageStatus.HELD),
        MessageStatus.CANCELLED,
    ),
}


def move(session: Session, campaign: Campaign, action: str, staff_id: int, ip=None) -> int:
    """Pause, resume or cancel: the messages not sent yet move in one UPDATE (one being
    sent at this moment still goes). How many moved; audited, the caller commits."""
    if action not in MOVES:
        raise NotFound()
    needed, new_status, sources, target = MOVES[action]
    if campaign.status == CampaignStatus.CANCELLED or (needed and campaign.status != needed):
        raise DomainError(_("The mailing cannot be changed so now."))
    moved = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.campaign_id == campaign.id, OutboxMessage.status.in_(sources))
        .values(status=target)
        .execution_options(synchronize_session=False)
    ).rowcount
    changes = audit.diff({"status": campaign.status}, {"status": new_status})
    campaign.status = new_status
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.CAMPAIGN,
        object_id=campaign.id,
        summary=f"{campaign.subject}: {action}, {moved} messages",
        changes=changes,
        ip_address=ip,
    )
    session.flush()
    return moved


def campaigns_list():
    return select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
