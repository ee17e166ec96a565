"""A customer's appeals: file one, "My appeals", the appeal with its timeline, a
clarification, the answer (and its PDF letter), the rating, reopening; and the same for a
guest through the signed link of their receipt. The rules live in
``portal.services.appeals``."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.appeals.forms import (
    AppealForm,
    ClarificationForm,
    GuestAppealForm,
    RatingForm,
    ReopenForm,
    uploads_of,
)
from portal.extensions import db
from portal.models import (
    AnswerChannel,
    Appeal,
    AppealAttachment,
    AppealEventKind,
    AppealKind,
    AppealStatus,
    AppealTopic,
)
from portal.services import accounts, appeals
from portal.services.appeals import Action, files
from portal.services.clock import local_today
from portal.services.notify.outbox import commit_and_send
from portal.web import (
    customer_required,
    options,
    page_of,
    rate_limit,
    refusal_shown_on,
    send_download,
)

bp = Blueprint("appeals", __name__, url_prefix="/appeals")
PER_PAGE = 20


@bp.app_context_processor
def appeal_choices():
    return {
        "AppealStatus": AppealStatus,
        "AppealEventKind": AppealEventKind,
        "AnswerChannel": AnswerChannel,
    }


# --- filing ---------------------------------------------------------------------------


def _account_choices(user) -> list[tuple[str, str]]:
    visible = accounts.accounts_visible_to(db.session, user)
    pairs = []
    for account in visible:
        label = account.number + (f" · {account.contract.number}" if account.contract else "")
        pairs.append((str(account.id), f"{label} — {account.premises.address}"))
    return options(pairs, _("None in particular"))


def _new_appeal(form, account=None) -> appeals.NewAppeal:
    return appeals.NewAppeal(
        kind=AppealKind(form.kind.data),
        topic=AppealTopic(form.topic.data),
        text=form.text.data,
        answer_channel=AnswerChannel(form.answer_channel.data),
        account=account,
        contract=account.contract if account else None,
        uploads=uploads_of(form.files),
        language=_language(),
    )


def _language() -> str:
    return str(get_locale() or "ru")


def _chosen_account(form):
    if not form.account.data:
        return None
    return accounts.get_account_for(db.session, current_user, int(form.account.data))


@bp.route("/")
@customer_required
def index():
    query = select(Appeal).where(appeals.visible_to(current_user)).order_by(Appeal.id.desc())
    page = page_of(query, PER_PAGE)
    return render_template("portal/appeals/index.html", page=page, today=local_today())


@bp.route("/new", methods=["GET", "POST"])
@customer_required
def new():
    form = AppealForm()
    form.account.choices = _account_choices(current_user)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            applicant = appeals.Applicant(
                name=current_user.full_name,
                email=current_user.email,
                phone=current_user.phone,
                postal_address=form.postal_address.data,
                user=current_user._get_current_object(),
            )
            appeal = appeals.register(
                db.session, _new_appeal(form, _chosen_account(form)), applicant
            )
            commit_and_send(db.session)
            flash(
                _("Your appeal is registered under number %(number)s.", number=appeal.number),
                "success",
            )
            return redirect(url_for("appeals.show", appeal_id=appeal.id), code=303)
    return render_template("portal/appeals/new.html", form=form, guest=False)


@bp.route("/guest", methods=["GET", "POST"])
@rate_limit("guest_appeal", methods=["POST"])
def guest():
    if current_user.is_authenticated and not current_user.is_staff:
        return redirect(url_for("appeals.new"))
    form = GuestAppealForm()
    form.account.choices = options([], "")
    if form.validate_on_submit():
        with refusal_shown_on(form):
            applicant = appeals.Applicant(
                name=form.name.data,
                email=form.email.data,
                phone=form.phone.data,
                postal_address=form.postal_address.data,
            )
            new_appeal = _new_appeal(form)
            if form.account_number.data:
                new_appeal.text = (
                    f"{new_appeal.text}\n\n{_('Account or contract')}: {form.account_number.data}"
                )
            appeal = appeals.register(db.session, new_appeal, applicant)
            commit_and_send(db.session)
            flash(
                _("Your appeal is registered under number %(number)s.", number=appeal.number),
                "success",
            )
            return redirect(url_for("appeals.follow", token=appeals.follow_token(appeal)), code=303)
    return render_template("portal/appeals/new.html", form=form, guest=True)


# --- one appeal -------------------------------------------------------------------------


def _mine(appeal_id: int) -> Appeal:
    return appeals.appeal_for(db.session, current_user, appeal_id)


def _links(appeal: Appeal, token: str | None) -> dict:
    """The URLs of the appeal's page: by id for its filer, by the signed link for a guest."""
    if token:
        base = {"token": token}
        return {
            "action": lambda name: url_for("appeals.follow_action", token=token, action=name),
            "letter": url_for("appeals.follow_letter", **base),
            "file": lambda a: url_for("appeals.follow_file", attachment_id=a.id, **base),
            "page": url_for("appeals.follow", **base),
        }
    return {
        "action": lambda name: url_for("appeals.act", appeal_id=appeal.id, action=name),
        "letter": url_for("appeals.letter", appeal_id=appeal.id),
        "file": lambda a: url_for("appeals.attachment", appeal_id=appeal.id, attachment_id=a.id),
        "page": url_for("appeals.show", appeal_id=appeal.id),
    }


def _render_appeal(appeal: Appeal, token=None, forms=None):
    forms = forms or {}
    until = appeals.reopen_until(db.session, appeal)
    can = appeals.workflow_actions(appeal)
    return render_template(
        "portal/appeals/show.html",
        appeal=appeal,
        events=appeals.customer_events(appeal),
        attachments=appeals.customer_attachments(appeal),
        links=_links(appeal, token),
        clarify_form=forms.get("clarify") or ClarificationForm(formdata=None, prefix="clarify"),
        rating_form=forms.get("rate") or RatingForm(formdata=None, prefix="rate"),
        reopen_form=forms.get("reopen") or ReopenForm(formdata=None, prefix="reopen"),
        can_clarify=Action.GIVE_CLARIFICATION in can,
        can_rate=Action.RATE in can and appeal.answered_at is not None and appeal.rated_at is None,
        reopen_until=until if until and Action.REOPEN in can and local_today() <= until else None,
        question=_last(appeal, AppealEventKind.CLARIFICATION_ASKED),
        guest=bool(token),
    )


def _last(appeal: Appeal, kind: AppealEventKind):
    return next((event for event in reversed(appeal.events) if event.kind == kind), None)


@bp.route("/<int:appeal_id>")
@customer_required
def show(appeal_id: int):
    return _render_appeal(_mine(appeal_id))


@bp.route("/follow/<token>")
def follow(token: str):
    return _render_appeal(appeals.appeal_by_token(db.session, token), token)


def _perform(appeal: Appeal, action: str, token: str | None):
    """Run the customer's action on the appeal: a redirect when done, the page with the
    form's errors when refused."""
    form_class, run = CUSTOMER_ACTIONS.get(action, (None, None))
    if form_class is None:
        abort(404)
    form = form_class(prefix=action)  # the page's forms each have their own field ids
    if form.validate_on_submit():
        user = None if token else current_user._get_current_object()
        with refusal_shown_on(form):
            run(appeal, form, user)
            commit_and_send(db.session)
            return redirect(_links(appeal, token)["page"], code=303)
    return _render_appeal(appeal, token, {action: form}), 422


CUSTOMER_ACTIONS = {
    "clarify": (
        ClarificationForm,
        lambda appeal, form, user: appeals.give_clarification(
            db.session, appeal, form.text.data, uploads_of(form.files), user=user
        ),
    ),
    "rate": (
        RatingForm,
        lambda appeal, form, user: appeals.rate(
            db.session, appeal, form.rating.data, form.reason.data, user=user
        ),
    ),
    "reopen": (
        ReopenForm,
        lambda appeal, form, user: appeals.reopen(db.session, appeal, form.reason.data, user=user),
    ),
}


@bp.route("/<int:appeal_id>/<action>", methods=["POST"])
@customer_required
def act(appeal_id: int, action: str):
    return _perform(_mine(appeal_id), action, None)


@bp.route("/follow/<token>/<action>", methods=["POST"])
@rate_limit("guest_appeal", methods=["POST"])
def follow_action(token: str, action: str):
    return _perform(appeals.appeal_by_token(db.session, token), action, token)


# --- files and the letter ------------------------------------------------------------------


def send_attachment(attachment: AppealAttachment):
    """A file of an appeal, always as a download that the browser may not reinterpret."""
    response = send_download(files.read(attachment), attachment.filename, attachment.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _customer_file(appeal: Appeal, attachment_id: int):
    attachment = next(
        (a for a in appeals.customer_attachments(appeal) if a.id == attachment_id), None
    )
    if attachment is None:
        abort(404)
    return send_attachment(attachment)


def _letter(appeal: Appeal):
    filename, body = appeals.answer_letter(appeal)
    return send_download(body, filename, "application/pdf")


@bp.route("/<int:appeal_id>/files/<int:attachment_id>")
@customer_required
def attachment(appeal_id: int, attachment_id: int):
    return _customer_file(_mine(appeal_id), attachment_id)


@bp.route("/follow/<token>/files/<int:attachment_id>")
def follow_file(token: str, attachment_id: int):
    return _customer_file(appeals.appeal_by_token(db.session, token), attachment_id)


@bp.route("/<int:appeal_id>/answer.pdf")
@customer_required
def letter(appeal_id: int):
    return _letter(_mine(appeal_id))


@bp.route("/follow/<token>/answer.pdf")
def follow_letter(token: str):
    return _letter(appeals.appeal_by_token(db.session, token))


@bp.app_template_global("appeal_time_left")
def appeal_time_left(appeal: Appeal, today) -> tuple[str, str]:
    """(words, Bootstrap colour) of the time left to answer an open appeal."""
    if not appeal.status.is_open:
        return "", ""
    days = (appeal.due_on - today).days
    if days < 0:
        return ngettext("%(num)d day overdue", "%(num)d days overdue", -days), "danger"
    if days == 0:
        return _("due today"), "warning"
    words = ngettext("%(num)d day left", "%(num)d days left", days)
    return words, "success" if days > 7 else "warning"
