"""Benchmark: the CSV import of remote-metering readings against a raw bulk insert.

    .venv/bin/python benchmarks/readings_import.py [--rows 100000] [--meters 50000]
        [--backend all|sqlite|postgresql] [--repeat 1] [--profile]

For each backend (SQLite in a temporary file; PostgreSQL when ``BENCH_DATABASE_URL`` or
postgresql://postgres@127.0.0.1:5432/test answers, in a database ``bench_readings`` created
and dropped here) it generates accounts and meters (a quarter of them two-rate) with three
months of accepted history, and a CSV of readings for the last month (two dates per meter
zone; a few bad lines). Then it times:

- *preview*: upload and check every line (``create_batch``, then ``check_batch`` as the
  background worker does for a file this large);
- *import*: the background import of the same file (``run_import``): check again,
  INSERT in chunks, supersede, commit progress per chunk;
- *raw*: the same rows into the same table with no checks at all: SQLite
  ``executemany(INSERT …)``, PostgreSQL ``COPY … FROM STDIN`` through psycopg.

and prints backend, rows, seconds, rows/s and the import/raw ratio. ``--repeat N`` runs
everything N times (a fresh database each time) and prints the median and the range of
the import's rows/s and ratio: on a shared machine single runs vary by a third or more,
and the ratio (import and raw measured in the same run) varies less than rows/s.
``--profile`` prints the import's cProfile top functions.
"""

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BENCH_DB = "bench_readings"
COLUMNS = (
    "meter_id",
    "zone",
    "period",
    "taken_on",
    "value",
    "consumption",
    "source",
    "status",
    "reason",
    "external_ref",
    "import_batch_id",
    "entered_by_staff_id",
    "created_at",
)


def months_back(day: date, months: int) -> date:
    month = day.year * 12 + day.month - 1 - months
    return date(month // 12, month % 12 + 1, 1)


# --- data ---------------------------------------------------------------------------------


def bulk(session, model, rows: list[dict]) -> None:
    """Insert seed rows fast: COPY on PostgreSQL, executemany elsewhere."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), 20_000):
            session.execute(insert(model), rows[start : start + 20_000])
        return
    columns = list(rows[0])
    cursor = connection.connection.cursor()
    with cursor.copy(f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def seed(session, meters: int, rng: random.Random):
    """Accounts with one meter each and three months of accepted readings, inserted raw.
    Returns [(account number, serial, zones, last value per zone)]."""
    from portal.models import Account, Customer, Meter, Premises, Reading, Staff

    session.execute(
        insert(Customer), [{"id": 1, "kind": "person", "full_name": "Бенчмарков Б. Б."}]
    )
    session.execute(insert(Premises), [{"id": 1, "address": "г. Тест, ул. Тестовая, 1"}])
    session.execute(
        insert(Staff),
        [
            {
                "id": 1,
                "email": "bench@example.ru",
                "full_name": "Бенч",
                "role": "metering",
                "password_hash": "x",
            }
        ],
    )
    accounts = [
        {
            "id": n,
            "number": f"77{n:08d}",
            "secret_code": "AB12CD",
            "customer_id": 1,
            "premises_id": 1,
            "opened_on": date(2020, 1, 1),
            "category": "population",
            "created_at": datetime.now(UTC),
        }
        for n in range(1, meters + 1)
    ]
    meter_rows = [
        {
            "id": n,
            "account_id": n,
            "service": "electricity",
            "serial_number": f"{n * 7919 % 100_000_000:08d}",
            "zones": 2 if n % 4 == 0 else 1,
            "whole_digits": 6,
            "fraction_digits": 1,
            "installed_on": date(2020, 1, 1),
            "verification_due": date(2032, 1, 1),
            "status": "active",
            "remote_read": True,
            "created_at": datetime.now(UTC),
        }
        for n in range(1, meters + 1)
    ]
    bulk(session, Account, accounts)
    bulk(session, Meter, [row | {"seal_number": None, "model": None} for row in meter_rows])
    today = datetime.now(UTC).date()
    last_month = months_back(today, 1)
    history = []
    result = []
    now = datetime.now(UTC)
    for meter in meter_rows:
        names = ("day", "night") if meter["zones"] == 2 else ("total",)
        last_values = {}
        for zone in names:
            value = Decimal(rng.randint(1_000, 50_000))
            for back in (4, 3, 2):
                period = months_back(today, back)
                used = Decimal(rng.randint(100, 300))
                value += used
                history.append(
                    {
                        "meter_id": meter["id"],
                        "zone": zone,
                        "period": period,
                        "taken_on": period.replace(day=20),
                        "value": value,
                        "consumption": None if back == 4 else used,
                        "source": "remote",
                        "status": "accepted",
                        "created_at": now,
                    }
                )
            last_values[zone] = value
        result.append(
            (accounts[meter["id"] - 1]["number"], meter["serial_number"], names, last_values)
        )
    bulk(session, Reading, history)
    session.commit()
    if session.connection().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))  # as autovacuum would after a big load
        session.commit()
    return result, last_month, len(history)


def make_csv(meters, rows: int, period: date, rng: random.Random) -> bytes:
    """Lines for the month ``period``: every meter zone on the 10th, then on the 20th …
    until there are ``rows`` lines; about 0.5 % of them wrong in some way."""
    lines = ["Лицевой счёт;Заводской номер;Зона;Дата;Показание"]
    days = [period.replace(day=d) for d in (10, 20, 25, 5, 15, 28)]
    count = 0
    for day in days:
        for number, serial, names, last in meters:
            for zone in names:
                if count >= rows:
                    break
                count += 1
                last[zone] = last[zone] + Decimal(rng.randint(1, 150)) / 10
                value = f"{last[zone]:.1f}".replace(".", ",")
                zone_text = {"total": "1", "day": "день", "night": "ночь"}[zone]
                roll = rng.random()
                serial_text = "X" + serial if roll < 0.001 else serial  # unknown meter
                if 0.001 <= roll < 0.002:
                    value = "12,345"  # too many decimals and below the previous
                if 0.002 <= roll < 0.003:
                    value = "abc"
                date_text = day.strftime("%d.%m.%Y") if count % 2 else day.isoformat()
                lines.append(f"{number};{serial_text};{zone_text};{date_text};{value}")
    return ("\n".join(lines) + "\n").encode("utf-8")


# --- runs ---------------------------------------------------------------------------------


def raw_insert(engine, rows: list[tuple]) -> float:
    """The same rows into readings with no checks: executemany on SQLite, COPY on PostgreSQL."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        started = time.perf_counter()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY readings ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in COLUMNS)
            cursor.executemany(
                f"INSERT INTO readings ({', '.join(COLUMNS)}) VALUES ({marks})", rows
            )
        connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def sqlite_rows(rows: list[tuple]) -> list[tuple]:
    """Rows as SQLAlchemy stores them in SQLite (dates and times as text, numbers as float)."""
    prepared = []
    for row in rows:
        prepared.append(
            tuple(
                value.isoformat()
                if isinstance(value, date) and not isinstance(value, datetime)
                else value.replace(tzinfo=None).isoformat(sep=" ")
                if isinstance(value, datetime)
                else float(value)
                if isinstance(value, Decimal)
                else value
                for value in row
            )
        )
    return prepared


def run_backend(name: str, url: str, args) -> dict:
    from portal import create_app
    from portal.extensions import db
    from portal.models import Reading
    from portal.services import readings_import

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "SERVER_NAME": "bench.local",
            "RATELIMIT_ENABLED": False,
            "READINGS_IMPORT_MAX_LINES": max(args.rows * 2, 500_000),
        }
    )
    rng = random.Random(2026)
    with app.app_context():
        db.drop_all()
        db.create_all()
        session = db.session
        started = time.perf_counter()
        meters, period, history = seed(session, args.meters, rng)
        data = make_csv(meters, args.rows, period, rng)
        print(
            f"[{name}] seeded {args.meters} meters, {history} history readings, "
            f"a CSV of {args.rows} lines ({len(data) / 1e6:.1f} MB) in "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )

        started = time.perf_counter()
        batch = readings_import.create_batch(session, filename="bench.csv", data=data, staff_id=1)
        batch_id = batch.id
        if batch.status == "uploaded":  # a large file: checked by the background worker
            readings_import.check_batch(session, batch_id)
        preview_seconds = time.perf_counter() - started
        readings_import.queue(session, batch_id, staff_id=1)

        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        batch = readings_import.run_import(session, batch_id)
        if profiler:
            profiler.disable()
        import_seconds = time.perf_counter() - started
        if batch is None or batch.status != "done":
            raise SystemExit(f"the import did not finish: {batch and batch.status}")
        imported = batch.imported_lines
        summary = (batch.total_lines, batch.imported_lines, batch.error_lines)

        # The same rows once more, raw, into the same table (as another source's lines, so
        # the unique key does not refuse them): no checks, one statement stream.
        rows = session.execute(
            select(*(getattr(Reading, c) for c in COLUMNS))
            .where(Reading.import_batch_id == batch_id)
            .order_by(Reading.id)
        ).all()
        session.commit()
        ref = COLUMNS.index("external_ref")
        rows = [(*row[:ref], "raw", *row[ref + 1 :]) for row in rows]
        assert len(rows) == imported
        if db.engine.dialect.name == "sqlite":
            rows = sqlite_rows(rows)
        raw_seconds = raw_insert(db.engine, rows)
        stored = session.scalar(
            select(func.count()).select_from(Reading).where(Reading.external_ref == "raw")
        )
        assert stored == imported, (stored, imported)
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            print(out.getvalue(), file=sys.stderr)
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    return {
        "backend": name,
        "lines": summary[0],
        "rows": imported,
        "errors": summary[2],
        "preview": preview_seconds,
        "import": import_seconds,
        "raw": raw_seconds,
    }


def postgres_url() -> str | None:
    """The admin URL of a reachable PostgreSQL, or None."""
    import psycopg

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG)
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(plain, connect_timeout=3).close()
    except psycopg.Error as error:
        print(f"PostgreSQL not reachable at {plain}: {error}", file=sys.stderr)
        return None
    return plain


def with_database(url: str, name: str) -> str:
    return (
        make_url(url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


def create_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        connection.execute(f"CREATE DATABASE {BENCH_DB}")


def drop_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--meters", type=int, default=50_000)
    parser.add_argument("--backend", choices=("all", "sqlite", "postgresql"), default="all")
    parser.add_argument("--repeat", type=int, default=1, help="runs per backend")
    parser.add_argument("--profile", action="store_true", help="cProfile the import")
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        # The app keeps a secret key and such in its instance folder: a throw-away one.
        os.environ["PORTAL_INSTANCE_DIR"] = tmp
        admin = postgres_url() if args.backend in ("all", "postgresql") else None
        for _run in range(args.repeat):
            if args.backend in ("all", "sqlite"):
                path = Path(tmp) / "bench.db"
                path.unlink(missing_ok=True)  # a fresh file each run, as PostgreSQL's database
                results.append(run_backend("sqlite", f"sqlite:///{path}", args))
            if admin:
                create_database(admin)
                try:
                    results.append(run_backend("postgresql", with_database(admin, BENCH_DB), args))
                finally:
                    drop_database(admin)

    print()
    print(
        f"{'backend':<11} {'step':<8} {'lines':>8} {'rows':>8} {'seconds':>8} "
        f"{'rows/s':>9} {'import/raw':>10}"
    )
    for result in results:
        for step in ("preview", "import", "raw"):
            seconds = result[step]
            lines = result["lines"] if step != "raw" else result["rows"]
            ratio = f"{result['import'] / result['raw']:.2f}×" if step == "import" else ""
            print(
                f"{result['backend']:<11} {step:<8} {lines:>8} {result['rows']:>8} "
                f"{seconds:>8.2f} {result['rows'] / seconds:>9,.0f} {ratio:>10}"
            )
    if args.repeat > 1:
        print()
        for backend in dict.fromkeys(result["backend"] for result in results):
            runs = [result for result in results if result["backend"] == backend]
            speeds = [result["rows"] / result["import"] for result in runs]
            ratios = [result["import"] / result["raw"] for result in runs]
            median = statistics.median
            print(
                f"{backend:<11} import over {len(runs)} runs: median {median(speeds):,.0f} "
                f"rows/s ({min(speeds):,.0f}–{max(speeds):,.0f}), import/raw median "
                f"{median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"
            )


if __name__ == "__main__":
    main()
