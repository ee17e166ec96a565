"""The reconciliation act (акт сверки взаиморасчётов) of a contract for any dates: the
balance at the start, every charge (the supply of a closed month, dated its last day, and
its penalties) and every payment, the balance at the end and who owes whom. Built from
the closed periods' bills and the payments of the contract's accounts, so it agrees with
the documents issued; PDF (WeasyPrint) and XLSX (``exports.xlsx_file``).

Like the other documents for organisations it is written in Russian: the counterparty's
accountant signs it and files it."""

import io
import zipfile
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import Account, Bill, Contract, ContractDocument, DocumentKind, Payment
from portal.services import contract_documents, documents, exports
from portal.services.errors import DomainError
from portal.services.months import month_end
from portal.services.numbers import money

ZERO = Decimal("0.00")
MAX_DAYS = 366 * 5  # a longer act is a report, not something two accountants sign


@dataclass(frozen=True)
class Entry:
    day: date
    text: str
    debit: Decimal = ZERO  # what the customer was charged (increases their debt)
    credit: Decimal = ZERO  # what the customer paid


@dataclass
class Act:
    contract: Contract
    date_from: date
    date_to: date
    opening: Decimal  # positive: the customer owes the supplier
    entries: list[Entry] = field(default_factory=list)

    @property
    def debits(self) -> Decimal:
        return sum((entry.debit for entry in self.entries), ZERO)

    @property
    def credits(self) -> Decimal:
        return sum((entry.credit for entry in self.entries), ZERO)

    @property
    def closing(self) -> Decimal:
        return self.opening + self.debits - self.credits


def check_dates(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise DomainError(_("The end date is before the start date."), "date_to")
    if (date_to - date_from).days > MAX_DAYS:
        raise DomainError(_("Choose at most five years."), "date_to")


def _charges(session: Session, contract_id: int, date_to: date) -> list[Entry]:
    """Each closed month's supply and penalties, dated the month's last day and naming
    the act (or УПД) issued for it."""
    rows = session.execute(
        select(Bill.period, Bill.charges_total, Bill.penalties_total)
        .join(Account, Account.id == Bill.account_id)
        .where(Account.contract_id == contract_id, Bill.period <= date_to)
    ).all()
    acts = {
        document.period: document
        for document in session.scalars(
            select(ContractDocument)
            .where(
                ContractDocument.contract_id == contract_id,
                ContractDocument.kind.in_([DocumentKind.ACT, DocumentKind.UPD]),
            )
            .order_by(ContractDocument.id)
        )
    }
    supply: dict[date, Decimal] = {}
    penalties: dict[date, Decimal] = {}
    for period, charges, penalty in rows:
        supply[period] = supply.get(period, ZERO) + charges
        penalties[period] = penalties.get(period, ZERO) + penalty
    entries = []
    for period in sorted(supply):
        act = acts.get(period)
        name = contract_documents.month_name(period)
        source = (
            f"{'УПД' if act.kind == DocumentKind.UPD else 'Акт'} № {act.number} "
            f"от {act.issued_on:%d.%m.%Y}"
            if act
            else f"Начисление за {name}"
        )
        if supply[period]:
            entries.append(
                Entry(month_end(period), f"{source} ({name})", debit=money(supply[period]))
            )
        if penalties[period]:
            entries.append(
                Entry(month_end(period), f"Пени за {name}", debit=money(penalties[period]))
            )
    return entries


def _payments(session: Session, contract_id: int, date_to: date) -> list[Entry]:
    rows = session.execute(
        select(Payment.paid_on, Payment.amount, Payment.reference, Payment.agent)
        .join(Account, Account.id == Payment.account_id)
        .where(Account.contract_id == contract_id, Payment.paid_on <= date_to)
        .order_by(Payment.paid_on, Payment.id)
    ).all()
    return [
        Entry(day, f"Оплата (платёжный документ {reference}, {agent})", credit=money(amount))
        for day, amount, reference, agent in rows
    ]


def act(session: Session, contract: Contract, date_from: date, date_to: date) -> Act:
    """The act for the dates (both included); three queries."""
    check_dates(date_from, date_to)
    everything = _charges(session, contract.id, date_to) + _payments(session, contract.id, date_to)
    everything = [entry for entry in everything if entry.day <= date_to]
    everything.sort(key=lambda entry: (entry.day, entry.credit > 0))
    before = [entry for entry in everything if entry.day < date_from]
    opening = sum((e.debit - e.credit for e in before), ZERO)
    result = Act(contract, date_from, date_to, money(opening))
    result.entries = [entry for entry in everything if entry.day >= date_from]
    return result


def who_owes(result: Act) -> str:
    """The act's conclusion, as the parties sign it."""
    supplier = current_app.config["SUPPLIER_NAME"]
    buyer = result.contract.organisation.name
    on = f"на {result.date_to:%d.%m.%Y}"
    amount = contract_documents.rub(abs(result.closing))
    words = contract_documents.amount_in_words(abs(result.closing))
    if result.closing > 0:
        return f"{on} задолженность в пользу {supplier} составляет {amount} руб. ({words})."
    if result.closing < 0:
        return f"{on} задолженность в пользу {buyer} составляет {amount} руб. ({words})."
    return f"{on} задолженность отсутствует."


def pdf(result: Act) -> bytes:
    context = {
        "act": result,
        "contract": result.contract,
        "organisation": result.contract.organisation,
        "supplier": contract_documents.supplier(),
        "rub": contract_documents.rub,
        "conclusion": who_owes(result),
    }
    with force_locale("ru"):
        html = current_app.jinja_env.get_template("documents/reconciliation.html").render(
            config=current_app.config, **context
        )
    return documents.render_pdf(html)


def xlsx(result: Act) -> bytes:
    """One sheet: the opening balance, each entry with debit and credit, the totals and
    the closing balance (positive: the customer owes)."""
    header = ["Дата", "Документ", "Дебет, руб.", "Кредит, руб."]
    opening_debit, opening_credit = _split(result.opening)
    closing_debit, closing_credit = _split(result.closing)
    rows = [[result.date_from, "Сальдо начальное", opening_debit, opening_credit]]
    rows += [[e.day, e.text, e.debit, e.credit] for e in result.entries]
    rows.append([result.date_to, "Обороты за период", result.debits, result.credits])
    rows.append([result.date_to, "Сальдо конечное", closing_debit, closing_credit])
    rows.append([None, who_owes(result), None, None])
    return exports.xlsx_file("Акт сверки", header, rows, widths=(12, 70, 16, 16))


def _split(balance: Decimal) -> tuple[Decimal, Decimal]:
    """A balance as (debit, credit): what is owed to the supplier, or to the customer."""
    return (balance, ZERO) if balance >= 0 else (ZERO, -balance)


def filename(result: Act, extension: str) -> str:
    return (
        f"akt-sverki-{result.contract.id}-{result.date_from:%Y%m%d}-{result.date_to:%Y%m%d}"
        f".{extension}"
    )


# --- several periods as one ZIP -----------------------------------------------------------


def archive(items: list[ContractDocument]) -> bytes:
    """The documents as one ZIP, each under its own name in a folder per month. Entries
    carry the document's date (not the time of download), so the archive of the same
    documents is the same file every time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for document in items:
            day = document.issued_on
            info = zipfile.ZipInfo(
                f"{document.period:%Y-%m}/{document.filename}",
                (day.year, day.month, day.day, 0, 0, 0),
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, document.pdf)
    return buffer.getvalue()
