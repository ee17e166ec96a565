"""Small helpers shared by the views of the public site and the back office."""

import io
import secrets
from contextlib import contextmanager
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    abort,
    after_this_request,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation

from portal.extensions import db, htmx, limiter
from portal.services import sessions
from portal.services.errors import DomainError, FieldErrors

MAX_PAGE = 100_000


def wants_fragment() -> bool:
    """An htmx request for part of a page: not a boosted navigation, and not a history
    restore (htmx fetches the URL with HX-Request set and needs the full page)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def page_or_fragment(full_template: str, fragment_template: str, **context):
    return render_template(fragment_template if wants_fragment() else full_template, **context)


def page_number() -> int:
    """The ``page`` query parameter, forgiving anything malformed."""
    page = request.args.get("page", 1, type=int)
    return min(max(page, 1), MAX_PAGE)


def page_of(query, per_page: int):
    """One page of the query; past the last page, the last page."""
    page = db.paginate(query, page=page_number(), per_page=per_page, error_out=False)
    if page.pages and page.page > page.pages:
        page = db.paginate(query, page=page.pages, per_page=per_page, error_out=False)
    return page


def staff_member():
    """The signed-in employee as a plain object (not the request-bound proxy)."""
    return current_user._get_current_object()


def send_download(body: bytes, filename: str, mimetype: str):
    """A file to save (a CSV, an XLSX, a PDF), under the name the browser should give it."""
    return send_file(
        io.BytesIO(body), mimetype=mimetype, as_attachment=True, download_name=filename
    )


def redirect_after_post(endpoint: str, **values):
    """303 for a full request; HX-Location for htmx so the browser loads the page."""
    target = url_for(endpoint, **values)
    if htmx:
        return "", 204, {"HX-Location": target}
    return redirect(target, code=303)


def attach_error(form: FlaskForm, error: DomainError, *, prefix: str = "") -> None:
    """Show a domain error next to its field, or above the form when it has none; each of
    several fields' errors (FieldErrors) next to its own field. ``prefix``: the form names
    fields of the service's ones so (``value_day`` for the zone ``day``)."""
    refusals = error.errors if isinstance(error, FieldErrors) else {error.field: error.message}
    for name, message in refusals.items():
        field = None
        if name:
            field = getattr(form, f"{prefix}{name}", None) or getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


@contextmanager
def refusal_shown_on(form: FlaskForm, *, prefix: str = ""):
    """Run a form's action; when a rule refuses it (a DomainError), undo its changes and show
    the reason next to the field, and carry on after the block to render the form again."""
    try:
        yield
    except DomainError as error:
        db.session.rollback()
        attach_error(form, error, prefix=prefix)


def receive_upload(form: FlaskForm, create):
    """Hand the file of a submitted upload form (its field ``file``) to a service:
    ``create(session, filename=…, data=…, staff_id=…, ip=…)``, and return what it returns.

    None when the form was not submitted or is not valid, or when the service refused the
    file: its DomainError is then shown on the form and the session rolled back.
    """
    if not form.validate_on_submit():
        return None
    upload = form.file.data
    try:
        return create(
            db.session,
            filename=upload.filename,
            data=upload.read(),
            staff_id=staff_member().id,
            ip=client_ip(),
        )
    except DomainError as error:
        db.session.rollback()
        attach_error(form, error)
        return None


def rule_check(check):
    """A form validator that applies a service's rule to one field.

    ``check(value)`` raises a DomainError when the value breaks the rule; the rule itself
    stays in the service (which checks it again), the form only shows every field's
    error at once, next to the field.
    """

    def validator(_form, field):
        if not field.data:
            return  # DataRequired speaks for empty fields
        try:
            check(field.data)
        except DomainError as error:
            raise StopValidation(error.message) from None

    return validator


def client_ip() -> str | None:
    """The client's address: the connecting one, or the one TRUSTED_PROXIES forwarded."""
    return request.remote_addr


def safe_next(default: str) -> str:
    """Follow ?next= only to a path on this site.

    Browsers read a backslash as a slash, so "/\\evil.com" would leave the site like
    "//evil.com"; control characters are dropped by URL parsers. Both are refused.
    """
    target = request.args.get("next", "")
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def rate_limit(name: str, **options):
    """Flask-Limiter's limit named ``name`` in the configuration's RATE_LIMITS."""
    return limiter.limit(lambda: current_app.config["RATE_LIMITS"][name], **options)


# --- signing in and out --------------------------------------------------------------------

DEVICE_COOKIE = "portal_device"
DEVICE_COOKIE_DAYS = 400  # browsers keep a cookie at most this long
MAX_DEVICE_EMAILS = 10


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal.device")


def _device_cookie() -> dict:
    """{"n": this browser's id, "k": [keys of the e-mails it signed in with]}, or {}."""
    try:
        value = _device_serializer().loads(request.cookies.get(DEVICE_COOKIE, ""))
    except BadSignature:
        return {}
    if not isinstance(value, dict) or not isinstance(value.get("k"), list):
        return {}
    return value


def known_devices() -> dict:
    """E-mail keys this browser has signed in with, each mapped to the browser's id."""
    cookie = _device_cookie()
    return {str(key): str(cookie["n"]) for key in cookie.get("k", []) if cookie.get("n")}


def remember_device(email_key: str) -> None:
    """After a right password (or an unlock link): this browser is a known device for the
    e-mail (portal.services.throttle), set on the response of this request."""
    cookie = _device_cookie()
    keys = [key for key in cookie.get("k", []) if key != email_key][-(MAX_DEVICE_EMAILS - 1) :]
    value = {"n": cookie.get("n") or secrets.token_hex(16), "k": [*keys, email_key]}

    @after_this_request
    def set_device_cookie(response):
        response.set_cookie(
            DEVICE_COOKIE,
            _device_serializer().dumps(value),
            max_age=DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
        return response


def start_session(person, *, remember: bool = False, second_factor: bool = False) -> None:
    """Sign ``person`` in with a fresh session: nothing of a previous visitor (their
    account, an e-mail typed) stays, and the new session exists on the server."""
    language = session.get("language")
    session.clear()
    session.permanent = True  # clear() dropped it: the session still ends when idle
    logout_user()  # after clear(): it marks a remembered visitor's cookie for removal
    sessions.start(
        db.session,
        person,
        remember=remember,
        ip=client_ip(),
        user_agent=request.user_agent.string,
        second_factor=second_factor,
    )
    db.session.commit()
    login_user(person, remember=remember)
    if language:
        session["language"] = language


def end_other_sessions(person) -> None:
    """ "Sign out everywhere else" from a person's devices list (a POST with its CSRF token)."""
    if FlaskForm().validate_on_submit():
        ended = sessions.end_all(db.session, person, keep_key=person.session_key)
        db.session.commit()
        flash(_("Signed out on other devices: %(n)s.", n=ended), "success")


def end_device_session(person, session_id: int) -> None:
    """ "Sign out" of one device in the person's list; 404 for a session not theirs."""
    if FlaskForm().validate_on_submit():
        if not sessions.end_by_id(db.session, person, session_id):
            abort(404)
        db.session.commit()
        flash(_("That device is signed out."), "success")


def end_session() -> None:
    """Sign out for good: the session ends on the server, so a copy of its cookie (or of
    the "remember me" cookie) is refused; the site stays in the language the person reads."""
    if current_user.is_authenticated:
        sessions.end(db.session, current_user.session_key)
        db.session.commit()
    language = session.get("language")
    # clear() first: logout_user() leaves a note in the session to delete the "remember me"
    # cookie, which clear() would wipe, leaving the visitor signed in through that cookie.
    session.clear()
    session.permanent = True
    if language:
        session["language"] = language
    logout_user()


def customer_required(view):
    """The view is for signed-in portal users (residents and company users)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        if current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def options(pairs, blank=None) -> list[SelectChoice]:
    """Select options from (value, label) pairs, after an optional "any" option of value ""."""
    choices = [SelectChoice("", blank)] if blank is not None else []
    return choices + [SelectChoice(value, label) for value, label in pairs]
