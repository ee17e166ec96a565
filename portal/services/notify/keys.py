"""Dedup keys of planned messages, put together in SQL (one statement plans many)."""

from sqlalchemy import String, cast, literal


def dedup_key(*parts):
    """Text parts and columns joined by ':' ("window_opened:2026-11-15:user:7:email")."""
    key = None
    for part in parts:
        piece = literal(part, String) if isinstance(part, str) else cast(part, String)
        key = piece if key is None else key + literal(":", String) + piece
    return key
