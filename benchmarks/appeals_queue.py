"""Benchmark: the back office's appeals queue with 100 000 appeals against the same pages
with 100, on PostgreSQL (and SQLite).

    .venv/bin/python benchmarks/appeals_queue.py                 # PostgreSQL 100 / 100 000
    .venv/bin/python benchmarks/appeals_queue.py --sqlite --large 20000

Generates appeals over three years (about 8 % of them open, some overdue, the rest answered
or closed), then times each queue page as staff open it — the whole request through the
Flask test client: the page's query, its count, the counts at the top, the rendering — the
median of 15 runs after one warm-up, the small and the large database measured turn by turn,
and prints the table and the ratio (aim: within 2×). PostgreSQL: BENCH_DATABASE_URL's server
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres); databases
``bench_appeals_small`` and ``bench_appeals_large`` are created and dropped.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Account, Appeal, Customer, Premises, Staff  # noqa: E402
from portal.services.clock import local_today  # noqa: E402
from tests.factories import PASSWORD, PASSWORD_HASH  # noqa: E402

TODAY = local_today()
RUNS = 15
STAFF = 20
OPEN_SHARE = 0.08
PAGES = [
    ("open (first visit)", "/admin/appeals"),
    ("overdue", "/admin/appeals?due=overdue"),
    ("due within 3 days", "/admin/appeals?due=soon&within_days=3"),
    ("one executor, open", "/admin/appeals?status=open&executor=3"),
    ("topic and channel, open", "/admin/appeals?status=open&topic=billing&channel=web"),
    ("by number", "/admin/appeals?q={number}"),
    ("any status", "/admin/appeals?status="),
    ("any status, page 50", "/admin/appeals?status=&page=50"),
]
KINDS = ("information", "application", "complaint", "proposal", "thanks")
TOPICS = ("billing", "readings", "supply_quality", "meter", "staff", "other")
CHANNELS = ("web", "email", "post", "phone", "office", "voicemail")
OPEN = ("registered", "assigned", "in_work", "awaiting_customer")


def appeal_rows(count: int, accounts: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    rows, per_year = [], {}
    for n in range(1, count + 1):
        is_open = rng.random() < OPEN_SHARE
        registered_on = TODAY - timedelta(
            days=rng.randint(0, 60) if is_open else rng.randint(30, 1095)
        )
        year = registered_on.year
        per_year[year] = per_year.get(year, 0) + 1
        status = (
            rng.choice(OPEN)
            if is_open
            else rng.choice(("answered", "closed", "closed", "no_action"))
        )
        executor = None if status == "registered" else rng.randint(1, STAFF)
        moment = datetime.combine(registered_on, datetime.min.time(), UTC) + timedelta(hours=10)
        rows.append(
            {
                "id": n,
                "number": f"{year}-{per_year[year]:06d}",
                "year": year,
                "sequence": per_year[year],
                "kind": rng.choice(KINDS),
                "topic": rng.choice(TOPICS),
                "channel": rng.choice(CHANNELS),
                "answer_channel": "portal",
                "status": status,
                "text": f"Обращение {n}: прошу проверить начисление за {rng.randint(1, 12)} месяц.",
                "applicant_name": f"Абонент {rng.randint(1, 50_000)} Иванович",
                "account_id": rng.randint(1, accounts) if rng.random() < 0.6 else None,
                "executor_id": executor,
                "registered_at": moment,
                "created_at": moment,
                "registered_on": registered_on,
                "term_start_on": registered_on,
                "term_days": 30,
                "term_working": False,
                "extension_days": 0,
                "extended_days": 0,
                "paused_days": 0,
                "due_on": registered_on + timedelta(days=30),
                "reopen_count": 0,
                "language": "ru",
            }
        )
    return rows


def load_people(accounts: int) -> None:
    """Staff (the executors), and accounts the appeals name."""
    db.session.execute(
        insert(Staff),
        [
            {
                "id": n,
                "email": f"staff{n}@bench.example.ru",
                "full_name": f"Сотрудник {n}",
                "role": "operator" if n > 1 else "supervisor",
                "password_hash": PASSWORD_HASH,
                "active": True,
                "created_at": datetime.now(UTC),
            }
            for n in range(1, STAFF + 1)
        ],
    )
    db.session.execute(
        insert(Premises),
        [
            {"id": n, "address": f"ул. Ленина, {n}", "residents": 1, "owners": 1}
            for n in range(1, accounts + 1)
        ],
    )
    db.session.execute(
        insert(Customer),
        [
            {
                "id": n,
                "kind": "person",
                "full_name": f"Абонент {n}",
                "created_at": datetime.now(UTC),
            }
            for n in range(1, accounts + 1)
        ],
    )
    db.session.execute(
        insert(Account),
        [
            {
                "id": n,
                "number": f"{5200000000 + n}",
                "secret_code": "AB12CD",
                "category": "population",
                "customer_id": n,
                "premises_id": n,
                "opened_on": date(2020, 1, 1),
                "created_at": datetime.now(UTC),
            }
            for n in range(1, accounts + 1)
        ],
    )


def load(count: int) -> None:
    accounts = max(10, count // 10)
    load_people(accounts)
    rows = appeal_rows(count, accounts)
    for start in range(0, len(rows), 10_000):
        db.session.execute(insert(Appeal), rows[start : start + 10_000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # What autovacuum does soon after a load: statistics and the visibility map (which
        # lets the partial index answer the counts without reading the table).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def timed(clients, url_of) -> list[float]:
    """The median time of each client's page, measured turn by turn (small, large, small…)
    so that a change in the machine's load touches both alike."""
    for client, url in zip(clients, url_of, strict=True):
        assert client.get(url).status_code == 200, url
    samples = [[] for _client in clients]
    for _run in range(RUNS):
        for index, (client, url) in enumerate(zip(clients, url_of, strict=True)):
            started = time.perf_counter()
            response = client.get(url)
            samples[index].append(time.perf_counter() - started)
            assert response.status_code == 200, url
    return [statistics.median(times) * 1000 for times in samples]


def prepare(url: str, count: int):
    """A loaded database and a signed-in client of its app; the number of an open appeal."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SERVER_NAME": "bench.local",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        load(count)
        seconds = time.perf_counter() - started
        print(f"  {db.engine.dialect.name}: {count} appeals loaded in {seconds:.1f} s", flush=True)
        number = db.session.scalar(
            db.select(Appeal.number).where(Appeal.status == "in_work").limit(1)
        )
        db.session.remove()
    client = app.test_client()
    login = {"email": "staff2@bench.example.ru", "password": PASSWORD}
    assert client.post("/admin/login", data=login).status_code == 303
    return app, client, number


def measure(prepared) -> dict[str, list[float]]:
    clients = [client for _app, client, _number in prepared]
    results = {}
    for name, path in PAGES:
        urls = [path.format(number=number) for _app, _client, number in prepared]
        results[name] = timed(clients, urls)
    for app, _client, _number in prepared:
        with app.app_context():
            db.engine.dispose()
    return results


def postgres_database(server_url: str, name: str):
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    return admin, server_url.rsplit("/", 1)[0] + f"/{name}"


def run_postgres(small: int, large: int) -> dict:
    server = os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    names = ("bench_appeals_small", "bench_appeals_large")
    admins, prepared = [], []
    try:
        for name, count in zip(names, (small, large), strict=True):
            admin, url = postgres_database(server, name)
            admins.append(admin)
            prepared.append(prepare(url, count))
        return measure(prepared)
    finally:
        for admin, name in zip(admins, names, strict=False):
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()


def run_sqlite(small: int, large: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        prepared = [prepare(f"sqlite:///{tmp}/{n}.db", n) for n in (small, large)]
        return measure(prepared)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    results = (run_sqlite if args.sqlite else run_postgres)(args.small, args.large)
    print()
    print(f"{'page':<26}{args.small:>10} ms{args.large:>12} ms{'ratio':>8}")
    for name, _path in PAGES:
        small, large = results[name]
        ratio = large / small
        mark = "" if ratio <= 2 else "  over 2x"
        print(f"{name:<26}{small:>13.1f}{large:>15.1f}{ratio:>8.2f}{mark}")


if __name__ == "__main__":
    main()
