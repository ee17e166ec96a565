"""Benchmark: issue one period's documents (invoice, VAT invoice, act) for N contracts,
with 1 and with 2 processes, and print documents/s for each and the speed-up.

    .venv/bin/python benchmarks/documents.py                    # 2 000 contracts, SQLite
    .venv/bin/python benchmarks/documents.py --contracts 200
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_documents \\
        .venv/bin/python benchmarks/documents.py                # an existing, empty database

Each run starts from a fresh database: N organisations, each with a contract, a supply
point charged for electricity and heat, a bill. The processes share the contracts (every
second one) and take numbers from the same counter rows (held only while a chunk is
numbered, not while it is rendered); the run checks that every
contract got its three documents and that each kind's numbers run 1…N with no gap and
no repeat. The time is WeasyPrint's rendering, nearly all of it: the baseline to compare
a change against is the 1-process line of the same run.
"""

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import (  # noqa: E402
    Account,
    Bill,
    BillingPeriod,
    Charge,
    Contract,
    ContractDocument,
    Customer,
    Organisation,
    Premises,
)
from portal.services import contract_documents  # noqa: E402

PERIOD = date(2026, 10, 1)


def app_for(url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})


def generate(url: str, contracts: int) -> None:
    app = app_for(url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        session = db.session
        session.add(BillingPeriod(period=PERIOD, status="closed"))
        for n in range(contracts):
            add_contract(session, n)
        session.commit()
        db.engine.dispose()


def add_contract(session, n: int) -> None:
    """An organisation with a contract, a supply point charged for October and a bill."""
    organisation = Organisation(
        name=f"ООО «Бенчмарк {n}»",
        inn=f"77{n:08d}",
        kpp="770101001",
        legal_address="г. Москва, ул. Тверская, д. 1",
    )
    session.add(organisation)
    session.flush()
    contract = Contract(
        number=f"Д-{n:05d}", signed_on=date(2024, 1, 15), organisation_id=organisation.id
    )
    customer = Customer(kind="organisation", full_name=organisation.name)
    premises = Premises(address=f"г. Выкса, ул. Заводская, д. {n}", residents=0)
    session.add_all([contract, customer, premises])
    session.flush()
    account = Account(
        number=f"53{n:08d}",
        secret_code="AB12CD",
        category="others",
        customer_id=customer.id,
        premises_id=premises.id,
        contract_id=contract.id,
        opened_on=date(2024, 1, 15),
    )
    session.add(account)
    session.flush()
    for service, volume, tariff in (("electricity", 1000 + n, "7.32"), ("heat", 2, "3050")):
        amount = (Decimal(volume) * Decimal(tariff)).quantize(Decimal("0.01"))
        session.add(
            Charge(
                account_id=account.id,
                period=PERIOD,
                service=service,
                zone="total",
                method="meter",
                volume=Decimal(volume),
                tariff=Decimal(tariff),
                amount=amount,
            )
        )
    session.add(
        Bill(
            account_id=account.id,
            period=PERIOD,
            opening_balance=Decimal(0),
            charges_total=Decimal(0),
            penalties_total=Decimal(0),
            payments_total=Decimal(0),
            closing_balance=Decimal(0),
            issued_on=date(2026, 11, 7),
            due_on=date(2026, 11, 10),
        )
    )


def pending(url: str) -> list[int]:
    app = app_for(url)
    with app.app_context():
        ids = contract_documents.contracts_to_issue(db.session, PERIOD)
        db.engine.dispose()
        return ids


def work(url: str, mine: set[int]) -> None:
    app = app_for(url)
    with app.app_context():
        contract_documents.issue_period(db.session, PERIOD, only=mine, commit=db.session.commit)
        db.session.commit()


def check(url: str, contracts: int) -> int:
    app = app_for(url)
    with app.app_context():
        count = db.session.scalar(select(func.count(ContractDocument.id)))
        assert count == 3 * contracts, (count, contracts)
        for kind in ("invoice", "vat_invoice", "act"):
            numbers = sorted(
                db.session.scalars(
                    select(ContractDocument.sequence).where(ContractDocument.kind == kind)
                )
            )
            assert numbers == list(range(1, contracts + 1)), f"{kind}: gap or repeat"
        db.engine.dispose()
        return count


def run(url: str, contracts: int, processes: int) -> tuple[int, float]:
    generate(url, contracts)
    ids = pending(url)  # shared out before any starts: each process sees the same list
    started = time.perf_counter()
    workers = [
        multiprocessing.get_context("spawn").Process(
            target=work, args=(url, set(ids[k::processes]))
        )
        for k in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0, "a worker failed"
    seconds = time.perf_counter() - started
    return check(url, contracts), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=2000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL")
    tmp = tempfile.TemporaryDirectory()
    url = url or f"sqlite:///{Path(tmp.name) / 'documents.db'}?timeout=60"
    print(f"{args.contracts} contracts, {url.split(':', 1)[0]}")
    print(f"{'processes':>9} {'documents':>10} {'seconds':>9} {'documents/s':>12} {'speed-up':>9}")
    baseline = None
    for processes in (1, 2):
        documents, seconds = run(url, args.contracts, processes)
        rate = documents / seconds
        baseline = baseline or rate
        print(
            f"{processes:>9} {documents:>10} {seconds:>9.1f} {rate:>12.1f} {rate / baseline:>8.2f}×"
        )


if __name__ == "__main__":
    main()
