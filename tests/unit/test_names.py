"""One rule for names: a person's (sign-up, profile, staff, a customer who is a person) and
an organisation's (a customer of kind "organisation")."""

import pytest

from portal.services import names
from portal.services.errors import DomainError
from tests.conftest import english_request

# --- a person ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Кузнецова   Анна  Сергеевна ", "Кузнецова Анна Сергеевна"),
        ("O'Connor Mary", "O'Connor Mary"),
        ("Мария-Луиза д’Артаньян", "Мария-Луиза д’Артаньян"),
        ("Иванов И. И.", "Иванов И. И."),
        ("Пётр Первый 1", "Пётр Первый 1"),
        ("И\u0306ошкина Ольга", "Йошкина Ольга"),  # a decomposed й is composed (NFC)
    ],
)
def test_names_are_tidied(app, raw, expected):
    with english_request(app):
        assert names.person_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        None,
        "😀",
        "Иван 😀",
        "Иван\x00",
        "Иван\u202eвонаВ",
        "\ufffd\ufffd",
        "12345",
        "Я" * 201,
        "<b>Иван</b>",
        "Иван №1",
        "Строй+",
    ],
)
def test_bad_names_are_refused(app, raw):
    with english_request(app), pytest.raises(DomainError) as refused:
        names.person_name(raw)
    assert refused.value.field == "full_name"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("  ", "Enter your full name."),
        ("Я" * 201, "The name is too long: at most 200 characters."),
        ("Иван 😀", "Write the name in letters: emoji and special symbols are not allowed."),
    ],
)
def test_the_messages_of_sign_up_are_kept(app, raw, message):
    with english_request(app), pytest.raises(DomainError) as refused:
        names.person_name(raw)
    assert refused.value.message == message


def test_the_empty_message_may_name_whose_name_it_is(app):
    with english_request(app), pytest.raises(DomainError) as refused:
        names.person_name(" ", missing="Enter the employee's full name.")
    assert (refused.value.message, refused.value.field) == (
        "Enter the employee's full name.",
        "full_name",
    )


# --- an organisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("МБОУ СОШ № 5", "МБОУ СОШ № 5"),
        ("  ООО  «Выксунский хлеб» ", "ООО «Выксунский хлеб»"),
        ('ООО "Ромашка"', 'ООО "Ромашка"'),
        ("ООО «Строй+» №1", "ООО «Строй+» №1"),
        ("ИП Иванов И. И.", "ИП Иванов И. И."),
        ("Johnson & Johnson, Ltd.", "Johnson & Johnson, Ltd."),
        ("МУП «Водоканал-2» (г. Выкса)", "МУП «Водоканал-2» (г. Выкса)"),
        ("Я" * 300, "Я" * 300),
    ],
)
def test_organisation_names(app, raw, expected):
    with english_request(app):
        assert names.organisation_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "№ 5",
        "12345",
        "<b>ООО Ромашка</b>",
        "ООО Ромашка 😀",
        "ООО Ромашка™",
        "ООО =Ромашка",
        "ООО\x00Ромашка",
        "ООО \u202eРомашка",
        "Я" * 301,
    ],
)
def test_bad_organisation_names_are_refused(app, raw):
    with english_request(app), pytest.raises(DomainError) as refused:
        names.organisation_name(raw)
    assert refused.value.field == "full_name"


# --- a customer, by kind ----------------------------------------------------------------


def test_a_customer_name_follows_the_customer_kind(app):
    with english_request(app):
        assert names.customer_name("organisation", "МБОУ СОШ № 5") == "МБОУ СОШ № 5"
        assert names.customer_name("person", " Иванов  Иван ") == "Иванов Иван"
        with pytest.raises(DomainError):
            names.customer_name("person", "МБОУ СОШ № 5")
        with pytest.raises(DomainError) as refused:
            names.customer_name("person", "   ")
        assert refused.value.message == "Enter the customer's full name."
        with pytest.raises(DomainError) as refused:
            names.customer_name("organisation", "   ")
        assert refused.value.message == "Enter the organisation's name."
