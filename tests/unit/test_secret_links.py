"""Secret links in letters: each one, however it is written, becomes its kind and expiry."""

from datetime import UTC, datetime

import pytest
from flask import Flask, url_for
from flask_babel import Babel, force_locale
from itsdangerous.timed import TimestampSigner

from portal.formatting import as_datetime
from portal.services import tokens
from portal.services.notify.secrets import demo_mailbox, redact_links
from tests.conftest import english_request

# Signed at 18:40 UTC on 1 December 2026: a reset link (2 hours) works until 23:40 in Moscow.
SIGNED_AT = datetime(2026, 12, 1, 18, 40, tzinfo=UTC)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def signed_at_a_known_time(monkeypatch):
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(SIGNED_AT.timestamp()))


def token(purpose: str = "reset") -> str:
    return tokens.make_token(purpose, {"user": 7, "fp": "x"})


def hidden(purpose: str, value: str) -> str:
    """The text a genuine link becomes, as the current locale writes it."""
    expiry = as_datetime(tokens.expires_at(purpose, value))
    return f"[{tokens.LINKS[purpose].label} hidden; works until {expiry}]"


def test_a_reset_link_becomes_its_kind_and_expiry(ctx):
    value = token()
    text = f"Open the link:\nhttps://portal.test/password/reset/{value}\n\nThank you"
    redacted = redact_links(text)
    assert value not in redacted
    assert redacted == f"Open the link:\n{hidden('reset', value)}\n\nThank you"


def test_the_expiry_is_shown_in_the_suppliers_zone(ctx, signed_at_a_known_time):
    value = token()
    with force_locale("ru"):
        redacted = redact_links(f"/password/reset/{value}")
    assert "01.12.2026, 23:40" in redacted  # 20:40 UTC, Moscow is UTC+3
    assert value not in redacted


@pytest.mark.parametrize(
    "url",
    [
        "https://portal.test/password/reset/{token}",
        "http://other.example:8080/password/reset/{token}",  # any host
        "https://portal.example.ru/portal/password/reset/{token}",  # under a prefix
        "/password/reset/{token}",  # relative
        "https://portal.test/password/reset/{token}?utm=letter#top",
    ],
)
def test_any_host_and_a_relative_link_count(ctx, url):
    value = token()
    redacted = redact_links(f"Link: {url.format(token=value)} end")
    assert redacted == f"Link: {hidden('reset', value)} end"


def test_a_link_at_the_end_of_a_sentence_keeps_its_expiry(ctx):
    value = token()
    redacted = redact_links(f"Open https://portal.test/password/reset/{value}. Thanks")
    assert redacted == f"Open {hidden('reset', value)} Thanks"


@pytest.mark.parametrize(
    ("purpose", "path"),
    [("confirm", "/confirm/{token}"), ("invite", "/organisations/invitations/{token}")],
)
def test_confirmation_and_invitation_links_are_hidden(ctx, purpose, path):
    value = token(purpose)
    redacted = redact_links("https://portal.test" + path.format(token=value))
    assert redacted == hidden(purpose, value)
    assert "confirmation link" in redacted or "invitation link" in redacted


@pytest.mark.parametrize(
    "value",
    ["abc", "eyJ1c2VyIjoxfQ.aBcDeF.forged-signature_1", "a" * 300],
)
def test_a_forged_or_unreadable_token_is_hidden_too(ctx, value):
    redacted = redact_links(f"https://portal.test/password/reset/{value}")
    assert redacted == "[password reset link hidden; expiry unknown]"


def test_a_token_of_another_kind_of_link_has_no_known_expiry(ctx):
    redacted = redact_links(f"https://portal.test/password/reset/{token('confirm')}")
    assert redacted == "[password reset link hidden; expiry unknown]"


@pytest.mark.parametrize(
    "text",
    [
        "Hello!\nYour bill for November is ready: 1 700,00 ₽.",
        "Sign in: https://portal.test/login and https://portal.test/password/forgot",
        "https://portal.test/confirm/ has no token; /password/reset is no link",
        "",
    ],
)
def test_text_without_secret_links_is_unchanged(ctx, text):
    assert redact_links(text) == text
    assert redact_links(text, html=True) == text


def test_html_links_and_their_text_are_both_hidden(ctx):
    value = token()
    url = f"https://portal.test/password/reset/{value}"
    body = f'<p><a href="{url}" style="color:#0b5e55">Set a new password</a></p><p>{url}</p>'
    redacted = redact_links(body, html=True)
    label = hidden("reset", value)
    assert value not in redacted
    assert redacted == (
        f'<p><a href="{label}" style="color:#0b5e55">Set a new password</a></p><p>{label}</p>'
    )


@pytest.mark.parametrize(
    "written",
    [
        "https:&#47;&#47;portal.test&#47;password&#47;reset&#47;{token}",
        "https://portal.test&#x2F;password&#x2f;reset&#x2F;{token}",
        "/password&sol;reset/{token}",
        "https://portal.test/password/reset/{token}&amp;x=1",
        "https://portal.test/%70assword/reset%2F{token}",  # percent-encoded: Werkzeug decodes
        "https://portal.test/password/reset/{head}&#46;{tail}",  # a dot of the token escaped
    ],
)
def test_escaped_forms_of_a_link_are_hidden(ctx, written):
    value = token()
    head, _dot, tail = value.rpartition(".")
    body = f'<a href="{written.format(token=value, head=head, tail=tail)}">x</a>'
    redacted = redact_links(body, html=True)
    assert redacted == f'<a href="{hidden("reset", value)}">x</a>'
    assert tail not in redacted


def test_the_label_is_escaped_in_html(ctx, monkeypatch):
    monkeypatch.setitem(
        tokens.LINKS, "reset", tokens.LinkKind("reset", "auth.reset_password", "<b>&reset")
    )
    redacted = redact_links('<a href="/password/reset/abc">x</a>', html=True)
    assert redacted == '<a href="[&lt;b&gt;&amp;reset hidden; expiry unknown]">x</a>'
    assert redact_links("/password/reset/abc") == "[<b>&reset hidden; expiry unknown]"


def test_two_links_in_one_run_of_text_are_both_hidden(ctx):
    first, second = token("confirm"), token()
    text = f"/confirm/{first},/password/reset/{second}"
    assert redact_links(text) == f"{hidden('confirm', first)} {hidden('reset', second)}"


@pytest.mark.parametrize("purpose", sorted(tokens.LINKS))
def test_every_kind_of_link_the_portal_routes_is_hidden(app, purpose):
    """Unlock links included: its page came after this module and needed no change here."""
    with english_request(app):
        value = token(purpose)
        url = url_for(tokens.LINKS[purpose].endpoint, token=value, _external=True)
        assert redact_links(f"Open {url}") == f"Open {hidden(purpose, value)}"


def unlock_app() -> Flask:
    """An app whose url_map has the reset page but not (yet) the unlock page."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret", LINK_LIFETIME_HOURS={"reset": 2, "unlock": 1}, TESTING=True
    )
    Babel(app)
    app.add_url_rule("/password/reset/<token>", endpoint="auth.reset_password")
    return app


def test_a_page_missing_from_the_url_map_is_skipped_then_picked_up():
    app = unlock_app()
    with app.app_context():
        unlock = tokens.make_token("unlock", {"user": 7})
        text = f"/unlock/{unlock} /password/reset/abc"
        assert redact_links(text) == (
            f"/unlock/{unlock} [password reset link hidden; expiry unknown]"
        )
        app.add_url_rule("/unlock/<token>", endpoint="auth.unlock")
        assert unlock not in redact_links(text)
        assert redact_links(text).startswith("[sign-in unlock link hidden; works until ")


@pytest.mark.parametrize(
    ("demo", "server", "expected"),
    [(True, "", True), (True, "smtp.example.ru", False), (False, "", False)],
)
def test_the_demo_mailbox_is_demo_mode_without_a_mail_server(
    app, monkeypatch, demo, server, expected
):
    monkeypatch.setitem(app.config, "DEMO_MODE", demo)
    monkeypatch.setitem(app.config, "MAIL_SERVER", server)
    with app.app_context():
        assert demo_mailbox() is expected
