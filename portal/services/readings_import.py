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

import gc
import logging
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import NamedTuple

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, defer

from portal.models import (
    Account,
    ImportBatch,
    ImportStatus,
    Meter,
    MeterStatus,
    Reading,
    ReadingSource,
    ReadingStatus,
    Zone,
)
from portal.models.audit import AuditAction, AuditObject
from portal.models.metering import ZONE_NAMES
from portal.services import audit, csvfiles, settings
from portal.services.clock import local_today, utcnow
from portal.services.csvfiles import FileLine, LineError, Table, line_date, sha256, trimmed
from portal.services.csvfiles import too_large_message as too_large_message
from portal.services.errors import DomainError, NotFound
from portal.services.months import period_of
from portal.services.readings import (
    LIVE_STATUSES,
    MAX_ID,
    TARIFF_ZONES,
    Previous,
    judge,
    one_of,
    parse_value,
    previous_readings,
    verification_refusal,
)

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024  # app config READINGS_IMPORT_MAX_BYTES overrides
MAX_LINES = 500_000  # app config READINGS_IMPORT_MAX_LINES overrides
CHUNK = 5_000  # lines stored per INSERT, progress update and commit
PREVIEW_ERRORS = 50
SOURCE = ReadingSource.REMOTE
EXTERNAL_REF = "csv"  # with (meter, zone, date) unique: a line imported twice adds nothing
KIND = "readings"  # the ImportBatch kind of these imports

# The statuses of a batch (``ImportStatus``): a large file is checked in the background
# (uploaded, checking), a small one at once; these are still at work.
CHECKING_STATUSES = (ImportStatus.UPLOADED, ImportStatus.CHECKING)
ACTIVE_STATUSES = (*CHECKING_STATUSES, ImportStatus.QUEUED, ImportStatus.RUNNING)
STARTABLE_STATUSES = (ImportStatus.PENDING, ImportStatus.FAILED)
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
    MeterStatus.FAULTY: _l("Meter faulty"),
    MeterStatus.REMOVED: _l("Meter removed"),
    "lapsed": _l("Meter verification lapsed"),
    "rules": _l("Refused by the readings rules"),
}
DUPLICATE_CODES = ("imported",)

# Other spellings of each zone (its own name is understood too).
_ZONE_WORDS = {
    Zone.TOTAL: ("общая", "общий", "однотарифный"),
    Zone.DAY: ("день", "дневная"),
    Zone.NIGHT: ("ночь", "ночная"),
    Zone.PEAK: ("пик", "пиковая"),
    Zone.SEMI_PEAK: ("semi-peak", "semipeak", "semi peak", "полупик", "полупиковая"),
}
# Tariff numbers as Russian meters label them: Т1, Т2, Т3 by the meter's number of zones.
_ZONE_NUMBERS = {
    zones: {str(number): zone for number, zone in enumerate(names, start=1)}
    for zones, names in TARIFF_ZONES.items()
}


def _zone_lookup() -> dict[int, dict[str, Zone]]:
    """For each number of zones: every accepted spelling → the zone."""
    lookup = {}
    for zones, names in ZONE_NAMES.items():
        spellings = {word: zone for zone in names for word in (zone.value, *_ZONE_WORDS[zone])}
        for number, zone in _ZONE_NUMBERS[zones].items():
            for prefix in ("", "t", "т"):  # Latin and Cyrillic T
                spellings[prefix + number] = zone
        if zones == 1:
            spellings[""] = Zone.TOTAL
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
class Checked(csvfiles.Checked):
    """Every line of a file, judged: the rows ready to insert and the lines refused
    (``csvfiles.Checked``: duplicates, refused, counts by reason)."""

    rows: list[tuple[int, dict]] = field(default_factory=list)  # (ordinal, row), file order

    reasons = REASONS
    duplicate_codes = DUPLICATE_CODES

    @property
    def valid(self) -> int:
        return len(self.rows)


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


def limits() -> csvfiles.Limits:
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
    verification_due: date


def _meters(session: Session, numbers: list[str]) -> tuple[set[str], dict]:
    """Known account numbers and {(account number, SERIAL): MeterRules}: a removed meter
    counts only when no meter in service on the account has its serial number."""
    known: set[str] = set()
    meters: dict[tuple[str, str], MeterRules] = {}
    rank = {status: order for order, status in enumerate(MeterStatus)}  # in service first
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


@dataclass(slots=True)
class _ReadLine(FileLine):
    """A line whose cells are read; its date and value may be refusals still (kept until
    the meter is known: an unknown account or meter is what to say first)."""

    ordinal: int  # the line's place among the data lines
    account: str
    serial: str  # upper-case
    zone: str  # as written
    taken_on: date | str  # or the code of its refusal (csvfiles.DATE_REASONS)
    value: Decimal | str  # or the message of its refusal


@dataclass(slots=True)
class _Candidate(FileLine):
    """A line of a known meter and zone with a date and a value, to be judged."""

    ordinal: int
    meter: MeterRules
    zone: Zone
    taken_on: date
    value: Decimal

    @property
    def key(self) -> tuple[int, str, date]:
        return (self.meter.id, self.zone, self.taken_on)


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
    checked = Checked(total=len(table.rows), header=table.header)
    errors = checked.errors
    read = _read_lines(table, today or local_today(), errors)
    candidates = _of_known_meters(session, read, errors)
    unique = _not_imported_nor_repeated(session, candidates, errors)
    rows = _judge_all(session, unique, errors, batch_id=batch_id, staff_id=staff_id)
    rows.sort(key=itemgetter(0))
    checked.rows = rows
    errors.sort(key=attrgetter("line"))
    return checked


def _read_lines(table: Table, today: date, errors: list[LineError]) -> list[_ReadLine]:
    """1. Cells → values; the lines that cannot be read at all are refused here."""
    i_account, i_meter, i_zone, i_date, i_value = table.positions
    width = table.width
    dates: dict[str, date | str] = {}
    read = []
    for ordinal, (line, cells) in enumerate(table.rows):
        if len(cells) != width and len(trimmed(cells, width)) != width:
            reason = _(
                "Expected %(expected)s columns, found %(found)s.", expected=width, found=len(cells)
            )
            errors.append(LineError(line, "columns", reason, cells))
            continue
        raw_date = cells[i_date]
        taken_on = dates.get(raw_date)
        if taken_on is None:
            taken_on = dates[raw_date] = line_date(raw_date, today)
        read.append(
            _ReadLine(
                line,
                cells,
                ordinal,
                cells[i_account].strip(),
                cells[i_meter].strip().upper(),
                cells[i_zone].strip(),
                taken_on,
                _value_or_refusal(cells[i_value]),
            )
        )
    return read


def _value_or_refusal(raw: str) -> Decimal | str:
    try:
        return parse_value(raw)
    except DomainError as error:
        # The message, not the exception: kept, its traceback would hold the frames of
        # the check, and with them every line, in a reference cycle only the (paused)
        # garbage collector frees.
        return error.message


def _of_known_meters(session: Session, read: list[_ReadLine], errors) -> list[_Candidate]:
    """2. Accounts and meters, one lookup for the whole file; the line's zone of its meter;
    then the refusals of its date and value."""
    known, meters = _meters(session, sorted({line.account for line in read}))
    unknown = {
        "account": _("There is no account with this number."),
        "meter": _("The account has no meter with this serial number."),
    }
    candidates = []
    for line in read:
        meter = meters.get((line.account, line.serial))
        if meter is None:
            code = "account" if line.account not in known else "meter"
            errors.append(line.refused(code, unknown[code]))
            continue
        zone = ZONE_LOOKUP[meter.zones].get(line.zone.lower())
        if zone is None:
            errors.append(line.refused("zone", _zone_message(meter, line.zone)))
        elif type(line.taken_on) is str:
            errors.append(line.refused(line.taken_on, csvfiles.DATE_REASONS[line.taken_on]))
        elif type(line.value) is str:
            errors.append(line.refused("value", line.value))
        elif (lapsed := verification_refusal(meter, line.taken_on)) is not None:
            # Out of service from the day after the due date (ПП 354 п. 81(12)).
            errors.append(line.refused("lapsed", lapsed))
        else:
            candidates.append(
                _Candidate(
                    line.line, line.cells, line.ordinal, meter, zone, line.taken_on, line.value
                )
            )
    return candidates


def _not_imported_nor_repeated(
    session: Session, candidates: list[_Candidate], errors: list[LineError]
) -> list[_Candidate]:
    """3. Already imported (one lookup), and repeated within the file."""
    imported = set()
    if candidates:
        imported = _imported_keys(
            session,
            sorted({candidate.meter.id for candidate in candidates}),
            min(candidate.taken_on for candidate in candidates),
            max(candidate.taken_on for candidate in candidates),
        )
    already = _("Already imported: this meter, zone and date are in the database.")
    first_line: dict[tuple, int] = {}
    unique = []
    for candidate in candidates:
        key = candidate.key
        if key in imported:
            errors.append(candidate.refused("imported", already))
        elif key in first_line:
            reason = _("Line %(line)s has the same meter, zone and date.", line=first_line[key])
            errors.append(candidate.refused("duplicate", reason))
        else:
            first_line[key] = candidate.line
            unique.append(candidate)
    return unique


def _zone_message(meter: MeterRules, raw: str) -> str:
    return _(
        "The meter has no zone “%(zone)s”; its zones: %(zones)s.",
        zone=raw,
        zones=", ".join(
            f"{number} — {zone.label}" for number, zone in _ZONE_NUMBERS[meter.zones].items()
        ),
    )


def _judge_all(session, candidates, errors, *, batch_id, staff_id) -> list[tuple[int, dict]]:
    """4. The rules, in date order per meter and zone, against the previous reading: the
    database's or, when newer, the last live one of an earlier period of the file."""
    periods, previous = _previous_of_periods(session, candidates)
    threshold = settings.get(session, "readings.review_threshold")
    share = settings.get(session, "readings.rollover_share")
    now = utcnow()

    rows: list[tuple[int, dict]] = []
    candidates.sort(key=attrgetter("meter.id", "zone", "taken_on"))
    group_key = None
    in_file = None  # the live reading of the last finished period of this meter and zone
    period = last = None  # the period being judged and its latest live row
    period_live: list[dict] = []
    for candidate in candidates:
        line_period = periods[candidate.taken_on]
        key = (candidate.meter.id, candidate.zone)
        if key != group_key or line_period != period:
            _settle(period_live)
            if key != group_key:
                group_key, in_file = key, None
            elif last is not None and last["status"] == ReadingStatus.ACCEPTED:
                in_file = last
            period, last, period_live = line_period, None, []
        verdict = judge(
            candidate.meter,
            candidate.value,
            _before(previous[line_period].get(group_key), in_file),
            period=line_period,
            source=SOURCE,
            threshold=threshold,
            rollover_share=share,
            confirmed=True,
        )
        if verdict.outcome not in LIVE_STATUSES:
            code = verdict.code if verdict.code in REASONS else "rules"
            errors.append(candidate.refused(code, verdict.reason))
            continue
        row = _row(candidate, line_period, verdict, batch_id, staff_id, now)
        rows.append((candidate.ordinal, row))
        period_live.append(row)
        last = row
    _settle(period_live)
    return rows


def _previous_of_periods(session: Session, candidates: list[_Candidate]):
    """{date: period} of the lines' dates, and {period: {(meter id, zone): Previous}} from
    the database, one lookup per period."""
    periods: dict[date, date] = {}
    meters_by_period: dict[date, set[int]] = defaultdict(set)
    for candidate in candidates:
        day = candidate.taken_on
        line_period = periods.get(day)
        if line_period is None:
            line_period = periods[day] = period_of(day)
        meters_by_period[line_period].add(candidate.meter.id)
    previous = {
        line_period: previous_readings(session, sorted(meter_ids), line_period)
        for line_period, meter_ids in meters_by_period.items()
    }
    return periods, previous


def _before(stored: Previous | None, in_file: dict | None) -> Previous | None:
    """The reading a line is judged against: the database's, or the file's when newer."""
    if in_file is None or (
        stored is not None
        and (in_file["period"], in_file["taken_on"]) < (stored.period, stored.taken_on)
    ):
        return stored
    return Previous(
        in_file["value"],
        in_file["taken_on"],
        in_file["period"],
        stored.average if stored is not None else None,
    )


def _row(candidate: _Candidate, period: date, verdict, batch_id, staff_id, now) -> dict:
    """The reading to insert (``INSERT_COLUMNS``)."""
    return {
        "meter_id": candidate.meter.id,
        "zone": candidate.zone,
        "period": period,
        "taken_on": candidate.taken_on,
        "value": candidate.value,
        "consumption": verdict.consumption,
        "source": SOURCE,
        "status": verdict.outcome,
        "reason": verdict.reason,
        "external_ref": EXTERNAL_REF,
        "import_batch_id": batch_id,
        "entered_by_staff_id": staff_id,
        "created_at": now,
    }


def _settle(period_live: list[dict]) -> None:
    """Of one meter zone's rows in one period (date order) the last stays live."""
    for row in period_live[:-1]:
        row["status"] = ReadingStatus.SUPERSEDED


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
    line (the preview); the caller commits. A file that is not a readable CSV raises
    DomainError.

    A file of more than INLINE_CHECK_LINES lines is only read here; its lines are checked
    by the background worker (status uploaded, see ``check_batch``), so that an upload
    never takes longer than a web request may."""
    max_bytes, max_lines = limits()
    text = decode(data, max_bytes)
    with bulk_work():
        table = read_table(text, max_lines)
    batch = ImportBatch(
        kind=KIND,
        filename=clean_filename(filename),
        file_sha256=sha256(data),
        staff_id=staff_id,
        status=ImportStatus.UPLOADED,
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
        action=AuditAction.CREATE,
        object_type=AuditObject.IMPORT_BATCH,
        object_id=batch.id,
        summary=_summary(batch, checked.valid) if checked else f"{batch.filename}: uploaded",
        ip_address=ip,
    )
    return batch


def _set_preview(batch: ImportBatch, checked: Checked) -> None:
    batch.status = ImportStatus.PENDING
    batch.total_lines = checked.total
    batch.duplicate_lines = checked.duplicates
    batch.error_lines = checked.refused
    batch.errors_csv = csvfiles.stored_errors_text(checked)


def check_batch(session: Session, batch_id: int, *, today: date | None = None):
    """Check the lines of an uploaded batch (the preview) in the background, committing as
    it goes (the worker's own transactions). Returns None when the batch was not waiting
    for it (another worker has it)."""
    if not _claim(session, batch_id, ImportStatus.UPLOADED, ImportStatus.CHECKING):
        return None
    try:
        batch = get_batch(session, batch_id, with_files=True)
        with bulk_work():
            table = read_table(batch.source_csv or "", limits().lines)
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
        .values(status=ImportStatus.FAILED, finished_at=utcnow())
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
    if batch is None or batch.kind != KIND:
        raise NotFound()
    return batch


def batches(session: Session):
    """Every readings import, newest first, without the stored files (a query to page)."""
    return (
        select(ImportBatch)
        .where(ImportBatch.kind == KIND)
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


def is_active(batch: ImportBatch) -> bool:
    """The batch is being checked or imported: its page follows the progress."""
    return batch.status in ACTIVE_STATUSES


def is_checking(batch: ImportBatch) -> bool:
    return batch.status in CHECKING_STATUSES


def _move(session: Session, batch: ImportBatch, status: ImportStatus, done: str, *, staff_id, ip):
    """Staff moved the batch to ``status``: audited (``done`` says what in the summary)."""
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.IMPORT_BATCH,
        object_id=batch.id,
        summary=f"{batch.filename}: {done}",
        changes=audit.diff({"status": batch.status}, {"status": status}),
        ip_address=ip,
    )
    batch.status = status


def queue(session: Session, batch_id: int, *, staff_id: int | None, ip: str | None = None):
    """Put a batch in the queue of the background worker (which imports it once the caller
    has committed)."""
    batch = get_batch(session, batch_id)
    if is_checking(batch):
        raise DomainError(_("The lines of this file are still being checked."))
    if batch.status not in STARTABLE_STATUSES:
        raise DomainError(_("This import has already been started."))
    _move(session, batch, ImportStatus.QUEUED, "started", staff_id=staff_id, ip=ip)
    batch.processed_lines = 0
    session.flush()
    return batch


def discard(session: Session, batch_id: int, *, staff_id: int | None, ip: str | None = None):
    """Drop a batch that was not started; its file is deleted."""
    batch = get_batch(session, batch_id)
    if batch.status not in STARTABLE_STATUSES:
        raise DomainError(_("An import that has been started cannot be discarded."))
    _move(session, batch, ImportStatus.DISCARDED, "discarded", staff_id=staff_id, ip=ip)
    batch.source_csv = None
    batch.finished_at = utcnow()
    session.flush()
    return batch


def run_import(
    session: Session, batch_id: int, *, today: date | None = None, chunk_size: int = CHUNK
) -> ImportBatch | None:
    """Import a queued batch: check every line again, store the valid ones chunk by chunk
    (progress committed after each: the worker's own transactions), then the totals.
    Returns None when the batch was not queued (another worker has it, or it is done). On
    failure the batch is failed, keeps its file and may be started again: lines already
    stored count as already imported."""
    if not _claim(session, batch_id, ImportStatus.QUEUED, ImportStatus.RUNNING):
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
    table = read_table(batch.source_csv or "", max_lines=limits().lines)
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
            status=ImportStatus.DONE,
            processed_lines=checked.total,
            imported_lines=imported,
            **csvfiles.refusal_columns(checked),
            source_csv=None,
            finished_at=utcnow(),
        ).execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.IMPORT_BATCH,
        object_id=batch_id,
        summary=(
            f"{filename}: imported {imported} of {checked.total} lines, "
            f"{checked.duplicates} already imported, {checked.refused} refused"
        ),
        changes={
            "status": [ImportStatus.RUNNING, ImportStatus.DONE],
            "imported_lines": [None, str(imported)],
        },
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
    connection.execute(
        update(table).where(table.c.id.in_(older)).values(status=ReadingStatus.SUPERSEDED)
    )


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
    if status == ImportStatus.UPLOADED:
        return check_batch(session, batch_id)
    if status == ImportStatus.QUEUED:
        return run_import(session, batch_id)
    return None


def process_queued_imports(session: Session) -> int:
    """Check every uploaded and import every queued batch, oldest first (the embedded
    scheduler and a periodic Celery task call this). Returns how many were processed."""
    done = 0
    for batch_id in session.scalars(
        select(ImportBatch.id)
        .where(
            ImportBatch.status.in_((ImportStatus.UPLOADED, ImportStatus.QUEUED)),
            ImportBatch.kind == KIND,
        )
        .order_by(ImportBatch.id)
    ).all():
        if process_batch(session, batch_id) is not None:
            done += 1
    return done


# --- the refused lines ----------------------------------------------------------------


def errors_text(session: Session, batch_id: int) -> str | None:
    """The batch's stored refused lines (without loading its file)."""
    return session.scalar(select(ImportBatch.errors_csv).where(ImportBatch.id == batch_id))


def preview(stored: str | None) -> Preview:
    """Refused lines by reason and the first refused lines, from the stored ones."""
    _header, first, counts = csvfiles.read_stored_errors(stored, PREVIEW_ERRORS)
    return Preview(csvfiles.ordered_counts(counts, REASONS), first)


def errors_file(stored: str | None) -> bytes:
    """The refused lines as a CSV Excel opens (``csvfiles.refused_lines_file``)."""
    header, errors, _counts = csvfiles.read_stored_errors(stored)
    if header is None:
        header = [str(COLUMN_LABELS[column]) for column in COLUMNS]
    return csvfiles.refused_lines_file(header, errors)


def record_download(session: Session, batch: ImportBatch, staff_id: int, ip: str | None):
    audit.record(
        session,
        staff_id=staff_id,
        action=AuditAction.VIEW,
        object_type=AuditObject.IMPORT_BATCH,
        object_id=batch.id,
        summary=f"{batch.filename}: refused lines downloaded",
        ip_address=ip,
    )
    session.flush()
