"""Unsubscribing from a kind of letter with one click (RFC 8058, RFC 2369).

Every e-mail of an optional kind (``NOTICE_KINDS``, not mandatory) is stored with a marker
where its unsubscribe link goes: a letter planned for a million people in one
``INSERT … SELECT`` cannot sign a token per row in SQL. The provider puts the signed link in
its place when it sends (``personal_letter``) and adds the ``List-Unsubscribe`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` headers, so the stored copy never
holds a working link and staff reading the mailbox cannot unsubscribe anyone.

The token (``tokens``, purpose "unsubscribe") names the user and the kind; it grants only
"stop this kind of e-mail" (and undo), never a sign-in.
"""

from flask_babel import gettext as _

from portal.models import NOTICE_KINDS, OutboxMessage
from portal.services import tokens
from portal.services.notify.outbox import link_context

MARK = "%%unsubscribe%%"
PURPOSE = "unsubscribe"


def offered(kind: str) -> bool:
    """Whether letters of this kind carry an unsubscribe link: optional notices only."""
    notice = NOTICE_KINDS.get(kind)
    return notice is not None and not notice.mandatory


def marked_context(kind: str, context: dict) -> dict:
    """A letter's template values with the marker for its unsubscribe link, if it has one."""
    return {**context, "unsubscribe_url": MARK} if offered(kind) else context


def marked_text(kind: str, body_text: str) -> str:
    """The plain-text body with its last line: how to unsubscribe (the marker)."""
    if not offered(kind):
        return body_text
    line = _("To stop letters of this kind: %(url)s", url=MARK)
    return body_text.rstrip("\n") + "\n\n" + line + "\n"


def token_for(user_id: int, kind: str) -> str:
    return tokens.make_token(PURPOSE, {"user": user_id, "kind": kind})


def read(token: str) -> tuple[int, str] | None:
    """(user id, kind) of a genuine unsubscribe token, else None."""
    payload = tokens.read_token(PURPOSE, token)
    if not payload or not offered(str(payload.get("kind"))):
        return None
    user_id = payload.get("user")
    return (user_id, payload["kind"]) if isinstance(user_id, int) else None


def url_for_message(message: OutboxMessage) -> str | None:
    """The signed unsubscribe link of a message to a portal user, else None."""
    from portal.services.users import external_url

    if message.user_id is None or not offered(message.kind):
        return None
    with link_context():
        return external_url(
            "notices.unsubscribe_page", token=token_for(message.user_id, message.kind)
        )


def personal_letter(message: OutboxMessage) -> tuple[str, str | None, dict]:
    """The bodies as the recipient gets them (the marker replaced by their link) and the
    headers that go with it. A letter to no portal user gets the profile page instead."""
    if MARK not in message.body_text + (message.body_html or ""):
        return message.body_text, message.body_html, {}
    url = url_for_message(message)
    headers = {}
    if url:
        headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    if url is None:
        from portal.services.users import external_url

        with link_context():
            url = external_url("profile.edit", _anchor="notices")
    text = message.body_text.replace(MARK, url)
    html = message.body_html.replace(MARK, url) if message.body_html else message.body_html
    return text, html, headers


def shown(body: str | None, demo: bool, message: OutboxMessage) -> str | None:
    """A stored body as the mailbox shows it: the demo mailbox (nothing leaves the machine)
    gets the working link; anywhere else staff see what the link is, not the link."""
    if not body or MARK not in body:
        return body
    if demo:
        url = url_for_message(message)
        if url:
            return body.replace(MARK, url)
    return body.replace(MARK, _("[unsubscribe link]"))
