"""Debt in the back office: the debtor list with its ageing table and exports, and one
account's debt with its escalation steps (notice → warning → restriction → lifted) and
their documents. Every rule is in ``portal.services.debt``."""

import io
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import SelectPagination
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from admin import bp
from admin.access import staff_required
from admin.customers import MAX_PAGE, list_page, staff_member
from portal.extensions import db
from portal.formatting import CATEGORY_LABELS
from portal.models import DEBT_STEPS
from portal.services import debt, exports, settings
from portal.services.errors import NotFound
from portal.services.readings import local_today
from portal.web import client_ip, options, refusal_shown_on

STEP_BADGES = {
    "debt_notice": "text-bg-info",
    "restriction_warning": "text-bg-warning",
    "restriction": "text-bg-danger",
    "lifted": "text-bg-success",
}
BUCKET_BADGES = {
    "0-1": "text-bg-light border",
    "1-2": "text-bg-light border",
    "2-3": "text-bg-warning",
    "3-6": "text-bg-warning",
    "6-12": "text-bg-danger",
    "12-36": "text-bg-danger",
    "36+": "text-bg-dark",
}
SORT_LABELS = {
    "overdue": _l("Overdue debt, largest first"),
    "balance": _l("Balance, largest first"),
    "age": _l("Oldest debt first"),
    "number": _l("Account number"),
    "name": _l("Customer name"),
}
MAX_AMOUNT = Decimal("999999999999.99")


def template_context(**extra) -> dict:
    return {
        "STEP_LABELS": debt.STEP_LABELS,
        "STEP_BADGES": STEP_BADGES,
        "BUCKETS": debt.BUCKETS,
        "BUCKET_BY_KEY": debt.BUCKET_BY_KEY,
        "BUCKET_BADGES": BUCKET_BADGES,
        **extra,
    }


# --- the debtor list ------------------------------------------------------------------------


class RowPagination(SelectPagination):
    """A page of a SELECT of several columns: the rows, not only the first column."""

    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())


def page_of_rows(query, per_page: int) -> RowPagination:
    """One page of rows; past the last page, the last page (malformed numbers forgiven)."""
    number = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    page = RowPagination(
        select=query, session=db.session, page=number, per_page=per_page, error_out=False
    )
    if page.pages and page.page > page.pages:
        page = RowPagination(
            select=query, session=db.session, page=page.pages, per_page=per_page, error_out=False
        )
    return page


def amount_value(form, field) -> None:
    if field.data and field.data.strip():
        try:
            field.amount = parse_amount(field.data)
        except ValueError:
            raise ValidationError(_("Enter an amount in roubles, for example 5000.")) from None


def parse_amount(text: str) -> Decimal:
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if not cleaned or not cleaned.replace(".", "", 1).isdigit() or not cleaned.isascii():
        raise ValueError(text)
    value = Decimal(cleaned)
    if value > MAX_AMOUNT:
        raise ValueError(text)
    return value


class DebtorFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    min_amount = StringField(
        _l("Overdue at least, ₽"), validators=[Optional(), Length(max=20), amount_value]
    )
    bucket = SelectField(_l("Age of the debt"), validators=[Optional()])
    district = SelectField(_l("District"), validators=[Optional()])
    category = SelectField(
        _l("Category"),
        choices=options(CATEGORY_LABELS.items(), blank=_l("Any category")),
        validators=[Optional()],
    )
    step = SelectField(_l("Escalation step"), validators=[Optional()])
    sort = SelectField(_l("Sort by"), choices=options(SORT_LABELS.items()), validators=[Optional()])

    def fill_choices(self, districts: list[str]) -> None:
        self.bucket.choices = options(((b.key, b.label) for b in debt.BUCKETS), _l("Any age"))
        self.district.choices = options(((d, d) for d in districts), _l("Any district"))
        self.step.choices = options(
            [
                (debt.STEP_NONE, _l("No step yet")),
                *((step, debt.STEP_LABELS[step]) for step in DEBT_STEPS),
            ],
            _l("Any step"),
        )

    def filters(self) -> debt.DebtorFilters:
        """The filters that passed validation; a malformed one is ignored (and marked)."""
        self.validate()

        def valid(field):
            return None if field.errors or not field.data else field.data

        return debt.DebtorFilters(
            min_amount=getattr(self.min_amount, "amount", None) if valid(self.min_amount) else None,
            bucket=valid(self.bucket),
            district=valid(self.district),
            category=valid(self.category),
            step=valid(self.step),
            sort=valid(self.sort) or "overdue",
        )

    def query_args(self) -> dict:
        """The filters as query parameters, for pagination, bucket links and exports."""
        return {key: value for key, value in request.args.items() if key in self and value}


def debtor_filters() -> tuple[DebtorFilterForm, debt.DebtorFilters]:
    form = DebtorFilterForm(formdata=request.args)
    form.fill_choices(debt.districts(db.session))
    return form, form.filters()


@bp.route("/debt")
@staff_required("debt")
def debtors():
    form, filters = debtor_filters()
    today = local_today()
    # Audit first: its commit would otherwise expire what the page loads.
    debt.record_list_view(db.session, filters, staff_id=staff_member().id, ip=client_ip())
    page = page_of_rows(debt.debtors(filters, today), debt.PAGE_SIZE)
    buckets, total = debt.ageing(db.session, filters, today)
    params = form.query_args()
    return list_page(
        "admin/debt/index.html",
        "admin/debt/_results.html",
        form=form,
        filters=filters,
        page=page,
        buckets=buckets,
        total=total,
        params=params,
        without_bucket={k: v for k, v in params.items() if k not in ("bucket", "page")},
        today=today,
        **template_context(),
    )


def _export(kind: str):
    _form, filters = debtor_filters()
    today = local_today()
    make = debt.debtors_csv if kind == "csv" else debt.debtors_xlsx
    body = make(db.session, filters, staff_id=staff_member().id, ip=client_ip(), as_of=today)
    return send_file(
        io.BytesIO(body),
        mimetype=exports.CSV_MIMETYPE if kind == "csv" else exports.XLSX_MIMETYPE,
        as_attachment=True,
        download_name=f"debtors-{today.isoformat()}.{kind}",
    )


@bp.route("/debt/export.csv")
@staff_required("debt")
def debtors_export_csv():
    return _export("csv")


@bp.route("/debt/export.xlsx")
@staff_required("debt")
def debtors_export_xlsx():
    return _export("xlsx")


# --- one account ----------------------------------------------------------------------------


class ActionForm(FlaskForm):
    acted_on = DateField(
        _l("Date"), validators=[DataRequired(message=_l("Enter the date of the step."))]
    )
    delivered_on = DateField(
        _l("Delivered on"),
        validators=[Optional()],
        description=_l("Leave empty if it is not delivered yet: record the delivery later."),
    )
    delivery_proof = StringField(
        _l("Proof of delivery"),
        validators=[Optional(), Length(max=debt.MAX_PROOF)],
        description=_l("For example “registered letter 80081234567890” or “SMS delivered”."),
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=debt.MAX_NOTE)])


class DeliveryForm(FlaskForm):
    delivered_on = DateField(
        _l("Delivered on"),
        validators=[DataRequired(message=_l("Enter the day the document was delivered."))],
    )
    delivery_proof = StringField(
        _l("Proof of delivery"),
        validators=[
            DataRequired(message=_l("Describe the proof of delivery.")),
            Length(max=debt.MAX_PROOF),
        ],
        description=_l("For example “registered letter 80081234567890” or “SMS delivered”."),
    )


def account_or_404(account_id: int):
    try:
        return debt.get_account(db.session, account_id)
    except NotFound:
        abort(404)


def account_page(account, *, forms=None, delivery_forms=None, audit_view=False):
    staff = staff_member()
    if audit_view:
        debt.record_view(db.session, account, staff_id=staff.id, ip=client_ip())
    today = local_today()
    position = debt.position(db.session, account.id, today)
    options = debt.next_steps(db.session, account.id, position, today)
    history = debt.history(db.session, account.id)
    forms = forms or {}
    for option in options:
        if option.allowed and option.step not in forms:
            forms[option.step] = ActionForm(prefix=option.step, formdata=None, acted_on=today)
    delivery_forms = delivery_forms or {}
    for row in history:
        if row.awaits_delivery and row.action.id not in delivery_forms:
            delivery_forms[row.action.id] = DeliveryForm(
                prefix=f"delivery-{row.action.id}", formdata=None, delivered_on=today
            )
    return render_template(
        "admin/debt/account.html",
        account=account,
        position=position,
        options=options,
        history=history,
        forms=forms,
        delivery_forms=delivery_forms,
        payments=debt.recent_payments(db.session, account.id),
        lead_days=settings.get(db.session, "debt.warning_lead_days"),
        document_steps=debt.DOCUMENT_STEPS,
        today=today,
        **template_context(),
    )


@bp.route("/debt/accounts/<int:account_id>")
@staff_required("debt")
def debt_account(account_id: int):
    return account_page(account_or_404(account_id), audit_view=True)


@bp.route("/debt/accounts/<int:account_id>/actions/<step>", methods=["POST"])
@staff_required("debt.manage")
def debt_action_create(account_id: int, step: str):
    if step not in DEBT_STEPS:
        abort(404)
    account = account_or_404(account_id)
    form = ActionForm(prefix=step)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            action = debt.record_action(
                db.session,
                account.id,
                step,
                acted_on=form.acted_on.data,
                delivered=form.delivered_on.data,
                delivery_proof=form.delivery_proof.data,
                note=form.note.data,
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            flash(
                _(
                    "Recorded: %(step)s of %(date)s.",
                    step=debt.STEP_LABELS[step],
                    date=action.acted_on.strftime("%d.%m.%Y"),
                ),
                "success",
            )
            return redirect(url_for("admin.debt_account", account_id=account.id), code=303)
    return account_page(account, forms={step: form})


@bp.route("/debt/accounts/<int:account_id>/actions/<int:action_id>/delivery", methods=["POST"])
@staff_required("debt.manage")
def debt_action_delivery(account_id: int, action_id: int):
    account = account_or_404(account_id)
    form = DeliveryForm(prefix=f"delivery-{action_id}")
    try:
        debt.get_action(db.session, account.id, action_id)
    except NotFound:
        abort(404)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            debt.record_delivery(
                db.session,
                account.id,
                action_id,
                delivered=form.delivered_on.data,
                delivery_proof=form.delivery_proof.data,
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            flash(_("The delivery is recorded."), "success")
            return redirect(url_for("admin.debt_account", account_id=account.id), code=303)
    return account_page(account, delivery_forms={action_id: form})


@bp.route("/debt/accounts/<int:account_id>/actions/<int:action_id>/document.pdf")
@staff_required("debt")
def debt_action_document(account_id: int, action_id: int):
    try:
        filename, body = debt.document_pdf(
            db.session, account_id, action_id, staff_id=staff_member().id, ip=client_ip()
        )
    except NotFound:
        abort(404)
    return send_file(
        io.BytesIO(body), mimetype="application/pdf", as_attachment=True, download_name=filename
    )
