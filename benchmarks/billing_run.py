"""Benchmark: the monthly billing run against one raw INSERT … SELECT of the same charges.

    .venv/bin/python benchmarks/billing_run.py                       # SQLite 100 000, PostgreSQL 1 000 000
    .venv/bin/python benchmarks/billing_run.py --sqlite 20000 --postgres 0

Generates accounts with a year of readings (some meters skip the billed month, so they are
billed by average; some accounts have no meters, so by norm), runs
``portal.services.billing.run`` for the last month, then, in the same run and database, a
raw INSERT … SELECT written by hand that produces the same charges, checks both agree
line by line in count and total, and prints seconds, accounts/s and the ratio.
PostgreSQL: BENCH_DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/postgres);
a database (``--database``, default ``bench_billing``) is created and dropped.

Since #9: some meters miss one, two or three months before the billed month and are read in
it (their earlier estimates are in ``estimated_volumes``, as earlier runs left them), some
miss five months (by the norm after three), and the average is the monthly consumption over
the months the readings span; the run also writes estimates and settles them.
"""

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.services import billing, months  # noqa: E402

PERIOD = date(2026, 10, 1)
MONTHS = [months.add_months(PERIOD, -k) for k in range(11, -1, -1)]  # a year up to October
TARIFFS = (
    [  # service, zone, category, rate
        ("electricity", zone, category, rate * (Decimal("1.6") if category == "others" else 1))
        for zone, rate in (
            ("total", Decimal("6.43")),
            ("day", Decimal("7.38")),
            ("night", Decimal("3.12")),
        )
        for category in ("population", "others")
    ]
    + [("cold_water", "total", category, Decimal("48.20")) for category in ("population", "others")]
    + [("heat", "total", category, Decimal("2950.45")) for category in ("population", "others")]
)
NORMS = [
    ("electricity", "per_resident", "100"),
    ("cold_water", "per_resident", "4.85"),
    ("heat", "per_m2", "0.0185"),
]


def _missed_months(rng) -> set:
    """The months a meter sends no reading: none mostly; October (billed by the average);
    one, two or three months before October, then read in October (the estimates of those
    months taken back); or June to October (five months: by the norm after three)."""
    draw = rng.random()
    if draw < 0.15:
        return {PERIOD}
    if draw < 0.25:
        return set(MONTHS[-1 - rng.randint(1, 3) : -1])
    if draw < 0.27:
        return set(MONTHS[-5:])
    return set()


TABLES = (
    "customers",
    "premises",
    "accounts",
    "account_services",
    "meters",
    "readings",
    "estimated_volumes",
)
BATCH_ACCOUNTS = 50_000  # generated and loaded at a time: a million at once needs ~10 GB


def _zone_history(rng, tables, ids, key, missed) -> None:
    """A year of readings of one meter zone; a missed month adds nothing (its consumption
    comes with the next reading) and, before the billed month, an estimate an earlier run
    made."""
    account_id, meter_id, service, zone = key
    value = Decimal(rng.randint(100, 5000))
    owed = Decimal(0)  # consumption of the missed months, read later
    for month in MONTHS:
        consumption = (
            Decimal(rng.randint(50, 400))
            if service == "electricity"
            else Decimal(rng.randint(2, 15))
        )
        value += consumption
        if month in missed:
            owed += consumption
            if month < PERIOD:  # an earlier run charged it by estimate
                tables["estimated_volumes"].append(
                    (next(ids["estimate"]), account_id, meter_id, service, zone, month.isoformat())
                    + ("average", str(consumption + 7), "6", None)
                )
            continue
        tables["readings"].append(
            (next(ids["reading"]), meter_id, zone, month.isoformat())
            + (month.replace(day=20).isoformat(), str(value), str(consumption + owed))
            + ("customer", "accepted", "2026-01-01 00:00:00")
        )
        owed = Decimal(0)


def generate(accounts: int, seed: int = 7, batch: int = BATCH_ACCOUNTS):
    """Rows for every table, as tuples, in insertion order: one dict of tables per batch of
    accounts (the same rows whatever the batch size)."""
    rng = random.Random(seed)
    tables = {name: [] for name in TABLES}
    meter_id = service_id = 0
    ids = {"reading": itertools.count(1), "estimate": itertools.count(1)}
    for n in range(1, accounts + 1):
        tables["customers"].append(
            (n, "person", f"Абонент {n}", False, False, "2020-01-01 00:00:00")
        )
        tables["premises"].append(
            (
                n,
                f"г. Выкса, ул. Ленина, д. {n % 200}, кв. {n % 90}",
                f"{rng.randint(28, 120)}.50",
                rng.randint(1, 5),
            )
        )
        category = "others" if n % 20 == 0 else "population"
        tables["accounts"].append(
            (n, f"{5200000000 + n}", "AB12CD", category, n, n, "2020-01-01", "2020-01-01 00:00:00")
        )
        services = ["electricity", "cold_water"] + (["heat"] if n % 3 == 0 else [])
        for service in services:
            service_id += 1
            tables["account_services"].append((service_id, n, service, "2020-01-01"))
        for service in services:
            if service == "heat" or rng.random() < 0.1:
                continue  # no meter: billed by norm
            meter_id += 1
            zones = (
                ("day", "night") if service == "electricity" and rng.random() < 0.4 else ("total",)
            )
            tables["meters"].append(
                (
                    meter_id,
                    n,
                    service,
                    f"SN{meter_id:09d}",
                    len(zones),
                    6,
                    1 if service == "electricity" else 3,
                    "2020-01-01",
                    "2030-01-01",
                    "active",
                    False,
                    "2020-01-01 00:00:00",
                )
            )
            missed = _missed_months(rng)
            for zone in zones:
                _zone_history(rng, tables, ids, (n, meter_id, service, zone), missed)
        if n % batch == 0 or n == accounts:
            yield tables
            tables = {name: [] for name in TABLES}


COLUMNS = {
    "customers": "id, kind, full_name, lives_alone_disabled, is_veteran, created_at",
    "premises": "id, address, area_m2, residents",
    "accounts": "id, number, secret_code, category, customer_id, premises_id, opened_on, created_at",
    "account_services": "id, account_id, service, started_on",
    "meters": "id, account_id, service, serial_number, zones, whole_digits, fraction_digits, installed_on, verification_due, status, remote_read, created_at",
    "readings": "id, meter_id, zone, period, taken_on, value, consumption, source, status, created_at",
    "estimated_volumes": "id, account_id, meter_id, service, zone, period, method, volume, basis, settled_in",
}


def load(engine, batches) -> int:
    """Every batch of rows into its tables, then the tariffs and norms; returns how many
    readings were loaded."""
    readings = 0
    for tables in batches:
        _load_rows(engine, tables)
        readings += len(tables["readings"])
    _load_prices(engine)
    return readings


def _load_rows(engine, tables) -> None:
    with engine.begin() as connection:
        for name, rows in tables.items():
            if not rows:
                continue
            if engine.dialect.name == "postgresql":
                # Loading only: the generated rows are consistent, so skip per-row FK checks.
                connection.execute(text("SET LOCAL session_replication_role = replica"))
                raw = connection.connection.driver_connection
                with raw.cursor().copy(f"COPY {name} ({COLUMNS[name]}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(rows[0]))
                connection.connection.driver_connection.executemany(
                    f"INSERT INTO {name} ({COLUMNS[name]}) VALUES ({marks})", rows
                )


def _load_prices(engine) -> None:
    with engine.begin() as connection:
        for n, (service, zone, category, rate) in enumerate(TARIFFS, 1):
            connection.execute(
                text(
                    "INSERT INTO tariffs (id, service, zone, category, rate, valid_from, created_at) VALUES (:i, :s, :z, :c, :r, '2026-01-01', '2026-01-01 00:00:00')"
                ),
                {"i": n, "s": service, "z": zone, "c": category, "r": str(rate)},
            )
        for n, (service, basis, volume) in enumerate(NORMS, 1):
            connection.execute(
                text(
                    "INSERT INTO consumption_norms (id, service, basis, volume, valid_from, created_at) VALUES (:i, :s, :b, :v, '2026-01-01', '2026-01-01 00:00:00')"
                ),
                {"i": n, "s": service, "b": basis, "v": volume},
            )
        if engine.dialect.name == "postgresql":
            for name in [*COLUMNS, "tariffs", "consumption_norms"]:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        # Leave the tables as autovacuum leaves a live database: statistics, hint bits and
        # visibility map. Without VACUUM the first statement timed (the service's) would pay
        # for setting the hint bits of every freshly loaded page, and the raw SQL would not.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def _dialect_sql(dialect: str) -> dict:
    """The few expressions the two databases spell differently."""
    if dialect == "sqlite":
        return {
            "nudge": " + 0.000000005",
            "typed": "",
            "months_back": lambda column, n: f"date({column}, '-{n} months')",
            "month_number": lambda column: (
                f"(CAST(strftime('%Y', {column}) AS INTEGER) * 12"
                f" + CAST(strftime('%m', {column}) AS INTEGER))"
            ),
        }
    return {
        "nudge": "",
        "typed": "DATE ",
        "months_back": lambda column, n: f"CAST({column} - INTERVAL '{n} months' AS DATE)",
        "month_number": lambda column: (
            f"(extract(year FROM {column}) * 12 + extract(month FROM {column}))"
        ),
    }


def _raw_estimate_ctes(p: str, first: str, last: str, in_service: str, spell: dict) -> str:
    """The CTEs of the charges by meter and by average (ПП 354 п. 59, 60)."""
    span, window_first = spell["month_number"], months.add_months(PERIOD, -9).isoformat()
    return f"""
    WITH metered AS (
        SELECT m.account_id, m.service, r.zone, 'meter' AS method, sum(r.consumption) AS volume, CAST(NULL AS NUMERIC) AS basis
        FROM meters m JOIN readings r ON r.meter_id = m.id
        WHERE r.period = '{p}' AND {in_service} AND r.consumption IS NOT NULL
        GROUP BY m.account_id, m.service, r.zone
    ), metered_services AS (SELECT DISTINCT account_id, service FROM metered),
    last_read AS (
        SELECT m.id AS meter_id, m.account_id, m.service, r.zone, max(r.period) AS last_period
        FROM meters m JOIN readings r ON r.meter_id = m.id
        LEFT JOIN metered_services ms ON ms.account_id = m.account_id AND ms.service = m.service
        WHERE ms.account_id IS NULL AND m.status = 'active' AND r.period BETWEEN '{first}' AND '{last}' AND {in_service}
        GROUP BY m.id, m.account_id, m.service, r.zone
    ), spanned AS (
        SELECT l.meter_id, l.account_id, l.service, l.zone, l.last_period, r.period, r.consumption,
               min(r.period) OVER (PARTITION BY l.meter_id, l.zone) AS first_period
        FROM last_read l JOIN readings r ON r.meter_id = l.meter_id AND r.zone = l.zone
        JOIN meters m ON m.id = r.meter_id
        WHERE r.period BETWEEN '{window_first}' AND '{last}'
          AND r.period >= {spell["months_back"]("l.last_period", 6)} AND r.period <= l.last_period AND {in_service}
    ), meter_averages AS (
        SELECT account_id, service, zone,
               round(sum(CASE WHEN period > first_period THEN consumption END) * 1.0
                     / ({span("last_period")} - {span("first_period")}), 4) AS volume,
               {span("last_period")} - {span("first_period")} AS basis
        FROM spanned
        WHERE {span("last_period")} - {span("first_period")} >= 3
        GROUP BY meter_id, account_id, service, zone, first_period, last_period
        HAVING count(CASE WHEN period > first_period THEN consumption END) > 0
    ), averaged AS (
        SELECT account_id, service, zone, 'average' AS method, sum(volume) AS volume, CAST(max(basis) AS NUMERIC) AS basis
        FROM meter_averages GROUP BY account_id, service, zone
    ), averaged_services AS (SELECT DISTINCT account_id, service FROM averaged),
    normed AS (
        SELECT s.account_id, s.service, 'total' AS zone, 'norm' AS method,
               n.volume * CASE WHEN n.basis = 'per_m2' THEN coalesce(pr.area_m2, 0) ELSE pr.residents END AS volume,
               CASE WHEN n.basis = 'per_m2' THEN coalesce(pr.area_m2, 0) ELSE pr.residents END AS basis
        FROM account_services s
        JOIN accounts a ON a.id = s.account_id JOIN premises pr ON pr.id = a.premises_id
        JOIN consumption_norms n ON n.service = s.service AND n.valid_from <= '{p}' AND (n.valid_to IS NULL OR n.valid_to >= '{p}')
        LEFT JOIN metered_services ms ON ms.account_id = s.account_id AND ms.service = s.service
        LEFT JOIN averaged_services av ON av.account_id = s.account_id AND av.service = s.service
        WHERE ms.account_id IS NULL AND av.account_id IS NULL
    """


def raw_sql(dialect: str) -> str:
    """The same charges and recalculations in one hand-written INSERT … SELECT: by meter;
    by the average of each meter zone over the readings of up to 6 months before its last
    one (within 3 periods, spanning at least 3 months: ПП 354 п. 59, 60); by norm; and the
    estimates of meters read this month taken back (п. 61)."""
    spell = _dialect_sql(dialect)
    nudge, typed = spell["nudge"], spell["typed"]
    stamp = "'2026-11-01 00:00:00'" if dialect == "sqlite" else "TIMESTAMPTZ '2026-11-01 00:00:00Z'"
    p, p_end = PERIOD.isoformat(), months.month_end(PERIOD).isoformat()
    first, last = (
        months.add_months(PERIOD, -3).isoformat(),
        months.add_months(PERIOD, -1).isoformat(),
    )
    actual = "('customer', 'operator', 'controller', 'remote')"
    in_service = (
        f"r.status = 'accepted' AND r.source IN {actual} AND r.taken_on <= m.verification_due"
    )
    ctes = _raw_estimate_ctes(p, first, last, in_service, spell)
    return f"""
    INSERT INTO charges_raw (account_id, period, service, zone, method, volume, tariff, amount, basis, created_at)
    {ctes}    ), read_meters AS (
        SELECT DISTINCT r.meter_id FROM readings r JOIN meters m ON m.id = r.meter_id
        WHERE r.period = '{p}' AND {in_service} AND r.consumption IS NOT NULL
    ), taken_back AS (
        SELECT e.account_id, e.service, e.zone, round(sum(e.volume), 4) AS volume
        FROM estimated_volumes e JOIN read_meters rm ON rm.meter_id = e.meter_id
        -- open before the service's run, which settled them in this period
        WHERE e.period < '{p}' AND (e.settled_in IS NULL OR e.settled_in = '{p}')
        GROUP BY e.account_id, e.service, e.zone
    ), volumes AS (
        SELECT account_id, service, zone, method, round(volume, 4) AS volume, basis FROM metered
        UNION ALL SELECT account_id, service, zone, method, round(volume, 4), basis FROM averaged
        UNION ALL SELECT account_id, service, zone, method, round(volume, 4), basis FROM normed
    )
    SELECT v.account_id, {typed}'{p}', v.service, v.zone, v.method, v.volume, t.rate,
           round(v.volume * t.rate{nudge}, 2), v.basis, {stamp}
    FROM volumes v JOIN accounts a ON a.id = v.account_id
    JOIN tariffs t ON t.service = v.service AND t.zone = v.zone AND t.category = a.category
         AND t.valid_from <= '{p}' AND (t.valid_to IS NULL OR t.valid_to >= '{p}')
    WHERE a.opened_on <= '{p_end}' AND (a.closed_on IS NULL OR a.closed_on >= '{p}')
    UNION ALL
    SELECT b.account_id, {typed}'{p}', b.service, b.zone, 'recalculation', -b.volume, t.rate,
           -round(b.volume * t.rate{nudge}, 2), NULL, {stamp}
    FROM taken_back b JOIN accounts a ON a.id = b.account_id
    JOIN tariffs t ON t.service = b.service AND t.zone = b.zone AND t.category = a.category
         AND t.valid_from <= '{p}' AND (t.valid_to IS NULL OR t.valid_to >= '{p}')
    """


def bench(url: str, accounts: int) -> dict:
    engine = create_engine(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "bench.local"})
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        readings = load(engine, generate(accounts))
        prepared = time.perf_counter() - started
        print(
            f"  {engine.dialect.name}: {accounts} accounts, {readings} readings generated and loaded in {prepared:.1f} s",
            flush=True,
        )

        started = time.perf_counter()
        totals = billing.run(db.session, PERIOD)
        service_seconds = time.perf_counter() - started

        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE charges_raw AS SELECT * FROM charges WHERE 1 = 0")
            )
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(raw_sql(engine.dialect.name)))
        raw_seconds = time.perf_counter() - started
        with engine.connect() as connection:
            raw_lines, raw_amount = connection.execute(
                text("SELECT count(*), sum(amount) FROM charges_raw")
            ).one()
            mismatches = connection.execute(
                text("""
                SELECT count(*) FROM (
                    SELECT account_id, service, zone, method, volume, amount FROM charges
                    EXCEPT SELECT account_id, service, zone, method, volume, amount FROM charges_raw) d
            """)
            ).scalar()
        db.session.remove()
    engine.dispose()
    return {
        "backend": engine.dialect.name,
        "accounts": accounts,
        "lines": totals.lines,
        "service_s": service_seconds,
        "raw_s": raw_seconds,
        "detail": (totals.lines, raw_lines, totals.amount, raw_amount, mismatches),
        "same": totals.lines == raw_lines
        and totals.amount == Decimal(str(raw_amount)).quantize(Decimal("0.01"))
        and mismatches == 0,
        "amount": totals.amount,
    }


def postgres_database(server_url: str, name: str = "bench_billing"):
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    return admin, server_url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=int, default=100_000, help="accounts on SQLite (0 skips)")
    parser.add_argument(
        "--postgres", type=int, default=1_000_000, help="accounts on PostgreSQL (0 skips)"
    )
    parser.add_argument(
        "--database",
        default="bench_billing",
        help="the PostgreSQL database created and dropped for the run (one per engineer)",
    )
    args = parser.parse_args()
    results = []
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(bench(f"sqlite:///{tmp}/bench.db", args.sqlite))
    if args.postgres:
        server = os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        )
        admin, url = postgres_database(server, args.database)
        try:
            results.append(bench(url, args.postgres))
        finally:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)"))
    print()
    print(
        f"{'backend':<11}{'accounts':>10}{'lines':>10}{'run, s':>9}{'acc/s':>10}{'raw SQL, s':>12}{'ratio':>7}  same charges"
    )
    for r in results:
        print(
            f"{r['backend']:<11}{r['accounts']:>10}{r['lines']:>10}{r['service_s']:>9.1f}{r['accounts'] / r['service_s']:>10.0f}"
            f"{r['raw_s']:>12.1f}{r['service_s'] / r['raw_s']:>7.2f}  {'yes' if r['same'] else 'NO'}"
        )


if __name__ == "__main__":
    main()
