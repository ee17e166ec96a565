"""Configuration from the environment, with embedded defaults for `make run`.

Every value a deployment may change is read here once; code reads ``current_app.config``.
Domain rules that staff may edit (windows, thresholds, deadlines) are not here: they are
rows in the ``settings`` table with defaults in ``portal.services.settings``.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("PORTAL_INSTANCE_DIR", PROJECT_ROOT / "instance"))


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'portal.db'}")
    # Heroku-style URLs and plain "postgresql://" both go through psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


# Request limits per client address (and per e-mail, account or person where that is the
# point), in Flask-Limiter's notation; each can be overridden by RATE_LIMIT_<NAME>.
RATE_LIMITS = {
    "sign_in": "30 per minute",
    "feedback_book": "30 per hour",  # per address: the office tablet is one address  # per address: password guessing is throttled per e-mail
    "staff_sign_in": "30 per minute",
    "second_factor": "10 per minute",  # per address and per pending sign-in
    "sign_up": "10 per hour",
    "confirm_resend": "5 per hour",
    "password_forgot": "5 per 15 minutes",
    "password_forgot_email": "3 per hour",  # per e-mail asked for
    "account_link": "10 per 15 minutes",  # per signed-in person
    "quick_reading": "60 per hour",  # per address: a city behind one mobile NAT
    "quick_reading_account": "10 per hour",  # per account number tried
    "guest_appeal": "10 per hour",  # per address: an appeal filed without signing in
    "guest_application": "10 per hour",  # per address: an application without signing in
    "application_status": "20 per hour",  # per address: number + contact looked up
    "application_status_number": "5 per hour",  # per application number tried
}


def _rate_limits() -> dict:
    return {
        name: os.environ.get(f"RATE_LIMIT_{name.upper()}", default)
        for name, default in RATE_LIMITS.items()
    }


def _storage() -> dict:
    """The database, Redis (broker and rate-limit storage), the secret key."""
    redis_url = os.environ.get("REDIS_URL", "")
    return {
        "SECRET_KEY": _secret_key(),
        "SQLALCHEMY_DATABASE_URI": _database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", redis_url),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", redis_url or "memory://"),
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATE_LIMITS": _rate_limits(),
    }


def _sessions() -> dict:
    """The client behind proxies, sessions and their cookies."""
    return {
        # How many proxies in front of the app set X-Forwarded-For/-Proto/-Host (Werkzeug's
        # ProxyFix). 0: the connecting address is the client's. Never more than there are:
        # a client could then forge its address in the header.
        "TRUSTED_PROXIES": _env_int("TRUSTED_PROXIES", 0),
        # Sessions end after this much inactivity unless "remember me" was ticked ...
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=_env_int("SESSION_IDLE_MINUTES", 30)),
        # ... and in any case this long after signing in (staff are never remembered).
        "SESSION_MAX_HOURS": _env_int("SESSION_MAX_HOURS", 12),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", False),
        # "Remember me": the session lasts this long after signing in, idle or not.
        "REMEMBER_COOKIE_DURATION": timedelta(days=_env_int("REMEMBER_DAYS", 30)),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", False),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    }


def _messages() -> dict:
    """E-mail through SMTP and SMS through Twilio."""
    return {
        # E-mail: with no MAIL_SERVER the messages stay in the development mailbox.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": _env_bool("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _env_bool("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get(
            "MAIL_DEFAULT_SENDER", "Энергосбыт <noreply@portal.local>"
        ),
        # SMS: with no TWILIO_ACCOUNT_SID the messages stay in the development outbox.
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_FROM_NUMBER": os.environ.get("TWILIO_FROM_NUMBER", ""),
        "TWILIO_API_BASE": os.environ.get("TWILIO_API_BASE", ""),  # tests: a local fake
        # Seconds to wait for Twilio; a hung request would outlive the outbox claim.
        "TWILIO_TIMEOUT": float(os.environ.get("TWILIO_TIMEOUT", "15")),
    }


def _site() -> dict:
    """Addresses, uploads, languages and the demo."""
    return {
        # Links in letters use PUBLIC_BASE_URL; without it, the request's host — so in
        # production set it, or TRUSTED_HOSTS, lest a forged Host header reach a letter.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", ""),
        "TRUSTED_HOSTS": [
            h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()
        ]
        or None,
        # Bodies larger than this answer 413 (CSV registries and imports are the largest).
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_MB", "32")) * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "ru",
        # The language of text made outside a request (commands, workers).
        "BABEL_BACKGROUND_LOCALE": os.environ.get("BACKGROUND_LANGUAGE", "ru"),
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("SUPPLIER_TIMEZONE", "Europe/Moscow"),
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "portal" / "translations"),
        "LANGUAGES": {"ru": "Русский", "en": "English"},
        "DEMO_MODE": _env_bool("DEMO_MODE", False),
    }


def _supplier() -> dict:
    """The supplier as pages, letters and bills name it."""
    return {
        "SUPPLIER_NAME": os.environ.get("SUPPLIER_NAME", "АО «Городской энергосбыт»"),
        "SUPPLIER_PHONE": os.environ.get("SUPPLIER_PHONE", "+7 800 555-35-35"),
        # Requisites printed on bills and encoded in the payment QR (ГОСТ Р 56042-2014).
        "SUPPLIER_ADDRESS": os.environ.get(
            "SUPPLIER_ADDRESS", "607060, Нижегородская обл., г. Выкса, ул. Ленина, д. 12"
        ),
        "SUPPLIER_INN": os.environ.get("SUPPLIER_INN", "5247004490"),
        "SUPPLIER_KPP": os.environ.get("SUPPLIER_KPP", "524701001"),
        "SUPPLIER_BANK_NAME": os.environ.get("SUPPLIER_BANK_NAME", "ПАО Сбербанк"),
        "SUPPLIER_BIC": os.environ.get("SUPPLIER_BIC", "042202603"),
        "SUPPLIER_ACCOUNT": os.environ.get("SUPPLIER_ACCOUNT", "40702810442000012345"),
        "SUPPLIER_CORR_ACCOUNT": os.environ.get("SUPPLIER_CORR_ACCOUNT", "30101810900000000603"),
    }


def _sign_in() -> dict:
    """Throttling of wrong passwords, the second factor, e-mailed links."""
    return {
        # Wrong passwords (portal.services.throttle): per e-mail and address, or per e-mail
        # and known device, the first LOGIN_FREE_FAILURES are free, then each costs a wait
        # that doubles from LOGIN_FIRST_DELAY_MINUTES up to LOGIN_MAX_DELAY_MINUTES. When
        # LOGIN_ACCOUNT_FAILURES come from unknown devices within LOGIN_ACCOUNT_WINDOW_MINUTES,
        # unknown devices wait LOGIN_ACCOUNT_LOCK_MINUTES and the owner is e-mailed an unlock
        # link; browsers that signed in with the e-mail before are not stopped.
        "LOGIN_FREE_FAILURES": _env_int("LOGIN_FREE_FAILURES", 5),
        "LOGIN_FIRST_DELAY_MINUTES": _env_int("LOGIN_FIRST_DELAY_MINUTES", 1),
        "LOGIN_MAX_DELAY_MINUTES": _env_int("LOGIN_MAX_DELAY_MINUTES", 60),
        "LOGIN_FAILURE_MEMORY_HOURS": _env_int("LOGIN_FAILURE_MEMORY_HOURS", 24),
        "LOGIN_ACCOUNT_FAILURES": _env_int("LOGIN_ACCOUNT_FAILURES", 20),
        "LOGIN_ACCOUNT_WINDOW_MINUTES": _env_int("LOGIN_ACCOUNT_WINDOW_MINUTES", 60),
        "LOGIN_ACCOUNT_LOCK_MINUTES": _env_int("LOGIN_ACCOUNT_LOCK_MINUTES", 15),
        # Two-factor sign-in of staff: a sign-in waiting for its code lapses after this.
        "SECOND_FACTOR_MINUTES": _env_int("SECOND_FACTOR_MINUTES", 5),
        # How long each kind of e-mailed link works (portal.services.tokens.LINKS).
        "LINK_LIFETIME_HOURS": {
            "confirm": int(os.environ.get("CONFIRM_LINK_HOURS", "24")),
            "reset": int(os.environ.get("RESET_LINK_HOURS", "2")),
            "invite": int(os.environ.get("INVITATION_LINK_HOURS", str(7 * 24))),
            "unlock": int(os.environ.get("UNLOCK_LINK_HOURS", "1")),
            # A guest follows their appeal by this link: long enough for an answer,
            # a reopening and the rating (30 + 30 + 30 days by default).
            "appeal": int(os.environ.get("APPEAL_LINK_HOURS", str(120 * 24))),
            # A booked visit's link in its letters works until well after the visit.
            "visit": int(os.environ.get("VISIT_LINK_HOURS", str(60 * 24))),
            # A letter's unsubscribe link must work as long as the letter is kept (RFC 8058).
            "unsubscribe": int(os.environ.get("UNSUBSCRIBE_LINK_HOURS", str(5 * 365 * 24))),
            # A guest follows their application: through a month's wait for documents,
            # the contract's 30 days and a complaint's 30 (about half a year).
            "application": int(os.environ.get("APPLICATION_LINK_HOURS", str(180 * 24))),
            # A satisfaction survey's link: a month to answer, once.
            "survey": int(os.environ.get("SURVEY_LINK_HOURS", str(30 * 24))),
        },
        "CONSENT_TEXT_VERSION": "2026-01",
        # Files attached to appeals: outside static/, served only through the appeal pages.
        "APPEAL_FILES_DIR": os.environ.get("APPEAL_FILES_DIR", ""),
    }


def load_config() -> dict:
    return _storage() | _sessions() | _messages() | _site() | _supplier() | _sign_in()
