"""What the public offices pages show: each office's hours by weekday with breaks, whether
it is open now (in its own zone), its closures and holidays ahead, its services with their
durations, and a plain link to the address on a map (no third-party script)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import quote

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.models import Office, OfficeClosure, VisitService
from portal.services import visits, workdays
from portal.services.clock import utcnow

WEEKDAY_NAMES = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
MAP_URL = "https://yandex.ru/maps/?text={}"
HOLIDAYS_SHOWN_DAYS = 30  # holidays of the work calendar listed ahead on an office's page


@dataclass(frozen=True)
class WeekRow:
    name: object
    hours: visits.Hours | None


@dataclass(frozen=True)
class NowStatus:
    open: bool
    until: time | None = None  # open: closes (or breaks) at
    next_open: datetime | None = None  # shut: opens next at (office-local)


@dataclass(frozen=True)
class ShutDay:
    first_day: date
    last_day: date
    reason: str


def all_offices(session: Session) -> list[Office]:
    return list(
        session.scalars(select(Office).options(selectinload(Office.closures)).order_by(Office.name))
    )


def week(office: Office) -> list[WeekRow]:
    plan = visits.parse_plan(office.weekly_plan)
    return [WeekRow(name, plan.get(weekday)) for weekday, name in enumerate(WEEKDAY_NAMES)]


def map_link(office: Office) -> str:
    return MAP_URL.format(quote(office.address))


def durations(session: Session, office: Office) -> list[tuple[VisitService, int]]:
    return [(s, int(visits.duration(session, s).total_seconds() // 60)) for s in office.offered]


def now_status(
    office: Office, calendar: workdays.Calendar, now: datetime | None = None
) -> NowStatus:
    """Open or shut at this moment in the office's zone; when shut, when it opens next
    (looked for over the next two weeks)."""
    local = (now or utcnow()).astimezone(visits.zone_of(office))
    plan = visits.parse_plan(office.weekly_plan)
    for offset in range(15):
        day = local.date() + timedelta(days=offset)
        hours = visits.hours_on(plan, day, calendar, office.closures)
        for start, end in hours.intervals() if hours else []:
            if offset == 0 and start <= local.time() < end:
                return NowStatus(True, until=end)
            if offset > 0 or local.time() < start:
                return NowStatus(False, next_open=datetime.combine(day, start))
    return NowStatus(False)


def shut_days_ahead(
    session: Session, office: Office, calendar: workdays.Calendar, now: datetime | None = None
) -> list[ShutDay]:
    """The office's closures not over yet, and the holidays of the work calendar on days it
    would otherwise work, within the next month."""
    today = (now or utcnow()).astimezone(visits.zone_of(office)).date()
    closures = session.scalars(
        select(OfficeClosure)
        .where(OfficeClosure.office_id == office.id, OfficeClosure.last_day >= today)
        .order_by(OfficeClosure.first_day)
    ).all()
    shut = [ShutDay(c.first_day, c.last_day, c.reason) for c in closures]
    plan = visits.parse_plan(office.weekly_plan)
    for offset in range(HOLIDAYS_SHOWN_DAYS + 1):
        day = today + timedelta(days=offset)
        usual = plan.get(day.weekday())
        if usual and calendar.is_holiday(day) and not visits.closure_on(closures, day):
            shut.append(ShutDay(day, day, str(_l("Public holiday or day off"))))
    return sorted(shut, key=lambda item: item.first_day)
