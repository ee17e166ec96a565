"""A customer's contract applications: choose the kind, apply (signed in or as a guest)
with the documents of the checklist, "My applications", the application with its
timeline, what is missing and the next deadline; add documents, send a protocol of
disagreements, complain about a decision, withdraw. A guest follows it by the signed link
of the letters, or by its number plus the e-mail or phone they gave. The rules live in
``portal.services.applications``."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.applications.forms import (
    ChooseForm,
    EmptyForm,
    LookupForm,
    TextForm,
    application_form,
    documents_form,
    item_field_name,
)
from portal.extensions import db
from portal.models import Application, ApplicationKind, ApplicationStatus, Segment
from portal.services import accounts, applications
from portal.services.appeals.files import Upload
from portal.services.applications import Action, letters
from portal.services.errors import DomainError
from portal.services.notify.outbox import commit_and_send
from portal.web import (
    customer_required,
    options,
    page_of,
    rate_limit,
    refusal_shown_on,
    send_download,
)

bp = Blueprint("applications", __name__, url_prefix="/applications")
PER_PAGE = 20


@bp.app_context_processor
def application_choices():
    return {"ApplicationStatus": ApplicationStatus}


def _customer():
    return current_user.is_authenticated and not current_user.is_staff


def _uploads(form, items) -> dict:
    """{checklist item id: [Upload]} from the form's file fields."""
    found = {}
    for item in items:
        data = getattr(form, item_field_name(item)).data or []
        picked = [Upload(f.filename or "", f.read()) for f in data if getattr(f, "filename", None)]
        if picked:
            found[item.id] = picked
    return found


# --- applying ----------------------------------------------------------------------------


def _chosen():
    """The kind and segment from the query string; None when not (validly) chosen."""
    try:
        return ApplicationKind(request.args.get("kind", "")), Segment(
            request.args.get("segment", "")
        )
    except ValueError:
        return None


@bp.route("/new")
def choose():
    chosen = _chosen()
    if chosen is None:
        return render_template("portal/applications/choose.html", form=ChooseForm(request.args))
    return redirect(url_for("applications.apply", kind=chosen[0], segment=chosen[1]))


def _prefill(form) -> None:
    if _customer() and request.method == "GET":
        form.name.data = current_user.full_name
        form.email.data = current_user.email
        form.phone.data = current_user.phone


def _new_application(form, kind, segment, items) -> applications.NewApplication:
    details = form.details.data or ""
    if form.account_number.data:
        details = f"{details}\n\n{_('Account or contract')}: {form.account_number.data}".strip()
    account_id = None
    if _customer() and form.account.data:
        account_id = accounts.get_account_for(db.session, current_user, int(form.account.data)).id
    return applications.NewApplication(
        kind=kind,
        segment=segment,
        applicant=applications.Applicant(
            name=form.name.data,
            email=form.email.data,
            phone=form.phone.data,
            organisation_name=form.organisation_name.data,
            inn=form.inn.data,
            address=form.address.data,
            details=details,
            language=str(get_locale() or "ru"),
        ),
        user=current_user._get_current_object() if _customer() else None,
        account_id=account_id,
        uploads=_uploads(form, items),
    )


def _account_choices() -> list:
    if not _customer():
        return options([], "")
    pairs = [
        (str(a.id), f"{a.number} — {a.premises.address}")
        for a in accounts.accounts_visible_to(db.session, current_user)
    ]
    return options(pairs, _("None in particular"))


@bp.route("/new/<kind>/<segment>", methods=["GET", "POST"])
@rate_limit("guest_application", methods=["POST"], exempt_when=_customer)
def apply(kind: str, segment: str):
    kind, segment = _parse(kind, Segment, segment)
    items = applications.checklist(db.session, kind, segment)
    form = application_form(items)
    form.account.choices = _account_choices()
    _prefill(form)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            application = applications.register(
                db.session, _new_application(form, kind, segment, items)
            )
            commit_and_send(db.session)
            flash(
                _(
                    "Your application is registered under number %(number)s.",
                    number=application.number,
                ),
                "success",
            )
            return redirect(_page(application), code=303)
    return render_template(
        "portal/applications/new.html",
        form=form,
        kind=kind,
        segment=segment,
        items=items,
        guest=not _customer(),
    ), (422 if form.errors else 200)


def _parse(kind: str, segment_type, segment: str):
    try:
        return ApplicationKind(kind), segment_type(segment)
    except ValueError:
        abort(404)


def _page(application: Application) -> str:
    if application.user_id:
        return url_for("applications.show", application_id=application.id)
    return url_for("applications.follow", token=letters.follow_token(application))


# --- following --------------------------------------------------------------------------------


@bp.route("/")
@customer_required
def index():
    query = (
        select(Application)
        .where(applications.visible_to(current_user), Application.status != ApplicationStatus.DRAFT)
        .order_by(Application.id.desc())
    )
    return render_template("portal/applications/index.html", page=page_of(query, PER_PAGE))


def _mine(application_id: int) -> Application:
    return applications.application_for(db.session, current_user, application_id)


def _links(application: Application, token: str | None) -> dict:
    if token:
        return {
            "action": lambda name: url_for("applications.follow_action", token=token, action=name),
            "file": lambda doc: url_for(
                "applications.follow_file", token=token, document_id=doc.id
            ),
            "page": url_for("applications.follow", token=token),
        }
    return {
        "action": lambda name: url_for(
            "applications.act", application_id=application.id, action=name
        ),
        "file": lambda doc: url_for(
            "applications.document", application_id=application.id, document_id=doc.id
        ),
        "page": url_for("applications.show", application_id=application.id),
    }


def _render(application: Application, token=None, forms=None, status=200):
    forms = forms or {}
    missing = applications.missing_items(db.session, application)
    can = applications.actions_from(application.status)
    all_items = applications.checklist(db.session, application.kind, application.segment)
    return render_template(
        "portal/applications/show.html",
        application=application,
        events=applications.customer_events(application),
        missing=missing,
        links=_links(application, token),
        upload_form=forms.get("upload")
        or documents_form(all_items, formdata=None, prefix="upload"),
        disagree_form=forms.get("disagree") or TextForm(formdata=None, prefix="disagree"),
        complain_form=forms.get("complain") or TextForm(formdata=None, prefix="complain"),
        withdraw_form=EmptyForm(formdata=None, prefix="withdraw"),
        can_upload=application.status.is_open,
        can_disagree=Action.DISAGREE in can,
        can_complain=application.status in (ApplicationStatus.REFUSED, ApplicationStatus.ENDED)
        and not any(c.status.value == "open" for c in application.complaints),
        can_withdraw=Action.WITHDRAW in can,
        guest=bool(token),
    ), status


@bp.route("/<int:application_id>")
@customer_required
def show(application_id: int):
    return _render(_mine(application_id))


@bp.route("/follow/<token>")
def follow(token: str):
    return _render(applications.application_by_token(db.session, token), token)


def _act_upload(application, form, user):
    items = applications.checklist(db.session, application.kind, application.segment)
    uploads = _uploads(form, items)
    if not uploads:
        raise DomainError(
            _("Choose at least one file."), item_field_name(items[0]) if items else None
        )
    applications.add_documents(db.session, application, uploads, user=user)


CUSTOMER_ACTIONS = {
    "upload": _act_upload,
    "disagree": lambda application, form, user: applications.disagree(
        db.session, application, form.text.data, user=user
    ),
    "complain": lambda application, form, user: applications.complain(
        db.session, application, form.text.data, user=user
    ),
    "withdraw": lambda application, form, user: applications.withdraw(
        db.session, application, user=user
    ),
}


def _form_for(application: Application, action: str):
    if action == "upload":
        items = applications.checklist(db.session, application.kind, application.segment)
        return documents_form(items, prefix="upload")
    return EmptyForm(prefix=action) if action == "withdraw" else TextForm(prefix=action)


def _perform(application: Application, action: str, token: str | None):
    form = _form_for(application, action)
    if form.validate_on_submit():
        user = None if token else current_user._get_current_object()
        with refusal_shown_on(form):
            CUSTOMER_ACTIONS[action](application, form, user)
            commit_and_send(db.session)
            flash(_("Done: the application's page shows the new step."), "success")
            return redirect(_links(application, token)["page"], code=303)
    return _render(application, token, {action: form}, 422)


ACTIONS_PATTERN = "<any(upload, disagree, complain, withdraw):action>"


@bp.route(f"/<int:application_id>/{ACTIONS_PATTERN}", methods=["POST"])
@customer_required
def act(application_id: int, action: str):
    return _perform(_mine(application_id), action, None)


@bp.route(f"/follow/<token>/{ACTIONS_PATTERN}", methods=["POST"])
@rate_limit("guest_application", methods=["POST"])
def follow_action(token: str, action: str):
    return _perform(applications.application_by_token(db.session, token), action, token)


# --- documents ------------------------------------------------------------------------------------


def _send_document(application: Application, document_id: int):
    document = next((d for d in application.documents if d.id == document_id), None)
    if document is None:
        abort(404)
    response = send_download(
        applications.read_document(document), document.filename, document.content_type
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/<int:application_id>/documents/<int:document_id>")
@customer_required
def document(application_id: int, document_id: int):
    return _send_document(_mine(application_id), document_id)


@bp.route("/follow/<token>/documents/<int:document_id>")
def follow_file(token: str, document_id: int):
    return _send_document(applications.application_by_token(db.session, token), document_id)


# --- by number --------------------------------------------------------------------------------------


def _number_tried() -> str:
    """Guessing contacts for one number is limited whatever the address."""
    return "application:" + request.form.get("number", "").strip().upper()[:16]


@bp.route("/status", methods=["GET", "POST"])
@rate_limit("application_status", methods=["POST"])
@rate_limit("application_status_number", methods=["POST"], key_func=_number_tried)
def status():
    form = LookupForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            application = applications.find_for_follow(
                db.session, form.number.data, form.contact.data
            )
            return redirect(
                url_for("applications.follow", token=letters.follow_token(application)), code=303
            )
    return render_template("portal/applications/status.html", form=form), (
        422 if form.errors else 200
    )
