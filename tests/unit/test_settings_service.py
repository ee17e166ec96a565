"""The settings service: values typed by an administrator are checked by kind, range and
the rules between settings, stored with who and when, audited; a reset goes back to the
documented default. ``put`` (command line, demo data, tests) keeps working unchecked."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from portal.models import AuditEvent, Setting
from portal.services import settings
from portal.services.errors import DomainError, NotFound
from tests import factories
from tests.conftest import english_request

WHOLE = "readings.window_first_day"  # int, 1–28, default 15
DECIMAL = "readings.review_threshold"  # Decimal, 1.1–100, default 3


# --- the specifications themselves -----------------------------------------------------------


def test_every_setting_belongs_to_a_labelled_group():
    prefixes = {key.split(".", 1)[0] for key in settings.SPECS}
    assert prefixes <= set(settings.GROUPS)


@pytest.mark.parametrize("spec", settings.SPECS.values(), ids=lambda spec: spec.key)
def test_every_default_is_in_its_own_range_and_of_its_kind(spec):
    assert isinstance(spec.default, spec.kind)
    assert spec.minimum <= spec.default <= spec.maximum


def test_the_defaults_keep_every_rule_between_settings():
    defaults = {key: spec.default for key, spec in settings.SPECS.items()}
    for rule in settings.RULES:
        low, high = defaults[rule.lower], defaults[rule.upper]
        assert low < high if rule.strict else low <= high, rule


# --- parsing what was typed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        (WHOLE, "1", 1),
        (WHOLE, " 28 ", 28),
        (WHOLE, "+7", 7),
        (WHOLE, "0 015", 15),
        ("penalties.low_divisor", "10\u00a0000", 10000),
        (DECIMAL, "2,5", Decimal("2.5")),
        (DECIMAL, "2.50", Decimal("2.5")),
        (DECIMAL, "100", Decimal("100")),
        (DECIMAL, "1.1", Decimal("1.1")),
        ("readings.rollover_share", ",25", Decimal("0.25")),
        ("penalties.free_days", "0", 0),
    ],
)
def test_values_as_people_type_them(key, raw, value):
    parsed = settings.parse(key, raw)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        (WHOLE, "", "Enter a value."),
        (WHOLE, "   ", "Enter a value."),
        (WHOLE, None, "Enter a value."),
        (WHOLE, "abc", "Enter a whole number, for example 15."),
        (WHOLE, "15.5", "Enter a whole number, for example 15."),
        (WHOLE, "1e1", "Enter a whole number, for example 15."),
        (WHOLE, "1_5", "Enter a whole number, for example 15."),
        (WHOLE, "١٥", "Enter a whole number, for example 15."),  # Arabic-Indic digits
        (WHOLE, "0", "Enter a value from 1 to 28."),
        (WHOLE, "-1", "Enter a value from 1 to 28."),
        (WHOLE, "29", "Enter a value from 1 to 28."),
        (WHOLE, "9" * 40, "Enter a value from 1 to 28."),
        (WHOLE, "9" * 5000, "Enter a value from 1 to 28."),
        (DECIMAL, "Infinity", "Enter a number, for example 3."),
        (DECIMAL, "NaN", "Enter a number, for example 3."),
        (DECIMAL, "2,5,1", "Enter a number, for example 3."),
        (DECIMAL, "1,05", "Enter a value from 1.1 to 100."),
        (DECIMAL, "100.01", "Enter a value from 1.1 to 100."),
        (DECIMAL, "2.555", "Use at most 2 digits after the decimal point."),
    ],
)
def test_malformed_and_out_of_range_values_are_refused_next_to_the_field(app, key, raw, message):
    with english_request(app), pytest.raises(DomainError) as refused:
        settings.parse(key, raw)
    assert refused.value.field == "value"
    assert refused.value.message == message


def test_an_unknown_key_is_not_found():
    with pytest.raises(NotFound):
        settings.parse("readings.window_middle_day", "3")


@given(st.integers(min_value=1, max_value=28))
def test_any_day_in_range_is_kept(day):
    assert settings.parse(WHOLE, str(day)) == day


@given(st.integers().filter(lambda n: not 1 <= n <= 28))
def test_any_day_out_of_range_is_refused(app, day):
    with english_request(app), pytest.raises(DomainError):
        settings.parse(WHOLE, str(day))


@given(st.decimals(min_value=Decimal("1.1"), max_value=Decimal("100"), places=2))
def test_any_threshold_with_two_decimals_is_kept_exactly(value):
    assert settings.parse(DECIMAL, str(value).replace(".", ",")) == value


# --- changing, resetting ---------------------------------------------------------------------


def events(session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.object_type == "setting").order_by(AuditEvent.id)
        )
    )


def test_a_change_is_stored_with_who_and_when_and_audited(app, db_session):
    staff = factories.make_staff(db_session, role="admin")
    with english_request(app):
        result = settings.change(db_session, WHOLE, " 12 ", staff_id=staff.id, ip="10.0.0.7")
    assert (result.old, result.new, result.changed) == (15, 12, True)
    assert settings.get(db_session, WHOLE) == 12
    row = db_session.get(Setting, WHOLE)
    assert row.value == "12"
    assert row.updated_by_id == staff.id
    assert row.updated_at is not None
    [event] = events(db_session)
    assert event.action == "update"
    assert event.staff_id == staff.id
    assert event.ip_address == "10.0.0.7"
    assert event.object_id is None
    assert event.summary == f"{WHOLE}: 15 → 12"
    assert event.changes == {"value": ["15", "12"]}


def test_a_decimal_is_stored_in_plain_notation(app, db_session):
    with english_request(app):
        settings.change(db_session, DECIMAL, "100,00")
    assert db_session.get(Setting, DECIMAL).value == "100"
    assert settings.get(db_session, DECIMAL) == Decimal("100")


def test_the_same_value_again_changes_and_records_nothing(app, db_session):
    with english_request(app):
        result = settings.change(db_session, WHOLE, "15")
    assert not result.changed
    assert db_session.get(Setting, WHOLE) is None
    assert events(db_session) == []


def test_the_window_cannot_open_after_it_closes(app, db_session):
    with english_request(app):
        with pytest.raises(DomainError) as refused:
            settings.change(db_session, "readings.window_last_day", "10")  # opens on the 15th
        assert "its first day is the 15th." in refused.value.message
        settings.change(db_session, WHOLE, "1")
        settings.change(db_session, "readings.window_last_day", "10")
        with pytest.raises(DomainError) as refused:
            settings.change(db_session, WHOLE, "11")
        assert refused.value.message == (
            "The window cannot open after it closes: its last day is the 10th."
        )
        settings.change(db_session, WHOLE, "10")  # a one-day window is a window
        with pytest.raises(DomainError) as refused:
            settings.change(db_session, "readings.window_last_day", "9")
        assert "its first day is the 10th." in refused.value.message
    assert settings.get(db_session, "readings.window_last_day") == 10


def test_payment_is_never_due_before_the_bills_are_issued(app, db_session):
    """DOMAIN.md "Bills, payments, debt": each category has its issue day and due day."""
    with english_request(app):
        with pytest.raises(DomainError) as refused:
            settings.change(db_session, "billing.due_day_others", "6")  # issued on the 7th
        assert "legal entities" in refused.value.message
        with pytest.raises(DomainError):
            settings.change(db_session, "billing.issue_day_population", "11")
        settings.change(db_session, "billing.due_day", "6")  # households: issued on the 1st
        settings.change(db_session, "billing.due_day_others", "7")
    assert settings.get(db_session, "billing.due_day") == 6
    assert settings.get(db_session, "billing.due_day_others") == 7


def test_the_higher_penalty_starts_after_the_free_days(app, db_session):
    with english_request(app):
        with pytest.raises(DomainError):
            settings.change(db_session, "penalties.high_from_day", "30")  # = free days
        with pytest.raises(DomainError):
            settings.change(db_session, "penalties.free_days", "91")
        settings.change(db_session, "penalties.high_from_day", "31")
    assert settings.get(db_session, "penalties.high_from_day") == 31


def test_any_quiet_hours_are_allowed(app, db_session):
    """Across midnight, within a day, or none (the same hour twice): no rule between them."""
    with english_request(app):
        for start, end in ((22, 7), (0, 6), (9, 9), (23, 0)):
            settings.change(db_session, "notify.sms_quiet_from", str(start))
            settings.change(db_session, "notify.sms_quiet_until", str(end))
            assert settings.get(db_session, "notify.sms_quiet_until") == end


def test_reset_removes_the_value_and_is_audited(app, db_session):
    staff = factories.make_staff(db_session, role="admin")
    with english_request(app):
        settings.change(db_session, WHOLE, "3", staff_id=staff.id)
        result = settings.reset(db_session, WHOLE, staff_id=staff.id, ip="10.0.0.8")
    assert (result.old, result.new) == (3, 15)
    assert db_session.get(Setting, WHOLE) is None
    assert settings.get(db_session, WHOLE) == 15
    last = events(db_session)[-1]
    assert last.changes == {"value": ["3", "15"]}
    assert last.summary.endswith("(default)")
    assert not settings.reset(db_session, WHOLE).changed  # nothing stored: nothing to do
    assert len(events(db_session)) == 2


def test_a_reset_that_would_break_a_rule_is_refused(app, db_session):
    with english_request(app):
        settings.change(db_session, WHOLE, "1")
        settings.change(db_session, "readings.window_last_day", "10")
        with pytest.raises(DomainError) as refused:
            settings.reset(db_session, WHOLE)  # the default, 15, is after the 10th
        assert refused.value.field == "value"
    assert settings.get(db_session, WHOLE) == 1


def test_put_still_stores_without_the_checks(db_session):
    settings.put(db_session, "readings.window_first_day", 20)
    settings.put(db_session, "readings.window_last_day", 10)
    assert settings.get(db_session, "readings.window_first_day") == 20
    assert events(db_session) == []


# --- what the page shows ---------------------------------------------------------------------


def test_the_overview_groups_every_setting_in_order_with_who_changed_it(app, db_session):
    staff = factories.make_staff(db_session, role="admin", full_name="Орлова Вера")
    with english_request(app):
        settings.change(db_session, DECIMAL, "4", staff_id=staff.id)
    settings.put(db_session, "debt.overdue_months", 3)
    groups = settings.overview(db_session)
    assert [group.key for group in groups] == [
        "meters",
        "readings",
        "billing",
        "penalties",
        "debt",
        "notify",
        "security",
        "visits",
        "documents",
        "appeals",
        "quality",
        "applications",
    ]
    shown = {item.key: item for group in groups for item in group.settings}
    assert list(shown) == list(settings.SPECS)
    threshold = shown[DECIMAL]
    assert threshold.value == Decimal("4")
    assert threshold.stored
    assert not threshold.is_default
    assert threshold.updated_by == "Орлова Вера"
    assert threshold.slug == "readings-review_threshold"
    assert not threshold.whole
    assert shown[WHOLE].whole
    assert shown["debt.overdue_months"].updated_by is None  # stored by the system
    untouched = shown[WHOLE]
    assert untouched.value == 15
    assert not untouched.stored
    assert untouched.is_default
