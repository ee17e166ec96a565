"""The company cabinet keyed by contract: its terms, supply points with meters and
accounts, the documents of each closed period, the reconciliation act, readings for all
its meters. Every lookup goes through ``organisations.contract_of`` (members only)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user

from portal.extensions import db
from portal.organisations import contract_forms
from portal.organisations.views import bp
from portal.readings.forms import zone_label
from portal.services import (
    contract_documents,
    contract_readings,
    months,
    organisations,
    reconciliation,
)
from portal.services.errors import DomainError, NotFound
from portal.web import customer_required, redirect_after_post, refusal_shown_on, send_download

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _contract(organisation_id: int, contract_id: int):
    return organisations.contract_of(db.session, current_user, organisation_id, contract_id)


def render_contract(
    member, contract, status=200, *, refusals=None, typed=None, line_errors=None, **forms
):
    documents = contract_documents.documents_of(db.session, contract.id)
    return (
        render_template(
            "portal/organisations/contract.html",
            member=member,
            organisation=member.organisation,
            contract=contract,
            documents=documents,
            readings_table=contract_readings.table(db.session, contract),
            can_change=member.role in organisations.CHANGING_ROLES,
            refusals=refusals,
            typed=typed,
            line_errors=line_errors,
            zone_label=zone_label,
            **contract_forms.forms_for(contract, documents, **forms),
        ),
        status,
    )


@bp.route("/<int:organisation_id>/contracts/<int:contract_id>")
@customer_required
def contract(organisation_id: int, contract_id: int):
    member, found = _contract(organisation_id, contract_id)
    return render_contract(member, found)


@bp.route("/<int:organisation_id>/contracts/switch")
@customer_required
def switch_contract(organisation_id: int):
    """The contract switcher's form (works without JavaScript): go to the chosen one."""
    contract_id = request.args.get("contract_id", type=int)
    if contract_id is None:
        raise NotFound()
    _contract(organisation_id, contract_id)
    return redirect(
        url_for("organisations.contract", organisation_id=organisation_id, contract_id=contract_id)
    )


@bp.route("/<int:organisation_id>/contracts/<int:contract_id>/documents/<int:document_id>.pdf")
@customer_required
def contract_document(organisation_id: int, contract_id: int, document_id: int):
    _member, found = _contract(organisation_id, contract_id)
    document = contract_documents.document_of(db.session, found.id, document_id)
    return send_download(document.pdf, document.filename, "application/pdf")


@bp.route("/<int:organisation_id>/contracts/<int:contract_id>/documents.zip")
@customer_required
def contract_zip(organisation_id: int, contract_id: int):
    member, found = _contract(organisation_id, contract_id)
    documents = contract_documents.documents_of(db.session, found.id)
    form = contract_forms.ZipForm(request.args)
    contract_forms.forms_for(found, documents, archive=form)  # the choices: issued months
    if not form.validate():
        return render_contract(member, found, 400, archive=form)
    periods = [months.parse_period(value) for value in form.period.data]
    items = contract_documents.of_periods(db.session, found.id, periods)
    first, last = min(periods), max(periods)
    return send_download(
        reconciliation.archive(items),
        f"documents-{found.id}-{first:%Y-%m}-{last:%Y-%m}.zip",
        "application/zip",
    )


@bp.route("/<int:organisation_id>/contracts/<int:contract_id>/reconciliation")
@customer_required
def contract_reconciliation(organisation_id: int, contract_id: int):
    member, found = _contract(organisation_id, contract_id)
    form = contract_forms.ReconciliationForm(request.args)
    if form.validate():
        with refusal_shown_on(form):
            act = reconciliation.act(db.session, found, form.date_from.data, form.date_to.data)
            if form.format.data == "xlsx":
                return send_download(
                    reconciliation.xlsx(act), reconciliation.filename(act, "xlsx"), XLSX
                )
            return send_download(
                reconciliation.pdf(act), reconciliation.filename(act, "pdf"), "application/pdf"
            )
    return render_contract(member, found, 400, reconciliation=form)


def _typed_readings() -> tuple[dict[int, dict[str, str]], dict[str, str]]:
    """The table's fields ``reading-<meter id>-<zone>``: by meter, and as typed."""
    values: dict[int, dict[str, str]] = {}
    typed = {}
    for name, raw in request.form.items():
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "reading" and parts[1].isdigit():
            values.setdefault(int(parts[1]), {})[parts[2]] = raw[:40]
            typed[name] = raw[:40]
    return values, typed


def _changer(organisation_id: int, contract_id: int):
    """The contract for a changing action: an owner's or an accountant's; a viewer is
    refused (403) before anything is read from the request."""
    member, found = _contract(organisation_id, contract_id)
    if member.role not in organisations.CHANGING_ROLES:
        abort(403)
    return member, found


def _to_contract(contract):
    return redirect_after_post(
        "organisations.contract", organisation_id=contract.organisation_id, contract_id=contract.id
    )


@bp.route(
    "/<int:organisation_id>/contracts/<int:contract_id>/readings",
    methods=["POST"],
    endpoint="contract_readings",
)
@customer_required
def submit_readings(organisation_id: int, contract_id: int):
    member, found = _changer(organisation_id, contract_id)
    values, typed = _typed_readings()
    try:
        outcome = contract_readings.submit_table(db.session, found, values, user_id=current_user.id)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return render_contract(member, found, 400, typed=typed)
    db.session.commit()
    _flash_stored(outcome)
    if outcome.refusals:
        return render_contract(member, found, 400, refusals=outcome.refusals, typed=typed)
    return _to_contract(found)


@bp.route("/<int:organisation_id>/contracts/<int:contract_id>/readings/upload", methods=["POST"])
@customer_required
def contract_readings_upload(organisation_id: int, contract_id: int):
    member, found = _changer(organisation_id, contract_id)
    form = contract_forms.ReadingsUploadForm()
    if not form.validate_on_submit():
        return render_contract(member, found, 400, upload=form)
    outcome = None
    with refusal_shown_on(form):
        data = form.file.data.read()
        outcome = contract_readings.upload(db.session, found, data, user_id=current_user.id)
        db.session.commit()
    if outcome is None:
        return render_contract(member, found, 400, upload=form)
    _flash_stored(outcome)
    if outcome.line_errors:
        return render_contract(member, found, 400, upload=form, line_errors=outcome.line_errors)
    return _to_contract(found)


def _flash_stored(outcome) -> None:
    if outcome.stored:
        flash(
            ngettext(
                "%(num)d reading is received.", "%(num)d readings are received.", outcome.stored
            ),
            "success",
        )
