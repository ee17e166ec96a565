"""Benchmark: the booking calendar of a busy office (``portal.services.visits``) against a
naive baseline that asks the database, for every time of every day, how many visits
overlap it.

    .venv/bin/python benchmarks/visit_slots.py                 # 4 windows, 30 days, 60% booked
    .venv/bin/python benchmarks/visit_slots.py --windows 8 --share 0.8

Fills a SQLite file with one office (the plan of 003) and its bookings over the next 30
days, then, in the same run, builds the month's calendar (every day's free times) with
``availability(...).days()`` — three queries and the counting in Python — and with the
baseline; checks both find the same free times, and prints seconds, queries and the ratio.
"""

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Booking, BookingStatus, Office  # noqa: E402
from portal.services import visits  # noqa: E402

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 09:00 in Moscow
PLAN = {
    **{day: ["09:00", "18:00", "13:00", "14:00"] for day in ("mon", "tue", "wed", "thu")},
    "fri": ["09:00", "17:00", "13:00", "14:00"],
}


def fill(session, windows: int, share: float) -> Office:
    office = Office(name="Бенчмарк", address="г. Выкса", phones="", weekly_plan=PLAN, windows=windows,
                    timezone="Europe/Moscow", services=["reception"], booking_seq=0)  # fmt: skip
    session.add(office)
    session.flush()
    rng = random.Random(12)
    view = visits.availability(session, office, "reception", now=NOW)
    rows, n = [], 0
    for day in view.days():
        for slot in view.slots(day.day):
            for _window in range(windows):
                if rng.random() < share:
                    n += 1
                    rows.append({"code": f"B{n:07d}", "office_id": office.id, "service": "reception",
                                 "starts_at": slot.starts_at, "ends_at": slot.ends_at, "full_name": "Тест",
                                 "status": BookingStatus.BOOKED, "phone": "", "email": "", "note": "",
                                 "created_at": NOW})  # fmt: skip
    session.execute(Booking.__table__.insert(), rows)
    session.commit()
    return office


def baseline(session, office: Office) -> dict:
    """For each grid time: one COUNT of the visits overlapping it (as a first version would)."""
    plan = visits.parse_plan(office.weekly_plan)
    zone = visits.zone_of(office)
    from portal.services import workdays

    calendar = workdays.calendar(session)
    length = visits.duration(session, "reception")
    free = {}
    today = NOW.astimezone(zone).date()
    for offset in range(visits.rules(session).max_days_ahead + 1):
        day = today + timedelta(days=offset)
        hours = visits.hours_on(plan, day, calendar)
        times = []
        for start, end in hours.intervals() if hours else []:
            moment = datetime.combine(day, start, zone)
            while moment + length <= datetime.combine(day, end, zone):
                at = moment.astimezone(UTC)
                taken = session.scalar(
                    select(func.count(Booking.id)).where(
                        Booking.office_id == office.id, Booking.status == BookingStatus.BOOKED,
                        Booking.starts_at < at + length, Booking.ends_at > at,
                    )
                )  # fmt: skip
                if taken < office.windows and at >= NOW + timedelta(hours=2):
                    times.append(at)
                moment += length
        free[day] = times
    return free


def measured(function):
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    started = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - started
    event.remove(db.engine, "before_cursor_execute", count)
    return result, elapsed, len(statements)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--share", type=float, default=0.6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db", "TESTING": True})
        with app.app_context(), app.test_request_context():
            db.create_all()
            office = fill(db.session, args.windows, args.share)
            booked = db.session.scalar(select(func.count(Booking.id)))

            def ours():
                view = visits.availability(db.session, office, "reception", now=NOW)
                return {d.day: [s.starts_at for s in view.slots(d.day)] for d in view.days()}

            mine, mine_s, mine_q = measured(ours)
            naive, naive_s, naive_q = measured(lambda: baseline(db.session, office))
            assert mine == naive, "the two calendars differ"
            print(f"office: {args.windows} windows, {booked} booked visits over 30 days")
            print(f"{'calendar':<28}{'seconds':>10}{'queries':>10}")
            print(f"{'visits.availability().days':<28}{mine_s:>10.3f}{mine_q:>10}")
            print(f"{'COUNT per time (baseline)':<28}{naive_s:>10.3f}{naive_q:>10}")
            print(
                f"ratio: {naive_s / mine_s:.1f}× faster, {sum(map(len, mine.values()))} free times"
            )


if __name__ == "__main__":
    main()
