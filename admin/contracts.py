"""Contracts with organisations in the back office: the list, a new contract, its card with
additional agreements, termination, the accounts of its supply points and its documents
(a correction re-issues a month's set). Rules: ``portal.services.contracts``."""

from flask import flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from admin import bp
from admin.access import can, staff_required
from portal.extensions import db
from portal.services import contract_documents, contracts, months
from portal.services.errors import DomainError
from portal.web import (
    client_ip,
    page_of,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    staff_member,
)

CONTRACTS_PER_PAGE = 25


class TermsMixin:
    bill_day = IntegerField(
        _l("Documents issued on day"),
        default=7,
        validators=[InputRequired()],
        description=_l("Of the month after the period, 1–28 (by the 7th: 004 T2)."),
    )
    due_day = IntegerField(
        _l("Payment due on day"),
        default=10,
        validators=[InputRequired()],
        description=_l("Of the month after the period, 1–31."),
    )

    def terms(self) -> contracts.Terms:
        return contracts.Terms(self.bill_day.data, self.due_day.data)


class ContractForm(TermsMixin, FlaskForm):
    inn = StringField(_l("Organisation's INN"), validators=[DataRequired(), Length(max=12)])
    number = StringField(_l("Contract number"), validators=[DataRequired(), Length(max=40)])
    signed_on = DateField(_l("Signed on"), validators=[InputRequired()])


class AmendmentForm(TermsMixin, FlaskForm):
    number = StringField(_l("Agreement number"), validators=[DataRequired(), Length(max=40)])
    signed_on = DateField(_l("Signed on"), validators=[InputRequired()])
    summary = StringField(_l("What it changes"), validators=[DataRequired(), Length(max=400)])


class TerminationForm(FlaskForm):
    terminated_on = DateField(_l("Terminated on"), validators=[InputRequired()])


class LinkForm(FlaskForm):
    account_number = StringField(_l("Account number"), validators=[DataRequired(), Length(max=20)])


@bp.route("/contracts", endpoint="contracts")
@staff_required("contracts")
def contracts_list():
    term = request.args.get("q", "")
    page = page_of(contracts.search(term), CONTRACTS_PER_PAGE)
    return page_or_fragment(
        "admin/contracts/index.html", "admin/contracts/_results.html", page=page, term=term
    )


@bp.route("/contracts/new", methods=["GET", "POST"])
@staff_required("contracts.edit")
def contract_new():
    form = ContractForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            contract = contracts.create(
                db.session,
                inn=form.inn.data,
                number=form.number.data,
                signed_on=form.signed_on.data,
                terms=form.terms(),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            db.session.commit()
            flash(_("Contract %(number)s is created.", number=contract.number), "success")
            return redirect_after_post("admin.contract_card", contract_id=contract.id)
    status = 400 if form.is_submitted() else 200
    return render_template("admin/contracts/new.html", form=form), status


def render_card(contract_id: int, status: int = 200, **forms):
    contract = contracts.get(db.session, contract_id)
    amendment = forms.get("amendment") or AmendmentForm(formdata=None)
    if not amendment.is_submitted():
        amendment.bill_day.data, amendment.due_day.data = contract.bill_day, contract.due_day
    return (
        render_template(
            "admin/contracts/card.html",
            contract=contract,
            documents=contract_documents.documents_of(db.session, contract.id),
            amendment_form=amendment,
            termination_form=forms.get("termination") or TerminationForm(formdata=None),
            link_form=forms.get("link") or LinkForm(formdata=None),
            can_edit=can("contracts.edit"),
            can_issue=can("documents.issue"),
        ),
        status,
    )


@bp.route("/contracts/<int:contract_id>")
@staff_required("contracts")
def contract_card(contract_id: int):
    return render_card(contract_id)


def _to_card(contract_id: int):
    return redirect_after_post("admin.contract_card", contract_id=contract_id)


@bp.route("/contracts/<int:contract_id>/amend", methods=["POST"])
@staff_required("contracts.edit")
def contract_amend(contract_id: int):
    form = AmendmentForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            contracts.amend(
                db.session,
                contract_id,
                number=form.number.data,
                signed_on=form.signed_on.data,
                summary=form.summary.data,
                terms=form.terms(),
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            db.session.commit()
            flash(_("The additional agreement is recorded."), "success")
            return _to_card(contract_id)
    return render_card(contract_id, 400, amendment=form)


@bp.route("/contracts/<int:contract_id>/terminate", methods=["POST"])
@staff_required("contracts.edit")
def contract_terminate(contract_id: int):
    form = TerminationForm()
    if form.validate_on_submit():
        with refusal_shown_on(form, prefix=""):
            contracts.terminate(
                db.session,
                contract_id,
                on=form.terminated_on.data,
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            db.session.commit()
            flash(_("The contract is terminated."), "info")
            return _to_card(contract_id)
    return render_card(contract_id, 400, termination=form)


@bp.route("/contracts/<int:contract_id>/accounts", methods=["POST"])
@staff_required("contracts.edit")
def contract_link_account(contract_id: int):
    form = LinkForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            contracts.link_account(
                db.session,
                contract_id,
                form.account_number.data,
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            db.session.commit()
            flash(_("The account is linked to the contract."), "success")
            return _to_card(contract_id)
    return render_card(contract_id, 400, link=form)


@bp.route("/contracts/<int:contract_id>/periods/<period>/reissue", methods=["POST"])
@staff_required("documents.issue")
def contract_reissue(contract_id: int, period: str):
    try:
        month = months.parse_period(period)
        issued = contract_documents.reissue(
            db.session, contract_id, month, staff_id=staff_member().id
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _to_card(contract_id)
    contract_documents.audit_issue(db.session, issued, staff_member().id, client_ip())
    db.session.commit()
    numbers = ", ".join(document.number for document in issued)
    flash(_("Corrected documents are issued: %(numbers)s.", numbers=numbers), "success")
    return _to_card(contract_id)
