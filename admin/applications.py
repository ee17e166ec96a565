"""Contract applications in the back office: the queue by time left in the stage, the case
file (every document and the inventory, never rewritten), the steps — check, request
documents, accept, issue the contract drawn up as a PDF, answer a protocol of
disagreements, mark signed (the account or contract goes into the customer's cabinet),
issue a meter's conditions, refuse with a reason of the closed list — complaints about a
decision answered by another employee, and the figures. The rules are in
``portal.services.applications``."""

from datetime import date

from flask import abort, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import (
    Application,
    ApplicationComplaint,
    ApplicationKind,
    ApplicationStatus,
    ChecklistItem,
    Contract,
    RefusalReason,
    Segment,
)
from portal.models.applications import FINISHED_APPLICATION_STATUSES
from portal.models.audit import AuditAction, AuditObject
from portal.services import applications, audit
from portal.services.applications import Action, cabinet, lists
from portal.services.applications import figures as figure_rules
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.services.notify.outbox import commit_and_send
from portal.web import (
    client_ip,
    options,
    page_of,
    redirect_after_post,
    refusal_shown_on,
    send_download,
    staff_member,
)

PAGE_SIZE = 25
_strip = [lambda v: v.strip() if isinstance(v, str) else v]


def _text(label, required=True):
    presence = DataRequired(message=_l("Write the text.")) if required else Optional()
    return TextAreaField(
        label, validators=[presence, Length(max=10_000)], filters=_strip, render_kw={"rows": 3}
    )


class TextForm(FlaskForm):
    text = _text(_l("Text for the customer"))


class OptionalTextForm(FlaskForm):
    text = _text(_l("Text for the customer (optional)"), required=False)


class EmptyForm(FlaskForm):
    pass


class RefuseForm(FlaskForm):
    reason = SelectField(
        _l("Reason (closed list)"),
        validators=[DataRequired(message=_l("Choose a reason from the list."))],
    )
    text = _text(_l("Reasons in this case"))


class SignForm(FlaskForm):
    account_number = StringField(
        _l("Personal account number (household)"),
        validators=[Optional(), Length(max=20)],
        filters=_strip,
    )
    contract_number = StringField(
        _l("Contract number (legal entity)"),
        validators=[Optional(), Length(max=40)],
        filters=_strip,
    )


class ComplaintForm(FlaskForm):
    decision = SelectField(
        _l("Decision"),
        choices=options(
            [
                ("reject", _l("The decision stands")),
                ("uphold", _l("Uphold: consider the application again")),
            ]
        ),
    )
    text = _text(_l("Answer to the complaint"))


def _record(application: Application, action, summary: str) -> None:
    audit.record(
        db.session,
        staff_id=staff_member().id,
        action=action,
        object_type=AuditObject.APPLICATION,
        object_id=application.id,
        summary=f"{application.number}: {summary}",
        ip_address=client_ip(),
    )


# --- the queue ------------------------------------------------------------------------------


@bp.app_template_global("application_time_left")
def application_time_left(application: Application, today: date) -> tuple[str, str]:
    """(words, colour) of the time left in the stage; the customer's turn has none."""
    from flask_babel import ngettext

    if application.stage_due_on is None:
        return "", ""
    days = (application.stage_due_on - today).days
    if days < 0:
        return ngettext("%(num)d day overdue", "%(num)d days overdue", -days), "danger"
    if days == 0:
        return _("due today"), "warning"
    return ngettext(
        "%(num)d day left", "%(num)d days left", days
    ), "success" if days > 2 else "warning"


@bp.route("/applications")
@staff_required("applications")
def applications_queue():
    status = request.args.get("status", "open")
    query = select(Application).where(Application.status != ApplicationStatus.DRAFT)
    if status == "open":
        query = query.where(Application.status.not_in(FINISHED_APPLICATION_STATUSES))
    elif status in ApplicationStatus.__members__.values() or status in [
        s.value for s in ApplicationStatus
    ]:
        query = query.where(Application.status == ApplicationStatus(status))
    query = query.order_by(
        Application.stage_due_on.is_(None), Application.stage_due_on, Application.id
    )
    return render_template(
        "admin/applications/queue.html",
        page=page_of(query, PAGE_SIZE),
        status=status,
        statuses=ApplicationStatus,
        today=local_today(),
    )


# --- the case file -------------------------------------------------------------------------------


def _refuse(application, form, staff):
    applications.refuse(db.session, application, staff, int(form.reason.data or 0), form.text.data)


def _sign(application, form, staff):
    account = contract = None
    if form.account_number.data:
        account = cabinet.account_by_number(db.session, form.account_number.data)
        if account is None:
            raise DomainError(_("No account with this number."), "account_number")
    if form.contract_number.data:
        contract = db.session.scalar(
            select(Contract).where(Contract.number == form.contract_number.data)
        )
        if contract is None:
            raise DomainError(_("No contract with this number."), "contract_number")
    applications.sign(db.session, application, staff, account=account, contract=contract)


STAFF_ACTIONS = {
    # name: (form class, action of the state machine or None, run)
    "start_check": (
        EmptyForm,
        Action.START_CHECK,
        lambda a, f, s: applications.start_check(db.session, a, s),
    ),
    "request_documents": (
        TextForm,
        Action.REQUEST_DOCUMENTS,
        lambda a, f, s: applications.request_documents(db.session, a, s, f.text.data),
    ),
    "accept": (
        OptionalTextForm,
        Action.ACCEPT,
        lambda a, f, s: applications.accept(db.session, a, s, f.text.data),
    ),
    "issue_contract": (
        EmptyForm,
        Action.ISSUE_CONTRACT,
        lambda a, f, s: applications.issue_contract(db.session, a, s),
    ),
    "answer_disagreement": (
        TextForm,
        Action.ANSWER_DISAGREEMENT,
        lambda a, f, s: applications.answer_disagreement(db.session, a, s, f.text.data),
    ),
    "sign": (SignForm, Action.SIGN, _sign),
    "issue_conditions": (
        TextForm,
        Action.ISSUE_CONDITIONS,
        lambda a, f, s: applications.issue_conditions(db.session, a, s, f.text.data),
    ),
    "refuse": (RefuseForm, Action.REFUSE, _refuse),
    "note": (TextForm, None, lambda a, f, s: applications.add_note(db.session, a, s, f.text.data)),
}


def _forms(application: Application, given: dict) -> dict:
    can = applications.actions_from(application.status)
    forms = {}
    for name, (form_class, action, _run) in STAFF_ACTIONS.items():
        if action is None or action in can:
            forms[name] = given.get(name) or form_class(formdata=None, prefix=name)
    if "refuse" in forms:
        forms["refuse"].reason.choices = _reason_choices()
    if application.kind.value == "meter_conditions":
        forms.pop("accept", None)
    else:
        forms.pop("issue_conditions", None)
    return forms


def _reason_choices():
    return options(
        [
            (str(r.id), f"{r.title} — {r.legal_ground}")
            for r in applications.refusal_reasons(db.session)
        ],
        _("Choose…"),
    )


def _card(application: Application, given=None, status=200):
    return render_template(
        "admin/applications/card.html",
        application=application,
        forms=_forms(application, given or {}),
        missing=applications.missing_items(db.session, application),
        complaint_form=(given or {}).get("complaint")
        or ComplaintForm(formdata=None, prefix="complaint"),
        me=staff_member(),
        today=local_today(),
    ), status


@bp.route("/applications/<int:application_id>")
@staff_required("applications")
def application_card(application_id: int):
    application = applications.get(db.session, application_id)
    _record(application, AuditAction.VIEW, "viewed")
    html = _card(application)
    db.session.commit()  # the view's audit record
    return html


@bp.route("/applications/<int:application_id>/<action>", methods=["POST"])
@staff_required("applications")
def application_act(application_id: int, action: str):
    if action not in STAFF_ACTIONS:
        abort(404)
    form_class, _action, run = STAFF_ACTIONS[action]
    application = applications.get(db.session, application_id)
    form = form_class(prefix=action)
    if action == "refuse":
        form.reason.choices = _reason_choices()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            run(application, form, staff_member())
            _record(application, AuditAction.UPDATE, action)
            commit_and_send(db.session)
            flash(_("Done: the case file has the new step."), "success")
            return redirect_after_post("admin.application_card", application_id=application.id)
    return _card(applications.get(db.session, application_id), {action: form}, 422)


@bp.route("/applications/complaints/<int:complaint_id>", methods=["POST"])
@staff_required("applications")
def application_complaint(complaint_id: int):
    complaint = db.get_or_404(ApplicationComplaint, complaint_id)
    form = ComplaintForm(prefix="complaint")
    if form.validate_on_submit():
        with refusal_shown_on(form):
            applications.answer_complaint(
                db.session,
                complaint,
                staff_member(),
                upheld=form.decision.data == "uphold",
                text=form.text.data,
            )
            _record(complaint.application, AuditAction.UPDATE, f"complaint {form.decision.data}")
            commit_and_send(db.session)
            flash(_("The complaint is answered."), "success")
            return redirect_after_post(
                "admin.application_card", application_id=complaint.application_id
            )
    return _card(complaint.application, {"complaint": form}, 422)


@bp.route("/applications/<int:application_id>/documents/<int:document_id>")
@staff_required("applications")
def application_document(application_id: int, document_id: int):
    application = applications.get(db.session, application_id)
    document = next((d for d in application.documents if d.id == document_id), None)
    if document is None:
        abort(404)
    _record(application, AuditAction.VIEW, f"document {document.id}")
    db.session.commit()
    response = send_download(
        applications.read_document(document), document.filename, document.content_type
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- figures ------------------------------------------------------------------------------------------


@bp.route("/applications/figures")
@staff_required("applications.figures")
def application_figures():
    today = local_today()
    try:
        first = (
            date.fromisoformat(request.args.get("from", ""))
            if request.args.get("from")
            else date(today.year, 1, 1)
        )
        last = date.fromisoformat(request.args.get("to", "")) if request.args.get("to") else today
    except ValueError:
        first, last = date(today.year, 1, 1), today
    return render_template(
        "admin/applications/figures.html",
        figures=figure_rules.figures(db.session, first, last),
        first=first,
        last=last,
        target=figure_rules.TARGET_PERCENT,
    )


# --- the lists staff keep --------------------------------------------------------------------------


class ItemForm(FlaskForm):
    kind = SelectField(_l("Kind of application"), choices=options(ApplicationKind.options()))
    segment = SelectField(_l("Segment"), choices=options(Segment.options()))
    title = StringField(
        _l("Document"),
        validators=[DataRequired(message=_l("Name the document.")), Length(max=300)],
        filters=_strip,
    )
    reason = TextAreaField(
        _l("Why it is needed (customers see it)"),
        validators=[
            DataRequired(message=_l("Say why the document is needed: customers see it.")),
            Length(max=2000),
        ],
        filters=_strip,
        render_kw={"rows": 2},
    )
    required = BooleanField(_l("Required"), default=True)


class ReasonForm(FlaskForm):
    code = StringField(
        _l("Short code"),
        validators=[DataRequired(message=_l("Give a short code not used yet.")), Length(max=40)],
        filters=_strip,
    )
    title = StringField(
        _l("Reason"),
        validators=[DataRequired(message=_l("Write the reason.")), Length(max=300)],
        filters=_strip,
    )
    legal_ground = StringField(
        _l("Legal ground"),
        validators=[DataRequired(message=_l("A refusal needs its legal ground.")), Length(max=500)],
        filters=_strip,
    )


def _lists_page(item_form=None, reason_form=None, status=200):
    return render_template(
        "admin/applications/lists.html",
        items=lists.all_items(db.session),
        reasons=db.session.scalars(select(RefusalReason).order_by(RefusalReason.id)).all(),
        item_form=item_form or ItemForm(formdata=None, prefix="item"),
        reason_form=reason_form or ReasonForm(formdata=None, prefix="reason"),
        empty_form=EmptyForm(formdata=None),
    ), status


@bp.route("/applications/lists")
@staff_required("applications.lists")
def application_lists():
    return _lists_page()


def _audit_list(summary: str) -> None:
    audit.record(
        db.session,
        staff_id=staff_member().id,
        action=AuditAction.UPDATE,
        object_type=AuditObject.APPLICATION,
        object_id=None,
        summary=summary,
        ip_address=client_ip(),
    )


@bp.route("/applications/lists/<any(item, reason, standard):what>", methods=["POST"])
@staff_required("applications.lists")
def application_lists_add(what: str):
    form = {"item": ItemForm, "reason": ReasonForm, "standard": EmptyForm}[what](
        prefix="" if what == "standard" else what
    )
    if form.validate_on_submit():
        with refusal_shown_on(form):
            if what == "item":
                lists.add_item(
                    db.session,
                    ApplicationKind(form.kind.data),
                    Segment(form.segment.data),
                    form.title.data,
                    form.reason.data,
                    form.required.data,
                    staff_member(),
                )
            elif what == "reason":
                lists.add_reason(
                    db.session, form.code.data, form.title.data, form.legal_ground.data
                )
            else:
                lists.fill_standard_lists(db.session)
            _audit_list(f"application lists: added {what}")
            db.session.commit()
            return redirect_after_post("admin.application_lists")
    return _lists_page(**{f"{what}_form": form} if what != "standard" else {}, status=422)


@bp.route("/applications/lists/<any(item, reason):what>/<int:row_id>/toggle", methods=["POST"])
@staff_required("applications.lists")
def application_lists_toggle(what: str, row_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    row = db.get_or_404(ChecklistItem if what == "item" else RefusalReason, row_id)
    row.active = not row.active
    _audit_list(f"application lists: {what} {row_id} {'on' if row.active else 'off'}")
    db.session.commit()
    return redirect_after_post("admin.application_lists")
