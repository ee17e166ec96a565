"""Secret links in letters, hidden from everyone but the recipient.

Whoever holds a password-reset, confirmation, invitation or unlock link can act as the
person it was sent to, and staff read letters in the back-office mailbox. So outside the
demo mailbox every such link is shown as what it is and until when it works, never as the
link itself; and once a real provider has taken a letter, the stored copy is rewritten the
same way (``outbox``), so the database keeps no usable token either.

Which links are secret comes from ``tokens.LINKS``: any URL whose path holds the path of
one of those pages with a token in it, on any host, absolute or relative, however it is
escaped.
"""

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import unquote

from flask import current_app
from flask_babel import gettext as _
from markupsafe import escape
from werkzeug.routing import BuildError

from portal.formatting import as_datetime
from portal.models import OutboxMessage
from portal.services import tokens

# itsdangerous' URL-safe tokens: base64url pieces joined by dots.
TOKEN_CHARS = "[A-Za-z0-9_.-]+"
_MARKER = "__secret_token__"
# A run of text that may be one URL: a browser ends a link at a space, a quote or a tag.
_RUN = re.compile(r"[^\s\"'<>]+")


def demo_mailbox() -> bool:
    """The demo without a mail server: letters never leave the machine, the mailbox is how a
    visitor gets them, so its links stay clickable (the README promises it)."""
    config = current_app.config
    return bool(config["DEMO_MODE"]) and not config["MAIL_SERVER"]


def _link_patterns() -> list[tuple[tokens.LinkKind, re.Pattern]]:
    """For each kind of link whose page exists, its path with the token as a group.

    Read from the url_map on every call, so a page added later (or only in some apps) is
    covered as soon as it is routed; a page not routed yet is skipped. The url_map is bound
    by hand rather than through ``url_for``, which needs a request or SERVER_NAME and so
    would fail in a worker.
    """
    adapter = current_app.url_map.bind("localhost")
    patterns = []
    for link in tokens.LINKS.values():
        try:
            path = adapter.build(link.endpoint, {"token": _MARKER})
        except BuildError:
            continue
        before, _marker, after = path.partition(_MARKER)
        pattern = re.escape(before) + f"(?P<token>{TOKEN_CHARS})" + re.escape(after)
        patterns.append((link, re.compile(pattern)))
    return patterns


def _decoded(run: str) -> str:
    """The URL a browser or Werkzeug would read: HTML character references and percent
    escapes undone (``&#47;``, ``&amp;``, ``%2F`` all still lead to the page)."""
    return unquote(unescape(run))


def hidden_link(link: tokens.LinkKind, token: str) -> str:
    """What staff read instead of the link: its kind and, for a genuine token, its expiry
    in the supplier's zone (Flask-Babel's time zone)."""
    # A sentence may end right after a link; itsdangerous never ends a token with a dot.
    expiry = tokens.expires_at(link.purpose, token.rstrip("."))
    if expiry is None:  # forged, or not readable with our key
        return _("[%(link)s hidden; expiry unknown]", link=link.label)
    return _("[%(link)s hidden; works until %(time)s]", link=link.label, time=as_datetime(expiry))


def _secret_links(run: str, patterns) -> Iterator[str]:
    """The hidden form of each secret link in the run, in the order they appear."""
    decoded = _decoded(run)
    found = [
        (match.start(), link, match.group("token"))
        for link, pattern in patterns
        for match in pattern.finditer(decoded)
    ]
    for _start, link, token in sorted(found, key=lambda item: item[0]):
        yield hidden_link(link, token)


def redact_links(text: str, html: bool = False) -> str:
    """The text with every secret link replaced by its kind and expiry; ``html`` when the
    text is an HTML body (the replacement is then escaped).

    The whole run of non-space characters holding a link is replaced, so no part of a token
    (nor of an escaped form of it) is left behind.
    """
    patterns = _link_patterns()

    def replace(run: re.Match) -> str:
        hidden = " ".join(_secret_links(run.group(0), patterns))
        if not hidden:
            return run.group(0)
        return str(escape(hidden)) if html else hidden

    return _RUN.sub(replace, text)


def scrub_message(message: OutboxMessage) -> None:
    """Rewrite a delivered message's stored bodies with its secret links hidden."""
    message.body_text = redact_links(message.body_text)
    if message.body_html:
        message.body_html = redact_links(message.body_html, html=True)
