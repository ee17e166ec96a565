"""Uploaded CSV files as Russian Excel, banks and metering systems write them.

What the CSV imports share (remote readings: ``readings_import``; payment registries:
``payments``); each describes its kind of file with a ``CsvFormat``:
- ``decode``: the bytes as text, the encoding detected: UTF-8 (with or without BOM),
  Windows-1251 or UTF-16 with BOM; an empty file, an Excel workbook or a binary file is
  refused;
- ``read_table``: the delimiter (``;``, ``,`` or a tab) detected from the first lines, an
  optional header naming the columns in any order (extra columns ignored), the data lines;
- ``FileLine``, ``LineError`` and ``Checked``: a line being checked, a line refused and the
  verdict on a whole file, with the dates every kind of file checks alike (``line_date``);
- ``parse_date`` and ``trimmed``, for checking the cells of a line;
- ``limits``: a kind's size limits, from the app config or its defaults;
- ``sha256`` and ``clean_filename``, for keeping the uploaded file;
- ``stored_errors_text`` and ``read_stored_errors``: the refused lines kept with an upload;
- ``refused_lines_file``, the refused lines to download, correct and upload again.

File-level problems raise DomainError on the field "file", worded for the person uploading.
"""

import codecs
import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, NamedTuple

from flask import current_app, has_app_context
from flask_babel import LazyString, format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.services import exports
from portal.services.errors import DomainError

DELIMITERS = (";", ",", "\t")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGIT = re.compile(r"\d")

Message = str | LazyString  # a translated message, or a lazy_gettext one translated when raised


@dataclass(frozen=True)
class CsvFormat:
    """A kind of CSV file: its columns, their labels, the names a header may give them and
    how the file-level refusals of this kind of file are worded."""

    columns: tuple[str, ...]  # in the order of a file without a header
    labels: Mapping[str, Message]  # column → label, as the errors file's header writes it
    aliases: Mapping[str, tuple[str, ...]]  # column → header names (lower-case, ё as е)
    no_columns_message: Message  # no delimiter splits the lines into that many cells
    bad_header_message: Message  # a header lacks a column; "%(columns)s" gets the labels
    no_rows_message: Message  # only a header

    def header_names(self) -> dict[str, str]:
        """Every header name understood → its column: the aliases in any language of the
        portal, and the labels of the current language (as the errors file writes them)."""
        known = {alias: column for column, names in self.aliases.items() for alias in names}
        if has_app_context():
            known |= {normal(str(label)): column for column, label in self.labels.items()}
        return known

    def is_header(self, cells: list[str]) -> bool:
        """The first line is a header when it has no date and names a column (or has no
        digits at all): a data line always has a date or at least an account number."""
        if any(parse_date(cell.strip()) for cell in cells):
            return False
        names = self.header_names()
        return any(normal(cell) in names for cell in cells) or not _DIGIT.search("".join(cells))

    def header_positions(self, header: list[str]) -> tuple[int, ...]:
        """Where each column is, by the header's names; DomainError when one is missing."""
        names = self.header_names()
        found: dict[str, int] = {}
        for position, cell in enumerate(header):
            column = names.get(normal(cell))
            if column and column not in found:
                found[column] = position
        if len(found) < len(self.columns):
            labels = ", ".join(str(self.labels[column]) for column in self.columns)
            # as gettext(message, columns=labels) formats it
            raise DomainError(str(self.bad_header_message) % {"columns": labels}, "file")
        return tuple(found[column] for column in self.columns)


class Limits(NamedTuple):
    """How large an uploaded file of a kind may be."""

    bytes: int
    lines: int


@dataclass
class Table:
    """The data lines of a file and where its columns are."""

    rows: list[tuple[int, list[str]]]  # (line number, cells) of the data lines
    header: list[str] | None
    positions: tuple[int, ...]  # where each of the format's columns is, in its order
    width: int  # the header's cells, else the number of columns


# --- the file -------------------------------------------------------------------------


def too_large_message(max_bytes: int) -> str:
    """The refusal of a file larger than ``max_bytes``."""
    if max_bytes >= 1024 * 1024:
        return _("The file is too large: at most %(mb)s MB.", mb=max_bytes // (1024 * 1024))
    return _("The file is too large: at most %(kb)s KB.", kb=max(max_bytes // 1024, 1))


def decode(data: bytes, max_bytes: int, *, not_text_message: Message) -> str:
    """The file's text, its encoding detected. File-level problems raise DomainError;
    ``not_text_message`` is the refusal of a file that is not text (it says what to save
    as CSV)."""
    if len(data) > max_bytes:
        raise DomainError(too_large_message(max_bytes), "file")
    if not data.strip():
        raise DomainError(_("The file is empty."), "file")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise DomainError(
            _(
                "This is an Excel workbook, not a CSV file. In Excel choose “Save as” and the type “CSV (semicolon delimited)”."
            ),
            "file",
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    elif data.startswith(codecs.BOM_UTF8):
        encodings = ("utf-8-sig",)
    else:
        encodings = ("utf-8", "cp1251")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not _CONTROL.search(text):
            return text
        break
    raise DomainError(str(not_text_message), "file")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def clean_filename(name: str | None, default: str) -> str:
    """The uploaded file's name without its folders and control characters, at most 255
    characters; ``default`` when nothing is left."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _CONTROL.sub("", base).strip()
    return (base or default)[:255]


# --- the lines ------------------------------------------------------------------------

# Why a line's date cell is refused, the same for every kind of file.
DATE_REASONS: Mapping[str, Message] = {
    "date": _l("The date is not valid: write it as 2026-03-25 or 25.03.2026."),
    "future": _l("The date is in the future."),
}


@dataclass
class LineError:
    """A line refused: what the errors file and the preview show of it."""

    line: int  # the line number in the file, counted from 1
    code: str  # a key of the file kind's REASONS
    reason: str  # translated, for the person who fixes the file
    cells: list[str]  # the line as it was


@dataclass(slots=True)
class FileLine:
    """A line of the file while it is checked: its number and its cells as they were. Each
    kind of file adds the values it read from the cells."""

    line: int
    cells: list[str]

    def refused(self, code: str, reason) -> LineError:
        return LineError(self.line, code, str(reason), self.cells)


@dataclass
class Checked:
    """Every line of a file, judged against the database: the lines refused, in file order,
    and (in each kind's subclass) what is ready to store. A refusal with a code of
    ``duplicate_codes`` is a line already imported: it is counted apart from the refused."""

    total: int
    header: list[str] | None
    errors: list[LineError] = field(default_factory=list)

    reasons: ClassVar[Mapping[str, Message]] = {}  # code → label, in the order shown
    duplicate_codes: ClassVar[tuple[str, ...]] = ("imported",)

    @property
    def duplicates(self) -> int:
        return sum(1 for error in self.errors if error.code in self.duplicate_codes)

    @property
    def refused(self) -> int:
        return len(self.errors) - self.duplicates

    @property
    def counts(self) -> list[tuple[str, int]]:
        """(code, lines) of the refused lines, in the order of ``reasons``."""
        return ordered_counts(Counter(error.code for error in self.errors), self.reasons)


def ordered_counts(counts: Mapping[str, int], reasons: Mapping[str, Message]):
    return [(code, counts[code]) for code in reasons if counts.get(code)]


def line_date(raw: str, today: date) -> date | str:
    """The date of a line's date cell, or the code of its refusal (a key of DATE_REASONS)."""
    day = parse_date(raw.strip())
    if day is None:
        return "date"
    return "future" if day > today else day


def normal(cell: str) -> str:
    """A header cell as compared with the names: lower-case, ё as е, no quotes, "№" or
    "_", single spaces."""
    text = cell.replace("\ufeff", "").strip().strip('"').strip().lower().replace("ё", "е")
    return " ".join(text.replace("_", " ").replace("№", "").split())


def detect_delimiter(text: str, columns: int) -> str | None:
    """The delimiter that splits most of the first 50 lines into at least ``columns``
    cells; None when none splits any."""
    sample = [line for line in text[:65536].splitlines()[:51] if line.strip()][:50]
    best, best_score = None, 0
    for delimiter in DELIMITERS:
        score = sum(1 for cells in csv.reader(sample, delimiter=delimiter) if len(cells) >= columns)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def trimmed(cells: list[str], width: int) -> list[str]:
    """Cells without the empty ones Excel leaves after the last column (in place)."""
    while len(cells) > width and not cells[-1].strip():
        cells.pop()
    return cells


def too_many_lines(max_lines: int) -> str:
    """The refusal of a file over its line limit; the count grouped as the language does."""
    return ngettext(
        "The file has more than %(count)s line: split it into smaller files.",
        "The file has more than %(count)s lines: split it into smaller files.",
        max_lines,
        count=format_number(max_lines),
    )


def read_table(text: str, fmt: CsvFormat, *, max_lines: int) -> Table:
    """The data lines and where each column is. File-level problems raise DomainError."""
    delimiter = detect_delimiter(text, len(fmt.columns))
    if delimiter is None:
        raise DomainError(str(fmt.no_columns_message), "file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    header = None
    positions = tuple(range(len(fmt.columns)))
    width = len(fmt.columns)
    try:
        for cells in reader:
            if not "".join(cells).strip():  # a blank line, or only delimiters
                continue
            if header is None and not rows and fmt.is_header(cells):
                header = trimmed(cells, 1)
                positions = fmt.header_positions(header)
                width = len(header)
                continue
            rows.append((reader.line_num, cells))
            if len(rows) > max_lines:
                raise DomainError(too_many_lines(max_lines), "file")
    except csv.Error as error:
        raise DomainError(
            _("The file cannot be read as CSV (line %(line)s).", line=reader.line_num), "file"
        ) from error
    if not rows:
        raise DomainError(str(fmt.no_rows_message), "file")
    return Table(rows, header, positions, width)


def refused_lines_file(header: list[str], errors) -> bytes:
    """The refused lines (each with ``cells``, ``reason`` and ``line``) as the CSV download
    of the one writer: the file's columns, then the reason and the line number. Corrected,
    it can be uploaded again as it is: a header names the columns, extra ones are ignored."""
    rows = [[*error.cells, error.reason, error.line] for error in errors]
    return exports.csv_file([[*header, _("Reason"), _("Line")], *rows])


def parse_date(raw: str) -> date | None:
    """``YYYY-MM-DD`` or ``DD.MM.YYYY`` (a time after the date ignored); None if neither."""
    text = raw.split(" ", 1)[0].split("T", 1)[0]
    try:
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return date(int(text[:4]), int(text[5:7]), int(text[8:]))
        parts = text.split(".")
        if len(parts) == 3 and len(parts[2]) == 4 and 1 <= len(parts[0]) <= 2 >= len(parts[1]):
            return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        return None
    return None


def limits(prefix: str, max_bytes: int, max_lines: int) -> Limits:
    """A file kind's size limits: ``<PREFIX>_MAX_BYTES`` and ``_MAX_LINES`` from the app
    config when there is one, else the given defaults."""
    if not has_app_context():
        return Limits(max_bytes, max_lines)
    config = current_app.config
    return Limits(
        int(config.get(f"{prefix}_MAX_BYTES", max_bytes)),
        int(config.get(f"{prefix}_MAX_LINES", max_lines)),
    )


# --- the refused lines kept with an upload ----------------------------------------------


def refusal_columns(checked: Checked) -> dict:
    """What an upload's row (``UploadedFileMixin``) keeps of the lines not imported."""
    return {
        "duplicate_lines": checked.duplicates,
        "error_lines": checked.refused,
        "errors_csv": stored_errors_text(checked),
    }


def stored_errors_text(checked: Checked) -> str | None:
    """The refused lines as stored with the upload: line, code, reason, then the line's own
    cells; the first row carries the file's header (if it had one). Kept as they came (the
    preview re-reads them); the download neutralises formula cells (``refused_lines_file``)."""
    if not checked.errors:
        return None
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["line", "code", "reason", *(checked.header or [])])
    writer.writerows(
        [error.line, error.code, error.reason, *error.cells] for error in checked.errors
    )
    return out.getvalue()


def read_stored_errors(
    stored: str | None, limit: int | None = None
) -> tuple[list[str] | None, list[LineError], Counter]:
    """From ``stored_errors_text``: the file's header or None, the LineErrors (the first
    ``limit`` of them) and how many lines were refused for each code."""
    if not stored:
        return None, [], Counter()
    reader = csv.reader(io.StringIO(stored, newline=""), delimiter=";")
    header = next(reader)[3:] or None
    errors, counts = [], Counter()
    for row in reader:
        counts[row[1]] += 1
        if limit is None or len(errors) < limit:
            errors.append(LineError(int(row[0]), row[1], row[2], row[3:]))
    return header, errors, counts


def chunks(items: list, size: int):
    """``items`` in slices of ``size``: lookups stay under the databases' parameter limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
