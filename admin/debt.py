"""Debt in the back office: the debtor list with its ageing table and exports, and one
account's debt with its escalation steps (notice → warning → restriction → lifted) and
their documents. Every rule is in ``portal.services.debt``."""

from decimal import Decimal

from flask import abort, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import SelectPagination
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import Account, Category, DebtStep
from portal.services import debt, exports, settings
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.services.numbers import parse_decimal
from portal.web import (
    client_ip,
    options,
    page_number,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    send_download,
    staff_member,
)

MAX_AMOUNT = Decimal("999999999999.99")


def template_context(**extra) -> dict:
    return {
        "DebtStep": DebtStep,
        "BUCKETS": debt.BUCKETS,
        "BUCKET_BY_KEY": debt.BUCKET_BY_KEY,
        **extra,
    }


# --- the debtor list ------------------------------------------------------------------------


class RowPagination(SelectPagination):
    """A page of a SELECT of several columns: the rows, not only the first column."""

    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())


def page_of_rows(query, per_page: int) -> RowPagination:
    """One page of rows; past the last page, the last page (``web.page_of`` pages the first
    column only)."""
    number = page_number()
    page = RowPagination(
        select=query, session=db.session, page=number, per_page=per_page, error_out=False
    )
    if page.pages and page.page > page.pages:
        page = RowPagination(
            select=query, session=db.session, page=page.pages, per_page=per_page, error_out=False
        )
    return page


def amount_value(form, field) -> None:
    """An amount in roubles (``numbers.parse_decimal``), not negative and not absurd."""
    if field.data and field.data.strip():
        try:
            field.amount = parse_decimal(field.data, minimum=0, maximum=MAX_AMOUNT)
        except DomainError:
            raise ValidationError(_("Enter an amount in roubles, for example 5000.")) from None


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
        choices=options(Category.options(), blank=_l("Any category")),
        validators=[Optional()],
    )
    step = SelectField(_l("Escalation step"), validators=[Optional()])
    sort = SelectField(_l("Sort by"), choices=options(debt.SORTS.items()), validators=[Optional()])

    def fill_choices(self, districts: list[str]) -> None:
        self.bucket.choices = options(((b.key, b.label) for b in debt.BUCKETS), _l("Any age"))
        self.district.choices = options(((d, d) for d in districts), _l("Any district"))
        self.step.choices = options(
            [(debt.STEP_NONE, _l("No step yet")), *DebtStep.options()],
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
            sort=valid(self.sort) or debt.DEFAULT_SORT,
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
    debt.record_list_view(db.session, filters, staff_id=staff_member().id, ip=client_ip())
    page = page_of_rows(debt.debtors(filters, today), debt.PAGE_SIZE)
    buckets, total = debt.ageing(db.session, filters, today)
    params = form.query_args()
    html = page_or_fragment(
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
    db.session.commit()  # the audit of the list, once the page is rendered
    return html


def _export(kind: str):
    _form, filters = debtor_filters()
    today = local_today()
    make = debt.debtors_csv if kind == "csv" else debt.debtors_xlsx
    body = make(db.session, filters, staff_id=staff_member().id, ip=client_ip(), as_of=today)
    db.session.commit()
    return send_download(
        body,
        f"debtors-{today.isoformat()}.{kind}",
        exports.CSV_MIMETYPE if kind == "csv" else exports.XLSX_MIMETYPE,
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


def _step_forms(options, today, forms=None) -> dict:
    """A form for every step that may be taken (those given, as they were submitted)."""
    forms = forms or {}
    for option in options:
        if option.allowed and option.step not in forms:
            forms[option.step] = ActionForm(prefix=option.step, formdata=None, acted_on=today)
    return forms


def _delivery_forms(history, today, delivery_forms=None) -> dict:
    """A delivery form for every notice or warning not yet delivered."""
    delivery_forms = delivery_forms or {}
    for row in history:
        if row.awaits_delivery and row.action.id not in delivery_forms:
            delivery_forms[row.action.id] = DeliveryForm(
                prefix=f"delivery-{row.action.id}", formdata=None, delivered_on=today
            )
    return delivery_forms


def account_page(account, *, forms=None, delivery_forms=None):
    today = local_today()
    position = debt.position(db.session, account.id, today)
    options = debt.next_steps(db.session, account.id, position, today)
    history = debt.history(db.session, account.id)
    return render_template(
        "admin/debt/account.html",
        account=account,
        position=position,
        options=options,
        history=history,
        forms=_step_forms(options, today, forms),
        delivery_forms=_delivery_forms(history, today, delivery_forms),
        payments=debt.recent_payments(db.session, account.id),
        lead_days=settings.get(db.session, "debt.warning_lead_days"),
        today=today,
        **template_context(),
    )


@bp.route("/debt/accounts/<int:account_id>")
@staff_required("debt")
def debt_account(account_id: int):
    account = db.get_or_404(Account, account_id)
    debt.record_view(db.session, account, staff_id=staff_member().id, ip=client_ip())
    html = account_page(account)
    db.session.commit()  # the audit of the view
    return html


@bp.route("/debt/accounts/<int:account_id>/actions/<step>", methods=["POST"])
@staff_required("debt.manage")
def debt_action_create(account_id: int, step: str):
    if step not in DebtStep.values():
        abort(404)
    step = DebtStep(step)
    account = db.get_or_404(Account, account_id)
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
            db.session.commit()
            flash(
                _(
                    "Recorded: %(step)s of %(date)s.",
                    step=step.label,
                    date=action.acted_on.strftime("%d.%m.%Y"),
                ),
                "success",
            )
            return redirect_after_post("admin.debt_account", account_id=account.id)
    return account_page(account, forms={step: form})


@bp.route("/debt/accounts/<int:account_id>/actions/<int:action_id>/delivery", methods=["POST"])
@staff_required("debt.manage")
def debt_action_delivery(account_id: int, action_id: int):
    account = db.get_or_404(Account, account_id)
    form = DeliveryForm(prefix=f"delivery-{action_id}")
    debt.get_action(db.session, account.id, action_id)
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
            db.session.commit()
            flash(_("The delivery is recorded."), "success")
            return redirect_after_post("admin.debt_account", account_id=account.id)
    return account_page(account, delivery_forms={action_id: form})


@bp.route("/debt/accounts/<int:account_id>/actions/<int:action_id>/document.pdf")
@staff_required("debt")
def debt_action_document(account_id: int, action_id: int):
    filename, body = debt.document_pdf(
        db.session, account_id, action_id, staff_id=staff_member().id, ip=client_ip()
    )
    db.session.commit()
    return send_download(body, filename, "application/pdf")
