"""Payment registries from banks and payment agents (CSV), and the payments they bring.

A registry has one payment per line: account number, amount, date, reference, agent.
Upload checks every line and keeps the file as a registry in "preview" (``create_registry``);
the import checks it again against the database as it is then and inserts the valid lines
set-based (``import_registry``). (agent, reference) is unique in ``payments``: the lines
already in the database are found with one query per ``KEY_CHUNK`` keys, and a line that
another import stored a moment ago is skipped by the database itself (INSERT … ON CONFLICT
DO NOTHING on SQLite and PostgreSQL), so a registry imported twice adds nothing.

The format, as banks and Russian Excel write it:
- encoding UTF-8 (with or without BOM) or Windows-1251, delimiter ``;`` or ``,`` — detected
  as for every CSV upload (``portal.services.csvfiles``);
- a header line naming the columns (English or Russian names, any order; extra columns such
  as the "reason" of an errors file sent back after correction are ignored); a file without
  a header must have the columns in the order above;
- dates ``YYYY-MM-DD`` or ``DD.MM.YYYY``; amounts above zero with a decimal comma or point,
  at most two decimals, spaces inside ignored.
"""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from portal.models import (
    Account,
    Customer,
    Payment,
    PaymentRegistry,
    Premises,
    RegistryStatus,
    Staff,
)
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, csvfiles
from portal.services.accounts import normalise_account_number
from portal.services.clock import local_today, utcnow
from portal.services.csvfiles import FileLine, LineError, Table, line_date, sha256, trimmed
from portal.services.customers import clean_term
from portal.services.errors import DomainError, NotFound
from portal.services.numbers import money, parse_decimal

MAX_BYTES = 10 * 1024 * 1024  # app config PAYMENTS_IMPORT_MAX_BYTES overrides
MAX_LINES = 200_000  # app config PAYMENTS_IMPORT_MAX_LINES overrides
CHUNK = 5_000  # rows per INSERT
KEY_CHUNK = 10_000  # keys per IN (…): two parameters each, under SQLite's 32 766
PREVIEW_LINES = 100
PREVIEW_ERRORS = 50
PAGE_SIZE = 25
MAX_AMOUNT = Decimal("999999999999.99")  # Numeric(14, 2)
MAX_TEXT = 100  # agent and reference columns
MIN_SEARCH_DIGITS = 3

COLUMNS = ("account", "amount", "date", "reference", "agent")
COLUMN_LABELS = {
    "account": _l("Account"),
    "amount": _l("Amount"),
    "date": _l("Date"),
    "reference": _l("Reference"),
    "agent": _l("Agent"),
}
# Header names understood in any language of the portal (compared lower-case, ё as е).
HEADER_ALIASES = {
    "account": (
        "account", "account number", "account no", "personal account", "лицевой счет",
        "лицевой", "лс", "л/с", "номер лс", "номер л/с", "номер лицевого счета",
    ),
    "amount": ("amount", "sum", "payment", "сумма", "сумма платежа", "оплачено"),
    "date": ("date", "paid on", "payment date", "дата", "дата платежа", "дата оплаты"),
    "reference": (
        "reference", "ref", "payment reference", "id", "payment id", "transaction",
        "референс", "номер платежа", "идентификатор", "идентификатор платежа",
        "номер операции", "номер документа",
    ),
    "agent": ("agent", "bank", "payment agent", "агент", "банк", "платежный агент"),
}  # fmt: skip

# Why a line was not imported: the code is stored, the label is shown in summaries.
REASONS = {
    "columns": _l("Wrong number of columns"),
    "amount": _l("Bad amount"),
    "date": _l("Bad date"),
    "future": _l("Date in the future"),
    "reference": _l("Bad reference"),
    "agent": _l("Bad agent"),
    "account": _l("Unknown account"),
    "duplicate": _l("Repeated in the file"),
    "imported": _l("Already imported"),
}
DUPLICATE_CODES = ("imported",)


FORMAT = csvfiles.CsvFormat(
    columns=COLUMNS,
    labels=COLUMN_LABELS,
    aliases=HEADER_ALIASES,
    no_columns_message=_l(
        "No columns found: a registry needs five columns (account, amount, date, reference, agent) separated by “;” or “,”."
    ),
    bad_header_message=_l(
        "The first line is not the expected header. The columns are: %(columns)s."
    ),
    no_rows_message=_l("The file has no payments, only a header."),
)
NOT_TEXT_MESSAGE = _l("This is not a CSV text file. Save the registry as CSV and upload that file.")


# --- results --------------------------------------------------------------------------


@dataclass(slots=True)
class Line(FileLine):
    """A line whose cells read as a payment; valid, ready to insert, once its account is
    known (``account_id``)."""

    number: str
    amount: Decimal
    paid_on: date
    reference: str
    agent: str
    account_id: int | None = None


@dataclass(frozen=True)
class Total:
    """Payments of one agent on one day."""

    paid_on: date
    agent: str
    count: int
    amount: Decimal


@dataclass
class Checked(csvfiles.Checked):
    """Every line of a registry, judged against the database: the valid lines and the
    refused ones (``csvfiles.Checked``: duplicates, refused, counts by reason)."""

    lines: list[Line] = field(default_factory=list)

    reasons = REASONS
    duplicate_codes = DUPLICATE_CODES

    @property
    def valid(self) -> int:
        return len(self.lines)

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    def totals(self) -> list[Total]:
        return totals_of(self.lines)


def totals_of(lines: list[Line]) -> list[Total]:
    """Count and amount by day and agent, days in order."""
    groups: dict[tuple[date, str], list[Decimal]] = defaultdict(list)
    for line in lines:
        groups[(line.paid_on, line.agent)].append(line.amount)
    return [
        Total(day, agent, len(amounts), sum(amounts, Decimal("0.00")))
        for (day, agent), amounts in sorted(groups.items())
    ]


# --- reading the file -----------------------------------------------------------------


def limits() -> tuple[int, int]:
    """The size limits: bytes and lines (app config, else the defaults here)."""
    return csvfiles.limits("PAYMENTS_IMPORT", MAX_BYTES, MAX_LINES)


def decode_registry(data: bytes, max_bytes: int = MAX_BYTES) -> str:
    """The file's text, its encoding detected. File-level problems raise DomainError."""
    return csvfiles.decode(data, max_bytes, not_text_message=NOT_TEXT_MESSAGE)


def read_table(text: str, max_lines: int = MAX_LINES) -> Table:
    """The data lines and where each column is (account, amount, date, reference, agent; a
    line may have at most ``width`` cells). File-level problems raise DomainError."""
    return csvfiles.read_table(text, FORMAT, max_lines=max_lines)


# --- checking every line --------------------------------------------------------------


def parse_amount(raw: str) -> Decimal:
    """ "1 234,50" → Decimal("1234.50"): above zero, at most two decimals (the number read
    by ``numbers.parse_decimal``; the messages speak of an amount)."""
    not_a_number = DomainError(_("The amount is not a number: write it as 1234,50 or 1234.50."))
    try:
        amount = parse_decimal(raw)
    except DomainError:
        raise not_a_number from None
    if amount != money(amount):
        raise DomainError(_("The amount has more than two decimals (kopecks)."))
    if amount <= 0:
        raise DomainError(_("The amount must be above zero."))
    if amount > MAX_AMOUNT:
        raise DomainError(_("The amount is too large."))
    return money(amount)  # already exact to kopecks: the one rounding, for its scale


def _chunks(items: list, size: int = KEY_CHUNK):
    return csvfiles.chunks(items, size)


def _account_ids(session: Session, numbers: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(numbers):
        found.update(
            (number, account_id)
            for number, account_id in session.execute(
                select(Account.number, Account.id).where(Account.number.in_(chunk))
            )
        )
    return found


def existing_keys(session: Session, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (agent, reference) pairs already in the database: one query per KEY_CHUNK."""
    found: set[tuple[str, str]] = set()
    for chunk in _chunks(keys):
        found.update(
            (agent, reference)
            for agent, reference in session.execute(
                select(Payment.agent, Payment.reference).where(
                    tuple_(Payment.agent, Payment.reference).in_(chunk)
                )
            )
        )
    return found


def _clean_text(raw: str) -> str:
    return " ".join(raw.split())


def check(session: Session, table: Table, *, today: date | None = None) -> Checked:
    """Judge every line against the database as it is now. Nothing is stored."""
    checked = Checked(total=len(table.rows), header=table.header)
    read = _read_lines(table, today or local_today(), checked.errors)
    known = _with_known_account(session, read, checked.errors)
    checked.lines = _not_imported(session, known, checked.errors)
    checked.errors.sort(key=lambda error: error.line)
    return checked


def _read_lines(table: Table, today: date, errors: list[LineError]) -> list[Line]:
    """1. Cells → values; a line that cannot be read is refused here."""
    read = []
    for number, raw_cells in table.rows:
        line = FileLine(number, raw_cells)
        payment = _read_line(line, table, today)
        if isinstance(payment, LineError):
            errors.append(payment)
        else:
            read.append(payment)
    return read


def _read_line(line: FileLine, table: Table, today: date) -> Line | LineError:
    i_account, i_amount, i_date, i_reference, i_agent = table.positions
    cells = trimmed(list(line.cells), table.width)
    if not max(table.positions) < len(cells) <= table.width:
        reason = _(
            "The line has %(found)s columns instead of %(expected)s.",
            found=len(cells),
            expected=table.width,
        )
        return line.refused("columns", reason)
    try:
        amount = parse_amount(cells[i_amount])
    except DomainError as error:
        return line.refused("amount", error.message)
    paid_on = line_date(cells[i_date], today)
    if isinstance(paid_on, str):
        return line.refused(paid_on, csvfiles.DATE_REASONS[paid_on])
    reference = _clean_text(cells[i_reference])
    if not reference or len(reference) > MAX_TEXT:
        reason = (
            _("The payment reference is missing.")
            if not reference
            else _("The payment reference is longer than %(n)s characters.", n=MAX_TEXT)
        )
        return line.refused("reference", reason)
    agent = _clean_text(cells[i_agent])
    if not agent or len(agent) > MAX_TEXT:
        reason = (
            _("The payment agent is missing.")
            if not agent
            else _("The payment agent is longer than %(n)s characters.", n=MAX_TEXT)
        )
        return line.refused("agent", reason)
    number = normalise_account_number(cells[i_account])
    return Line(line.line, line.cells, number, amount, paid_on, reference, agent)


def _with_known_account(session: Session, read: list[Line], errors: list[LineError]):
    """2. The lines of known accounts (set-based), each line's (agent, reference) once."""
    accounts = _account_ids(session, sorted({line.number for line in read if line.number}))
    seen: set[tuple[str, str]] = set()
    known = []
    for line in read:
        if line.number not in accounts:
            errors.append(line.refused("account", _("There is no account with this number.")))
        elif (line.agent, line.reference) in seen:
            reason = _("The same agent and reference appear on an earlier line of the file.")
            errors.append(line.refused("duplicate", reason))
        else:
            seen.add((line.agent, line.reference))
            line.account_id = accounts[line.number]
            known.append(line)
    return known


def _not_imported(session: Session, known: list[Line], errors: list[LineError]) -> list[Line]:
    """3. The lines whose (agent, reference) is not in the database yet (set-based)."""
    stored = existing_keys(session, sorted({(line.agent, line.reference) for line in known}))
    valid = []
    for line in known:
        if (line.agent, line.reference) in stored:
            reason = _("Already imported: a payment with this agent and reference exists.")
            errors.append(line.refused("imported", reason))
        else:
            valid.append(line)
    return valid


# --- the registry: upload, preview, import --------------------------------------------


def create_registry(
    session: Session,
    *,
    filename: str | None,
    data: bytes,
    staff_id: int | None,
    ip: str | None = None,
    today: date | None = None,
) -> PaymentRegistry:
    """Keep an uploaded file as a registry waiting for import, with the verdict on every
    line. A file that is not a readable CSV raises DomainError. The caller commits."""
    max_bytes, max_lines = limits()
    text = decode_registry(data, max_bytes)
    checked = check(session, read_table(text, max_lines), today=today)
    registry = PaymentRegistry(
        filename=csvfiles.clean_filename(filename, "registry.csv"),
        file_sha256=sha256(data),
        staff_id=staff_id,
        status=RegistryStatus.PREVIEW,
        total_lines=checked.total,
        imported_lines=0,
        duplicate_lines=checked.duplicates,
        error_lines=checked.refused,
        imported_amount=Decimal("0.00"),
        source_csv=text,
        errors_csv=csvfiles.stored_errors_text(checked),
    )
    session.add(registry)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.CREATE,
        object_type=AuditObject.PAYMENT_REGISTRY,
        object_id=registry.id,
        summary=(
            f"{registry.filename}: {checked.total} lines, {checked.valid} valid "
            f"({checked.amount}), {checked.duplicates} already imported, "
            f"{checked.refused} refused"
        ),
        ip_address=ip,
    )
    return registry


def get_registry(session: Session, registry_id: int, *, with_files: bool = False):
    """A registry; the stored files are loaded only when asked for."""
    options = (
        [] if with_files else [defer(PaymentRegistry.source_csv), defer(PaymentRegistry.errors_csv)]
    )
    registry = session.get(PaymentRegistry, registry_id, options=options, populate_existing=True)
    if registry is None:
        raise NotFound()
    return registry


def registries() -> Select:
    """Every registry, newest first, without the stored files (a query to page)."""
    return (
        select(PaymentRegistry)
        .options(defer(PaymentRegistry.source_csv), defer(PaymentRegistry.errors_csv))
        .order_by(PaymentRegistry.created_at.desc(), PaymentRegistry.id.desc())
    )


def staff_names(session: Session, staff_ids) -> dict[int, str]:
    ids = sorted({i for i in staff_ids if i})
    if not ids:
        return {}
    rows = session.execute(select(Staff.id, Staff.full_name).where(Staff.id.in_(ids)))
    return {staff_id: name for staff_id, name in rows}


def same_file_registries(session: Session, registry: PaymentRegistry) -> list[int]:
    """Other uploads of the very same file (by its SHA-256), oldest first."""
    return list(
        session.scalars(
            select(PaymentRegistry.id)
            .where(
                PaymentRegistry.file_sha256 == registry.file_sha256,
                PaymentRegistry.id != registry.id,
            )
            .order_by(PaymentRegistry.id)
        )
    )


@dataclass
class RegistryView:
    """What the registry page shows: the verdict now (preview) or the import's result."""

    registry: PaymentRegistry
    valid: int
    amount: Decimal
    counts: list[tuple[str, int]]
    errors: list[LineError]  # the first PREVIEW_ERRORS
    lines: list[Line]  # the first PREVIEW_LINES valid lines (preview only)
    totals: list[Total]
    same_file: list[int]


def view_registry(session: Session, registry_id: int, *, today: date | None = None):
    """A preview is checked again against the database as it is now (a line imported by
    another registry meanwhile shows as already imported); an imported registry shows its
    stored result and the totals of the payments it brought."""
    registry = get_registry(session, registry_id, with_files=True)
    same_file = same_file_registries(session, registry)
    if registry.status == RegistryStatus.PREVIEW:
        checked = check(session, read_table(registry.source_csv or "", limits()[1]), today=today)
        return RegistryView(
            registry,
            checked.valid,
            checked.amount,
            checked.counts,
            checked.errors[:PREVIEW_ERRORS],
            checked.lines[:PREVIEW_LINES],
            checked.totals(),
            same_file,
        )
    _header, errors = stored_errors(registry)
    found: dict[str, int] = defaultdict(int)
    for error in errors:
        found[error.code] += 1
    return RegistryView(
        registry,
        registry.imported_lines,
        registry.imported_amount,
        [(code, found[code]) for code in REASONS if found[code]],
        errors[:PREVIEW_ERRORS],
        [],
        registry_totals(session, registry.id),
        same_file,
    )


def registry_totals(session: Session, registry_id: int) -> list[Total]:
    rows = session.execute(
        select(Payment.paid_on, Payment.agent, func.count(Payment.id), func.sum(Payment.amount))
        .where(Payment.registry_id == registry_id)
        .group_by(Payment.paid_on, Payment.agent)
        .order_by(Payment.paid_on, Payment.agent)
    ).all()
    return [Total(day, agent, count, money(amount)) for day, agent, count, amount in rows]


def daily_totals(session: Session, date_from: date, date_to: date) -> list[Total]:
    """Payments received by day and agent over a range of days, newest day first."""
    rows = session.execute(
        select(Payment.paid_on, Payment.agent, func.count(Payment.id), func.sum(Payment.amount))
        .where(Payment.paid_on.between(date_from, date_to))
        .group_by(Payment.paid_on, Payment.agent)
        .order_by(Payment.paid_on.desc(), Payment.agent)
    ).all()
    return [Total(day, agent, count, money(amount)) for day, agent, count, amount in rows]


def _insert_ignoring_duplicates(session: Session, rows: list[dict]) -> list[tuple[str, str]]:
    """Insert the rows; those whose (agent, reference) is already there are skipped by the
    database. Returns the keys actually inserted."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        statement = (
            dialect_insert(Payment)
            .on_conflict_do_nothing(index_elements=["agent", "reference"])
            .returning(Payment.agent, Payment.reference)
        )
        return [(agent, reference) for agent, reference in session.execute(statement, rows)]
    # Another database: insert in a savepoint; on a clash, drop what now exists and retry.
    while rows:
        try:
            with session.begin_nested():
                session.execute(insert(Payment), rows)
            return [(row["agent"], row["reference"]) for row in rows]
        except IntegrityError:
            there = existing_keys(session, [(row["agent"], row["reference"]) for row in rows])
            rows = [row for row in rows if (row["agent"], row["reference"]) not in there]
    return []


def import_registry(
    session: Session,
    registry_id: int,
    *,
    staff_id: int | None,
    ip: str | None = None,
    today: date | None = None,
) -> PaymentRegistry:
    """Import the valid lines of a registry in preview, set-based, in one transaction.

    The registry is claimed first (preview → imported) so two clicks import it once; every
    line is checked again; the rows go in with multi-row INSERTs that skip any (agent,
    reference) stored meanwhile by another import, and such lines count as already imported.
    """
    registry = get_registry(session, registry_id, with_files=True)
    claimed = session.execute(
        update(PaymentRegistry)
        .where(PaymentRegistry.id == registry_id, PaymentRegistry.status == RegistryStatus.PREVIEW)
        .values(status=RegistryStatus.IMPORTED)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise DomainError(_("This registry has already been imported."))
    # The caller commits; when anything fails it rolls back, the claim too (the registry
    # stays in preview).
    return _import_claimed(session, registry, today=today, staff_id=staff_id, ip=ip)


def _import_claimed(
    session: Session, registry: PaymentRegistry, *, today, staff_id, ip
) -> PaymentRegistry:
    registry_id = registry.id
    table = read_table(registry.source_csv or "", limits()[1])
    checked = check(session, table, today=today)
    inserted = _insert_payments(session, checked.lines, registry_id)
    raced = {line.line for line in checked.lines if (line.agent, line.reference) not in inserted}
    if raced:  # stored by another import between our check and our insert
        reason = _("Already imported: a payment with this agent and reference exists.")
        cells = dict(table.rows)
        checked.errors.extend(LineError(n, "imported", reason, cells[n]) for n in sorted(raced))
        checked.errors.sort(key=lambda error: error.line)
        checked.lines = [line for line in checked.lines if line.line not in raced]
    amount = checked.amount
    session.execute(
        update(PaymentRegistry)
        .where(PaymentRegistry.id == registry_id)
        .values(
            total_lines=checked.total,
            imported_lines=checked.valid,
            imported_amount=amount,
            **csvfiles.refusal_columns(checked),
        )
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.PAYMENT_REGISTRY,
        object_id=registry_id,
        summary=(
            f"{registry.filename}: imported {checked.valid} payments ({amount}), "
            f"{checked.duplicates} already imported, {checked.refused} refused"
        ),
        changes={
            "status": [RegistryStatus.PREVIEW, RegistryStatus.IMPORTED],
            "imported_lines": [None, str(checked.valid)],
        },
        ip_address=ip,
    )
    session.expire(registry)  # the UPDATE above changed its row behind its back
    return get_registry(session, registry_id)


def _insert_payments(session: Session, lines, registry_id: int) -> set[tuple[str, str]]:
    """Insert the valid lines in chunks of CHUNK; the (agent, reference) keys inserted."""
    now = utcnow()
    inserted: set[tuple[str, str]] = set()
    for chunk in _chunks(lines, CHUNK):
        rows = [
            {
                "account_id": line.account_id,
                "amount": line.amount,
                "paid_on": line.paid_on,
                "agent": line.agent,
                "reference": line.reference,
                "registry_id": registry_id,
                "created_at": now,
            }
            for line in chunk
        ]
        inserted.update(_insert_ignoring_duplicates(session, rows))
    return inserted


# --- the refused lines ----------------------------------------------------------------


def stored_errors(registry: PaymentRegistry) -> tuple[list[str] | None, list[LineError]]:
    """(the file's header or None, LineErrors) from the registry's stored errors."""
    if not registry.errors_csv:
        return None, []
    reader = csv.reader(io.StringIO(registry.errors_csv, newline=""), delimiter=";")
    header = next(reader)[3:] or None
    return header, [LineError(int(row[0]), row[1], row[2], row[3:]) for row in reader]


def errors_file(session: Session, registry_id: int, *, staff_id: int, ip: str | None) -> bytes:
    """The refused lines as a CSV Excel opens (``csvfiles.refused_lines_file``).

    A registry in preview is checked again, so the file matches the preview page."""
    registry = get_registry(session, registry_id, with_files=True)
    if registry.status == RegistryStatus.PREVIEW:
        checked = check(session, read_table(registry.source_csv or "", limits()[1]))
        header, errors = checked.header, checked.errors
    else:
        header, errors = stored_errors(registry)
    if header is None:
        header = [str(COLUMN_LABELS[column]) for column in COLUMNS]
    body = csvfiles.refused_lines_file(header, errors)
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.VIEW,
        object_type=AuditObject.PAYMENT_REGISTRY,
        object_id=registry.id,
        summary=f"{registry.filename}: refused lines downloaded ({len(errors)})",
        ip_address=ip,
    )
    return body


# --- payments of an account -----------------------------------------------------------


def search_digits(term: str | None) -> str:
    """The account number (or its beginning) staff typed; "" when too short to search."""
    digits = normalise_account_number(clean_term(term))
    return digits if len(digits) >= MIN_SEARCH_DIGITS else ""


def find_payments(digits: str) -> Select:
    """Payments of the accounts whose number is or begins with the digits, newest first."""
    return (
        select(Payment)
        .join(Account, Account.id == Payment.account_id)
        .where(Account.number.startswith(digits, autoescape=True))
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
    )


@dataclass(frozen=True)
class AccountBrief:
    id: int
    number: str
    customer: str
    address: str


def accounts_brief(session: Session, account_ids) -> dict[int, AccountBrief]:
    """Number, customer and address of the accounts of a page of payments, in one query."""
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Account.id, Account.number, Customer.full_name, Premises.address)
        .join(Customer, Customer.id == Account.customer_id)
        .join(Premises, Premises.id == Account.premises_id)
        .where(Account.id.in_(ids))
    ).all()
    return {row[0]: AccountBrief(*row) for row in rows}


def record_search(session: Session, term: str, *, staff_id: int, ip: str | None) -> None:
    """Audit a search of payments by account (whose payments staff then see)."""
    if not term:
        return
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.SEARCH,
        object_type=AuditObject.PAYMENT,
        object_id=None,
        summary=term,
        ip_address=ip,
    )
