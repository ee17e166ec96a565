"""Texts to the letter (issue #9 item 14): no double full stop after a date ending with an
abbreviation («г.»), ordinals in English, plural forms for counts."""

from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from flask_babel import force_locale

from portal.formatting import as_date, as_date_ending, as_ordinal
from portal.models import Meter
from portal.services import readings
from portal.services.errors import DomainError
from portal.services.numbers import parse_decimal

DAY = date(2026, 12, 15)


@contextmanager
def speaking(app, language: str):
    with app.test_request_context(), force_locale(language):
        yield


def test_a_russian_date_ending_a_sentence_keeps_one_full_stop(app):
    with speaking(app, "ru"):
        assert as_date(DAY, "long").endswith("г.")
        assert as_date_ending(DAY) + "." == as_date(DAY, "long")
        message = readings.window_closed_message(readings.Window(15, 25, date(2026, 11, 26)))
    assert message.endswith("2026\u202fг.") or message.endswith("2026 г.")
    assert "г.." not in message


def test_an_english_date_is_unchanged(app):
    with speaking(app, "en"):
        assert as_date_ending(DAY) == as_date(DAY, "long") == "December 15, 2026"


@pytest.mark.parametrize(
    ("day", "english"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (15, "15th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (25, "25th"),
        (31, "31st"),
    ],
)
def test_days_of_the_month_are_ordinals_in_english_and_plain_in_russian(app, day, english):
    with speaking(app, "en"):
        assert as_ordinal(day) == english
    with speaking(app, "ru"):
        assert as_ordinal(day) == str(day)  # «с 15 по 25 число»


def test_the_window_message_reads_from_the_15th_to_the_25th(app):
    with speaking(app, "en"):
        message = readings.window_closed_message(readings.Window(15, 25, date(2026, 11, 26)))
    assert message == (
        "Readings are accepted from the 15th to the 25th of each month. "
        "The window opens on December 15, 2026."
    )


@pytest.mark.parametrize(
    ("places", "english"),
    [
        (1, "At most 1 digit after the decimal point."),
        (2, "At most 2 digits after the decimal point."),
    ],
)
def test_at_most_n_digits_is_a_plural(app, places, english):
    with speaking(app, "en"), pytest.raises(DomainError) as refused:
        parse_decimal("1.234", places=places)
    assert refused.value.message == english


@pytest.mark.parametrize(
    ("fraction", "whole", "value", "english"),
    [
        (1, 6, "1.25", "This meter shows at most 1 digit after the decimal point."),
        (3, 6, "1.2345", "This meter shows at most 3 digits after the decimal point."),
        (1, 1, "12", "The meter has 1 whole digit: the value is too large."),
        (1, 5, "123456", "The meter has 5 whole digits: the value is too large."),
    ],
)
def test_the_meter_digits_are_plurals(app, fraction, whole, value, english):
    meter = Meter(zones=1, whole_digits=whole, fraction_digits=fraction)
    with speaking(app, "en"):
        verdict = readings.value_refusal(meter, Decimal(value))
    assert verdict.reason == english


def test_messages_ending_with_a_russian_date_have_one_full_stop(app, db_session):
    """«Укажите дату с 1 янв. 2000 г. по 31 дек. 2099 г.», never «г..». (A message whose
    translation moves the date inside the sentence keeps the date whole: «Ключевая ставка
    с 1 мар. 2026 г. уже есть.»)"""
    from portal.services import tariffs, workdays

    refusals = []
    with speaking(app, "ru"):
        for call in (
            lambda: tariffs.check_date(date(2200, 1, 1)),
            lambda: workdays.check_day(date(2200, 1, 1)),
        ):
            with pytest.raises(DomainError) as refused:
                call()
            refusals.append(refused.value.message)
    for message in refusals:
        assert message.endswith("г."), message
        assert "г.." not in message


@pytest.mark.parametrize(
    ("limit", "english"),
    [(1, "Keep the reason under 1 character."), (400, "Keep the reason under 400 characters.")],
)
def test_the_reason_length_is_a_plural(app, monkeypatch, limit, english):
    from portal.services import billing_periods

    monkeypatch.setattr(billing_periods, "MAX_REASON", limit)
    with speaking(app, "en"), pytest.raises(DomainError) as refused:
        billing_periods.check_reason("x" * (limit + 1))
    assert refused.value.message == english


@pytest.mark.parametrize(
    ("limit", "english"),
    [
        (1, "The name is too long: at most 1 character."),
        (200, "The name is too long: at most 200 characters."),
    ],
)
def test_the_name_length_is_a_plural(app, monkeypatch, limit, english):
    from portal.services import names

    monkeypatch.setattr(names, "MAX_NAME_LENGTH", limit)
    with speaking(app, "en"), pytest.raises(DomainError) as refused:
        names.person_name("Я" * (limit + 1))
    assert refused.value.message == english


def test_a_setting_naming_a_day_of_the_month_says_the_10th(app, db_session):
    """Bills are issued on the 1st and due on the 10th by default: issuing on the 11th is
    refused with "the due day is the 10th"; a count of days stays a number."""
    from portal.services import settings

    with speaking(app, "en"), pytest.raises(DomainError) as refused:
        settings.change(db_session, "billing.issue_day_population", "11")
    assert refused.value.message == (
        "Bills cannot be issued after payment is due: the due day is the 10th."
    )
    with speaking(app, "en"), pytest.raises(DomainError) as counted:
        settings.change(db_session, "penalties.high_from_day", "30")
    assert (
        counted.value.message == "The higher penalty must start after the 30 days without penalty."
    )
