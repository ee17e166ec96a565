"""The users service: normalising input, password rules, registration, sign-in with
throttling, confirmation and reset tokens, profile changes."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.models import Consent, OutboxMessage, SignInFailure, Staff, User
from portal.services import notify, throttle, users
from portal.services.errors import DomainError
from tests import factories
from tests.conftest import english_request


@pytest.fixture
def ctx(app, db_session):
    """A request context: the service builds links and renders letters."""
    with english_request(app):
        yield db_session


# --- Normalising ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "8 (916) 123-45-67",
        "+7 916 1234567",
        "89161234567",
        "+79161234567",
        "9161234567",
        "+7 (916) 123.45.67",
        " 8-916-123-45-67 ",
    ],
)
def test_phone_is_normalised_to_e164(app, raw):
    with english_request(app):
        assert users.normalise_phone(raw) == "+79161234567"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12345",
        "+7 495 123-45-67",  # a Moscow landline
        "8 800 555-35-35",  # a free-phone number
        "+7 916 123-45-67-89-00",
        "☎ 916 123 45 67",
        "916 123 45 67 доб. 5",
        "\x00",
        "８９１６１２３４５６７",  # full-width digits
    ],
)
def test_invalid_phones_are_refused(app, raw):
    with english_request(app), pytest.raises(DomainError) as refused:
        users.normalise_phone(raw)
    assert refused.value.field == "phone"


def test_email_is_trimmed_and_lowered():
    assert users.normalise_email("  Anna.K@Example.RU ") == "anna.k@example.ru"


@pytest.mark.parametrize(
    "password", ["ab1", "abcdefghij", "1234567890", "--------", "пароль-без-цифр"]
)
def test_weak_passwords_are_refused(app, password):
    with english_request(app), pytest.raises(DomainError) as refused:
        users.check_password_strength(password)
    assert refused.value.field == "password"


@pytest.mark.parametrize("password", ["svetlyi-den-42", "пароль2026", "a1b2c3d4"])
def test_good_passwords_pass(app, password):
    with english_request(app):
        users.check_password_strength(password)


# --- Registration -----------------------------------------------------------------------


def register(session, **changes):
    values = {
        "email": "Anna@Example.ru",
        "phone": "8 916 123 45 67",
        "full_name": " Кузнецова  Анна ",
        "password": "svetlyi-den-42",
        "ip": "203.0.113.7",
    } | changes
    user = users.register(session, **values)
    notify.commit_and_send(session)
    return user


def test_register_creates_an_unconfirmed_user_with_consent(app, ctx):
    user = register(ctx, language="en")
    assert user.email == "anna@example.ru"
    assert user.phone == "+79161234567"
    assert user.full_name == "Кузнецова Анна"
    assert user.language == "en"
    assert not user.is_confirmed
    assert user.check_password("svetlyi-den-42")
    [consent] = ctx.scalars(select(Consent).where(Consent.user_id == user.id)).all()
    assert consent.ip_address == "203.0.113.7"
    assert consent.text_version == app.config["CONSENT_TEXT_VERSION"]
    [message] = ctx.scalars(select(OutboxMessage)).all()
    assert message.kind == "confirm_email"
    assert message.recipient == "anna@example.ru"
    assert message.status == "sent"
    assert "/confirm/" in message.body_text


def test_register_with_a_taken_email_creates_nothing_and_warns(ctx):
    existing = factories.make_user(ctx, email="anna@example.ru")
    assert register(ctx) is None
    assert ctx.scalar(select(func.count(User.id))) == 1
    [message] = ctx.scalars(select(OutboxMessage)).all()
    assert message.kind == "signup_existing"
    assert message.user_id == existing.id
    assert "/confirm/" not in message.body_text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "123"}, "phone"),
        ({"password": "abcdefghij"}, "password"),
        ({"full_name": "😀"}, "full_name"),
    ],
)
def test_register_refuses_bad_input_before_looking_at_the_email(ctx, changes, field):
    factories.make_user(ctx, email="anna@example.ru")
    with pytest.raises(DomainError) as refused:
        register(ctx, **changes)
    assert refused.value.field == field
    assert ctx.scalar(select(func.count(OutboxMessage.id))) == 0


def test_confirm_email(ctx):
    user = register(ctx)
    token = users.make_token("confirm", {"user": user.id, "email": user.email})
    assert users.confirm_email(ctx, token).is_confirmed
    with pytest.raises(DomainError):
        users.confirm_email(ctx, users.make_token("confirm", {"user": user.id, "email": "x@y.ru"}))
    with pytest.raises(DomainError):
        users.confirm_email(ctx, users.make_token("confirm", {"user": 10**6, "email": user.email}))
    with pytest.raises(DomainError):
        users.confirm_email(ctx, users.make_token("confirm", {"something": "else"}))


# --- Sign-in -------------------------------------------------------------------------------


ADDRESS = "203.0.113.10"


def attempt(model, email, ip=ADDRESS, devices=None):
    return users.sign_in_attempt(model, email, ip, devices or {})


def authenticate(ctx, model, email, password, **where):
    return users.authenticate(ctx, model, email, password, attempt(model, email, **where))


def age_failures(ctx, by: timedelta) -> None:
    """Move every recorded failure back in time, as if ``by`` had passed."""
    for failure in ctx.scalars(select(SignInFailure)):
        failure.at -= by
    ctx.flush()


def test_authenticate(ctx):
    user = factories.make_user(ctx)
    assert authenticate(ctx, User, user.email.upper(), factories.PASSWORD) == user
    assert user.last_login_at is not None


def test_confirm_email_works_once(ctx):
    user = register(ctx)
    token = users.make_token("confirm", {"user": user.id, "email": user.email})
    users.confirm_email(ctx, token)
    with pytest.raises(users.LinkUsed):
        users.confirm_email(ctx, token)


def test_five_failures_are_free_then_the_wait_doubles(app, ctx):
    """Defaults: 5 free failures, then 1, 2, 4 … minutes, at most 60 (portal/settings.py)."""
    user = factories.make_user(ctx)
    for _ in range(5):
        with pytest.raises(DomainError) as refused:
            authenticate(ctx, User, user.email, "wrong-pass-1")
        assert not isinstance(refused.value, throttle.Throttled)
    # 5 failures: wait 1 minute, even with the right password
    with pytest.raises(throttle.Throttled) as waiting:
        authenticate(ctx, User, user.email, factories.PASSWORD)
    assert timedelta(seconds=55) < waiting.value.wait <= timedelta(minutes=1)
    age_failures(ctx, timedelta(minutes=1, seconds=1))
    with pytest.raises(DomainError):
        authenticate(ctx, User, user.email, "wrong-pass-1")  # the 6th: now 2 minutes
    with pytest.raises(throttle.Throttled) as waiting:
        authenticate(ctx, User, user.email, factories.PASSWORD)
    assert timedelta(minutes=1, seconds=55) < waiting.value.wait <= timedelta(minutes=2)
    age_failures(ctx, timedelta(minutes=2, seconds=1))
    assert authenticate(ctx, User, user.email, factories.PASSWORD) == user
    # the right password: this client starts afresh
    with pytest.raises(DomainError) as refused:
        authenticate(ctx, User, user.email, "wrong-pass-1")
    assert not isinstance(refused.value, throttle.Throttled)


@pytest.mark.parametrize(
    ("failures", "minutes"), [(4, 0), (5, 1), (6, 2), (7, 4), (10, 32), (11, 60), (40, 60)]
)
def test_client_delay(app, failures, minutes):
    with app.app_context():
        assert throttle.client_delay(failures) == timedelta(minutes=minutes)


def test_one_refusal_for_a_wrong_password_and_an_unknown_e_mail(ctx):
    user = factories.make_user(ctx)
    messages = set()
    for email, password in [(user.email, "wrong-pass-1"), ("nobody@example.ru", "x")]:
        with pytest.raises(DomainError) as refused:
            authenticate(ctx, User, email, password)
        messages.add(refused.value.message)
    assert len(messages) == 1


def test_throttled_alike_whether_the_e_mail_is_registered(ctx):
    user = factories.make_user(ctx)
    waits = set()
    for email in (user.email, "nobody@example.ru"):
        for _ in range(5):
            with pytest.raises(DomainError):
                authenticate(ctx, User, email, "wrong-pass-1")
        with pytest.raises(throttle.Throttled) as waiting:
            authenticate(ctx, User, email, "wrong-pass-1")
        waits.add(waiting.value.message)
    assert len(waits) == 1


def test_staff_and_users_are_separate(ctx):
    staff = factories.make_staff(ctx)
    user = factories.make_user(ctx)
    with pytest.raises(DomainError):
        authenticate(ctx, User, staff.email, factories.PASSWORD)
    with pytest.raises(DomainError):
        authenticate(ctx, Staff, user.email, factories.PASSWORD)
    assert authenticate(ctx, Staff, staff.email, factories.PASSWORD) == staff


def test_inactive_staff_cannot_sign_in(ctx):
    staff = factories.make_staff(ctx, active=False)
    with pytest.raises(DomainError):
        authenticate(ctx, Staff, staff.email, factories.PASSWORD)


# --- Password reset ----------------------------------------------------------------------


def reset_token(ctx, user):
    users.request_password_reset(ctx, user.email)
    notify.commit_and_send(ctx)
    message = ctx.scalar(select(OutboxMessage).where(OutboxMessage.kind == "reset_password"))
    return message.body_text.split("/password/reset/")[1].split()[0]


def test_reset_link_works_once(ctx):
    user = factories.make_user(ctx)
    token = reset_token(ctx, user)
    assert users.user_for_reset_token(ctx, token) == user
    users.reset_password(ctx, token, "novyi-parol-7")
    assert user.check_password("novyi-parol-7")
    with pytest.raises(DomainError):
        users.reset_password(ctx, token, "drugoi-parol-8")


def test_reset_for_unknown_email_plans_nothing(ctx):
    users.request_password_reset(ctx, "nobody@example.ru")
    assert ctx.scalar(select(func.count(OutboxMessage.id))) == 0


def test_reset_with_a_weak_password_keeps_the_link(ctx):
    user = factories.make_user(ctx)
    token = reset_token(ctx, user)
    with pytest.raises(DomainError):
        users.reset_password(ctx, token, "abcdefghij")
    assert users.user_for_reset_token(ctx, token) == user


# --- Profile ---------------------------------------------------------------------------


def test_update_profile(ctx):
    user = factories.make_user(ctx)
    users.update_profile(
        ctx,
        user,
        full_name=" Новое  Имя ",
        phone="8 903 765 43 21",
        preferred_channel="sms",
        language="en",
    )
    assert (user.full_name, user.phone, user.preferred_channel, user.language) == (
        "Новое Имя",
        "+79037654321",
        "sms",
        "en",
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "123"}, "phone"),
        ({"full_name": "😀"}, "full_name"),
        ({"preferred_channel": "pigeon"}, "preferred_channel"),
        ({"language": "de"}, "language"),
    ],
)
def test_update_profile_refuses_bad_values_and_changes_nothing(ctx, changes, field):
    user = factories.make_user(ctx, full_name="Старое Имя")
    values = {
        "full_name": "Новое Имя",
        "phone": "+79037654321",
        "preferred_channel": "sms",
        "language": "ru",
    }
    with pytest.raises(DomainError) as refused:
        users.update_profile(ctx, user, **(values | changes))
    assert refused.value.field == field
    assert user.full_name == "Старое Имя"
    assert user.preferred_channel == "email"


def test_change_password(ctx):
    user = factories.make_user(ctx)
    with pytest.raises(DomainError) as refused:
        users.change_password(ctx, user, "wrong-pass-1", "novyi-parol-7")
    assert refused.value.field == "current_password"
    with pytest.raises(DomainError) as refused:
        users.change_password(ctx, user, factories.PASSWORD, "abcdefghij")
    assert refused.value.field == "password"
    users.change_password(ctx, user, factories.PASSWORD, "novyi-parol-7")
    assert user.check_password("novyi-parol-7")
