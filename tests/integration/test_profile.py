"""The user's own profile: name, phone, notice channel, language and password."""

import re

import pytest

from tests import factories
from tests.conftest import field_error, field_value, login_as, page, post_form, sign_in

PROFILE = {
    "full_name": "Кузнецова Анна Сергеевна",
    "phone": "+7 (903) 765-43-21",
    "preferred_channel": "sms",
    "language": "ru",
}


@pytest.fixture
def resident(db_session):
    return factories.make_user(
        db_session, full_name="Иванова Мария", phone="+79161234567", preferred_channel="email"
    )


@pytest.fixture
def signed_in(client, resident):
    login_as(client, resident)
    return client


def save(client, **changes):
    return post_form(client, "/profile/", PROFILE | changes)


def checked(response, name: str) -> str | None:
    """The value of the checked radio button of a group."""
    for tag in re.findall(r"<input[^>]*>", response.get_data(as_text=True)):
        if f'name="{name}"' in tag and "checked" in tag:
            return re.search(r'value="([^"]*)"', tag).group(1)
    return None


def test_profile_shows_current_values(signed_in, resident):
    response = signed_in.get("/profile/")
    assert response.status_code == 200
    assert field_value(response, "full_name") == "Иванова Мария"
    assert field_value(response, "phone") == "+79161234567"
    assert field_value(response, "email") == resident.email
    assert checked(response, "preferred_channel") == "email"
    assert checked(response, "language") == "ru"
    assert response.headers["Cache-Control"] == "no-store"


def test_profile_shows_the_consent(signed_in, resident):
    response = signed_in.get("/profile/")
    assert resident.consents[0].text_version in page(response)


def test_update_name_phone_and_channel(signed_in, db_session, resident):
    response = save(signed_in)
    assert response.status_code == 303
    assert response.headers["Location"] == "/profile/"
    db_session.refresh(resident)
    assert resident.full_name == "Кузнецова Анна Сергеевна"
    assert resident.phone == "+79037654321"
    assert resident.preferred_channel == "sms"
    after = signed_in.get("/profile/")
    assert checked(after, "preferred_channel") == "sms"
    assert "Кузнецова Анна Сергеевна" in page(after)  # the navbar shows the new name too


def test_switching_language_to_english_switches_the_interface(signed_in, db_session, resident):
    assert '<html lang="ru">' in signed_in.get("/profile/").get_data(as_text=True)
    save(signed_in, language="en")
    db_session.refresh(resident)
    assert resident.language == "en"
    for url in ("/profile/", "/accounts/", "/privacy"):
        body = signed_in.get(url).get_data(as_text=True)
        assert '<html lang="en">' in body
    assert "Profile" in page(signed_in.get("/profile/"))  # English words, not the msgids' Russian


def test_language_choice_survives_signing_in_again(client, db_session, resident):
    login_as(client, resident)
    save(client, language="en")
    post_form(client, "/logout", {})
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)  # kept for the visitor
    sign_in(client, resident.email, factories.PASSWORD)
    assert '<html lang="en">' in client.get("/profile/").get_data(as_text=True)


def test_language_switch_button_saves_the_users_choice(signed_in, db_session, resident):
    response = post_form(signed_in, "/language/en", {}, query_string={"next": "/profile/"})
    assert response.headers["Location"] == "/profile/"
    db_session.refresh(resident)
    assert resident.language == "en"


@pytest.mark.parametrize("phone", ["123", "+7 495 123-45-67", "телефон", "+7 916 123 45 67 😀"])
def test_invalid_phone_keeps_typed_values(signed_in, db_session, resident, phone):
    response = save(signed_in, phone=phone, full_name="Новое Имя")
    assert response.status_code == 200
    assert field_error(response, "phone")
    assert field_value(response, "phone") == phone
    assert field_value(response, "full_name") == "Новое Имя"
    assert checked(response, "preferred_channel") == "sms"
    db_session.refresh(resident)
    assert resident.full_name == "Иванова Мария"  # nothing saved
    assert resident.phone == "+79161234567"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"full_name": ""}, "full_name"),
        ({"full_name": "Я" * 201}, "full_name"),
        ({"full_name": "🙂🙂🙂"}, "full_name"),
        ({"phone": ""}, "phone"),
    ],
)
def test_invalid_profile_fields(signed_in, db_session, resident, changes, field):
    response = save(signed_in, **changes)
    assert response.status_code == 200
    assert field_error(response, field)
    db_session.refresh(resident)
    assert resident.full_name == "Иванова Мария"


@pytest.mark.parametrize(("name", "value"), [("preferred_channel", "pigeon"), ("language", "de")])
def test_values_outside_the_choices_are_refused(signed_in, db_session, resident, name, value):
    response = save(signed_in, **{name: value})
    assert response.status_code == 200
    assert 'class="invalid-feedback d-block"' in response.get_data(as_text=True)
    db_session.refresh(resident)
    assert resident.preferred_channel == "email"
    assert resident.language == "ru"


def test_change_password(client, db_session, resident):
    login_as(client, resident)
    response = post_form(
        client,
        "/profile/password",
        {
            "current_password": factories.PASSWORD,
            "password": "novyi-parol-7",
            "password_again": "novyi-parol-7",
        },
    )
    assert response.status_code == 303
    db_session.refresh(resident)
    assert resident.check_password("novyi-parol-7")
    post_form(client, "/logout", {})
    assert sign_in(client, resident.email, factories.PASSWORD).status_code == 200
    assert sign_in(client, resident.email, "novyi-parol-7").status_code == 303


def test_change_password_with_wrong_current_password(signed_in, db_session, resident):
    response = post_form(
        signed_in,
        "/profile/password",
        {
            "current_password": "wrong-pass-1",
            "password": "novyi-parol-7",
            "password_again": "novyi-parol-7",
        },
    )
    assert response.status_code == 200
    assert field_error(response, "current_password")
    assert not field_value(response, "current_password")
    db_session.refresh(resident)
    assert resident.check_password(factories.PASSWORD)
    # the profile form on the same page still shows the saved values
    assert field_value(response, "full_name") == "Иванова Мария"


@pytest.mark.parametrize(
    ("new", "again", "field"),
    [
        ("abcdefghij", "abcdefghij", "password"),
        ("1234567890", "1234567890", "password"),
        ("ab1", "ab1", "password"),
        ("novyi-parol-7", "novyi-parol-8", "password_again"),
    ],
)
def test_change_password_to_a_weak_one(signed_in, db_session, resident, new, again, field):
    response = post_form(
        signed_in,
        "/profile/password",
        {"current_password": factories.PASSWORD, "password": new, "password_again": again},
    )
    assert response.status_code == 200
    assert field_error(response, field)
    db_session.refresh(resident)
    assert resident.check_password(factories.PASSWORD)


def test_profile_needs_sign_in(client):
    assert client.get("/profile/").status_code == 302
    assert post_form(client, "/profile/", PROFILE).status_code == 302


def test_profile_save_needs_csrf(signed_in, db_session, resident):
    response = signed_in.post("/profile/", data=PROFILE)
    assert response.status_code == 400
    db_session.refresh(resident)
    assert resident.full_name == "Иванова Мария"
