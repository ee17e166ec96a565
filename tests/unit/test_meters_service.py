"""The meters service: registration, replacement, faulty and repaired, seal and verification,
the verification list and lookups; and the readings service's lookups the back office uses."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.models import AccountService, AuditEvent, Meter, Reading, ReadingStatus
from portal.services import clock, meters, readings, settings
from portal.services.errors import DomainError, NotFound
from tests import factories


def today() -> date:
    return clock.local_today()


def yesterday() -> date:
    return today() - timedelta(days=1)


def spec(**changes) -> meters.MeterSpec:
    values = {
        "serial_number": "SPEC-0001",
        "installed_on": yesterday(),
        "verification_due": today() + timedelta(days=365 * 16),
        "service": "electricity",
        "model": "  Нева   МТ 124 ",
        "zones": 1,
        "whole_digits": 6,
        "fraction_digits": 1,
        "seal_number": "П-12",
    } | changes
    return meters.MeterSpec(**values)


def events(session, object_type, **filters) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.object_type == object_type)
    for name, value in filters.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(session.scalars(query.order_by(AuditEvent.id)))


def readings_of(session, meter) -> list[Reading]:
    return list(
        session.scalars(select(Reading).where(Reading.meter_id == meter.id).order_by(Reading.id))
    )


@pytest.fixture
def staff(db_session):
    return factories.make_staff(db_session, role="metering")


@pytest.fixture
def account(db_session):
    return factories.make_account(db_session)


def installed(session, account, staff, **changes):
    """A meter registered and committed, as the back office does."""
    values = changes.pop("values", {"total": "100"})
    meter = meters.register_meter(
        session, account.id, spec(**changes), values, staff_id=staff.id, ip="10.0.0.1"
    )
    session.commit()
    return meter


# --- registering ----------------------------------------------------------------------------


def test_register_stores_the_meter_its_initial_reading_and_audit(db_session, account, staff):
    meter = installed(db_session, account, staff, values={"total": "100,5", "day": ""})
    assert (meter.account_id, meter.status, meter.model, meter.seal_number) == (
        account.id,
        "active",
        "Нева МТ 124",
        "П-12",
    )
    [initial] = readings_of(db_session, meter)
    assert (initial.zone, initial.value, initial.source, initial.status) == (
        "total",
        Decimal("100.5"),
        "operator",
        "accepted",
    )
    assert (initial.taken_on, initial.entered_by_staff_id) == (yesterday(), staff.id)
    [created] = events(db_session, "meter", action="create", object_id=meter.id)
    assert (created.staff_id, created.ip_address) == (staff.id, "10.0.0.1")
    assert events(db_session, "reading", action="create", object_id=initial.id)


def test_register_a_three_zone_meter(db_session, account, staff):
    values = {"peak": "1", "semi_peak": "2", "night": "3"}
    meter = installed(db_session, account, staff, zones=3, values=values)
    assert {r.zone: r.value for r in readings_of(db_session, meter)} == {
        zone: Decimal(value) for zone, value in values.items()
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"serial_number": "  "}, "serial_number"),
        ({"serial_number": "X" * 41}, "serial_number"),
        ({"service": "gas"}, "service"),
        ({"service": "heat"}, "service"),  # not supplied on the account
        ({"zones": 4}, "zones"),
        ({"whole_digits": 0}, "whole_digits"),
        ({"fraction_digits": 5}, "fraction_digits"),
        ({"installed_on": date(2999, 1, 1)}, "installed_on"),
        ({"verification_due": date(2020, 1, 1)}, "verification_due"),
        ({"values": {}}, "initial_total"),
        ({"values": {"total": "1", "night": "2"}}, "initial_night"),
        ({"values": {"total": "abc"}}, "initial_total"),
        ({"values": {"total": "1,25"}}, "initial_total"),
        ({"values": {"total": "-1"}}, "initial_total"),
        ({"values": {"total": "1000000"}}, "initial_total"),
    ],
)
def test_register_refuses_a_wrong_act_and_stores_nothing(
    db_session, account, staff, changes, field
):
    with pytest.raises(DomainError) as refused:
        installed(db_session, account, staff, **changes)
    assert refused.value.field == field
    db_session.rollback()
    assert db_session.scalar(select(func.count(Meter.id))) == 0
    assert db_session.scalar(select(func.count(Reading.id))) == 0


def test_multi_rate_meters_are_for_electricity_only(db_session, account, staff):
    db_session.add(AccountService(account_id=account.id, service="hot_water", started_on=today()))
    db_session.flush()
    with pytest.raises(DomainError) as refused:
        installed(db_session, account, staff, service="hot_water", zones=2)
    assert refused.value.field == "zones"
    meter = installed(db_session, account, staff, service="hot_water", fraction_digits=3)
    assert meter.service == "hot_water"


def test_a_serial_in_service_is_refused_but_a_removed_one_may_return(db_session, account, staff):
    first = installed(db_session, account, staff, serial_number="DUP-1")
    with pytest.raises(DomainError) as refused:
        installed(db_session, account, staff, serial_number=" DUP-1 ")
    assert refused.value.field == "serial_number"
    db_session.rollback()
    first = db_session.get(Meter, first.id)
    first.status = "removed"
    db_session.flush()
    assert installed(db_session, account, staff, serial_number="DUP-1").id != first.id


def test_closed_and_unknown_accounts(db_session, staff):
    closed = factories.make_account(db_session, closed_on=today())
    with pytest.raises(DomainError):
        installed(db_session, closed, staff)
    with pytest.raises(NotFound):
        meters.register_meter(db_session, 10**30, spec(), {"total": "1"}, staff_id=staff.id)


# --- replacing ------------------------------------------------------------------------------


@pytest.fixture
def old_meter(db_session, account, staff):
    meter = meters.register_meter(
        db_session,
        account.id,
        spec(serial_number="OLD-1", installed_on=today() - timedelta(days=400)),
        {"total": "100"},
        staff_id=staff.id,
    )
    db_session.commit()
    return meter


def test_replace_takes_final_and_initial_readings_the_same_day(db_session, old_meter, staff):
    new = meters.replace_meter(
        db_session,
        old_meter.id,
        spec(serial_number="NEW-1", zones=2, service="heat"),  # the service stays the old one's
        final_values={"total": "250,5"},
        initial_values={"day": "0", "night": "0,1"},
        staff_id=staff.id,
        ip="10.0.0.2",
    )
    db_session.refresh(old_meter)
    assert old_meter.status == "removed"
    assert (new.status, new.service, new.account_id) == (
        "active",
        "electricity",
        old_meter.account_id,
    )
    final = readings_of(db_session, old_meter)[-1]
    assert (final.value, final.consumption, final.taken_on) == (
        Decimal("250.5"),
        Decimal("150.5"),
        yesterday(),
    )
    initial = readings_of(db_session, new)
    assert {r.zone: r.value for r in initial} == {"day": Decimal(0), "night": Decimal("0.1")}
    assert {r.taken_on for r in initial} == {yesterday()}
    [removed] = events(db_session, "meter", action="update", object_id=old_meter.id)
    assert removed.changes == {"status": ["active", "removed"], "replaced_by": [None, "NEW-1"]}
    [created] = events(db_session, "meter", action="create", object_id=new.id)
    assert created.changes["replaces"] == [None, "OLD-1"]


@pytest.mark.parametrize(
    ("final", "initial", "changes", "field"),
    [
        ({"total": ""}, {"total": "0"}, {}, "final_total"),
        ({"total": "50"}, {"total": "0"}, {}, "final_total"),  # below the last reading
        ({"total": "1,55"}, {"total": "0"}, {}, "final_total"),
        ({"total": "200"}, {"total": ""}, {}, "initial_total"),
        ({"total": "200"}, {"total": "x"}, {}, "initial_total"),
        ({"total": "200"}, {"total": "0"}, {"serial_number": "TAKEN-9"}, "serial_number"),
        ({"total": "200"}, {"total": "0"}, {"installed_on": date(2000, 1, 1)}, "installed_on"),
    ],
)
def test_a_wrong_replacement_changes_nothing(
    db_session, old_meter, staff, final, initial, changes, field
):
    factories.make_meter(db_session, old_meter.account, serial_number="TAKEN-9")
    before = len(readings_of(db_session, old_meter))
    with pytest.raises(DomainError) as refused:
        meters.replace_meter(
            db_session,
            old_meter.id,
            spec(**({"serial_number": "NEW-2"} | changes)),
            final_values=final,
            initial_values=initial,
            staff_id=staff.id,
        )
    assert refused.value.field == field
    db_session.rollback()
    assert db_session.get(Meter, old_meter.id).status == "active"
    assert len(readings_of(db_session, old_meter)) == before
    assert db_session.scalar(select(Meter).where(Meter.serial_number == "NEW-2")) is None


def test_the_replacement_cannot_predate_the_last_reading(db_session, old_meter, staff):
    readings.submit(
        db_session, old_meter, {"total": "120"}, source="operator", taken_on=yesterday()
    )
    with pytest.raises(DomainError) as refused:
        meters.replace_meter(
            db_session,
            old_meter.id,
            spec(serial_number="NEW-3", installed_on=yesterday() - timedelta(days=1)),
            final_values={"total": "130"},
            initial_values={"total": "0"},
            staff_id=staff.id,
        )
    assert refused.value.field == "installed_on"


def test_the_same_meter_may_come_back_after_its_verification(db_session, old_meter, staff):
    back = meters.replace_meter(
        db_session,
        old_meter.id,
        spec(serial_number="OLD-1"),
        final_values={"total": "120"},
        initial_values={"total": "120"},
        staff_id=staff.id,
    )
    assert back.serial_number == "OLD-1"
    assert back.id != old_meter.id


def test_a_faulty_meter_is_replaced_without_final_reading(db_session, old_meter, staff):
    meters.mark_faulty(db_session, old_meter.id, "Display blank", staff_id=staff.id)
    new = meters.replace_meter(
        db_session,
        old_meter.id,
        spec(serial_number="NEW-4"),
        final_values={"total": "999"},  # ignored: a faulty register is not read
        initial_values={"total": "0"},
        staff_id=staff.id,
    )
    assert [r.value for r in readings_of(db_session, old_meter)] == [Decimal(100)]
    assert new.status == "active"
    with pytest.raises(DomainError):
        meters.replace_meter(
            db_session,
            old_meter.id,
            spec(serial_number="NEW-5"),
            final_values={},
            initial_values={"total": "0"},
            staff_id=staff.id,
        )


# --- faulty and repaired --------------------------------------------------------------------


def test_faulty_refuses_readings_until_repaired(db_session, old_meter, staff):
    settings.put(db_session, "readings.window_first_day", 1)
    settings.put(db_session, "readings.window_last_day", 31)
    with pytest.raises(DomainError) as no_reason:
        meters.mark_faulty(db_session, old_meter.id, "  ", staff_id=staff.id)
    assert no_reason.value.field == "reason"
    meters.mark_faulty(db_session, old_meter.id, "Display blank", staff_id=staff.id, ip="1.2.3.4")
    assert db_session.get(Meter, old_meter.id).status == "faulty"
    with pytest.raises(DomainError):
        readings.submit(db_session, old_meter, {"total": "150"}, source="customer")
    [operator] = readings.submit(db_session, old_meter, {"total": "150"}, source="operator")
    assert operator.verdict.outcome == "rejected"
    with pytest.raises(DomainError):
        meters.mark_faulty(db_session, old_meter.id, "again", staff_id=staff.id)
    meters.mark_repaired(db_session, old_meter.id, "Repaired", staff_id=staff.id)
    [receipt] = readings.submit(db_session, old_meter, {"total": "150"}, source="customer")
    assert receipt.verdict.outcome == "accepted"
    with pytest.raises(DomainError):
        meters.mark_repaired(db_session, old_meter.id, "again", staff_id=staff.id)
    changes = [e.changes["status"] for e in events(db_session, "meter", action="update")]
    assert changes == [["active", "faulty"], ["faulty", "active"]]


def test_a_removed_meter_cannot_change(db_session, old_meter, staff):
    old_meter.status = "removed"
    db_session.flush()
    with pytest.raises(DomainError):
        meters.mark_faulty(db_session, old_meter.id, "x", staff_id=staff.id)
    with pytest.raises(DomainError):
        meters.update_seal_and_verification(
            db_session,
            old_meter.id,
            seal_number="S",
            verification_due=date(2040, 1, 1),
            staff_id=staff.id,
        )


# --- seal and verification ------------------------------------------------------------------


def test_seal_and_verification_changes_are_audited(db_session, old_meter, staff):
    due = today() + timedelta(days=3000)
    changes = meters.update_seal_and_verification(
        db_session,
        old_meter.id,
        seal_number=" S-77 ",
        verification_due=due,
        verified_on=yesterday(),
        staff_id=staff.id,
    )
    assert changes["seal_number"] == ["П-12", "S-77"]
    assert changes["verification_due"][1] == str(due)
    assert changes["verified_on"] == [None, yesterday().isoformat()]
    assert db_session.get(Meter, old_meter.id).seal_number == "S-77"
    assert (
        meters.update_seal_and_verification(
            db_session, old_meter.id, seal_number="S-77", verification_due=due, staff_id=staff.id
        )
        == {}
    )
    assert len(events(db_session, "meter", action="update")) == 1


@pytest.mark.parametrize(
    ("verified_on", "due", "field"),
    [
        (date(2999, 1, 1), date(2999, 6, 1), "verified_on"),
        (date(1990, 1, 1), date(2040, 1, 1), "verified_on"),
        (None, date(2000, 1, 1), "verification_due"),
        ("yesterday", "yesterday", "verification_due"),
    ],
)
def test_seal_and_verification_refusals(db_session, old_meter, staff, verified_on, due, field):
    verified_on = yesterday() if verified_on == "yesterday" else verified_on
    due = yesterday() if due == "yesterday" else due
    with pytest.raises(DomainError) as refused:
        meters.update_seal_and_verification(
            db_session,
            old_meter.id,
            seal_number=None,
            verification_due=due,
            verified_on=verified_on,
            staff_id=staff.id,
        )
    assert refused.value.field == field


# --- the verification list ------------------------------------------------------------------


def test_the_verification_list_has_overdue_and_due_soon_meters_only(db_session):
    settings.put(db_session, "meters.verification_warning_days", 10)
    account = factories.make_account(db_session)
    closed = factories.make_account(db_session, closed_on=today())

    def meter(days, **fields):
        return factories.make_meter(
            db_session,
            fields.pop("on", account),
            verification_due=today() + timedelta(days=days),
            **fields,
        )

    overdue, today_due, soon, faulty = meter(-400), meter(0), meter(10), meter(5, status="faulty")
    meter(11)
    meter(-1, status="removed")
    meter(-1, on=closed)
    listed = list(db_session.scalars(meters.verification_due(db_session)))
    assert listed == [overdue, today_due, faulty, soon]
    assert meters.verification_limit(db_session) == today() + timedelta(days=10)
    settings.put(db_session, "meters.verification_warning_days", 1)
    assert list(db_session.scalars(meters.verification_due(db_session))) == [overdue, today_due]


# --- lookups --------------------------------------------------------------------------------


def test_find_meters_by_account_number_or_serial(db_session):
    first = factories.make_meter(
        db_session, factories.make_account(db_session), serial_number="AbC-123"
    )
    second = factories.make_meter(db_session, factories.make_account(db_session))

    def found(term):
        return list(db_session.scalars(meters.find_meters(term)))

    assert found(first.account.number) == [first]
    assert first in found(first.account.number[:-1])
    assert found("abc-1") == [first]
    assert found(second.serial_number.lower()) == [second]
    assert found("") == []
    assert found(None) == []
    assert found("%") == []


def test_receipt_and_reading_lookups(db_session, old_meter, staff):
    other = factories.make_meter(db_session, old_meter.account)
    mine = readings_of(db_session, old_meter)[0]
    [theirs] = readings.submit(db_session, other, {"day": "1", "night": "1"}, source="operator")[:1]
    assert meters.receipt(db_session, [mine.id]) == [mine]
    for ids in ([], [mine.id, theirs.reading_id], [10**30], [mine.id, mine.id + 10**6]):
        with pytest.raises(NotFound):
            meters.receipt(db_session, ids)
    assert meters.reading_with_meter(db_session, mine.id).meter.id == old_meter.id
    with pytest.raises(NotFound):
        meters.reading_with_meter(db_session, 0)


def test_previous_for_answers_each_reading_by_its_own_period(db_session):
    meter = factories.make_meter(db_session, factories.make_account(db_session), zones=1)

    def add(value, period, status=ReadingStatus.ACCEPTED, consumption=None):
        return factories.make_reading(
            db_session,
            meter,
            value,
            period.replace(day=20),
            status=status,
            consumption=None if consumption is None else Decimal(consumption),
        )

    add(100, date(2026, 1, 1))
    add(200, date(2026, 2, 1), consumption=100)
    add(300, date(2026, 3, 1), consumption=100)
    early = add(900, date(2026, 3, 1), status=ReadingStatus.PENDING_REVIEW)
    late = add(9000, date(2026, 5, 1), status=ReadingStatus.PENDING_REVIEW)
    first = add(5, date(2025, 12, 1), status=ReadingStatus.PENDING_REVIEW)
    found = readings.previous_for(db_session, [early, late, first])
    assert (found[early.id].value, found[early.id].average) == (Decimal(200), Decimal(100))
    assert (found[late.id].value, found[late.id].average) == (Decimal(300), Decimal(100))
    assert first.id not in found
    expected = readings.previous_readings(db_session, [meter.id], date(2026, 5, 1))
    assert found[late.id] == expected[(meter.id, "total")]
    assert readings.previous_for(db_session, []) == {}
