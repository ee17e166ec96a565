"""Readings for all the meters of a contract: one table in the company cabinet, or a CSV
file in the back office's import format (``readings_import``: encodings, delimiters,
dates, zones, duplicates and the rules of a reading). Each meter's values are then stored
as any customer's reading is (``readings.submit`` with the customer source: the window,
the meter's state, every zone at once), so a company is held to the same checks as
everybody."""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.models import Contract, Meter, MeterStatus, ReadingSource
from portal.services import readings, readings_import
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.services.months import period_of

MAX_BYTES = 2 * 1024 * 1024
MAX_LINES = 5_000  # a contract's meters for a few months, not a metering system's export


@dataclass(frozen=True)
class MeterRow:
    """A meter of the contract in the readings table, with its last accepted readings."""

    account: object
    meter: Meter
    previous: dict  # zone → readings.Previous

    @property
    def zones(self) -> tuple[str, ...]:
        return self.meter.zone_names


def meters_of(contract: Contract) -> list[Meter]:
    return [
        meter
        for account in contract.accounts
        for meter in account.meters
        if meter.status == MeterStatus.ACTIVE
    ]


def table(session: Session, contract: Contract) -> list[MeterRow]:
    """Every meter in service at the contract's supply points, in one lookup."""
    meters = meters_of(contract)
    previous = readings.previous_readings(session, [m.id for m in meters], period_of(local_today()))
    return [
        MeterRow(
            meter.account,
            meter,
            {zone: previous.get((meter.id, zone)) for zone in meter.zone_names},
        )
        for meter in meters
    ]


@dataclass
class Outcome:
    """What a submission stored (receipts per meter) and refused (a message per meter or
    per line of a file)."""

    receipts: dict[int, list] = field(default_factory=dict)
    refusals: dict[int, str] = field(default_factory=dict)  # meter id → message
    line_errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)

    @property
    def stored(self) -> int:
        return sum(len(receipts) for receipts in self.receipts.values())


def submit_table(
    session: Session, contract: Contract, values: dict[int, dict[str, str]], *, user_id: int
) -> Outcome:
    """Store the readings typed in the table: a meter whose fields are all empty is left
    out; each other meter is judged on its own (one refusal does not lose the others).
    The caller commits."""
    entered = {
        meter_id: zones
        for meter_id, zones in values.items()
        if any((raw or "").strip() for raw in zones.values())
    }
    if not entered:
        raise DomainError(_("Enter the readings of at least one meter."))
    outcome = Outcome()
    for meter in meters_of(contract):
        if meter.id in entered:
            _submit_one(session, meter, entered[meter.id], local_today(), user_id, outcome)
    return outcome


def _submit_one(session, meter, values, taken_on: date, user_id, outcome, line=None) -> None:
    try:
        with session.begin_nested():
            receipts = readings.submit(
                session,
                meter,
                values,
                source=ReadingSource.CUSTOMER,
                taken_on=taken_on,
                user_id=user_id,
                confirmed=True,  # the table has no second step; a high value goes to review
            )
    except DomainError as error:
        outcome.refusals[meter.id] = error.message
        if line is not None:
            outcome.line_errors.append((line, f"{meter.serial_number}: {error.message}"))
        return
    outcome.receipts[meter.id] = receipts


def _own_lines(table, numbers: set[str]):
    """(the table with only the lines of the contract's accounts, the other lines' numbers)."""
    i_account = table.positions[0]
    own, foreign = [], []
    for line, cells in table.rows:
        account = cells[i_account].strip() if len(cells) > i_account else ""
        (own if account in numbers else foreign).append((line, cells))
    kept = replace(table, rows=own)
    return kept, [line for line, _cells in foreign]


def upload(session: Session, contract: Contract, data: bytes, *, user_id: int) -> Outcome:
    """A CSV file of readings (the import's format) for the contract's meters. Lines of
    meters not at the contract's supply points are refused; the others are checked as
    the import checks them, then stored meter by meter as a customer's readings. The
    caller commits."""
    text = readings_import.decode(data, MAX_BYTES)
    parsed = readings_import.read_table(text, MAX_LINES)
    ours = {meter.id: meter for meter in meters_of(contract)}
    outcome = Outcome()
    # Lines of other accounts are refused before the import's checks see them: what the
    # checks would say of another customer's meter (its last reading) is not ours to show.
    own, foreign = _own_lines(parsed, {account.number for account in contract.accounts})
    not_ours = _("The meter is not at this contract's supply points.")
    outcome.line_errors = [(line, not_ours) for line in foreign]
    checked = readings_import.check(session, own)
    outcome.line_errors += [(error.line, error.reason) for error in checked.errors]
    grouped: dict[tuple[int, date], dict] = defaultdict(dict)
    first_line: dict[tuple[int, date], int] = {}
    for ordinal, row in checked.rows:
        line = own.rows[ordinal][0]
        if row["meter_id"] not in ours:  # the account's, but a removed or faulty meter
            outcome.line_errors.append((line, not_ours))
            continue
        key = (row["meter_id"], row["taken_on"])
        grouped[key][str(row["zone"])] = str(row["value"])
        first_line.setdefault(key, line)
    for (meter_id, taken_on), values in sorted(grouped.items()):
        _submit_one(
            session,
            ours[meter_id],
            values,
            taken_on,
            user_id,
            outcome,
            first_line[(meter_id, taken_on)],
        )
    outcome.line_errors.sort()
    if not outcome.stored and not outcome.line_errors:
        raise DomainError(_("The file has no readings."), "file")
    return outcome
