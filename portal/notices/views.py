"""Public pages of notices: unsubscribing from a letter's link (RFC 8058 one-click POST,
or the page a browser opens, with undo), and Twilio's delivery status callback."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from portal.extensions import csrf, db
from portal.models import NOTICE_KINDS, User
from portal.services import tokens
from portal.services.notify import delivery, preferences, unsubscribe

bp = Blueprint("notices", __name__)


def _recipient(token: str) -> tuple[User, str]:
    """The user and kind a genuine unsubscribe token names; a forged, expired or stale one
    (the user gone) is a 404 page that says so."""
    found = unsubscribe.read(token)
    user = db.session.get(User, found[0]) if found else None
    if user is None:
        abort(404)
    return user, found[1]


@bp.get("/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """What the letter's link opens: the kind, whether it still comes, and one button
    (unsubscribe, or undo / send again). Opening it changes nothing (mail scanners open
    links)."""
    user, kind = _recipient(token)
    subscribed = not preferences.is_unsubscribed(db.session, user.id, kind)
    return render_template(
        "portal/notices/unsubscribe.html",
        kind=NOTICE_KINDS[kind],
        subscribed=subscribed,
        token=token,
        undo=request.args.get("undo", ""),
        form=FlaskForm(),
        email=user.email,
    )


@bp.post("/unsubscribe/<token>")
@csrf.exempt  # the token is the authority: a mail client's one-click POST has no session
def unsubscribe_now(token: str):
    """RFC 8058: a POST of ``List-Unsubscribe=One-Click`` unsubscribes at once and answers
    with no page; the page's own button does the same, then shows the page with undo."""
    user, kind = _recipient(token)
    before = preferences.unsubscribe(db.session, user.id, kind)
    db.session.commit()
    if request.form.get("List-Unsubscribe") == "One-Click":
        return "", 204
    undo = tokens.make_token(unsubscribe.PURPOSE, {"user": user.id, "kind": kind, "before": before})
    return redirect(url_for("notices.unsubscribe_page", token=token, undo=undo), code=303)


@bp.post("/unsubscribe/<token>/undo")
def undo_unsubscribe(token: str):
    """Put the choices back as they were before the unsubscribe (``undo`` names them), or,
    with no undo at hand, send the letters by e-mail again."""
    user, kind = _recipient(token)
    if not FlaskForm().validate_on_submit():
        abort(400)
    undo = tokens.read_token(unsubscribe.PURPOSE, request.form.get("undo", ""))
    if undo and undo.get("user") == user.id and undo.get("kind") == kind:
        preferences.restore(db.session, user.id, kind, undo.get("before") or [])
    elif preferences.is_unsubscribed(db.session, user.id, kind):
        preferences.save(db.session, user, {kind: "email"})
    db.session.commit()
    flash(_("Letters “%(kind)s” will come again.", kind=NOTICE_KINDS[kind].label), "success")
    return redirect(url_for("notices.unsubscribe_page", token=token), code=303)


@bp.post("/notices/twilio/status")
@csrf.exempt  # Twilio signs the request instead (X-Twilio-Signature)
def twilio_status():
    """Twilio's status callback: a forged or unsigned post is 403 and changes nothing; a
    genuine one is recorded if it moves the message on (``delivery.record_status``)."""
    if not delivery.signature_valid():
        abort(403)
    form = request.form
    delivery.record_status(
        db.session, form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("ErrorCode")
    )
    db.session.commit()
    return "", 204
