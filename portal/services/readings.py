"""Meter readings: the submission window, validation, submission, review, history and the
acceptance figure. One service for the portal, the back office and the import.

Rules (DOMAIN.md, "Meter readings"): decimals up to the meter's fraction digits; never below
the last accepted reading unless the register rolled over past its capacity; a consumption
far above the meter's own average is accepted for review once the customer confirms it;
remote-read and faulty meters take no customer readings; customers submit inside the window.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import groupby
from operator import itemgetter

from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from sqlalchemy import and_, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased, selectinload

from portal.formatting import as_date_ending, as_ordinal
from portal.models import Account, Meter, MeterStatus, Reading, ReadingSource, ReadingStatus, Zone
from portal.models.audit import AuditAction, AuditObject
from portal.models.metering import ZONE_NAMES
from portal.services import audit, clock, months, settings
from portal.services.errors import DomainError, FieldErrors, NotFound
from portal.services.numbers import parse_decimal

# Sources whose values are real register readings; estimated and norm values are not.
ACTUAL_SOURCES = tuple(source for source in ReadingSource if not source.is_estimate)
STAFF_SOURCES = (ReadingSource.OPERATOR, ReadingSource.CONTROLLER)
LIVE_STATUSES = (ReadingStatus.ACCEPTED, ReadingStatus.PENDING_REVIEW)
# Every status but rejected: a reading taken, whatever became of it after review.
TAKEN_STATUSES = (*LIVE_STATUSES, ReadingStatus.SUPERSEDED)
CONFIRM = "confirm"  # the verdict that stores nothing until the sender confirms the value

MAX_REASON_LENGTH = 300  # a reviewer's reason; stored with a prefix in a 400-character column
MAX_ID = 2**63 - 1  # larger ids exist in no table (and overflow SQLite's integers)
MAX_RECEIPT_READINGS = max(len(zones) for zones in ZONE_NAMES.values())  # one per zone


def history_depth(session: Session) -> int:
    """Readings that make the average: the setting's months of consumption plus the one
    they are counted from."""
    return settings.get(session, "readings.average_months") + 1


# --- the window -----------------------------------------------------------------------


def _day_of_month(day: date, number: int) -> date:
    """The ``number``th of ``day``'s month, or the month's last day when it is shorter."""
    return day.replace(day=min(number, months.month_end(day).day))


@dataclass(frozen=True)
class Window:
    first_day: int
    last_day: int
    today: date

    @property
    def opens(self) -> date:
        return _day_of_month(self.today, self.first_day)

    @property
    def closes(self) -> date:
        return _day_of_month(self.today, self.last_day)

    @property
    def is_open(self) -> bool:
        return self.opens <= self.today <= self.closes

    @property
    def next_opening(self) -> date:
        if self.today < self.opens:
            return self.opens
        return _day_of_month(months.add_months(self.today, 1), self.first_day)


def window(session: Session, today: date | None = None) -> Window:
    return Window(
        settings.get(session, "readings.window_first_day"),
        settings.get(session, "readings.window_last_day"),
        today or clock.local_today(),
    )


def window_closed_message(current: Window) -> str:
    return _(
        "Readings are accepted from the %(first)s to the %(last)s of each month. The window opens on %(date)s.",
        first=as_ordinal(current.first_day),
        last=as_ordinal(current.last_day),
        date=as_date_ending(current.next_opening),
    )


# --- validation -----------------------------------------------------------------------


def parse_value(raw: str | None, field: str | None = None) -> Decimal:
    """A register value as typed (``numbers.parse_decimal``: spaces ignored, a comma or a
    point before the decimals), with the refusals worded for a meter reading."""
    text = str(raw if raw is not None else "")
    if not text.strip():
        raise DomainError(_("Enter the value shown on the meter."), field)
    try:
        return parse_decimal(text, field=field)
    except DomainError:
        raise DomainError(_("Enter the reading as a number, for example 12345,6."), field) from None


class ZoneErrors(FieldErrors):
    """Several zones of one submission are wrong: ``errors`` maps each zone (or the form
    field it was typed in) to its message."""


@dataclass(frozen=True)
class Previous:
    """The last accepted actual reading of a meter zone before the period, and the average."""

    value: Decimal
    taken_on: date
    period: date
    average: Decimal | None  # monthly consumption; None with too little history


@dataclass(frozen=True)
class Verdict:
    outcome: str  # a ReadingStatus (accepted, pending_review, rejected) or CONFIRM
    reason: str | None = None
    consumption: Decimal | None = None
    # Which rule spoke: faulty, removed, remote_read, negative, too_large, decimals,
    # lower (below the last reading, no rollover), above_usual (confirm / pending_review).
    code: str | None = None

    @property
    def asks_confirmation(self) -> bool:
        """Nothing is stored: the value is far above the usual and needs the sender's word."""
        return self.outcome == CONFIRM

    @property
    def rejected(self) -> bool:
        return self.outcome == ReadingStatus.REJECTED


# Rules about the value alone: such a value is a typing error, never stored.
VALUE_CODES = ("negative", "too_large", "decimals")
# Rules about the meter: it takes no readings of this source at all.
METER_CODES = (MeterStatus.FAULTY, MeterStatus.REMOVED, "remote_read")


def judge(
    meter: Meter,
    value: Decimal,
    previous: Previous | None,
    *,
    period: date,
    source: str,
    threshold: Decimal,
    rollover_share: Decimal,
    confirmed: bool = False,
) -> Verdict:
    """The verdict on one value of one zone. Pure: no database, no clock."""
    refusal = meter_refusal(meter, source) or value_refusal(meter, value)
    if refusal is not None:
        return refusal
    if previous is None:
        return Verdict(ReadingStatus.ACCEPTED)
    capacity = Decimal(10) ** meter.whole_digits
    consumption = value - previous.value
    if consumption < 0:
        consumption += capacity
        if consumption > capacity * rollover_share:
            return Verdict(
                ReadingStatus.REJECTED,
                _(
                    "The reading is lower than the last accepted one (%(value)s on %(date)s).",
                    value=_plain(previous.value),
                    date=format_date(previous.taken_on),
                ),
                code="lower",
            )
    elapsed = max(months.months_between(previous.period, period), 1)
    if (previous.average or 0) > 0 and consumption > previous.average * elapsed * threshold:
        return _above_usual(consumption, threshold, confirmed)
    return Verdict(ReadingStatus.ACCEPTED, None, consumption)


def _above_usual(consumption: Decimal, threshold: Decimal, confirmed: bool) -> Verdict:
    """Far above the meter's own average: the sender confirms it first, then it is reviewed."""
    if not confirmed:
        return Verdict(
            CONFIRM,
            _(
                "The consumption of %(consumption)s is more than %(times)s times your usual. Check the value; if it is right, confirm it and a specialist will review it.",
                consumption=_plain(consumption),
                times=_plain(threshold),
            ),
            consumption,
            "above_usual",
        )
    return Verdict(
        ReadingStatus.PENDING_REVIEW,
        _("Consumption far above the usual: sent for review."),
        consumption,
        "above_usual",
    )


def meter_refusal(meter: Meter, source: str) -> Verdict | None:
    """Why the meter takes no reading from this source at all, or None. Pure."""
    if meter.status == MeterStatus.FAULTY:
        return Verdict(
            ReadingStatus.REJECTED,
            _(
                "The meter is marked faulty: readings are not accepted until it is repaired or replaced."
            ),
            code=MeterStatus.FAULTY,
        )
    if meter.status == MeterStatus.REMOVED:
        return Verdict(
            ReadingStatus.REJECTED, _("The meter has been removed."), code=MeterStatus.REMOVED
        )
    if meter.remote_read and source == ReadingSource.CUSTOMER:
        return Verdict(
            ReadingStatus.REJECTED,
            _("This meter is read remotely: there is no need to send its readings."),
            code="remote_read",
        )
    return None


def value_refusal(meter: Meter, value: Decimal) -> Verdict | None:
    """Why the value cannot be a register value of this meter, or None. Pure."""
    if value < 0:
        return Verdict(ReadingStatus.REJECTED, _("A reading cannot be negative."), code="negative")
    if value >= Decimal(10) ** meter.whole_digits:
        return Verdict(
            ReadingStatus.REJECTED,
            ngettext(
                "The meter has %(num)s whole digit: the value is too large.",
                "The meter has %(num)s whole digits: the value is too large.",
                meter.whole_digits,
            ),
            code="too_large",
        )
    if -value.as_tuple().exponent > meter.fraction_digits and value != value.quantize(
        Decimal(1).scaleb(-meter.fraction_digits)
    ):
        if meter.fraction_digits == 0:
            message = _("This meter shows whole numbers only.")
        else:
            message = ngettext(
                "This meter shows at most %(num)s digit after the decimal point.",
                "This meter shows at most %(num)s digits after the decimal point.",
                meter.fraction_digits,
            )
        return Verdict(ReadingStatus.REJECTED, message, code="decimals")
    return None


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f").replace(".", ",")


# --- history lookups ------------------------------------------------------------------


KEY_CHUNK = 10_000  # values per IN (…) list: SQLite allows 32 766 bound parameters


def one_of(session: Session, column, values: list) -> list:
    """Conditions ``column`` is one of ``values``, one query each. PostgreSQL gets the values
    as one array parameter (a single query; tens of thousands of separate parameters would
    cost more to send and to parse than the query itself); other databases bind each value,
    KEY_CHUNK at a time, to stay under their limit on bound parameters."""
    if not values:
        return []
    if session.connection().dialect.name == "postgresql":
        return [column == any_(bindparam("values", values, ARRAY(column.type), unique=True))]
    return [
        column.in_(values[start : start + KEY_CHUNK]) for start in range(0, len(values), KEY_CHUNK)
    ]


def previous_readings(
    session: Session, meter_ids: list[int], period: date
) -> dict[tuple[int, str], Previous]:
    """For each (meter, zone): the last accepted actual reading before ``period`` and the
    average monthly consumption over the readings before it. One query for all meters
    (on SQLite one per KEY_CHUNK meters)."""
    # Core columns: plain rows, no ORM loading (an import asks for a hundred thousand).
    readings = Reading.__table__.c
    depth = history_depth(session)
    found = {}
    for condition in one_of(session, readings.meter_id, list(meter_ids)):
        ranked = (
            select(
                readings.meter_id,
                readings.zone,
                readings.value,
                readings.taken_on,
                readings.period,
                readings.consumption,
                func.row_number()
                .over(
                    partition_by=(readings.meter_id, readings.zone),
                    order_by=(readings.period.desc(), readings.taken_on.desc(), readings.id.desc()),
                )
                .label("rank"),
            )
            .where(
                condition,
                readings.status == ReadingStatus.ACCEPTED,
                readings.source.in_(ACTUAL_SOURCES),
                readings.period < period,
            )
            .subquery()
        )
        # Each meter zone's rows together, newest first: nearly the window's own order,
        # cheaper for the database than sorting every row by rank.
        rows = session.execute(
            select(ranked)
            .where(ranked.c.rank <= depth)
            .order_by(ranked.c.meter_id, ranked.c.zone, ranked.c.rank)
        ).all()
        for key, history in groupby(rows, key=itemgetter(0, 1)):
            found[key] = _previous_from(list(history))
    return found


def _previous_from(history: list) -> Previous:
    """``history`` is newest first. The average is the consumption between the oldest and
    the newest reading spread over the months between them."""
    newest, oldest = history[0], history[-1]
    spread = months.months_between(oldest.period, newest.period)
    average = None
    if spread > 0:
        consumed = sum((row.consumption or Decimal(0)) for row in history[:-1])
        average = consumed / spread
    return Previous(newest.value, newest.taken_on, newest.period, average)


# --- submission -----------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    zone: str
    value: Decimal
    verdict: Verdict
    reading_id: int | None = None


def submit(
    session: Session,
    meter: Meter,
    values: dict[str, str],
    *,
    source: str,
    taken_on: date | None = None,
    user_id: int | None = None,
    staff_id: int | None = None,
    confirmed: bool = False,
    ip: str | None = None,
) -> list[Receipt]:
    """Judge and store one reading per zone of a meter; the caller commits.

    Customers submit inside the window only. When a zone needs the sender's confirmation
    nothing is stored and the receipts say so (outcome CONFIRM). A stored reading
    supersedes the live readings of the same zone and period; history keeps them all.
    A reading staff enter by hand (operator, controller) is audited.
    """
    today = clock.local_today()
    taken_on = taken_on or today
    _check_submission(session, meter, values, source=source, taken_on=taken_on, today=today)
    period = months.period_of(taken_on)
    parsed = _parse_values(meter, values)
    verdicts = _judge_values(session, meter, parsed, period, source, confirmed)
    if any(verdict.asks_confirmation for verdict in verdicts.values()):
        return [Receipt(zone, parsed[zone], verdicts[zone]) for zone in parsed]
    receipts = [
        _store(
            session,
            meter,
            Reading(
                zone=zone,
                period=period,
                taken_on=taken_on,
                value=value,
                source=source,
                submitted_by_user_id=user_id,
                entered_by_staff_id=staff_id,
            ),
            verdicts[zone],
        )
        for zone, value in parsed.items()
    ]
    if staff_id is not None and source in STAFF_SOURCES:
        _audit_entry(session, meter, receipts, source, staff_id, ip)
    session.flush()
    return receipts


def _check_submission(session, meter, values, *, source, taken_on: date, today: date) -> None:
    """Refuse the submission as a whole: outside the window (customers), a meter the
    customer cannot read, a date in the future, zones the meter lacks or misses."""
    if source == ReadingSource.CUSTOMER:
        current = window(session, today)
        if not current.is_open:
            raise DomainError(window_closed_message(current))
        refusal = customer_refusal(meter, today)
        if refusal is not None:
            raise DomainError(refusal)
    if taken_on > today:
        raise DomainError(_("The reading date cannot be in the future."), "taken_on")
    lapsed = verification_refusal(meter, taken_on)
    if lapsed is not None:
        raise DomainError(lapsed, "taken_on")
    unknown = set(values) - set(meter.zone_names)
    # A customer reads the whole register; staff may enter one zone (an import line).
    missing = set(meter.zone_names) - set(values) if source == ReadingSource.CUSTOMER else set()
    if unknown or missing or not values:
        raise DomainError(_("Enter a value for every tariff zone of the meter."))


def _parse_values(meter: Meter, values: dict[str, str]) -> dict[str, Decimal]:
    """Every zone's value, or ZoneErrors naming each zone whose value is a typing error
    (not a number, negative, too large, too many decimals): those are never stored."""
    parsed: dict[str, Decimal] = {}
    errors: dict[str, str] = {}
    for zone, raw in values.items():
        try:
            value = parse_value(raw, zone)
        except DomainError as error:
            errors[zone] = error.message
            continue
        problem = value_refusal(meter, value)
        if problem is not None:
            errors[zone] = problem.reason
        else:
            parsed[zone] = value
    if errors:
        raise ZoneErrors(errors)
    return parsed


def _judge_values(
    session: Session,
    meter: Meter,
    values: dict[str, Decimal],
    period: date,
    source: str,
    confirmed: bool,
) -> dict[str, Verdict]:
    """The verdict on each zone's value against the meter's history before the period."""
    previous = previous_readings(session, [meter.id], period) if meter.id is not None else {}
    threshold = settings.get(session, "readings.review_threshold")
    share = settings.get(session, "readings.rollover_share")
    return {
        zone: judge(
            meter,
            value,
            previous.get((meter.id, zone)),
            period=period,
            source=source,
            threshold=threshold,
            rollover_share=share,
            confirmed=confirmed,
        )
        for zone, value in values.items()
    }


def refusals(
    session: Session, meter: Meter, values: dict[str, str], *, taken_on: date, source: str
) -> dict[str, str]:
    """What the rules would refuse of these values, by zone, before anything is stored: a
    typing error, or a value the meter or its history rules out (a value only far above
    the usual is let through: staff confirm what they typed from an act). The meter may be
    one not stored yet (a meter being registered)."""
    try:
        parsed = _parse_values(meter, values)
    except ZoneErrors as error:
        return error.errors
    verdicts = _judge_values(
        session, meter, parsed, months.period_of(taken_on), source, confirmed=True
    )
    return {zone: verdict.reason for zone, verdict in verdicts.items() if verdict.rejected}


def verification_refusal(meter: Meter, day: date) -> str | None:
    """Why a reading taken on ``day`` is refused because the meter's state verification
    (поверка) has lapsed, or None. From the day after the due date the meter is out of
    service (ПП 354 п. 81(12)) and is charged as if no reading came (п. 59, 60). Pure."""
    if meter.verification_due is None or day <= meter.verification_due:
        return None
    return _(
        "The meter's state verification was due by %(date)s: since then it is out of service "
        "and its readings are not accepted. Call us to have it verified or replaced; until "
        "then the charge is worked out from your average consumption, then by the norm.",
        date=format_date(meter.verification_due, "long"),
    )


def customer_refusal(meter: Meter, today: date | None = None) -> str | None:
    """Why the customer cannot send readings of this meter at all (whatever the window),
    or None. The portal shows this instead of the form."""
    refusal = meter_refusal(meter, ReadingSource.CUSTOMER)
    if refusal is not None:
        return refusal.reason
    if meter.account.closed_on is not None:
        return _("The account is closed: readings are not accepted.")
    return verification_refusal(meter, today or clock.local_today())


def _store(session: Session, meter: Meter, reading: Reading, verdict: Verdict) -> Receipt:
    """Store a reading of the meter as judged; a live one supersedes the zone's live ones."""
    if verdict.outcome in LIVE_STATUSES:
        supersede(session, meter.id, reading.zone, reading.period)
    reading.meter_id = meter.id
    reading.consumption = verdict.consumption
    reading.status = verdict.outcome
    reading.reason = verdict.reason
    session.add(reading)
    session.flush()
    return Receipt(reading.zone, reading.value, verdict, reading.id)


def _audit_entry(session, meter: Meter, receipts: list[Receipt], source, staff_id, ip) -> None:
    """Readings staff entered by hand: one audit record each."""
    for receipt in receipts:
        audit.record(
            session,
            staff_id=staff_id,
            action=AuditAction.CREATE,
            object_type=AuditObject.READING,
            object_id=receipt.reading_id,
            summary=f"{meter.serial_number} · {receipt.zone}: {_plain(receipt.value)} ({source})",
            changes={
                "value": [None, str(receipt.value)],
                "status": [None, receipt.verdict.outcome],
            },
            ip_address=ip,
        )


def supersede(session: Session, meter_id: int, zone: str, period: date) -> None:
    session.execute(
        update(Reading)
        .where(
            Reading.meter_id == meter_id,
            Reading.zone == zone,
            Reading.period == period,
            Reading.status.in_(LIVE_STATUSES),
        )
        .values(status=ReadingStatus.SUPERSEDED)
        .execution_options(synchronize_session=False)
    )


def check(session: Session, meter: Meter, zone: str, raw: str, source: str) -> Verdict:
    """The verdict a value would get now, for validation as the customer types."""
    if zone not in meter.zone_names:
        raise NotFound()
    value = parse_value(raw, zone)
    period = months.period_of(clock.local_today())
    previous = previous_readings(session, [meter.id], period).get((meter.id, zone))
    return judge(
        meter,
        value,
        previous,
        period=period,
        source=source,
        threshold=settings.get(session, "readings.review_threshold"),
        rollover_share=settings.get(session, "readings.rollover_share"),
    )


# --- review ---------------------------------------------------------------------------


def review_queue(session: Session):
    return (
        select(Reading)
        .where(Reading.status == ReadingStatus.PENDING_REVIEW)
        .options(
            selectinload(Reading.meter).selectinload(Meter.account).selectinload(Account.premises)
        )
        .order_by(Reading.created_at)
    )


def _pending(session: Session, reading_id: int) -> Reading:
    reading = session.get(Reading, reading_id) if 0 < reading_id <= MAX_ID else None
    if reading is None:
        raise NotFound()
    if reading.status != ReadingStatus.PENDING_REVIEW:
        raise DomainError(_("This reading has already been reviewed."))
    return reading


def _reason(reason: str | None, missing: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(missing, "reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise DomainError(
            _("Keep the reason under %(n)s characters.", n=MAX_REASON_LENGTH), "reason"
        )
    return reason


def _review(
    session: Session,
    reading: Reading,
    status: str,
    reason: str,
    *,
    staff_id: int,
    summary: str,
    changes: dict,
    ip: str | None,
) -> None:
    """A reading under review decided: its status and reason, who and when; audited."""
    reading.status = status
    reading.reason = reason
    reading.reviewed_by_staff_id = staff_id
    reading.reviewed_at = clock.utcnow()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.READING,
        object_id=reading.id,
        summary=f"{reading.meter.serial_number} · {reading.zone}: {summary}",
        changes={"status": [ReadingStatus.PENDING_REVIEW, status]} | changes,
        ip_address=ip,
    )
    session.flush()


def accept(session: Session, reading_id: int, staff_id: int, *, ip: str | None = None) -> Reading:
    reading = _pending(session, reading_id)
    _review(
        session,
        reading,
        ReadingStatus.ACCEPTED,
        _("Accepted after review."),
        staff_id=staff_id,
        summary=_plain(reading.value),
        changes={},
        ip=ip,
    )
    return reading


def reject(
    session: Session, reading_id: int, staff_id: int, reason: str, *, ip: str | None = None
) -> Reading:
    reason = _reason(reason, _("Give the reason for the refusal: the customer will see it."))
    reading = _pending(session, reading_id)
    _review(
        session,
        reading,
        ReadingStatus.REJECTED,
        reason,
        staff_id=staff_id,
        summary=f"{_plain(reading.value)} — {reason}",
        changes={"reason": [None, reason]},
        ip=ip,
    )
    return reading


def correct(
    session: Session,
    reading_id: int,
    staff_id: int,
    raw_value: str,
    reason: str,
    *,
    ip: str | None = None,
) -> Reading:
    """Replace a reading under review with a corrected value; the original stays in history."""
    reason = _reason(reason, _("Give the reason for the correction: the customer will see it."))
    original = _pending(session, reading_id)
    value = parse_value(raw_value, "value")
    previous = previous_readings(session, [original.meter_id], original.period)
    verdict = judge(
        original.meter,
        value,
        previous.get((original.meter_id, original.zone)),
        period=original.period,
        source=ReadingSource.OPERATOR,
        threshold=settings.get(session, "readings.review_threshold"),
        rollover_share=settings.get(session, "readings.rollover_share"),
        confirmed=True,
    )
    if verdict.rejected:
        raise DomainError(verdict.reason, "value")
    _review(
        session,
        original,
        ReadingStatus.SUPERSEDED,
        reason,
        staff_id=staff_id,
        summary=f"{_plain(original.value)} → {_plain(value)} — {reason}",
        changes={"value": [str(original.value), str(value)], "reason": [None, reason]},
        ip=ip,
    )
    corrected = Reading(
        meter_id=original.meter_id,
        zone=original.zone,
        period=original.period,
        taken_on=original.taken_on,
        value=value,
        consumption=verdict.consumption,
        source=original.source,
        status=ReadingStatus.ACCEPTED,
        reason=_("Corrected by a specialist: %(reason)s", reason=reason),
        submitted_by_user_id=original.submitted_by_user_id,
        entered_by_staff_id=original.entered_by_staff_id,
        reviewed_by_staff_id=staff_id,
        reviewed_at=original.reviewed_at,
        corrects_id=original.id,
    )
    session.add(corrected)
    session.flush()
    return corrected


def previous_for(session: Session, readings: list[Reading]) -> dict[int, Previous]:
    """For each given reading (by id): the last accepted actual reading of its meter zone
    before the reading's own period, and the average. One query, whatever the periods."""
    ids = [reading.id for reading in readings]
    if not ids:
        return {}
    asked = aliased(Reading)
    ranked = (
        select(
            asked.id.label("for_id"),
            Reading.value,
            Reading.taken_on,
            Reading.period,
            Reading.consumption,
            func.row_number()
            .over(
                partition_by=asked.id,
                order_by=(Reading.period.desc(), Reading.taken_on.desc(), Reading.id.desc()),
            )
            .label("rank"),
        )
        .select_from(asked)
        .join(
            Reading,
            and_(
                Reading.meter_id == asked.meter_id,
                Reading.zone == asked.zone,
                Reading.period < asked.period,
            ),
        )
        .where(
            asked.id.in_(ids),
            Reading.status == ReadingStatus.ACCEPTED,
            Reading.source.in_(ACTUAL_SOURCES),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked).where(ranked.c.rank <= history_depth(session)).order_by(ranked.c.rank)
    ).all()
    by_reading: dict[int, list] = defaultdict(list)
    for row in rows:
        by_reading[row.for_id].append(row)
    return {reading_id: _previous_from(history) for reading_id, history in by_reading.items()}


# --- what people read -----------------------------------------------------------------


def last_readings(session: Session, meter_ids: list[int]) -> dict[tuple[int, str], Reading]:
    """The newest accepted reading (actual or estimated) of each (meter, zone). One query."""
    if not meter_ids:
        return {}
    ranked = (
        select(
            Reading.id,
            func.row_number()
            .over(
                partition_by=(Reading.meter_id, Reading.zone),
                order_by=(Reading.period.desc(), Reading.taken_on.desc(), Reading.id.desc()),
            )
            .label("rank"),
        )
        .where(Reading.meter_id.in_(meter_ids), Reading.status == ReadingStatus.ACCEPTED)
        .subquery()
    )
    readings = session.scalars(
        select(Reading).join(ranked, and_(ranked.c.id == Reading.id, ranked.c.rank == 1))
    ).all()
    return {(r.meter_id, r.zone): r for r in readings}


def history_query(meter_id: int):
    """Every reading of the meter, newest first: the query a page of history is taken from."""
    return (
        select(Reading)
        .where(Reading.meter_id == meter_id)
        .order_by(Reading.period.desc(), Reading.taken_on.desc(), Reading.id.desc())
    )


def history(session: Session, meter_id: int, limit: int = 120) -> list[Reading]:
    return list(session.scalars(history_query(meter_id).limit(limit)))


@dataclass(frozen=True)
class Acceptance:
    period: date
    metered_accounts: int
    with_reading: int

    @property
    def share(self) -> Decimal:
        if not self.metered_accounts:
            return Decimal(0)
        return (Decimal(self.with_reading) * 100 / self.metered_accounts).quantize(Decimal("0.1"))


def acceptance(session: Session, period: date) -> Acceptance:
    """Share of metered accounts with an actual reading taken inside the period's window."""
    first = settings.get(session, "readings.window_first_day")
    last = settings.get(session, "readings.window_last_day")
    opens, closes = _day_of_month(period, first), _day_of_month(period, last)
    metered = select(Meter.account_id).where(Meter.status == MeterStatus.ACTIVE).distinct()
    with_reading = (
        select(Meter.account_id)
        .join(Reading, Reading.meter_id == Meter.id)
        .where(
            Meter.status == MeterStatus.ACTIVE,
            Reading.period == period,
            Reading.source.in_(ACTUAL_SOURCES),
            Reading.status.in_(TAKEN_STATUSES),
            Reading.taken_on.between(opens, closes),
        )
        .distinct()
    )
    return Acceptance(
        period,
        session.scalar(select(func.count()).select_from(metered.subquery())),
        session.scalar(select(func.count()).select_from(with_reading.subquery())),
    )


ACCEPTANCE_MONTHS = 6  # the month asked for and the five before it


def acceptance_period(raw: str | None, today: date | None = None) -> date:
    """The month of an acceptance figure as asked ("2026-09"), this month when not asked;
    a DomainError for anything but a month from EARLIEST_PERIOD to this one."""
    current = months.period_of(today or clock.local_today())
    if not raw:
        return current
    try:
        period = months.parse_period(raw)
    except DomainError:
        period = None
    if period is None or period > current:
        raise DomainError(
            _(
                "Choose a month from January 2000 to the current one, for example %(example)s.",
                example=months.iso(current),
            ),
            "period",
        )
    return period


def acceptance_by_month(session: Session, period: date) -> list[Acceptance]:
    """The acceptance figures of the period and of the months before it, newest first."""
    return [acceptance(session, month) for month in months.months_back(period, ACCEPTANCE_MONTHS)]


# --- the customer's own pages ------------------------------------------------------------


def readings_of_meter(session: Session, meter: Meter, reading_ids: list[int]) -> list[Reading]:
    """The readings with these ids, all of them of this meter (a receipt), in zone order.

    The caller has checked the meter is the customer's; any id of another meter, too many
    ids or none at all answer NotFound."""
    wanted = set(reading_ids)
    if not 0 < len(wanted) <= MAX_RECEIPT_READINGS or not all(0 < i <= MAX_ID for i in wanted):
        raise NotFound()
    found = list(
        session.scalars(select(Reading).where(Reading.id.in_(wanted), Reading.meter_id == meter.id))
    )
    if len(found) != len(wanted):
        raise NotFound()
    order = {zone: index for index, zone in enumerate(meter.zone_names)}
    return sorted(found, key=lambda reading: order.get(reading.zone, len(order)))


@dataclass(frozen=True)
class Series:
    """Monthly consumption of each zone for a chart and its table, oldest period first.

    ``values[zone][i]`` belongs to ``periods[i]`` (None: no accepted reading that month);
    ``estimated[zone][i]`` is true when the figure is an estimate or a norm, not a reading.
    """

    periods: list[date]
    zones: tuple[str, ...]
    values: dict[str, list[Decimal | None]]
    estimated: dict[str, list[bool]]

    @property
    def any_estimated(self) -> bool:
        return any(any(flags) for flags in self.estimated.values())

    def rows(self):
        """(period, [(value, estimated) per zone]) newest first, for the table."""
        for i in reversed(range(len(self.periods))):
            yield self.periods[i], [(self.values[z][i], self.estimated[z][i]) for z in self.zones]


def consumption_series(meter: Meter, readings: list[Reading], months: int = 24) -> Series:
    """The consumption of the accepted readings of the last ``months`` periods. Pure."""
    newest: dict[tuple[date, str], Reading] = {}
    for reading in readings:
        if reading.status != ReadingStatus.ACCEPTED or reading.consumption is None:
            continue
        key = (reading.period, reading.zone)
        kept = newest.get(key)
        if kept is None or (reading.taken_on, reading.id) > (kept.taken_on, kept.id):
            newest[key] = reading
    periods = sorted({period for period, _zone in newest})[-months:]
    zones = meter.zone_names
    values = {z: [_value_of(newest.get((p, z))) for p in periods] for z in zones}
    estimated = {
        z: [
            (r := newest.get((p, z))) is not None and r.source not in ACTUAL_SOURCES
            for p in periods
        ]
        for z in zones
    }
    return Series(periods, zones, values, estimated)


def _value_of(reading: Reading | None) -> Decimal | None:
    return None if reading is None else reading.consumption


# --- submission without signing in ------------------------------------------------------

# The registers a meter's display numbers T1, T2, T3, in that order (a two-rate meter:
# T1 day, T2 night; a three-rate one: T1 peak, T2 night, T3 semi-peak).
TARIFF_ZONES = {
    1: (Zone.TOTAL,),
    2: (Zone.DAY, Zone.NIGHT),
    3: (Zone.PEAK, Zone.NIGHT, Zone.SEMI_PEAK),
}
TARIFF_FIELDS = ("t1", "t2", "t3")


def quick_meter(session: Session, account_number: str, serial_number: str) -> Meter:
    """The meter with this serial number on this open account.

    An unknown account, a closed one, a meter of another account and a removed meter all
    get one and the same refusal: it tells nothing about any account."""
    from portal.services.accounts import normalise_account_number

    number = normalise_account_number(account_number or "")
    serial = "".join((serial_number or "").split()).upper()
    meter = None
    if number and serial:
        meter = session.scalar(
            select(Meter)
            .join(Account, Meter.account_id == Account.id)
            .where(
                Account.number == number,
                Account.closed_on.is_(None),
                func.upper(Meter.serial_number) == serial,
                Meter.status != MeterStatus.REMOVED,
            )
        )
    if meter is None:
        raise DomainError(
            _(
                "We found no meter with this serial number on this account. Check the account number on your bill and the serial number on the meter."
            )
        )
    return meter


def values_from_tariffs(meter: Meter, tariffs: dict[str, str]) -> dict[str, str]:
    """The values typed as T1…T3 (keys ``TARIFF_FIELDS``) as values of the meter's zones.

    Exactly the meter's registers must be filled: T1 for a single-rate meter, T1 and T2
    for a two-rate one, all three for a three-rate one."""
    zones = TARIFF_ZONES[meter.zones]
    filled = [bool((tariffs.get(name) or "").strip()) for name in TARIFF_FIELDS]
    if filled != [index < len(zones) for index in range(len(TARIFF_FIELDS))]:
        message = {
            1: _("This meter has one register: enter its value as T1 and leave T2 and T3 empty."),
            2: _("This meter has two tariff zones: enter T1 (day) and T2 (night), leave T3 empty."),
            3: _(
                "This meter has three tariff zones: enter T1 (peak), T2 (night) and T3 (semi-peak)."
            ),
        }[meter.zones]
        raise DomainError(message)
    return {zone: tariffs[TARIFF_FIELDS[index]] for index, zone in enumerate(zones)}


def quick_submit(
    session: Session,
    account_number: str,
    serial_number: str,
    tariffs: dict[str, str],
    *,
    confirmed: bool = False,
    user_id: int | None = None,
) -> list[Receipt]:
    """A customer's reading sent without signing in, by account and meter serial number.

    The answer says accepted, under review or refused and why, and nothing else about the
    account: no previous value, no consumption. Errors of a value name its T1…T3 field."""
    current = window(session)
    if not current.is_open:
        raise DomainError(window_closed_message(current))
    meter = quick_meter(session, account_number, serial_number)
    refusal = customer_refusal(meter)
    if refusal is not None:
        raise DomainError(refusal)
    values = values_from_tariffs(meter, tariffs)
    field_of = {zone: TARIFF_FIELDS[i] for i, zone in enumerate(TARIFF_ZONES[meter.zones])}
    try:
        receipts = submit(
            session,
            meter,
            values,
            source=ReadingSource.CUSTOMER,
            user_id=user_id,
            confirmed=confirmed,
        )
    except ZoneErrors as error:
        raise ZoneErrors(
            {field_of[zone]: message for zone, message in error.errors.items()}
        ) from None
    return [_undisclosing(receipt) for receipt in receipts]


def _undisclosing(receipt: Receipt) -> Receipt:
    """The receipt without the last value or the consumption (they would disclose the
    account's usage to whoever knows two numbers)."""
    verdict = receipt.verdict
    reason = verdict.reason
    if verdict.code == "lower":
        reason = _("The value is lower than the last accepted reading of this meter.")
    elif verdict.asks_confirmation:
        reason = _(
            "The value is far above the usual consumption of this meter. Check it; if it is right, confirm it and a specialist will review it."
        )
    return Receipt(
        receipt.zone,
        receipt.value,
        Verdict(verdict.outcome, reason, None, verdict.code),
        receipt.reading_id,
    )
