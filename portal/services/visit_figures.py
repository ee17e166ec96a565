"""Waiting and service time figures of the offices (003: waiting no longer than 30
minutes; DOMAIN.md "Quality figures": office waiting time and no-shows), per office and
period: bookings, walk-ins, no-shows, the average and 90th-percentile wait, the share of
visitors called within the target, and the average service time.

A wait runs from arrival (check-in or ticket) to the call; only visitors called count in
the wait figures. The 90th percentile is the nearest-rank one: the smallest wait that at
least 90% of the waits do not exceed. Days are the offices' local days (tickets carry
theirs; bookings are counted by the day of their time in the supplier's zone)."""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Booking, BookingStatus, Office, QueueTicket
from portal.services import settings
from portal.services.clock import supplier_zone
from portal.services.office_day import WALK_IN

MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class Figures:
    office: str
    bookings: int
    walk_ins: int
    no_shows: int
    called: int
    average_wait: Decimal | None  # minutes
    p90_wait: Decimal | None
    within_target: Decimal | None  # share 0..1
    average_service: Decimal | None


def percentile_rank(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile: the value at rank ⌈share × n⌉ of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def _minutes(value: float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _summary(name, bookings, no_shows, tickets, target) -> Figures:
    waits = [(t.called_at - t.arrived_at).total_seconds() / 60 for t in tickets if t.called_at]
    services = [
        (t.finished_at - t.called_at).total_seconds() / 60
        for t in tickets
        if t.called_at and t.finished_at
    ]
    within = sum(1 for wait in waits if wait <= target)
    return Figures(
        office=name,
        bookings=bookings,
        walk_ins=sum(1 for t in tickets if t.prefix == WALK_IN),
        no_shows=no_shows,
        called=len(waits),
        average_wait=_minutes(sum(waits) / len(waits)) if waits else None,
        p90_wait=_minutes(percentile_rank(waits, 0.9)),
        within_target=(Decimal(within) / len(waits)).quantize(
            Decimal("0.001"), rounding=ROUND_HALF_UP
        )
        if waits
        else None,
        average_service=_minutes(sum(services) / len(services)) if services else None,
    )


def _booking_counts(session: Session, first: date, last: date) -> dict[int, tuple[int, int]]:
    zone = supplier_zone()
    start = datetime.combine(first, time(0), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    rows = session.execute(
        select(Booking.office_id, Booking.status, func.count(Booking.id))
        .where(
            Booking.starts_at >= start,
            Booking.starts_at < end,
            Booking.status != BookingStatus.CANCELLED,
        )
        .group_by(Booking.office_id, Booking.status)
    ).all()
    counts: dict[int, list[int]] = {}
    for office_id, status, count in rows:
        entry = counts.setdefault(office_id, [0, 0])
        entry[0] += count
        if status == BookingStatus.NO_SHOW:
            entry[1] += count
    return {key: (value[0], value[1]) for key, value in counts.items()}


def figures(
    session: Session, first: date, last: date, office_id: int | None = None
) -> list[Figures]:
    """One row per office (or the one asked for), then the total of them all; four queries."""
    target = settings.get(session, "visits.wait_target_minutes")
    query = select(Office).order_by(Office.name)
    if office_id:
        query = query.where(Office.id == office_id)
    chosen = session.scalars(query).all()
    tickets = session.execute(
        select(
            QueueTicket.office_id,
            QueueTicket.prefix,
            QueueTicket.arrived_at,
            QueueTicket.called_at,
            QueueTicket.finished_at,
        ).where(
            QueueTicket.day >= first,
            QueueTicket.day <= last,
            QueueTicket.office_id.in_([o.id for o in chosen]),
        )
    ).all()
    counts = _booking_counts(session, first, last)
    rows = []
    for office in chosen:
        booked, missed = counts.get(office.id, (0, 0))
        rows.append(
            _summary(
                office.name,
                booked,
                missed,
                [t for t in tickets if t.office_id == office.id],
                target,
            )
        )
    if len(chosen) > 1:
        booked = sum(counts.get(o.id, (0, 0))[0] for o in chosen)
        missed = sum(counts.get(o.id, (0, 0))[1] for o in chosen)
        rows.append(_summary(None, booked, missed, tickets, target))
    return rows
