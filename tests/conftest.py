"""Fixtures: an app on a real database (SQLite, or PostgreSQL when TEST_DATABASE_URL is
set), a session rolled back after each test, a Flask client with CSRF on, a real SMTP
server, and factories in ``tests/factories.py``."""

import contextvars
import html
import os
import re
import socket
import tempfile
import threading
from contextlib import contextmanager
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from flask import has_app_context
from flask.testing import FlaskClient
from flask_babel import force_locale
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession
from hypothesis import settings as hypothesis_settings
from sqlalchemy import event, select

from portal import create_app
from portal.extensions import db, limiter

IN_CI = os.environ.get("CI", "").lower() == "true"

# Hypothesis's 200 ms per example is a timing assertion: on a busy 2-core CI machine a
# database round trip can take longer without anything being wrong.
hypothesis_settings.register_profile("portal", deadline=None)
hypothesis_settings.load_profile("portal")


def database_url(tmp_dir: Path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_dir / 'test.db'}"


def test_config(tmp_dir: Path, **overrides) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url(tmp_dir),
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        # As behind one reverse proxy: a request's X-Forwarded-For names its client.
        "TRUSTED_PROXIES": 1,
        "SERVER_NAME": "portal.test",
        "MAIL_SERVER": "",
        "MAIL_SUPPRESS_SEND": False,
        "TWILIO_ACCOUNT_SID": "",
        # Services called directly in tests speak English, so assertions read the msgids;
        # pages still default to Russian (tests/unit/test_translations.py checks it).
        "BABEL_BACKGROUND_LOCALE": "en",
        "APPEAL_FILES_DIR": str(tmp_dir / "appeal_files"),
    } | overrides


def use_real_sqlite_savepoints(engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions.

    sqlite3 (Python < 3.12) begins a transaction only before a write, so a SAVEPOINT that
    comes first opens the outermost transaction and its RELEASE commits for good: the
    rollback after each test then undoes nothing. This is SQLAlchemy's documented recipe.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _explicit_begin(connection):
        connection.exec_driver_sql("BEGIN")


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in contexts of its own, as in production.

    Without this a request reuses the test's application context, so ``g`` (the signed-in
    user, the CSRF token, the locale) and the database session leak from one request into
    the next. Each request gets a fresh application context and so its own database session
    on the test's connection. Before a request the test's pending changes are flushed so the
    request sees them; after it the test's session is expired so the test sees the
    request's changes.
    """

    def __enter__(self):
        return self  # no preserved request contexts: they would belong to another Context

    def __exit__(self, *exc_info):
        return None

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.flush()
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()
        return response


@pytest.fixture(scope="session")
def app():
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(test_config(Path(tmp)))
        app.test_client_class = IsolatedClient
        with app.app_context():
            use_real_sqlite_savepoints(db.engine)
            db.drop_all()
            db.create_all()
        yield app
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


class ConnectionBoundSession(FlaskSQLAlchemySession):
    """Flask-SQLAlchemy's session picks the app's engine in ``get_bind`` and so ignores a
    ``bind=connection`` it is given: every session would take a fresh pooled connection and
    commit for real. This one always uses the connection of the test."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture
def db_session(app):
    """A session whose work is rolled back after the test, commits included.

    The test and every request it makes use sessions on one connection inside one outer
    transaction; their commits only release savepoints.
    """
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "class_": ConnectionBoundSession,
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
            }
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


def rate_limits_off() -> None:
    """The limiter is one global object: any other ``create_app()`` (migrations, worker,
    a rate-limit test) may have switched it on for every app. Tests turn it off again."""
    limiter.enabled = False


@pytest.fixture
def client(app, db_session):
    rate_limits_off()
    return app.test_client()


@pytest.fixture
def other_client(app, db_session):
    """A second browser, with cookies of its own."""
    rate_limits_off()
    return app.test_client()


@pytest.fixture
def resident_client(app, db_session):
    """A browser signed in as a new resident (``resident_client.user``)."""
    from tests import factories

    rate_limits_off()
    browser = app.test_client()
    browser.user = factories.make_user(db_session)
    login_as(browser, browser.user)
    return browser


@pytest.fixture
def staff_client(app, db_session):
    """``staff_client(role, language=None, **fields)``: a new browser signed in as a new
    employee with that role (``.staff``), the second factor given where the role requires
    it, its pages in ``language`` when given."""
    from tests import factories

    rate_limits_off()

    def signed_in(role: str = "operator", *, language: str | None = None, **fields):
        browser = app.test_client()
        browser.staff = factories.make_staff(db_session, role=role, **fields)
        login_as(browser, browser.staff, staff=True)
        if language:  # the pages' language, for assertions that read their words
            with browser.session_transaction() as flask_session:
                flask_session["language"] = language
        return browser

    return signed_in


def csrf_token(client) -> str:
    """The CSRF token every page carries in the body's hx-headers."""
    page = client.get("/privacy").get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


def post_form(client, url: str, data: dict, **kwargs):
    """POST a form with a valid CSRF token, as a browser would."""
    return client.post(url, data={"csrf_token": csrf_token(client), **data}, **kwargs)


def sign_in(client, email: str, password: str, staff: bool = False, **extra):
    """Sign in with the password; an enrolled employee then types the app's code as well."""
    url = "/admin/login" if staff else "/login"
    response = post_form(client, url, {"email": email, "password": password, **extra})
    if staff and response.headers.get("Location", "").endswith("/admin/login/code"):
        response = post_form(client, "/admin/login/code", {"code": totp_code_for(email)})
    return response


def totp_code_for(email: str) -> str:
    """The code an enrolled employee's authenticator app shows now. The step used last is
    forgotten first, so that the same employee can sign in twice within 30 seconds."""
    import pyotp

    from portal.models import Staff

    staff = db.session.scalar(select(Staff).where(Staff.email == email))
    staff.totp_last_step = None
    db.session.flush()
    return pyotp.TOTP(staff.totp_secret).now()


def login_as(client, person, staff: bool = False):
    """Sign a factory-made user (or staff member) in; fails loudly if it did not work."""
    from tests.factories import PASSWORD

    response = sign_in(client, person.email, PASSWORD, staff=staff)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CollectingHandler:
    def __init__(self):
        self.messages: list = []
        self.received = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's API)
        import email

        self.messages.append(email.message_from_bytes(envelope.content))
        self.received.set()
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on loopback that keeps what it receives."""
    handler = CollectingHandler()
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def mailbox(app, smtp_server):
    """Send mail through the real local SMTP server during one test.

    Flask-Mail copies its settings into ``app.extensions["mail"]`` once, at init_app, so
    both the config (which tells the outbox to use SMTP) and that state are switched.
    ``suppress`` must be off: with TESTING on, Flask-Mail would otherwise send nothing.
    """
    smtp_server.messages.clear()
    state = app.extensions["mail"]
    saved_config = {key: app.config[key] for key in ("MAIL_SERVER", "MAIL_PORT")}
    saved_state = {key: getattr(state, key) for key in ("server", "port", "suppress")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    state.server, state.port, state.suppress = "127.0.0.1", smtp_server.port, False
    yield smtp_server.messages
    app.config.update(saved_config)
    for key, value in saved_state.items():
        setattr(state, key, value)


def mail_text(message: Message) -> str:
    """The decoded text/plain part of a received letter."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("the letter has no text part")


def mail_html(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("the letter has no HTML part")


def mail_subject(message: Message) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(message["Subject"])))


def link_in(message: Message, path_prefix: str) -> str:
    """The path (with query) of the first link in the letter's text starting with the prefix."""
    for url in re.findall(r"https?://\S+", mail_text(message)):
        parts = urlsplit(url)
        if parts.path.startswith(path_prefix):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    raise AssertionError(f"no link to {path_prefix} in the letter")


@pytest.fixture(scope="session")
def _rate_limited_app(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("limits")
    app = create_app(
        test_config(
            tmp_path,
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI="memory://",
            # Always a throw-away SQLite file: this app commits for real.
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'limits.db'}",
        )
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def rate_limited_app(_rate_limited_app):
    """An app of its own with Flask-Limiter on (memory storage, emptied for each test) and
    its own database, which keeps what tests commit: use fresh e-mails (the factories do).
    Do not combine with ``db_session``/``client``, which belong to the main app."""
    limiter.enabled = True
    limiter.reset()
    yield _rate_limited_app
    limiter.reset()
    rate_limits_off()


def sign_in_staff(client, session, role: str = "operator", *, language: str | None = None):
    """A new employee with ``role``, signed in on ``client``; ``language`` the pages'
    language for the assertions that read their words."""
    from tests import factories

    staff = factories.make_staff(session, role=role)
    login_as(client, staff, staff=True)
    if language:
        with client.session_transaction() as flask_session:
            flask_session["language"] = language
    return staff


@contextmanager
def counted_queries():
    """The SQL statements run inside the block: list pages must run a constant number."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def strip_token(html: str) -> str:
    """The page without its CSRF tokens, which carry a timestamp and differ between requests."""
    html = re.sub(r'(<input[^>]*name="csrf_token"[^>]*value=)"[^"]*"', r'\1""', html)
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", html)


def page(response) -> str:
    """The response body as text, HTML entities decoded, for assertions on what a person reads."""
    return html.unescape(response.get_data(as_text=True))


def translated(app, message: str, **values) -> str:
    """A message as the default (Russian) locale shows it, whether or not it is translated yet."""
    from flask_babel import gettext

    # force_locale: a test's app context may hold the translations a service loaded for
    # another language (Flask-Babel keeps them on ``g``).
    with app.test_request_context(), force_locale("ru"):
        return gettext(message, **values)


def field_error(response, field_id: str) -> str | None:
    """The error text shown next to a form field, or None when the field has no error."""
    body = response.get_data(as_text=True)
    found = re.search(
        rf'<div id="{re.escape(field_id)}-error" class="invalid-feedback">(.*?)</div>', body, re.S
    )
    return html.unescape(found.group(1)).strip() if found else None


def field_value(response, field_id: str) -> str | None:
    """The value a text input is rendered with (the typed value kept after an error)."""
    body = response.get_data(as_text=True)
    tag = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', body)
    if tag is None:
        raise AssertionError(f"no input {field_id} on the page")
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else None


class _ClassTextParser(HTMLParser):
    """Collects the text inside every element carrying all the given classes."""

    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "wbr",
    }

    def __init__(self, classes: set[str]):
        super().__init__()
        self.classes = classes
        self.found: list[str] = []
        self._open: list[list] = []  # [depth, pieces] per matching element still open
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        self._depth += 1
        if self.classes <= set((dict(attrs).get("class") or "").split()):
            self._open.append([self._depth, []])

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if self._open and self._open[-1][0] == self._depth:
            _depth, pieces = self._open.pop()
            self.found.append(" ".join("".join(pieces).split()))
        self._depth -= 1

    def handle_data(self, data):
        for _depth, pieces in self._open:
            pieces.append(data)


def texts_with_class(response, classes: str) -> list[str]:
    """The text of every element with all these classes, e.g. "alert alert-danger"."""
    parser = _ClassTextParser(set(classes.split()))
    parser.feed(response.get_data(as_text=True))
    return parser.found


def form_alert(response) -> str | None:
    """The text of the error box above a form (or of the first danger alert)."""
    found = texts_with_class(response, "alert alert-danger")
    return found[0] if found else None


@contextmanager
def english_request(app):
    """A request context in English, for calling services whose messages tests read."""
    with app.test_request_context(), force_locale("en"):
        yield
