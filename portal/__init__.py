"""The application factory."""

from flask import Flask, current_app, has_request_context, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal.extensions import babel, csrf, db, htmx, limiter, login_manager, mail, migrate
from portal.settings import INSTANCE_DIR, PROJECT_ROOT, load_config

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


class PortalSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, never re-sent with a static file.

    The session is refreshed on every request (it ends after some idle time), and a
    browser fetches a page's favicon or stylesheet while the page's own request is still
    under way: a static response carrying the session as it was would overwrite the cookie
    the page just set — right after signing in, the visitor would be signed out again."""

    def should_set_cookie(self, app, session) -> bool:
        if has_request_context() and request.endpoint == "static":
            return False
        return super().should_set_cookie(app, session)


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in every route: at most a 32-bit id, so an absurd number in a URL is a
    404 and never reaches the database (SQLite overflows past 2**63, PostgreSQL's integer
    columns past 2**31)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config())
    app.config.update(overrides or {})
    app.session_interface = PortalSessionInterface()
    app.url_map.converters["int"] = DatabaseIdConverter  # before any route is added
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_error_handlers(app)
    register_request_hooks(app)
    register_template_helpers(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES proxies, the client's address, scheme and host are the ones
    they forward: rate limits, throttling and the audit then see each client, not the proxy."""
    count = app.config["TRUSTED_PROXIES"]
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def register_extensions(app: Flask) -> None:
    from portal import models  # noqa: F401  (every table known to Alembic)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)


def load_user(identity: str):
    """Flask-Login's ids are "user:KEY" for portal users and "staff:KEY" for the back office,
    KEY naming a live sign-in session on the server (portal.services.sessions)."""
    from portal.services import sessions
    from portal.web import client_ip

    kind, _sep, key = identity.partition(":")
    row = sessions.load(db.session, key, ip=client_ip()) if key and len(key) < 100 else None
    if row is None or row.person.session_prefix != kind:
        return None
    person = row.person  # held here: a commit lets the session forget unreferenced objects
    if db.session.dirty:
        db.session.commit()  # the session's last-seen time moved
    return person


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, workers, services called directly
        return current_app.config["BABEL_BACKGROUND_LOCALE"]
    if current_user and getattr(current_user, "language", None) in languages:
        return current_user.language
    if session.get("language") in languages:
        return session["language"]
    return "ru"


def register_blueprints(app: Flask) -> None:
    from admin import bp as admin_bp
    from portal.accounts.views import bp as accounts_bp
    from portal.appeals.views import bp as appeals_bp
    from portal.applications.views import bp as applications_bp
    from portal.auth.views import bp as auth_bp
    from portal.bills.views import bp as bills_bp
    from portal.feedback.views import bp as feedback_bp
    from portal.info.views import bp as info_bp
    from portal.main.views import bp as main_bp
    from portal.notices.views import bp as notices_bp
    from portal.organisations.views import bp as organisations_bp
    from portal.profile.views import bp as profile_bp
    from portal.readings.views import bp as readings_bp
    from portal.surveys.views import bp as surveys_bp
    from portal.visits.views import bp as visits_bp

    for blueprint in (
        main_bp,
        auth_bp,
        accounts_bp,
        profile_bp,
        organisations_bp,
        readings_bp,
        bills_bp,
        appeals_bp,
        visits_bp,
        notices_bp,
        applications_bp,
        info_bp,
        surveys_bp,
        feedback_bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(admin_bp, url_prefix="/admin")


def register_cli(app: Flask) -> None:
    from portal.cli import register_commands

    register_commands(app)


# Each error page: its title and message, in the visitor's language.
ERROR_PAGES = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("Access denied"), _l("You do not have access to this page.")),
    404: (_l("Page not found"), _l("There is no such page, or it is not yours to see.")),
    405: (_l("Not allowed"), _l("This action is not available here.")),
    413: (
        _l("The request is too large"),
        _l("What you sent is too large. Please send less at a time."),
    ),
    429: (
        _l("Too many attempts"),
        _l("Too many attempts in a short time. Please wait a few minutes and try again."),
    ),
    500: (
        _l("Something went wrong"),
        _l("We could not complete the request. Please try again later."),
    ),
}
EXPIRED_FORM = (
    _l("The page has expired"),
    _l(
        "Your session has expired or the form was open too long. Please go back, reload the page and try again."
    ),
)


def render_error(code: int, page: tuple | None = None):
    """Our error page for ``code``; any other client error reads as a bad request, any
    other server error as something gone wrong."""
    title, message = page or ERROR_PAGES.get(code) or ERROR_PAGES[500 if code >= 500 else 400]
    return render_template("errors.html", code=code, title=title, message=message), code


def register_error_handlers(app: Flask) -> None:
    from portal.services.errors import NotFound

    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if error.code >= 500:
            db.session.rollback()
        return render_error(error.code)

    def server_error(_error):
        db.session.rollback()
        return render_error(500)

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(500, server_error)
    # A service's NotFound (no such object, or not this person's) is the 404 page.
    app.register_error_handler(NotFound, lambda _error: render_error(404))
    app.register_error_handler(CSRFError, lambda _error: render_error(400, EXPIRED_FORM))


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def keep_session_alive():
        # A permanent session expires after PERMANENT_SESSION_LIFETIME of inactivity.
        # Static files neither need a session nor should set a cookie (they are cached).
        if request.endpoint != "static":
            session.permanent = True

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        response.vary.add("HX-Request")
        # Every page depends on the session (a CSRF token at least, often personal data:
        # an account, an e-mail typed a moment ago): none may be stored by any cache.
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response


def register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from portal import formatting

    app.jinja_env.filters.update(formatting.FILTERS)
    app.jinja_env.globals.update(formatting.GLOBALS, get_locale=get_locale)

    @app.context_processor
    def customer_accounts():
        """The account switcher in the navigation bar of the public site."""
        if not has_request_context() or not current_user.is_authenticated or current_user.is_staff:
            return {}
        from portal.services.accounts import accounts_visible_to

        mine = accounts_visible_to(db.session, current_user)
        current = next((a for a in mine if a.id == session.get("account_id")), None)
        return {"my_accounts": mine, "current_account": current}
