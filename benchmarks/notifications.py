"""Benchmark: planning a reminder for every account, and dispatching the outbox.

    .venv/bin/python benchmarks/notifications.py                          # 100 000 accounts, 4 000 letters
    .venv/bin/python benchmarks/notifications.py --accounts 1000000 --letters 20000

1. Plan: accounts with one customer-read meter each and a portal user linked (a tenth of
   them by SMS, a third with this month's reading already in), then
   ``reminders.plan(rule="window_closing")`` on the 22nd, timed; then, in the same run and
   database, the planned rows are deleted and ONE raw ``INSERT … SELECT`` written by hand
   plans the same rows (same recipients and keys, a constant body). Both counts must agree.
2. Dispatch: that many letters to a local aiosmtpd sink by 1, 2 and 4 dispatcher processes
   (``dispatch_due``), against one raw loop of ``smtplib`` sends of the same letters over
   one connection with no database: messages/s each, and that every letter arrived once.

PostgreSQL: BENCH_DATABASE_URL (default this worktree's own database, whose tables are
dropped and created again: the test suite does the same at its start).
"""

import argparse
import os
import random
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import text

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.services.notify import reminders  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/wt_reminders"
DAY = date(2026, 11, 22)  # the window closes on the 25th: reminders 3 days ahead
PERIOD = date(2026, 11, 1)
NOW = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)  # 10:00 in Moscow

COLUMNS = {
    "customers": "id, kind, full_name, lives_alone_disabled, is_veteran, created_at",
    "premises": "id, address, area_m2, residents",
    "accounts": "id, number, secret_code, category, customer_id, premises_id, opened_on, created_at",
    "meters": "id, account_id, service, serial_number, zones, whole_digits, fraction_digits, installed_on, verification_due, status, remote_read, created_at",
    "readings": "id, meter_id, zone, period, taken_on, value, consumption, source, status, created_at",
    "users": "id, email, phone, full_name, email_confirmed_at, preferred_channel, language, password_hash, created_at",
    "account_links": "id, user_id, account_id, linked_at",
}
STAMP = "2026-01-01 00:00:00+00"


def generate(accounts: int, seed: int = 10) -> dict[str, list[tuple]]:
    rng = random.Random(seed)
    tables = {name: [] for name in COLUMNS}
    for n in range(1, accounts + 1):
        tables["customers"].append((n, "person", f"Абонент {n}", False, False, STAMP))
        tables["premises"].append(
            (n, f"г. Выкса, ул. Ленина, д. {n % 200}, кв. {n % 90}", "50.50", 2)
        )
        tables["accounts"].append(
            (n, f"{5200000000 + n}", "AB12CD", "population", n, n, "2020-01-01", STAMP)
        )
        tables["meters"].append(
            (
                n,
                n,
                "electricity",
                f"SN{n:09d}",
                1,
                6,
                1,
                "2020-01-01",
                "2030-01-01",
                "active",
                False,
                STAMP,
            )
        )
        if rng.random() < 0.33:  # read already: no reminder
            tables["readings"].append(
                (
                    n,
                    n,
                    "total",
                    PERIOD.isoformat(),
                    "2026-11-16",
                    "1000",
                    "100",
                    "customer",
                    "accepted",
                    STAMP,
                )
            )
        channel = "sms" if rng.random() < 0.1 else "email"
        tables["users"].append(
            (
                n,
                f"user{n}@example.ru",
                f"+7916{n:07d}",
                f"Житель {n}",
                STAMP,
                channel,
                "ru",
                "x",
                STAMP,
            )
        )
        tables["account_links"].append((n, n, n, STAMP))
    return tables


def load(engine, tables) -> None:
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        raw = connection.connection.driver_connection
        for name, rows in tables.items():
            with raw.cursor().copy(f"COPY {name} ({COLUMNS[name]}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for name in COLUMNS:
            connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


RAW_PLAN = """
INSERT INTO outbox_messages (kind, channel, recipient, subject, body_text, body_html, dedup_key,
                             scheduled_at, status, attempts, created_at, user_id)
SELECT 'window_closing', '{channel}', CASE WHEN '{channel}' = 'email' THEN u.email ELSE u.phone END,
       'Передайте показания', 'Лицевой счёт ' || a.number || ': передайте показания', NULL,
       'window_closing:2026-11:account:' || a.id || ':user:' || u.id || ':' || '{channel}',
       :now, 'pending', 0, :now, u.id
FROM users u
JOIN account_links l ON l.user_id = u.id
JOIN accounts a ON a.id = l.account_id
WHERE u.preferred_channel = '{channel}' AND a.closed_on IS NULL
  AND ('{channel}' = 'sms' OR u.email_confirmed_at IS NOT NULL)
  AND EXISTS (
    SELECT 1 FROM meters m
    WHERE m.account_id = a.id AND m.status = 'active' AND NOT m.remote_read
      AND m.verification_due >= :day
      AND NOT EXISTS (
        SELECT 1 FROM readings r
        WHERE r.meter_id = m.id AND r.period = :period
          AND r.source IN ('customer', 'operator', 'controller', 'remote')
          AND r.status IN ('accepted', 'pending_review', 'superseded')
      )
  )
ON CONFLICT DO NOTHING
"""


def bench_plan(app, accounts: int) -> list[tuple]:
    engine = db.engine
    print(f"generating {accounts:,} accounts…", flush=True)
    load(engine, generate(accounts))
    with time_machine.travel(NOW, tick=False):
        started = time.perf_counter()
        planned = reminders.plan(db.session, rule="window_closing", now=NOW)
        db.session.commit()
        service_seconds = time.perf_counter() - started
    service_count = sum(item.count for item in planned)
    db.session.execute(text("DELETE FROM outbox_messages"))
    db.session.commit()
    started = time.perf_counter()
    raw_count = 0
    with engine.begin() as connection:
        for channel in ("email", "sms"):
            raw_count += connection.execute(
                text(RAW_PLAN.format(channel=channel)),
                {"now": NOW, "day": DAY, "period": PERIOD},
            ).rowcount
    raw_seconds = time.perf_counter() - started
    assert service_count == raw_count, (service_count, raw_count)
    db.session.execute(text("DELETE FROM outbox_messages"))
    db.session.commit()
    return [
        ("plan window_closing: reminders.plan", service_count, service_seconds),
        ("plan window_closing: raw INSERT … SELECT", raw_count, raw_seconds),
    ]


class Sink:
    def __init__(self):
        self.received = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's API)
        with self.lock:
            for address in envelope.rcpt_tos:
                self.received[address] += 1
        return "250 OK"


DISPATCHER = """
import sys, time
from portal import create_app
from portal.extensions import db
from portal.services.notify import dispatch_due
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SERVER_NAME": "portal.test",
                  "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": int(sys.argv[2]),
                  "MAIL_SUPPRESS_SEND": False, "RATELIMIT_ENABLED": False})
idle = time.monotonic()
with app.app_context():
    while time.monotonic() - idle < 1.5:
        if dispatch_due(db.session, limit=50):
            idle = time.monotonic()
        else:
            time.sleep(0.02)
        db.session.remove()
"""


def plan_letters(count: int) -> None:
    now = datetime.now(UTC) - timedelta(seconds=1)
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM outbox_messages"))
        connection.execute(
            text(
                "INSERT INTO outbox_messages (kind, channel, recipient, subject, body_text, dedup_key,"
                " scheduled_at, status, attempts, created_at)"
                " SELECT 'signup_existing', 'email', 'r' || n || '@example.ru', 'Проверка',"
                " 'Письмо ' || n, 'bench:' || n, :now, 'pending', 0, :now"
                " FROM generate_series(1, :count) AS n"
            ),
            {"now": now, "count": count},
        )


def bench_dispatch(url: str, letters: int) -> list[tuple]:
    results = []
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        for workers in (1, 2, 4):
            plan_letters(letters)
            sink.received.clear()
            started = time.perf_counter()
            processes = [
                subprocess.Popen([sys.executable, "-c", DISPATCHER, url, str(port)], cwd=PROJECT)
                for _ in range(workers)
            ]
            while True:
                with db.engine.connect() as connection:
                    left = connection.execute(
                        text("SELECT count(*) FROM outbox_messages WHERE status <> 'sent'")
                    ).scalar()
                if not left:
                    break
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            for process in processes:
                process.wait()
            assert len(sink.received) == letters
            assert set(sink.received.values()) == {1}
            results.append((f"dispatch by {workers} process(es)", letters, seconds))
        sink.received.clear()
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for n in range(letters):
                letter = EmailMessage()
                letter["From"], letter["To"], letter["Subject"] = (
                    "portal@example.ru",
                    f"r{n}@example.ru",
                    "Проверка",
                )
                letter.set_content(f"Письмо {n}")
                smtp.send_message(letter)
        results.append(("raw smtplib loop, no database", letters, time.perf_counter() - started))
    finally:
        controller.stop()
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM outbox_messages"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--letters", type=int, default=4_000)
    parser.add_argument("--dispatch-only", action="store_true", help="skip the planning part")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "portal.test"})
    rows = []
    with app.app_context(), app.test_request_context():
        db.drop_all()
        db.create_all()
        try:
            if not args.dispatch_only:
                rows += bench_plan(app, args.accounts)
            rows += bench_dispatch(url, args.letters)
        finally:
            db.session.remove()
            db.drop_all()
    print(f"\n{'what':<42} {'messages':>10} {'seconds':>9} {'per second':>11}")
    for name, count, seconds in rows:
        print(f"{name:<42} {count:>10,} {seconds:>9.2f} {count / seconds:>11,.0f}")
    if not args.dispatch_only:
        plan_ratio = rows[0][2] / rows[1][2]
        print(f"\nplanning: the service takes {plan_ratio:.2f}× the raw INSERT … SELECT")


if __name__ == "__main__":
    main()
