"""Figures of contract applications for the back office (001 Table 5, Ккач дог: contracts
concluded on time, target 80–100 %): applications by kind and segment, concluded on time,
the average days each stage took, refusals by reason — over applications registered in a
period."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import Application, ApplicationEvent, ApplicationStatus, RefusalReason

TARGET_PERCENT = 80  # 001: Ккач дог 80–100 %


@dataclass(frozen=True)
class Figures:
    by_kind_segment: list  # (kind, segment, count)
    concluded: int
    on_time: int
    on_time_percent: Decimal | None
    stage_days: list  # (status, average days, count)
    refusals: list  # (reason title, legal ground, count)


def _registered_between(first: date, last: date):
    return Application.registered_on.between(first, last)


def _concluded_on_time(session: Session, in_period) -> tuple[int, int, Decimal | None]:
    """Applications with a contract issued, those issued within their term, and the share
    (Ккач дог, 001 Table 5 No. 4), None when none was concluded."""
    concluded, on_time = session.execute(
        select(
            func.count(Application.concluded_on_time),
            func.count().filter(Application.concluded_on_time.is_(True)),
        ).where(in_period)
    ).one()
    percent = None
    if concluded:
        percent = (Decimal(100 * on_time) / concluded).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return concluded, on_time, percent


def on_time_percent(session: Session, first: date, last: date) -> Decimal | None:
    """Ккач дог of the applications registered from ``first`` to ``last`` (days)."""
    return _concluded_on_time(session, _registered_between(first, last))[2]


def figures(session: Session, first: date, last: date) -> Figures:
    in_period = _registered_between(first, last)
    by_kind = session.execute(
        select(Application.kind, Application.segment, func.count())
        .where(in_period)
        .group_by(Application.kind, Application.segment)
        .order_by(Application.kind, Application.segment)
    ).all()
    concluded, on_time, percent = _concluded_on_time(session, in_period)
    refusals = session.execute(
        select(RefusalReason.title, RefusalReason.legal_ground, func.count())
        .join(Application, Application.refusal_reason_id == RefusalReason.id)
        .where(in_period, Application.status == ApplicationStatus.REFUSED)
        .group_by(RefusalReason.id, RefusalReason.title, RefusalReason.legal_ground)
        .order_by(func.count().desc())
    ).all()
    return Figures(
        by_kind_segment=by_kind,
        concluded=concluded,
        on_time=on_time,
        on_time_percent=percent,
        stage_days=stage_days(session, in_period),
        refusals=refusals,
    )


def stage_days(session: Session, in_period) -> list:
    """How long applications stayed in each status: from the event that put them in it to
    the next event that changed it (calendar days, to a tenth)."""
    rows = session.execute(
        select(ApplicationEvent.application_id, ApplicationEvent.at, ApplicationEvent.status)
        .join(Application, Application.id == ApplicationEvent.application_id)
        .where(in_period, ApplicationEvent.internal.is_(False))
        .order_by(ApplicationEvent.application_id, ApplicationEvent.id)
    ).all()
    spans = defaultdict(list)
    entered = {}
    for application_id, at, status in rows:
        previous = entered.get(application_id)
        if previous and previous[1] != status:
            spans[previous[1]].append((at - previous[0]).total_seconds() / 86400)
        if previous is None or previous[1] != status:
            entered[application_id] = (at, status)
    return [
        (status, Decimal(sum(days) / len(days)).quantize(Decimal("0.1"), ROUND_HALF_UP), len(days))
        for status, days in sorted(
            spans.items(), key=lambda item: list(ApplicationStatus).index(item[0])
        )
    ]
