"""Signed, expiring tokens for links sent by e-mail.

Each kind of link (``LINKS``) names its page, what a person calls it and how long it
lives (``LINK_LIFETIME_HOURS`` in the configuration). A link is a secret: whoever holds
it can act as the person it was sent to, so the back office never shows a working one
(``portal.services.notify.secrets``).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


@dataclass(frozen=True)
class LinkKind:
    purpose: str  # the serializer's salt and the key of LINK_LIFETIME_HOURS
    endpoint: str  # the page the link opens; its only URL parameter is ``token``
    label: object  # "password reset link", shown where the link itself is hidden


LINKS = {
    link.purpose: link
    for link in [
        LinkKind("confirm", "auth.confirm", _l("e-mail confirmation link")),
        LinkKind("reset", "auth.reset_password", _l("password reset link")),
        LinkKind("invite", "organisations.accept", _l("invitation link")),
        LinkKind("unlock", "auth.unlock", _l("sign-in unlock link")),
        LinkKind("appeal", "appeals.follow", _l("link to follow the appeal")),
        LinkKind("visit", "visits.manage", _l("link to move or cancel a visit")),
        LinkKind("unsubscribe", "notices.unsubscribe_page", _l("unsubscribe link")),
        LinkKind("application", "applications.follow", _l("link to follow the application")),
        LinkKind("survey", "surveys.form", _l("link to the satisfaction survey")),
    ]
}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in LINKS:
        raise ValueError(f"unknown kind of link {purpose!r}")
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal.{purpose}")


def lifetime(purpose: str) -> timedelta:
    return timedelta(hours=current_app.config["LINK_LIFETIME_HOURS"][purpose])


def lifetime_hours(purpose: str) -> int:
    """For the pages and letters that tell how long a link works."""
    return current_app.config["LINK_LIFETIME_HOURS"][purpose]


def make_token(purpose: str, payload: dict) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str) -> dict | None:
    """The payload, or None when the token is forged, malformed or expired."""
    try:
        payload = _serializer(purpose).loads(token, max_age=int(lifetime(purpose).total_seconds()))
    except (BadSignature, SignatureExpired):
        return None
    return payload if isinstance(payload, dict) else None


def expires_at(purpose: str, token: str) -> datetime | None:
    """When a genuine token stops working (expired or not); None for a forged one."""
    try:
        _payload, signed_at = _serializer(purpose).loads(token, return_timestamp=True)
    except SignatureExpired as error:
        signed_at = error.date_signed
    except BadSignature:
        return None
    if signed_at is None:
        return None
    return signed_at.astimezone(UTC) + lifetime(purpose)
