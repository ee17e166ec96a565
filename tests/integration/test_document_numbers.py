"""Document numbers never repeat nor skip within a year (#13), also when several issues
run at once: a counter row taken by UPDATE in the issuing transaction (a rolled-back
issue gives its number back). The concurrent part needs PostgreSQL (TEST_DATABASE_URL)."""

import threading

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import DocumentCounter, DocumentKind
from portal.services.contract_documents import take_number

YEAR = 2099  # a year no other test issues in


def test_numbers_run_on_and_a_rollback_gives_the_number_back(app, db_session):
    assert [take_number(db_session, DocumentKind.ACT, YEAR) for _ in range(3)] == [1, 2, 3]
    nested = db_session.begin_nested()
    assert take_number(db_session, DocumentKind.ACT, YEAR) == 4
    nested.rollback()
    assert take_number(db_session, DocumentKind.ACT, YEAR) == 4
    assert take_number(db_session, DocumentKind.ACT, YEAR + 1) == 1  # a new year starts at 1
    assert take_number(db_session, DocumentKind.INVOICE, YEAR) == 1  # per kind


def test_concurrent_issues_take_every_number_once(app):
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect != "postgresql":
        pytest.skip("the concurrent numbering test needs PostgreSQL (TEST_DATABASE_URL)")
    taken: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def issue_many(rollback_every: int) -> None:
        with app.app_context():
            start.wait()
            for index in range(25):
                with Session(db.engine) as session:
                    number = take_number(session, DocumentKind.VAT_INVOICE, YEAR)
                    if rollback_every and index % rollback_every == 0:
                        session.rollback()  # a failed issue: its number is taken by the next
                        continue
                    session.commit()
                    with lock:
                        taken.append(number)

    try:
        threads = [threading.Thread(target=issue_many, args=(n,)) for n in (0, 0, 3, 5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        with app.app_context(), Session(db.engine) as session:
            last = session.scalar(
                select(DocumentCounter.last).where(
                    DocumentCounter.kind == DocumentKind.VAT_INVOICE, DocumentCounter.year == YEAR
                )
            )
        assert len(taken) == len(set(taken)), "no number given twice"
        assert sorted(taken) == list(range(1, len(taken) + 1)), "no gap"
        assert last == len(taken)
        assert len(taken) == 100 - 9 - 5  # 25 × 4 issues, 9 + 5 rolled back
    finally:
        with app.app_context(), Session(db.engine) as session:
            session.execute(delete(DocumentCounter).where(DocumentCounter.year == YEAR))
            session.commit()


def test_two_workers_issuing_one_period_at_once_issue_each_contract_once(app):
    """Two processes with the same list of pending contracts (two schedulers, a worker and
    the command): each contract gets one set, the numbers run without a gap."""
    from datetime import date
    from decimal import Decimal

    from sqlalchemy import func

    from portal.models import (
        Account,
        Bill,
        Charge,
        Contract,
        ContractDocument,
        Customer,
        Organisation,
        Premises,
    )
    from portal.services import contract_documents

    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect != "postgresql":
        pytest.skip("the concurrent issue test needs PostgreSQL (TEST_DATABASE_URL)")
    period = date(2099, 3, 1)
    created = {
        "organisations": [],
        "contracts": [],
        "accounts": [],
        "customers": [],
        "premises": [],
    }
    with app.app_context(), Session(db.engine) as session:
        for n in range(6):
            organisation = Organisation(
                name=f"ООО «Гонка {n}»", inn=f"99{n:08d}", legal_address="г. Выкса"
            )
            session.add(organisation)
            session.flush()
            contract = Contract(
                number=f"RACE-{n}", signed_on=date(2098, 1, 1), organisation_id=organisation.id
            )
            customer = Customer(kind="organisation", full_name=organisation.name)
            premises = Premises(address=f"ул. Гоночная, {n}", residents=0)
            session.add_all([contract, customer, premises])
            session.flush()
            account = Account(
                number=f"99{n:08d}",
                secret_code="X",
                customer_id=customer.id,
                premises_id=premises.id,
                contract_id=contract.id,
                opened_on=date(2098, 1, 1),
                category="others",
            )
            session.add(account)
            session.flush()
            session.add(
                Charge(
                    account_id=account.id,
                    period=period,
                    service="electricity",
                    zone="total",
                    method="meter",
                    volume=Decimal(10),
                    tariff=Decimal("6.10"),
                    amount=Decimal("61.00"),
                )
            )
            zero = Decimal(0)
            session.add(
                Bill(
                    account_id=account.id,
                    period=period,
                    opening_balance=zero,
                    charges_total=Decimal("61.00"),
                    penalties_total=zero,
                    payments_total=zero,
                    closing_balance=Decimal("61.00"),
                    issued_on=date(2099, 4, 1),
                    due_on=date(2099, 4, 10),
                )
            )
            created["contracts"].append(contract.id)
        session.commit()
    start = threading.Barrier(2)
    failures = []

    def worker():
        try:
            with app.app_context():
                session = db.session
                start.wait()
                contract_documents.issue_period(session, period, chunk=2, commit=session.commit)
                session.commit()
                db.session.remove()
        except Exception as error:  # noqa: BLE001
            failures.append(error)

    import time_machine

    try:
        # Issued in April 2099: the invoices' year too, so no counter of a real year moves.
        with time_machine.travel(date(2099, 4, 2), tick=False):
            threads = [threading.Thread(target=worker) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
        assert failures == []
        with app.app_context(), Session(db.engine) as session:
            per_contract = dict(
                session.execute(
                    select(ContractDocument.contract_id, func.count())
                    .where(ContractDocument.period == period)
                    .group_by(ContractDocument.contract_id)
                ).all()
            )
            assert per_contract == {cid: 3 for cid in created["contracts"]}
            for kind in ("invoice", "vat_invoice", "act"):
                numbers = sorted(
                    session.scalars(
                        select(ContractDocument.sequence).where(
                            ContractDocument.kind == kind, ContractDocument.period == period
                        )
                    )
                )
                assert numbers == list(range(numbers[0], numbers[0] + 6)), (kind, numbers)
    finally:
        _remove_race(app, period)


def _remove_race(app, period):
    from sqlalchemy import text

    with app.app_context(), Session(db.engine) as session:
        for statement in (
            "DELETE FROM contract_documents WHERE period = :p",
            "DELETE FROM bills WHERE period = :p",
            "DELETE FROM charges WHERE period = :p",
            "DELETE FROM accounts WHERE number LIKE '99%' AND opened_on = '2098-01-01'",
            "DELETE FROM contracts WHERE number LIKE 'RACE-%'",
            "DELETE FROM customers WHERE full_name LIKE 'ООО «Гонка%'",
            "DELETE FROM organisations WHERE inn LIKE '99%' AND name LIKE 'ООО «Гонка%'",
            "DELETE FROM premises WHERE address LIKE 'ул. Гоночная%'",
            "DELETE FROM document_counters WHERE year = 2099",
        ):
            session.execute(text(statement), {"p": period})
        session.commit()
