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


def load_config() -> dict:
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
        # Sessions end after this much inactivity unless "remember me" was ticked.
        "PERMANENT_SESSION_LIFETIME": timedelta(
            minutes=int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
        ),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", False),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
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
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCK_MINUTES": int(os.environ.get("LOGIN_LOCK_MINUTES", "15")),
        "TOKEN_MAX_AGE_HOURS": int(os.environ.get("TOKEN_MAX_AGE_HOURS", "24")),
        "CONSENT_TEXT_VERSION": "2026-01",
    }
