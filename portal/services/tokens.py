"""Signed, expiring tokens for links sent by e-mail."""

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal.{purpose}")


def make_token(purpose: str, payload: dict) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age_hours: int | None = None) -> dict | None:
    """The payload, or None when the token is forged, malformed or expired."""
    hours = max_age_hours or current_app.config["TOKEN_MAX_AGE_HOURS"]
    try:
        payload = _serializer(purpose).loads(token, max_age=hours * 3600)
    except (BadSignature, SignatureExpired):
        return None
    return payload if isinstance(payload, dict) else None
