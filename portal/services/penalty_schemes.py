"""Penalty schemes per customer category and service: lists of stages (from delay day N,
1/D of the key rate per day), in force from a date on, kept with their history.

Without a scheme of its own a category takes its default: households the Housing Code's
(ЖК РФ ст. 155 п. 14: 1/300 from day 31, 1/130 from day 91 — the ``penalties.*``
settings), others 1/130 from the first day of delay (as supply laws set for organisations,
e.g. ФЗ «О теплоснабжении» ст. 15 п. 9.1; the contract may say otherwise: add its scheme).
A scheme for one service wins over the category's scheme for all services.
"""

import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Category, PenaltyScheme, Service, Staff
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, settings
from portal.services.errors import DomainError
from portal.services.penalties import Scheme, Stage, two_stages
from portal.services.tariffs import Added, _refuse_closed, check_date

MAX_STAGES = 5
MAX_DAY = 3650
MAX_DIVISOR = 10000
OTHERS_DEFAULT = Scheme((Stage(1, 130),))
# "31: 1/300, 91: 1/130" — a stage is a day and a fraction (or a bare divisor).
_STAGE = re.compile(r"^\s*(\d{1,6})\s*(?:[:—–-]\s*|\s+)(?:1\s*/\s*)?(\d{1,6})\s*$")


def households_default(session: Session) -> Scheme:
    return two_stages(
        free_days=settings.get(session, "penalties.free_days"),
        high_from_day=settings.get(session, "penalties.high_from_day"),
        low_divisor=settings.get(session, "penalties.low_divisor"),
        high_divisor=settings.get(session, "penalties.high_divisor"),
    )


def as_text(stages) -> str:
    """Stages as people write them: "31: 1/300, 91: 1/130"."""
    return ", ".join(f"{stage.from_day}: 1/{stage.divisor}" for stage in stages)


def parse_stages(raw: str | None) -> tuple[Stage, ...]:
    """Stages typed as "31: 1/300, 91: 1/130" (commas, semicolons or new lines between
    them), checked: days rising from 1, divisors from 1 to 10 000, at most five stages."""
    parts = [part for part in re.split(r"[,;\n]+", raw or "") if part.strip()]
    if not parts:
        raise DomainError(_("Enter the stages, for example 31: 1/300, 91: 1/130."), "stages")
    if len(parts) > MAX_STAGES:
        raise DomainError(_("At most 5 stages."), "stages")
    stages = []
    for part in parts:
        match = _STAGE.match(part)
        if match is None:
            raise DomainError(
                _(
                    "“%(part)s” is not a stage: write the delay day and the share of the "
                    "rate, for example 31: 1/300.",
                    part=part.strip()[:40],
                ),
                "stages",
            )
        stages.append(_checked_stage(int(match.group(1)), int(match.group(2))))
    days = [stage.from_day for stage in stages]
    if days != sorted(set(days)):
        raise DomainError(_("Each stage must start on a later day than the one before."), "stages")
    return tuple(stages)


def _checked_stage(day: int, divisor: int) -> Stage:
    if not 1 <= day <= MAX_DAY:
        raise DomainError(_("A stage starts on a delay day from 1 to 3650."), "stages")
    if not 1 <= divisor <= MAX_DIVISOR:
        raise DomainError(_("The share of the rate is 1/1 to 1/10000."), "stages")
    return Stage(day, divisor)


def add_scheme(
    session: Session,
    *,
    category: str,
    service: str | None,
    stages,
    valid_from: date | None,
    staff_id: int | None = None,
    ip: str | None = None,
) -> Added:
    """A new version of the scheme of a category (and service, or all services)."""
    if category not in Category.values():
        raise DomainError(_("Choose a customer category."), "category")
    service = service or None
    if service is not None and service not in Service.values():
        raise DomainError(_("Choose a service."), "service")
    parsed = parse_stages(stages)
    valid_from = check_date(valid_from)
    _refuse_closed(session, valid_from)
    same_day = session.scalar(
        select(PenaltyScheme.id).where(
            PenaltyScheme.category == category,
            _service_is(service),
            PenaltyScheme.valid_from == valid_from,
        )
    )
    if same_day is not None:
        raise DomainError(
            _("There is already a scheme from this date: choose another."), "valid_from"
        )
    row = PenaltyScheme(
        category=category,
        service=service,
        stages=[[stage.from_day, stage.divisor] for stage in parsed],
        valid_from=valid_from,
        staff_id=staff_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=AuditObject.PENALTY_SCHEME,
        object_id=row.id,
        summary=f"penalty scheme {category}/{service or 'all'} from {valid_from.isoformat()}: "
        f"{as_text(parsed)}",
        changes={"stages": [None, as_text(parsed)], "valid_from": [None, valid_from.isoformat()]},
        ip_address=ip,
    )
    return Added(row)


def _service_is(service: str | None):
    return PenaltyScheme.service.is_(None) if service is None else PenaltyScheme.service == service


@dataclass(frozen=True)
class Schemes:
    """Every scheme version and the defaults: the scheme in force for a category and
    service on a day. Loaded once per close."""

    rows: list[PenaltyScheme]
    households: Scheme

    def default(self, category: str) -> Scheme:
        return self.households if category == Category.POPULATION else OTHERS_DEFAULT

    def on(self, category: str, service: str | None, day: date) -> Scheme:
        for wanted in [service, None] if service else [None]:
            found = [
                row
                for row in self.rows
                if row.category == category and row.service == wanted and row.valid_from <= day
            ]
            if found:
                latest = max(found, key=lambda row: row.valid_from)
                return Scheme(tuple(Stage(day_, divisor) for day_, divisor in latest.stages))
        return self.default(category)


def load(session: Session) -> Schemes:
    return Schemes(list(session.scalars(select(PenaltyScheme))), households_default(session))


def defaults_shown(session: Session) -> list[tuple]:
    """(category, stages as text) of the defaults a category has without a scheme."""
    return [
        (Category.POPULATION, as_text(households_default(session).stages)),
        (Category.OTHERS, as_text(OTHERS_DEFAULT.stages)),
    ]


def history(session: Session) -> list[tuple]:
    """(scheme, stages as text, staff name) newest first."""
    return [
        (row, as_text(Stage(day, divisor) for day, divisor in row.stages), name)
        for row, name in session.execute(
            select(PenaltyScheme, Staff.full_name)
            .outerjoin(Staff, Staff.id == PenaltyScheme.staff_id)
            .order_by(PenaltyScheme.valid_from.desc(), PenaltyScheme.id.desc())
        )
    ]
