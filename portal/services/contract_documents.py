"""Documents for legal-entity customers: for every closed period and contract an invoice
(счёт на оплату), and a VAT invoice (счёт-фактура, ПП РФ от 26.12.2011 № 1137) with an act
of services (акт), or one universal transfer document (УПД) instead of the last two (the
``documents.upd`` setting).

A document is rendered once, when it is issued, and kept as PDF bytes with its number: a
download sends those bytes, so every copy is the same file. Numbers run per kind and year
from a counter row taken in the issuing transaction (``take_number``), so they never skip
nor repeat. A correction is a new set of documents with numbers of their own, each naming
the one it replaces; both are listed.

The documents are written in Russian whatever the reader's language: the forms and their
wording are set by Russian tax law (НК РФ ст. 169, ПП 1137; ФНС письмо от 21.10.2013
№ ММВ-20-3/96@ for the УПД) and an accountant files them as they are.
"""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from num2words import num2words
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session, selectinload

from portal.models import (
    Account,
    Bill,
    Charge,
    ChargeMethod,
    Contract,
    ContractDocument,
    DocumentCounter,
    DocumentKind,
    Organisation,
    Penalty,
    Service,
)
from portal.services import documents, ledger, settings
from portal.services.clock import local_today
from portal.services.errors import DomainError, NotFound
from portal.services.months import add_months, month_end
from portal.services.numbers import money

ZERO = Decimal("0.00")

# The name of the supply on a document, its unit and the unit's code (ОКЕИ).
SUPPLIES = {
    Service.ELECTRICITY: ("Электрическая энергия", "кВт·ч", "245"),
    Service.HEAT: ("Тепловая энергия", "Гкал", "233"),
    Service.COLD_WATER: ("Холодное водоснабжение", "м³", "113"),
    Service.HOT_WATER: ("Горячее водоснабжение", "м³", "113"),
}
SERVICE_ORDER = {service: index for index, service in enumerate(Service)}


def amount_in_words(amount: Decimal) -> str:
    """«Двенадцать тысяч триста сорок пять рублей 67 копеек»: roubles in words, kopecks in
    figures, as Russian payment documents write a sum (num2words gives the forms)."""
    amount = money(amount)
    words = num2words(amount, lang="ru", to="currency", currency="RUB", cents=False)
    words = words.replace(", ", " ")
    return words[:1].upper() + words[1:]


def vat_in(gross: Decimal, rate: Decimal) -> Decimal:
    """The VAT inside an amount that includes it: gross × rate / (100 + rate), half-up
    (НК РФ ст. 164 п. 4, the calculated rate)."""
    return money(gross * rate / (Decimal(100) + rate))


# --- the figures of a period ---------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of a document: a supply at one price (or a recalculation) over a period."""

    service: Service
    name: str
    unit: str
    okei: str
    volume: Decimal
    price: Decimal  # the tariff, VAT included
    gross: Decimal
    vat: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.vat

    @property
    def price_net(self) -> Decimal:
        return (self.net / self.volume).quantize(Decimal("0.0001")) if self.volume else ZERO


@dataclass
class Figures:
    """A contract's period: its supply lines, penalties and the balance of its accounts."""

    contract_id: int
    period: date
    vat_rate: Decimal
    lines: list[Line] = field(default_factory=list)
    penalties: Decimal = ZERO
    opening: Decimal = ZERO
    payments: Decimal = ZERO
    closing: Decimal = ZERO

    @property
    def gross(self) -> Decimal:
        return sum((line.gross for line in self.lines), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), ZERO)

    @property
    def net(self) -> Decimal:
        return self.gross - self.vat

    @property
    def to_pay(self) -> Decimal:
        """The invoice asks for the period's supply and its penalties (no VAT on those:
        a penalty is not a payment for goods, НК РФ ст. 162)."""
        return self.gross + self.penalties


def _line(service: Service, recalculation: bool, tariff, volume, gross, rate) -> Line:
    name, unit, okei = SUPPLIES[service]
    if recalculation:
        name = f"{name} (перерасчёт)"
    gross = money(gross)
    return Line(
        service, name, unit, okei, Decimal(volume), Decimal(tariff), gross, vat_in(gross, rate)
    )


def period_figures(
    session: Session, period: date, contract_ids: list[int], vat_rate: Decimal
) -> dict[int, Figures]:
    """The figures of each contract for the period, in three queries however many."""
    result = {cid: Figures(cid, period, vat_rate) for cid in contract_ids}
    if not contract_ids:
        return result
    recalculation = Charge.method == ChargeMethod.RECALCULATION
    rows = session.execute(
        select(
            Account.contract_id,
            Charge.service,
            recalculation.label("recalculation"),
            Charge.tariff,
            func.sum(Charge.volume),
            func.sum(Charge.amount),
        )
        .join(Account, Account.id == Charge.account_id)
        .where(Charge.period == period, Account.contract_id.in_(contract_ids))
        .group_by(Account.contract_id, Charge.service, recalculation, Charge.tariff)
    ).all()
    for contract_id, service, is_recalc, tariff, volume, amount in rows:
        result[contract_id].lines.append(
            _line(Service(service), bool(is_recalc), tariff, volume, amount, vat_rate)
        )
    for figures in result.values():
        figures.lines.sort(key=lambda line: (SERVICE_ORDER[line.service], line.name, line.price))
    _add_penalties_and_balances(session, period, contract_ids, result)
    return result


def _add_penalties_and_balances(session, period, contract_ids, result) -> None:
    penalties = session.execute(
        select(Account.contract_id, func.sum(Penalty.amount))
        .join(Account, Account.id == Penalty.account_id)
        .where(Penalty.period == period, Account.contract_id.in_(contract_ids))
        .group_by(Account.contract_id)
    ).all()
    for contract_id, amount in penalties:
        result[contract_id].penalties = money(amount)
    balances = session.execute(
        select(
            Account.contract_id,
            func.sum(Bill.opening_balance),
            func.sum(Bill.payments_total),
            func.sum(Bill.closing_balance),
        )
        .join(Account, Account.id == Bill.account_id)
        .where(Bill.period == period, Account.contract_id.in_(contract_ids))
        .group_by(Account.contract_id)
    ).all()
    for contract_id, opening, payments, closing in balances:
        figures = result[contract_id]
        figures.opening, figures.payments, figures.closing = (
            money(opening),
            money(payments),
            money(closing),
        )


# --- numbers ---------------------------------------------------------------------------------


def take_number(session: Session, kind: DocumentKind, year: int) -> int:
    """The next number of a kind of document in a year, in the caller's transaction.

    The counter row is created if missing (an insert that ignores a conflict) and moved on
    with an UPDATE: on PostgreSQL the row stays locked until the issuing transaction ends,
    so a second issue waits and then takes the following number; a rollback gives the
    number back. No sequence, which could skip."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(
        insert(DocumentCounter)
        .values(kind=kind.value, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["kind", "year"])
    )
    return session.execute(
        update(DocumentCounter)
        .where(DocumentCounter.kind == kind.value, DocumentCounter.year == year)
        .values(last=DocumentCounter.last + 1)
        .returning(DocumentCounter.last)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def document_number(kind: DocumentKind, year: int, sequence: int) -> str:
    """«СФ-2026-000123»: the kind, the year and the number within it."""
    return f"{kind.prefix}-{year}-{sequence:06d}"


# --- issuing ---------------------------------------------------------------------------------


def kinds_issued(session: Session) -> list[DocumentKind]:
    if settings.get(session, "documents.upd"):
        return [DocumentKind.INVOICE, DocumentKind.UPD]
    return [DocumentKind.INVOICE, DocumentKind.VAT_INVOICE, DocumentKind.ACT]


def supplier() -> documents.Payee:
    return documents.Payee.from_config(current_app.config)


def due_date(contract: Contract, period: date) -> date:
    """Payment is due on the contract's due day of the month after the period, moved to
    the next working day: the same date as the account's bill (``ledger.contract_due_on``)."""
    return ledger.contract_due_on(object_session(contract), contract.due_day, period)


def document_date(kind: DocumentKind, period: date, today: date) -> date:
    """An act, VAT invoice or УПД is dated the last day of the month the supply was in
    (НК РФ ст. 168 п. 3: within five days of it); an invoice, the day it is issued."""
    return today if kind == DocumentKind.INVOICE else month_end(period)


def _contracts(session: Session, ids: Iterable[int]) -> list[Contract]:
    return list(
        session.scalars(
            select(Contract)
            .where(Contract.id.in_(list(ids)))
            .options(selectinload(Contract.organisation))
            .order_by(Contract.number)
        )
    )


def contracts_to_issue(session: Session, period: date) -> list[int]:
    """Contracts with a bill in the period and no documents for it yet."""
    billed = (
        select(Account.contract_id)
        .join(Bill, Bill.account_id == Account.id)
        .where(Bill.period == period, Account.contract_id.is_not(None))
        .distinct()
    )
    issued = select(ContractDocument.contract_id).where(ContractDocument.period == period)
    return list(
        session.scalars(
            select(Contract.id)
            .where(Contract.id.in_(billed), Contract.id.not_in(issued))
            .order_by(Contract.id)
        )
    )


def issue_period(
    session: Session,
    period: date,
    *,
    staff_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 50,
    only: set[int] | None = None,
    commit: Callable[[], None] | None = None,
) -> int:
    """Issue the period's documents for every contract that has none yet (of ``only``,
    when given: a share of the work for one of several processes). Returns how many
    contracts got documents; running it again issues nothing new.

    Without ``commit`` everything happens in the caller's transaction (the close of a
    small period). With it (the worker, the command), each chunk is two transactions:
    the numbers and the document rows, committed at once so the counter rows are locked
    for milliseconds and other processes go on numbering; then the rendering of the
    chunk's PDFs, the slow part, which runs in parallel with theirs. A document whose
    rendering was interrupted keeps its number and is rendered by ``render_missing``.
    ``progress(done, total)`` is called after each chunk."""
    pending = [
        contract_id
        for contract_id in contracts_to_issue(session, period)
        if only is None or contract_id in only
    ]
    rate = settings.get(session, "documents.vat_rate")
    kinds = kinds_issued(session)
    today = local_today()
    done = 0
    for start in range(0, len(pending), chunk):
        ids = pending[start : start + chunk]
        figures = period_figures(session, period, ids, rate)
        try:
            sets = _numbered_chunk(session, ids, figures, kinds, today, staff_id, commit)
        except IntegrityError:
            # Another worker issued some of these contracts meanwhile: ours are given back
            # (the rollback returns the numbers); the rest are numbered again. Inside a
            # caller's transaction (no ``commit``) that is the caller's to handle.
            if commit is None:
                raise
            session.rollback()
            ids = [c for c in contracts_to_issue(session, period) if c in set(ids)]
            sets = _numbered_chunk(session, ids, figures, kinds, today, staff_id, commit)
        done += len(sets)
        # Rendering writes nothing until the chunk is done: reading the numbered rows back
        # must not flush the PDFs already made (on SQLite that would hold the database's
        # write lock through the rest of the rendering, and the other processes wait).
        with session.no_autoflush:
            for contract, issued in sets:
                _render_set(contract, figures[contract.id], issued)
        for contract, issued in sets:
            notify_accountants(session, contract, list(issued.values()))
        session.flush()
        if commit:
            commit()
        if progress:
            progress(min(start + chunk, len(pending)), len(pending))
    return done


def _numbered_chunk(session, ids, figures, kinds, today, staff_id, commit) -> list:
    """The chunk's sets numbered (and, with ``commit``, stored for good before rendering)."""
    sets = [
        (contract, _number_set(session, contract, figures[contract.id], kinds, today, staff_id))
        for contract in _contracts(session, ids)
    ]
    session.flush()
    if commit:
        commit()
    return sets


def reissue(
    session: Session, contract_id: int, period: date, *, staff_id: int | None
) -> list[ContractDocument]:
    """A correction: new documents for a period that has them, each replacing the latest
    of its kind. The old ones stay (an accountant may have filed them)."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound()
    latest = latest_of_period(session, contract_id, period)
    if not latest:
        raise DomainError(_("The month has no documents to correct: issue them first."))
    rate = settings.get(session, "documents.vat_rate")
    figures = period_figures(session, period, [contract_id], rate)[contract_id]
    kinds = kinds_issued(session)
    issued = _issue_set(session, contract, figures, kinds, local_today(), staff_id, latest)
    notify_accountants(session, contract, issued)
    return issued


def latest_of_period(session: Session, contract_id: int, period: date) -> dict:
    """The newest document of each kind for the contract's period."""
    rows = session.scalars(
        select(ContractDocument)
        .where(ContractDocument.contract_id == contract_id, ContractDocument.period == period)
        .order_by(ContractDocument.id)
    )
    return {row.kind: row for row in rows}


def _number_set(session, contract, figures, kinds, today, staff_id, replaced=None) -> dict:
    """The set's documents with their numbers and amounts, not rendered yet."""
    replaced = replaced or {}
    issued = {}
    for kind in kinds:
        day = document_date(kind, figures.period, today) if not replaced else today
        sequence = take_number(session, kind, day.year)
        previous = replaced.get(kind) or _any_replaced(replaced, kind)
        issued[kind] = ContractDocument(
            contract_id=contract.id,
            period=figures.period,
            kind=kind,
            year=day.year,
            sequence=sequence,
            number=document_number(kind, day.year, sequence),
            issued_on=day,
            vat_rate=figures.vat_rate,
            net=figures.net,
            vat=figures.vat,
            total=figures.to_pay if kind == DocumentKind.INVOICE else figures.gross,
            replaces=previous,
            revision=0 if previous is None else _next_revision(replaced),
            staff_id=staff_id,
        )
        session.add(issued[kind])
    return issued


def _next_revision(replaced: dict) -> int:
    """A correction's revision: one above the set it replaces (a УПД and a VAT invoice
    count as one line of corrections)."""
    return max(document.revision for document in replaced.values()) + 1


def _render_set(contract, figures, issued: dict) -> None:
    made = {kind: render(contract, figures, document, issued) for kind, document in issued.items()}
    for kind, pdf in made.items():
        issued[kind].pdf = pdf
        issued[kind].sha256 = hashlib.sha256(pdf).hexdigest()


def _issue_set(session, contract, figures, kinds, today, staff_id, replaced=None) -> list:
    issued = _number_set(session, contract, figures, kinds, today, staff_id, replaced)
    _render_set(contract, figures, issued)
    return list(issued.values())


def render_missing(session: Session) -> int:
    """Render the documents whose rendering was interrupted (numbered, no PDF yet); the
    caller commits."""
    missing = session.scalars(
        select(ContractDocument)
        .where(ContractDocument.sha256.is_(None))
        .options(selectinload(ContractDocument.contract).selectinload(Contract.organisation))
    ).all()
    rate_of = {}
    for document in missing:
        key = (document.contract_id, document.period)
        if key not in rate_of:
            rate_of[key] = period_figures(
                session, document.period, [document.contract_id], document.vat_rate
            )[document.contract_id]
        siblings = latest_of_period(session, document.contract_id, document.period)
        document.pdf = render(document.contract, rate_of[key], document, siblings)
        document.sha256 = hashlib.sha256(document.pdf).hexdigest()
    return len(missing)


def _any_replaced(replaced: dict, kind: DocumentKind):
    """A УПД replaces the VAT invoice when the setting changed between issues (and back)."""
    if kind == DocumentKind.UPD:
        return replaced.get(DocumentKind.VAT_INVOICE)
    if kind == DocumentKind.VAT_INVOICE:
        return replaced.get(DocumentKind.UPD)
    return None


# --- rendering -----------------------------------------------------------------------------


def payment_qr(contract: Contract, document: ContractDocument) -> str:
    """The ГОСТ Р 56042 payload of an invoice for a company payer: the payer's ИНН, no
    personal name, and a purpose naming the invoice, the contract and the VAT in it (as a
    company's payment order must, Положение Банка России № 762-П)."""
    organisation = contract.organisation
    payer = documents.Payer(
        full_name=organisation.name,
        address=organisation.legal_address,
        account_number=contract.number,
        is_person=False,
        inn=organisation.inn,
    )
    return documents.payment_payload(
        supplier(),
        payer,
        document.period,
        document.total,
        purpose=invoice_purpose(contract, document),
    )


def invoice_purpose(contract: Contract, document: ContractDocument) -> str:
    vat = f"в т.ч. НДС {document.vat_rate.normalize():f}% {rub(document.vat)} руб."
    return (
        f"Оплата по счёту № {document.number} от {document.issued_on:%d.%m.%Y} "
        f"по договору № {contract.number}, {vat}"
    )


def rub(amount: Decimal) -> str:
    """12 345,67 — a document's figures: spaces between thousands, a decimal comma."""
    text = f"{money(amount):,.2f}"
    return text.replace(",", "\u00a0").replace(".", ",")


def render(contract, figures: Figures, document: ContractDocument, siblings: dict) -> bytes:
    organisation: Organisation = contract.organisation
    context = {
        "contract": contract,
        "organisation": organisation,
        "supplier": supplier(),
        "figures": figures,
        "document": document,
        "siblings": siblings,
        "due_on": due_date(contract, figures.period),
        "rub": rub,
        "in_words": amount_in_words,
        "month_name": month_name,
    }
    if document.kind == DocumentKind.INVOICE:
        context["qr"] = documents.qr_svg_data_uri(payment_qr(contract, document), scale=3)
    with force_locale("ru"):
        html = current_app.jinja_env.get_template(f"documents/{document.kind.value}.html").render(
            config=current_app.config, **context
        )
    return documents.render_pdf(html)


MONTHS = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)


def month_name(period: date) -> str:
    """«октябрь 2026»."""
    return f"{MONTHS[period.month - 1]} {period.year}"


# --- reading ---------------------------------------------------------------------------------


def documents_of(session: Session, contract_id: int) -> list[ContractDocument]:
    """A contract's documents, newest period first, each set in the order it was issued."""
    return list(
        session.scalars(
            select(ContractDocument)
            .where(
                ContractDocument.contract_id == contract_id, ContractDocument.sha256.is_not(None)
            )
            .options(selectinload(ContractDocument.replaces))
            .order_by(ContractDocument.period.desc(), ContractDocument.id)
        )
    )


def document_of(session: Session, contract_id: int, document_id: int) -> ContractDocument:
    found = session.scalar(
        select(ContractDocument)
        .where(
            ContractDocument.id == document_id,
            ContractDocument.contract_id == contract_id,
            ContractDocument.sha256.is_not(None),
        )
        .options(selectinload(ContractDocument.contract))
    )
    if found is None:
        raise NotFound()
    return found


def of_periods(session: Session, contract_id: int, periods: list[date]) -> list[ContractDocument]:
    return list(
        session.scalars(
            select(ContractDocument)
            .where(
                ContractDocument.contract_id == contract_id,
                ContractDocument.period.in_(periods),
                ContractDocument.sha256.is_not(None),
            )
            .order_by(ContractDocument.period, ContractDocument.id)
        )
    )


def audit_issue(session: Session, issued: list, staff_id: int, ip: str | None) -> None:
    """One audit event for a set an employee issued (a correction or a bulk run)."""
    from portal.models.audit import AuditAction, AuditObject
    from portal.services import audit

    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=AuditObject.CONTRACT_DOCUMENT,
        object_id=issued[0].id if issued else None,
        summary=", ".join(document.number for document in issued)[:400],
        ip_address=ip,
    )


# --- the register (журнал учёта выставленных счетов-фактур) ----------------------------------


def register(period: date | None, kind: str | None):
    """Issued documents in the order of their numbers, by month and kind."""
    query = (
        select(ContractDocument)
        .options(selectinload(ContractDocument.contract).selectinload(Contract.organisation))
        .options(selectinload(ContractDocument.replaces))
        .order_by(ContractDocument.kind, ContractDocument.year, ContractDocument.sequence)
    )
    if period is not None:
        query = query.where(ContractDocument.period == period)
    if kind:
        query = query.where(ContractDocument.kind == kind)
    return query


REGISTER_HEADER = (
    "№ документа",
    "Вид",
    "Дата",
    "Период",
    "Покупатель",
    "ИНН/КПП покупателя",
    "Договор",
    "Стоимость без НДС",
    "Ставка НДС",
    "Сумма НДС",
    "Всего",
    "Исправляет",
)


def register_rows(documents: Iterable[ContractDocument]):
    """The register's lines as an accountant files them (Russian, like the documents)."""
    for document in documents:
        organisation = document.contract.organisation
        yield [
            document.number,
            document.kind.label,
            document.issued_on,
            document.period.strftime("%Y-%m"),
            organisation.name,
            f"{organisation.inn}/{organisation.kpp or ''}",
            document.contract.number,
            document.net,
            f"{document.vat_rate.normalize():f}%",
            document.vat,
            document.total,
            document.replaces.number if document.replaces else "",
        ]


# --- letters -------------------------------------------------------------------------------


def notify_accountants(session: Session, contract: Contract, issued: list) -> None:
    """Hook for the e-mail to the organisation's accountants (see ``contract_letters``)."""
    from portal.services import contract_letters

    contract_letters.documents_issued(session, contract, issued)


# --- after a period closes; the worker, the command and the back office -------------------

INLINE_CONTRACTS = 25  # issued in the closing transaction; more go to the worker


def on_period_closed(session: Session, period: date, *, staff_id: int | None) -> int:
    """Called by ``billing_periods.close`` in the closing transaction: a few contracts'
    documents are issued there and then (committed with the close); a large supplier's
    are left to the worker (``process_pending``), which the back office's page shows."""
    if len(contracts_to_issue(session, period)) > INLINE_CONTRACTS:
        return 0
    return issue_period(session, period, staff_id=staff_id)


def pending_periods(session: Session) -> list[date]:
    """Closed periods with a contract still waiting for its documents, oldest first."""
    from portal.models import BillingPeriod, PeriodStatus

    closed = session.scalars(
        select(BillingPeriod.period)
        .where(BillingPeriod.status == PeriodStatus.CLOSED)
        .order_by(BillingPeriod.period)
    )
    return [period for period in closed if contracts_to_issue(session, period)]


def process_pending(session: Session, *, staff_id: int | None = None, budget: int = 200) -> int:
    """Issue closed periods' missing documents, oldest month first, for at most ``budget``
    contracts a pass (the scheduler's loop has other work; the next pass goes on),
    committing chunk by chunk (another worker running at once takes numbers after ours,
    never the same ones: see ``take_number``). Returns how many contracts got documents."""
    if render_missing(session):
        session.commit()
    done = 0
    for period in pending_periods(session):
        if done >= budget:
            break
        share = set(contracts_to_issue(session, period)[: budget - done])
        done += issue_period(session, period, staff_id=staff_id, only=share, commit=session.commit)
        session.commit()
    return done


def send_to_worker(session: Session, period: date) -> bool:
    """Ask a Celery worker to issue what is pending; False without a reachable broker (the
    embedded scheduler, or the periodic task, issues it then)."""
    import logging

    broker_url = current_app.config.get("CELERY_BROKER_URL")
    if not broker_url:
        return False
    from celery import Celery

    try:
        Celery("portal", broker=broker_url).send_task(
            "portal.tasks.issue_pending_documents", retry=False
        )
    except Exception:  # noqa: BLE001 (any broker failure: the scheduler picks it up)
        logging.getLogger(__name__).warning("could not reach a worker for %s", period)
        return False
    return True


@dataclass(frozen=True)
class Progress:
    period: date
    contracts: int  # with a bill in the period
    issued: int  # of those, with documents
    due_by: date | None = None  # the earliest bill day of the contracts still waiting

    @property
    def percent(self) -> int:
        return 100 if not self.contracts else self.issued * 100 // self.contracts

    @property
    def finished(self) -> bool:
        return self.issued >= self.contracts


def progress_of(session: Session, period: date) -> Progress:
    billed = (
        select(Account.contract_id)
        .join(Bill, Bill.account_id == Account.id)
        .where(Bill.period == period, Account.contract_id.is_not(None))
        .distinct()
        .subquery()
    )
    contracts = session.scalar(select(func.count()).select_from(billed))
    issued = session.scalar(
        select(func.count(func.distinct(ContractDocument.contract_id))).where(
            ContractDocument.period == period
        )
    )
    waiting = contracts_to_issue(session, period)
    earliest = session.scalar(select(func.min(Contract.bill_day)).where(Contract.id.in_(waiting)))
    following = add_months(period, 1)
    due_by = following.replace(day=earliest) if earliest else None
    return Progress(period, contracts or 0, issued or 0, due_by)
