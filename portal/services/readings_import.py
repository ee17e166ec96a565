"""Bulk import of remote-metering (АСКУЭ) readings from CSV files.

A file has one reading per line: account number, meter serial number, tariff zone, date,
value. Upload checks every line and keeps the file (``create_batch``: the preview); the
import checks it again against the database as it is then and stores the valid lines in
chunks (``run_import``, run by a Celery worker or the embedded scheduler). The rules of a
reading are ``readings.judge()``'s, the same as for customers and operators.

The format, as forgiving as Russian Excel and metering-system exports need:
- encoding UTF-8 (with or without BOM), Windows-1251 or UTF-16 with BOM, detected;
- delimiter ``;`` or ``,`` (or a tab), detected from the first lines;
- an optional header line; with one the columns may come in any order and extra columns
  (such as the "reason" of an errors file sent back after correction) are ignored;
- dates ``YYYY-MM-DD`` or ``DD.MM.YYYY`` (a time after the date is ignored);
- values with a decimal comma or point; spaces inside are ignored;
- zones by name (``total day night peak semi_peak``; Russian ``общая день ночь пик
  полупик``) or by tariff number, which depends on the meter: a single-rate meter has
  ``1``; a two-rate meter ``1`` = day, ``2`` = night; a three-rate meter ``1`` = peak,
  ``2`` = night, ``3`` = semi-peak (the usual Т1/Т2/Т3 of Russian meters; ``Т1`` and
  ``T1`` are read as ``1``). An empty zone is the single rate of a single-rate meter.

Set-based throughout: meters, previous readings and already-imported keys are looked up
for all lines at once (``readings.one_of``: one query on PostgreSQL, one per 10 000 keys
on SQLite); rows go in chunk by chunk (PostgreSQL: COPY) with one superseding UPDATE per
chunk; no ORM object per line.
"""

import csv
import gc
import io
import logging
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import NamedTuple

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, defer

from portal.models import Account, ImportBatch, Meter, Reading, utcnow
from portal.models.metering import ZONE_NAMES
from portal.services import audit, csvfiles, settings
from portal.services.csvfiles import Table, parse_date, sha256, trimmed
from portal.services.csvfiles import too_large_message as too_large_message
from portal.services.errors import DomainError, NotFound
from portal.services.readings import (
    LIVE_STATUSES,
    Previous,
    judge,
    local_today,
    one_of,
    parse_value,
    period_of,
    previous_readings,
)

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024  # app config READINGS_IMPORT_MAX_BYTES overrides
MAX_LINES = 500_000  # app config READINGS_IMPORT_MAX_LINES overrides
CHUNK = 5_000  # lines stored per INSERT, progress update and commit
PREVIEW_ERRORS = 50
SOURCE = "remote"
EXTERNAL_REF = "csv"  # with (meter, zone, date) unique: a line imported twice adds nothing
MAX_ID = 2**63 - 1

# uploaded → checking → pending (the preview) → queued → running → done; or failed, discarded.
# A large file is checked in the background ("uploaded", "checking"); a small one at once.
STATUSES = (
    "uploaded", "checking", "pending", "queued", "running", "done", "failed", "discarded"
)  # fmt: skip
ACTIVE_STATUSES = ("uploaded", "checking", "queued", "running")
INLINE_CHECK_LINES = 20_000  # larger files are checked by the background worker

COLUMNS = ("account", "meter", "zone", "date", "value")
COLUMN_LABELS = {
    "account": _l("Account"),
    "meter": _l("Meter serial number"),
    "zone": _l("Zone"),
    "date": _l("Date"),
    "value": _l("Reading"),
}
# Header names understood in any language of the portal (compared lower-case, ё as е).
HEADER_ALIASES = {
    "account": (
        "account", "account number", "account no", "лицевой счет", "лицевой", "лс", "л/с",
        "номер лс", "номер л/с", "номер лицевого счета",
    ),
    "meter": (
        "meter", "meter serial", "meter serial number", "meter number", "serial",
        "serial number", "счетчик", "номер счетчика", "заводской номер",
        "заводской номер счетчика", "серийный номер", "прибор учета", "пу", "номер пу",
    ),
    "zone": ("zone", "tariff zone", "tariff", "зона", "тарифная зона", "тариф"),
    "date": (
        "date", "taken on", "reading date", "дата", "дата показаний", "дата показания",
        "дата снятия", "дата снятия показаний",
    ),
    "value": ("value", "reading", "показание", "показания", "значение"),
}  # fmt: skip

# Why a line was not imported: the code is stored, the label is shown in summaries.
REASONS = {
    "columns": _l("Wrong number of columns"),
    "account": _l("Unknown account"),
    "meter": _l("Meter not on the account"),
    "zone": _l("Unknown zone for the meter"),
    "date": _l("Bad date"),
    "future": _l("Date in the future"),
    "value": _l("Not a number"),
    "imported": _l("Already imported"),
    "duplicate": _l("Repeated in the file"),
    # readings.judge()'s refusals, by its codes; "rules" for any other
    "lower": _l("Below the previous reading"),
    "decimals": _l("Too many decimal places"),
    "too_large": _l("Too large for the meter"),
    "negative": _l("Negative reading"),
    "faulty": _l("Meter faulty"),
    "removed": _l("Meter removed"),
    "rules": _l("Refused by the readings rules"),
}
DUPLICATE_CODES = ("imported",)

_ZONE_WORDS = {
    "total": "total", "общая": "total", "общий": "total", "однотарифный": "total",
    "day": "day", "день": "day", "дневная": "day",
    "night": "night", "ночь": "night", "ночная": "night",
    "peak": "peak", "пик": "peak", "пиковая": "peak",
    "semi_peak": "semi_peak", "semi-peak": "semi_peak", "semipeak": "semi_peak",
    "semi peak": "semi_peak", "полупик": "semi_peak", "полупиковая": "semi_peak",
}  # fmt: skip
# Tariff numbers as Russian meters label them: Т1, Т2, Т3 by the meter's number of zones.
_ZONE_NUMBERS = {
    1: {"1": "total"},
    2: {"1": "day", "2": "night"},
    3: {"1": "peak", "2": "night", "3": "semi_peak"},
}


def _zone_lookup() -> dict[int, dict[str, str]]:
    """For each number of zones: every accepted spelling → the zone name."""
    lookup = {}
    for zones, names in ZONE_NAMES.items():
        spellings = {word: zone for word, zone in _ZONE_WORDS.items() if zone in names}
        for number, zone in _ZONE_NUMBERS[zones].items():
            for prefix in ("", "t", "т"):  # Latin and Cyrillic T
                spellings[prefix + number] = zone
        if zones == 1:
            spellings[""] = "total"
        lookup[zones] = spellings
    return lookup


ZONE_LOOKUP = _zone_lookup()

FORMAT = csvfiles.CsvFormat(
    columns=COLUMNS,
    labels=COLUMN_LABELS,
    aliases=HEADER_ALIASES,
    no_columns_message=_l(
        "No columns found: the file needs five columns (account, meter serial number, zone, date, reading) separated by “;” or “,”."
    ),
    bad_header_message=_l(
        "The first line is not the expected header. The columns are: %(columns)s; a file without a header is fine too."
    ),
    no_rows_message=_l("The file has no readings, only a header."),
)
NOT_TEXT_MESSAGE = _l("This is not a CSV text file. Save the readings as CSV and upload that file.")


# --- results --------------------------------------------------------------------------


@dataclass
class LineError:
    line: int  # the line number in the file, counted from 1
    code: str  # a key of REASONS
    reason: str  # translated, for the person who fixes the file
    cells: list[str]  # the line as it was


@dataclass
class Checked:
    """Every line of a file, judged: the rows ready to insert and the lines refused."""

    total: int
    header: list[str] | None
    rows: list[tuple[int, dict]] = field(default_factory=list)  # (ordinal, row), file order
    errors: list[LineError] = field(default_factory=list)  # file order

    @property
    def valid(self) -> int:
        return len(self.rows)

    @property
    def duplicates(self) -> int:
        return sum(1 for error in self.errors if error.code in DUPLICATE_CODES)

    @property
    def refused(self) -> int:
        return len(self.errors) - self.duplicates

    @property
    def counts(self) -> Counter:
        return Counter(error.code for error in self.errors)


@dataclass
class Preview:
    counts: list[tuple[str, int]]  # (code, lines) in the order of REASONS
    errors: list[LineError]  # the first PREVIEW_ERRORS


@contextmanager
def bulk_work():
    """No cyclic garbage collection while a file is read, checked and stored.

    The work makes hundreds of thousands of small lists, tuples and dicts and no cycles;
    Python 3.11's collector would walk all of them again and again (a third of the time
    of reading a file). Reference counting frees them as usual; the collector runs after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- reading the file -----------------------------------------------------------------


def limits() -> tuple[int, int]:
    """The size limits: bytes and lines (app config, else the defaults here)."""
    return csvfiles.limits("READINGS_IMPORT", MAX_BYTES, MAX_LINES)


def decode(data: bytes, max_bytes: int = MAX_BYTES) -> str:
    """The file's text; encoding detected. File-level problems raise DomainError."""
    return csvfiles.decode(data, max_bytes, not_text_message=NOT_TEXT_MESSAGE)


def read_table(text: str, max_lines: int = MAX_LINES) -> Table:
    """The data lines and where each column is (account, meter, zone, date, value; a line
    must have ``width`` cells). File-level problems raise DomainError."""
    return csvfiles.read_table(text, FORMAT, max_lines=max_lines)


# --- checking every line --------------------------------------------------------------


def _rows_where_in(session: Session, column, values: list, query) -> list:
    """The rows of ``query(condition)`` where ``column`` is one of ``values`` (see
    ``readings.one_of``). Core rows, no ORM loading, fetched all at once (row by row
    costs a driver call each)."""
    connection = session.connection()
    return [
        row
        for condition in one_of(session, column, values)
        for row in connection.execute(query(condition)).all()
    ]


class MeterRules(NamedTuple):
    """A meter as the rules (``readings.judge``) read it, once per line: a plain tuple is
    several times quicker to read than a database row."""

    id: int
    zones: int
    whole_digits: int
    fraction_digits: int
    status: str
    remote_read: bool


def _meters(session: Session, numbers: list[str]) -> tuple[set[str], dict]:
    """Known account numbers and {(account number, SERIAL): MeterRules}: a removed meter
    counts only when no meter in service on the account has its serial number."""
    known: set[str] = set()
    meters: dict[tuple[str, str], MeterRules] = {}
    rank = {"active": 0, "faulty": 1, "removed": 2}
    rows = _rows_where_in(
        session,
        Account.number,
        numbers,
        lambda condition: (
            select(
                Account.number,
                Meter.serial_number,
                *(getattr(Meter, name) for name in MeterRules._fields),
            )
            .select_from(Account)
            .outerjoin(Meter, Meter.account_id == Account.id)
            .where(condition)
        ),
    )
    for row in rows:
        known.add(row.number)
        if row.id is None:
            continue
        meter = MeterRules._make(row[2:])
        key = (row.number, row.serial_number.strip().upper())
        held = meters.get(key)
        if held is None or (rank.get(meter.status, 3), -meter.id) < (
            rank.get(held.status, 3),
            -held.id,
        ):
            meters[key] = meter
    return known, meters


def _imported_keys(session: Session, meter_ids: list[int], first: date, last: date) -> set:
    """(meter id, zone, date) of the imported readings of these meters between the dates."""
    return {
        tuple(row)
        for row in _rows_where_in(
            session,
            Reading.meter_id,
            meter_ids,
            lambda condition: select(Reading.meter_id, Reading.zone, Reading.taken_on).where(
                condition,
                Reading.external_ref.is_not(None),
                Reading.taken_on.between(first, last),
            ),
        )
    }


def _previous_by_period(session: Session, meters_by_period: dict[date, set[int]]) -> dict:
    """{period: {(meter id, zone): Previous}} from the database, one lookup per period."""
    return {
        period: previous_readings(session, sorted(meter_ids), period)
        for period, meter_ids in meters_by_period.items()
    }


def check(
    session: Session,
    table: Table,
    *,
    today: date | None = None,
    batch_id: int | None = None,
    staff_id: int | None = None,
) -> Checked:
    """Judge every line of the table against the database as it is now. Nothing is stored.

    A line's previous reading is the database's or, when newer, that of an earlier line of
    the same file for the same meter and zone (lines are judged in date order). Of several
    lines for one meter, zone and month the latest stays live and the others are stored as
    superseded, as a new reading supersedes an older one of the same period.
    """
    today = today or local_today()
    known_reason = {
        "account": _("There is no account with this number."),
        "meter": _("The account has no meter with this serial number."),
        "date": _("The date is not valid: write it as 2026-03-25 or 25.03.2026."),
        "future": _("The date is in the future."),
        "imported": _("Already imported: this meter, zone and date are in the database."),
    }
    checked = Checked(total=len(table.rows), header=table.header)
    errors = checked.errors
    i_account, i_meter, i_zone, i_date, i_value = table.positions
    width = table.width

    # 1. Cells → values; the lines that cannot be read at all are refused here.
    parsed = []  # (ordinal, line, cells, account, SERIAL, zone text, date | code, value | message)
    dates: dict[str, date | str] = {}
    for ordinal, (line, cells) in enumerate(table.rows):
        if len(cells) != width and len(trimmed(cells, width)) != width:
            errors.append(
                LineError(
                    line,
                    "columns",
                    _(
                        "Expected %(expected)s columns, found %(found)s.",
                        expected=width,
                        found=len(cells),
                    ),
                    cells,
                )
            )
            continue
        raw_date = cells[i_date].strip()
        taken_on = dates.get(raw_date)
        if taken_on is None:
            taken_on = parse_date(raw_date) or "date"
            if taken_on != "date" and taken_on > today:
                taken_on = "future"
            dates[raw_date] = taken_on
        try:
            value = parse_value(cells[i_value])
        except DomainError as error:
            # The message, not the exception: its traceback holds this frame, and with it
            # every line, in a reference cycle only the (paused) garbage collector frees.
            value = error.message
        parsed.append(
            (
                ordinal,
                line,
                cells,
                cells[i_account].strip(),
                cells[i_meter].strip().upper(),
                cells[i_zone].strip().lower(),
                taken_on,
                value,
            )
        )

    # 2. Accounts and meters, one lookup for the whole file.
    known, meters = _meters(session, sorted({p[3] for p in parsed}))
    candidates = []  # (meter id, zone, date, ordinal, line, meter, value, cells)
    for ordinal, line, cells, account, serial, zone_text, taken_on, value in parsed:
        meter = meters.get((account, serial))
        if meter is None:
            code = "account" if account not in known else "meter"
            errors.append(LineError(line, code, known_reason[code], cells))
            continue
        zone = ZONE_LOOKUP[meter.zones].get(zone_text)
        if zone is None:
            errors.append(LineError(line, "zone", _zone_message(meter, cells[i_zone]), cells))
            continue
        if type(taken_on) is str:
            errors.append(LineError(line, taken_on, known_reason[taken_on], cells))
            continue
        if type(value) is str:
            errors.append(LineError(line, "value", value, cells))
            continue
        candidates.append((meter.id, zone, taken_on, ordinal, line, meter, value, cells))

    # 3. Already imported, and repeated within the file.
    if candidates:
        imported = _imported_keys(
            session,
            sorted({c[0] for c in candidates}),
            min(c[2] for c in candidates),
            max(c[2] for c in candidates),
        )
    else:
        imported = set()
    first_line: dict[tuple, int] = {}
    unique = []
    for candidate in candidates:
        key = candidate[:3]
        if key in imported:
            errors.append(
                LineError(candidate[4], "imported", known_reason["imported"], candidate[7])
            )
        elif key in first_line:
            errors.append(
                LineError(
                    candidate[4],
                    "duplicate",
                    _(
                        "Line %(line)s has the same meter, zone and date.",
                        line=first_line[key],
                    ),
                    candidate[7],
                )
            )
        else:
            first_line[key] = candidate[4]
            unique.append(candidate)

    # 4. The rules, in date order per meter and zone, against the previous readings.
    rows = _judge_all(session, unique, errors, batch_id=batch_id, staff_id=staff_id)
    rows.sort(key=lambda item: item[0])
    checked.rows = rows
    errors.sort(key=lambda error: error.line)
    return checked


def _zone_message(meter, raw: str) -> str:
    from portal.formatting import ZONE_LABELS

    return _(
        "The meter has no zone “%(zone)s”; its zones: %(zones)s.",
        zone=raw.strip(),
        zones=", ".join(
            f"{n} — {ZONE_LABELS[name]}" for n, name in sorted(_ZONE_NUMBERS[meter.zones].items())
        ),
    )


def _judge_all(session, candidates, errors, *, batch_id, staff_id) -> list[tuple[int, dict]]:
    periods: dict[date, date] = {}
    meters_by_period: dict[date, set[int]] = defaultdict(set)
    for candidate in candidates:
        day = candidate[2]
        line_period = periods.get(day)
        if line_period is None:
            line_period = periods[day] = period_of(day)
        meters_by_period[line_period].add(candidate[0])
    previous = _previous_by_period(session, meters_by_period)
    threshold = settings.get(session, "readings.review_threshold")
    share = settings.get(session, "readings.rollover_share")
    now = utcnow()

    rows: list[tuple[int, dict]] = []
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    group_key = None
    in_file = None  # the live reading of the last finished period of this meter and zone
    period = last = None  # the period being judged and its latest live row
    period_live: list[dict] = []
    for meter_id, zone, taken_on, ordinal, line, meter, value, cells in candidates:
        line_period = periods[taken_on]
        if (meter_id, zone) != group_key or line_period != period:
            _settle(period_live)
            if (meter_id, zone) != group_key:
                group_key, in_file = (meter_id, zone), None
            elif last is not None and last["status"] == "accepted":
                in_file = last
            period, last, period_live = line_period, None, []
        before = previous[line_period].get(group_key)
        if in_file is not None and (
            before is None
            or (in_file["period"], in_file["taken_on"]) >= (before.period, before.taken_on)
        ):
            before = Previous(
                in_file["value"],
                in_file["taken_on"],
                in_file["period"],
                before.average if before is not None else None,
            )
        verdict = judge(
            meter,
            value,
            before,
            period=line_period,
            source=SOURCE,
            threshold=threshold,
            rollover_share=share,
            confirmed=True,
        )
        if verdict.outcome not in LIVE_STATUSES:
            code = getattr(verdict, "code", None)
            errors.append(
                LineError(line, code if code in REASONS else "rules", verdict.reason, cells)
            )
            continue
        row = {
            "meter_id": meter_id,
            "zone": zone,
            "period": line_period,
            "taken_on": taken_on,
            "value": value,
            "consumption": verdict.consumption,
            "source": SOURCE,
            "status": verdict.outcome,
            "reason": verdict.reason,
            "external_ref": EXTERNAL_REF,
            "import_batch_id": batch_id,
            "entered_by_staff_id": staff_id,
            "created_at": now,
        }
        rows.append((ordinal, row))
        period_live.append(row)
        last = row
    _settle(period_live)
    return rows


def _settle(period_live: list[dict]) -> None:
    """Of one meter zone's rows in one period (date order) the last stays live."""
    for row in period_live[:-1]:
        row["status"] = "superseded"


# --- the batch: upload, preview, run --------------------------------------------------


def clean_filename(name: str | None) -> str:
    return csvfiles.clean_filename(name, "readings.csv")


def create_batch(
    session: Session,
    *,
    filename: str | None,
    data: bytes,
    staff_id: int | None,
    ip: str | None = None,
    today: date | None = None,
) -> ImportBatch:
    """Keep an uploaded file as a batch waiting to be started, with the verdict on every
    line (the preview). A file that is not a readable CSV raises DomainError.

    A file of more than INLINE_CHECK_LINES lines is only read here; its lines are checked
    by the background worker (status "uploaded", see ``check_batch``), so that an upload
    never takes longer than a web request may."""
    max_bytes, max_lines = limits()
    text = decode(data, max_bytes)
    with bulk_work():
        table = read_table(text, max_lines)
    batch = ImportBatch(
        kind="readings",
        filename=clean_filename(filename),
        file_sha256=sha256(data),
        staff_id=staff_id,
        status="uploaded",
        total_lines=len(table.rows),
        processed_lines=0,
        imported_lines=0,
        duplicate_lines=0,
        error_lines=0,
        source_csv=text,
    )
    checked = None
    if len(table.rows) <= INLINE_CHECK_LINES:
        with bulk_work():
            checked = check(session, table, today=today)
            _set_preview(batch, checked)
    session.add(batch)
    session.flush()
    audit.record(
        session,
        staff_id=staff_id,
        action="create",
        object_type="import_batch",
        object_id=batch.id,
        summary=_summary(batch, checked.valid) if checked else f"{batch.filename}: uploaded",
        ip_address=ip,
    )
    session.commit()
    return batch


def _set_preview(batch: ImportBatch, checked: Checked) -> None:
    batch.status = "pending"
    batch.total_lines = checked.total
    batch.duplicate_lines = checked.duplicates
    batch.error_lines = checked.refused
    batch.errors_csv = _store_errors(checked)


def check_batch(session: Session, batch_id: int, *, today: date | None = None):
    """Check the lines of an uploaded batch (the preview) in the background. Returns None
    when the batch was not waiting for it (another worker has it)."""
    if not _claim(session, batch_id, "uploaded", "checking"):
        return None
    try:
        batch = get_batch(session, batch_id, with_files=True)
        with bulk_work():
            table = read_table(batch.source_csv or "", limits()[1])
            _set_preview(batch, check(session, table, today=today))
        session.commit()
    except Exception:
        log.exception("checking readings import %s failed", batch_id)
        _fail(session, batch_id)
    return get_batch(session, batch_id)


def _claim(session: Session, batch_id: int, waiting: str, working: str) -> bool:
    """Atomically move a batch from ``waiting`` to ``working``: one worker gets it."""
    claimed = session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id, ImportBatch.status == waiting)
        .values(status=working, processed_lines=0)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return bool(claimed)


def _fail(session: Session, batch_id: int) -> None:
    session.rollback()
    session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id)
        .values(status="failed", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _summary(batch: ImportBatch, valid: int) -> str:
    return (
        f"{batch.filename}: {batch.total_lines} lines, {valid} valid, "
        f"{batch.duplicate_lines} already imported, {batch.error_lines} refused"
    )


def get_batch(session: Session, batch_id: int, *, with_files: bool = False) -> ImportBatch:
    """A batch; the stored files are loaded only when asked for."""
    if not 0 < batch_id <= MAX_ID:
        raise NotFound()
    options = [] if with_files else [defer(ImportBatch.source_csv), defer(ImportBatch.errors_csv)]
    batch = session.get(ImportBatch, batch_id, options=options, populate_existing=True)
    if batch is None or batch.kind != "readings":
        raise NotFound()
    return batch


def batches(session: Session):
    """Every readings import, newest first, without the stored files (a query to page)."""
    return (
        select(ImportBatch)
        .where(ImportBatch.kind == "readings")
        .options(defer(ImportBatch.source_csv), defer(ImportBatch.errors_csv))
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
    )


def same_file_batches(session: Session, batch: ImportBatch) -> list[int]:
    """Other imports of the very same file (by its SHA-256), oldest first."""
    return list(
        session.scalars(
            select(ImportBatch.id)
            .where(ImportBatch.file_sha256 == batch.file_sha256, ImportBatch.id != batch.id)
            .order_by(ImportBatch.id)
        )
    )


def valid_lines(batch: ImportBatch) -> int:
    return max(batch.total_lines - batch.error_lines - batch.duplicate_lines, 0)


def queue(session: Session, batch_id: int, *, staff_id: int | None, ip: str | None = None):
    """Put a batch in the queue of the background worker (which imports it)."""
    batch = get_batch(session, batch_id)
    if batch.status in ("uploaded", "checking"):
        raise DomainError(_("The lines of this file are still being checked."))
    if batch.status not in ("pending", "failed"):
        raise DomainError(_("This import has already been started."))
    audit.record(
        session,
        staff_id=staff_id,
        action="update",
        object_type="import_batch",
        object_id=batch.id,
        summary=f"{batch.filename}: started",
        changes=audit.diff({"status": batch.status}, {"status": "queued"}),
        ip_address=ip,
    )
    batch.status = "queued"
    batch.processed_lines = 0
    session.commit()
    return batch


def discard(session: Session, batch_id: int, *, staff_id: int | None, ip: str | None = None):
    """Drop a batch that was not started; its file is deleted."""
    batch = get_batch(session, batch_id)
    if batch.status not in ("pending", "failed"):
        raise DomainError(_("An import that has been started cannot be discarded."))
    audit.record(
        session,
        staff_id=staff_id,
        action="update",
        object_type="import_batch",
        object_id=batch.id,
        summary=f"{batch.filename}: discarded",
        changes=audit.diff({"status": batch.status}, {"status": "discarded"}),
        ip_address=ip,
    )
    batch.status = "discarded"
    batch.source_csv = None
    batch.finished_at = utcnow()
    session.commit()
    return batch


def run_import(
    session: Session, batch_id: int, *, today: date | None = None, chunk_size: int = CHUNK
) -> ImportBatch | None:
    """Import a queued batch: check every line again, store the valid ones chunk by chunk
    (progress committed after each), then the totals. Returns None when the batch was not
    queued (another worker has it, or it is done). On failure the batch is "failed", keeps
    its file and may be started again: lines already stored count as already imported."""
    if not _claim(session, batch_id, "queued", "running"):
        return None
    try:
        with bulk_work():
            return _run(session, batch_id, today=today, chunk_size=chunk_size)
    except Exception:
        log.exception("readings import %s failed", batch_id)
        _fail(session, batch_id)
        return get_batch(session, batch_id)


def _run(session: Session, batch_id: int, *, today, chunk_size) -> ImportBatch:
    batch = get_batch(session, batch_id, with_files=True)
    staff_id, filename = batch.staff_id, batch.filename
    table = read_table(batch.source_csv or "", max_lines=limits()[1])
    checked = check(session, table, today=today, batch_id=batch_id, staff_id=staff_id)
    progress = update(ImportBatch).where(ImportBatch.id == batch_id)
    session.execute(
        progress.values(total_lines=checked.total).execution_options(synchronize_session=False)
    )
    rows = checked.rows
    position = 0
    for start in range(0, checked.total, chunk_size):
        end = start + chunk_size
        chunk = []
        while position < len(rows) and rows[position][0] < end:
            chunk.append(rows[position][1])
            position += 1
        if chunk:
            _store_chunk(session, chunk, batch_id)
        session.execute(
            progress.values(processed_lines=min(end, checked.total)).execution_options(
                synchronize_session=False
            )
        )
        session.commit()
    imported = len(rows)
    session.execute(
        progress.values(
            status="done",
            processed_lines=checked.total,
            imported_lines=imported,
            duplicate_lines=checked.duplicates,
            error_lines=checked.refused,
            errors_csv=_store_errors(checked),
            source_csv=None,
            finished_at=utcnow(),
        ).execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        staff_id=staff_id,
        action="update",
        object_type="import_batch",
        object_id=batch_id,
        summary=(
            f"{filename}: imported {imported} of {checked.total} lines, "
            f"{checked.duplicates} already imported, {checked.refused} refused"
        ),
        changes={"status": ["running", "done"], "imported_lines": [None, str(imported)]},
    )
    session.commit()
    return get_batch(session, batch_id)


INSERT_COLUMNS = (
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


def _store_chunk(session: Session, chunk: list[dict], batch_id: int) -> None:
    """Insert the chunk's rows, then supersede the older live readings of their meter,
    zone and period: one bulk insert and one UPDATE.

    PostgreSQL gets the rows through COPY (psycopg, the session's own connection and
    transaction): several times faster than a multi-row INSERT there. Elsewhere one
    executemany INSERT, Core's (the ORM's bulk insert would only add work per row)."""
    table = Reading.__table__
    connection = session.connection()
    after = connection.scalar(select(func.coalesce(func.max(table.c.id), 0)))
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.cursor()
        values = itemgetter(*INSERT_COLUMNS)
        with cursor.copy(f"COPY readings ({', '.join(INSERT_COLUMNS)}) FROM STDIN") as copy:
            for row in chunk:
                copy.write_row(values(row))
    else:
        connection.execute(insert(table), chunk)
    new, old = table.alias("new"), table.alias("old")
    older = (
        select(old.c.id)
        .join(
            new,
            and_(
                new.c.meter_id == old.c.meter_id,
                new.c.zone == old.c.zone,
                new.c.period == old.c.period,
            ),
        )
        .where(
            new.c.import_batch_id == batch_id,
            new.c.id > after,
            new.c.status.in_(LIVE_STATUSES),
            old.c.status.in_(LIVE_STATUSES),
            or_(old.c.import_batch_id.is_(None), old.c.import_batch_id != batch_id),
        )
    )
    connection.execute(update(table).where(table.c.id.in_(older)).values(status="superseded"))


def send_to_worker(broker_url: str | None, batch_id: int) -> bool:
    """Hand a queued batch to a Celery worker; False when there is no broker or it does not
    answer (the embedded scheduler, or the periodic Celery task, picks the batch up then)."""
    if not broker_url:
        return False
    from celery import Celery

    try:
        Celery("portal", broker=broker_url).send_task(
            "portal.tasks.import_readings", args=[batch_id], retry=False
        )
    except Exception:  # noqa: BLE001  (any broker failure: the batch stays queued)
        log.warning("could not send readings import %s to a worker", batch_id, exc_info=True)
        return False
    return True


def process_batch(session: Session, batch_id: int) -> ImportBatch | None:
    """Do what a batch waits for: the check of its lines, or the import. The Celery task."""
    status = session.scalar(select(ImportBatch.status).where(ImportBatch.id == batch_id))
    if status == "uploaded":
        return check_batch(session, batch_id)
    if status == "queued":
        return run_import(session, batch_id)
    return None


def process_queued_imports(session: Session) -> int:
    """Check every uploaded and import every queued batch, oldest first (the embedded
    scheduler and a periodic Celery task call this). Returns how many were processed."""
    done = 0
    for batch_id in session.scalars(
        select(ImportBatch.id)
        .where(ImportBatch.status.in_(("uploaded", "queued")), ImportBatch.kind == "readings")
        .order_by(ImportBatch.id)
    ).all():
        if process_batch(session, batch_id) is not None:
            done += 1
    return done


# --- the refused lines ----------------------------------------------------------------


def _store_errors(checked: Checked) -> str | None:
    """The refused lines as stored: line, code, reason, then the line's own cells; the
    first row carries the file's header (if it had one). Kept as they came (the preview
    re-reads them); the download neutralises formula cells (``errors_file``)."""
    if not checked.errors:
        return None
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["line", "code", "reason", *(checked.header or [])])
    writer.writerows(
        [error.line, error.code, error.reason, *error.cells] for error in checked.errors
    )
    return out.getvalue()


def errors_text(session: Session, batch_id: int) -> str | None:
    """The batch's stored refused lines (without loading its file)."""
    return session.scalar(select(ImportBatch.errors_csv).where(ImportBatch.id == batch_id))


def stored_errors(stored: str | None, limit: int | None = None) -> tuple[list | None, list]:
    """(the file's header or None, LineErrors) from a batch's stored refused lines."""
    if not stored:
        return None, []
    reader = csv.reader(io.StringIO(stored, newline=""), delimiter=";")
    header = next(reader)[3:] or None
    errors = []
    for row in reader:
        if limit is not None and len(errors) >= limit:
            break
        errors.append(LineError(int(row[0]), row[1], row[2], row[3:]))
    return header, errors


def preview(stored: str | None) -> Preview:
    """Refused lines by reason and the first refused lines, from the stored ones."""
    counts: Counter = Counter()
    first = []
    if stored:
        reader = csv.reader(io.StringIO(stored, newline=""), delimiter=";")
        next(reader)
        for row in reader:
            counts[row[1]] += 1
            if len(first) < PREVIEW_ERRORS:
                first.append(LineError(int(row[0]), row[1], row[2], row[3:]))
    ordered = [(code, counts[code]) for code in REASONS if counts[code]]
    return Preview(ordered, first)


def errors_file(stored: str | None) -> bytes:
    """The refused lines as a CSV Excel opens (``csvfiles.refused_lines_file``)."""
    header, errors = stored_errors(stored)
    if header is None:
        header = [str(COLUMN_LABELS[column]) for column in COLUMNS]
    return csvfiles.refused_lines_file(header, errors)


def record_download(session: Session, batch: ImportBatch, staff_id: int, ip: str | None):
    audit.record(
        session,
        staff_id=staff_id,
        action="view",
        object_type="import_batch",
        object_id=batch.id,
        summary=f"{batch.filename}: refused lines downloaded",
        ip_address=ip,
    )
    session.commit()
