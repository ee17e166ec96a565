"""Payments in the back office: upload a bank or payment-agent registry (CSV), check its
preview, import it, download the refused lines; totals by agent and day; the payments of an
account. Every rule is in ``portal.services.payments``."""

from datetime import timedelta

from flask import abort, flash, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField
from wtforms.validators import Optional

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.formatting import as_money
from portal.models import RegistryStatus
from portal.services import exports, payments
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.web import (
    client_ip,
    page_of,
    page_or_fragment,
    receive_upload,
    redirect_after_post,
    send_download,
    staff_member,
)

REGISTRIES_PER_PAGE = 20
TOTALS_DAYS = 7  # shown by default: a week of days by agent
MAX_TOTALS_DAYS = 366


def template_context(**extra) -> dict:
    return {
        "RegistryStatus": RegistryStatus,
        "REASONS": payments.REASONS,
        "DUPLICATE_CODES": payments.DUPLICATE_CODES,
        "COLUMN_LABELS": payments.COLUMN_LABELS,
        **extra,
    }


class UploadForm(FlaskForm):
    file = FileField(
        _l("Registry file (CSV)"),
        validators=[FileRequired(message=_l("Choose the registry file."))],
        description=_l(
            "Columns: account, amount, date, reference, agent; a header line; “;” or “,”; UTF-8 or Windows-1251."
        ),
    )


class TotalsForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def days(self):
        """The range asked for; malformed or absurd input falls back to the last month."""
        self.validate()
        today = local_today()
        date_to = None if self.date_to.errors else self.date_to.data
        date_from = None if self.date_from.errors else self.date_from.data
        date_to = date_to or today
        date_from = date_from or date_to - timedelta(days=TOTALS_DAYS - 1)
        if date_from > date_to or (date_to - date_from).days >= MAX_TOTALS_DAYS:
            date_from = date_to - timedelta(days=TOTALS_DAYS - 1)
        return date_from, date_to


def registries_page(form: UploadForm):
    totals_form = TotalsForm(formdata=request.args)
    date_from, date_to = totals_form.days()
    page = page_of(payments.registries(), REGISTRIES_PER_PAGE)
    return render_template(
        "admin/payments/registries.html",
        form=form,
        totals_form=totals_form,
        page=page,
        staff_names=payments.staff_names(db.session, [r.staff_id for r in page.items]),
        totals=payments.daily_totals(db.session, date_from, date_to),
        date_from=date_from,
        date_to=date_to,
        **template_context(),
    )


@bp.route("/payments/registries", methods=["GET", "POST"])
@staff_required("payments")
def payment_registries():
    form = UploadForm()
    registry = receive_upload(form, payments.create_registry)
    if registry is not None:
        db.session.commit()
        return redirect_after_post("admin.payment_registry", registry_id=registry.id)
    return registries_page(form)


@bp.route("/payments/registries/<int:registry_id>")
@staff_required("payments")
def payment_registry(registry_id: int):
    payments.get_registry(db.session, registry_id)  # 404 for an unknown one
    try:
        view = payments.view_registry(db.session, registry_id)
    except DomainError as error:  # a stored file that no longer reads (never expected)
        flash(error.message, "danger")
        return redirect_after_post("admin.payment_registries")
    return render_template(
        "admin/payments/registry.html",
        view=view,
        registry=view.registry,
        staff_names=payments.staff_names(db.session, [view.registry.staff_id]),
        preview_errors=payments.PREVIEW_ERRORS,
        preview_lines=payments.PREVIEW_LINES,
        **template_context(),
    )


@bp.route("/payments/registries/<int:registry_id>/import", methods=["POST"])
@staff_required("payments")
def payment_registry_import(registry_id: int):
    if not FlaskForm().validate_on_submit():
        abort(400)
    payments.get_registry(db.session, registry_id)  # 404 for an unknown one
    try:
        registry = payments.import_registry(
            db.session, registry_id, staff_id=staff_member().id, ip=client_ip()
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "warning")
    else:
        flash(
            ngettext(
                "%(num)s payment imported for %(amount)s.",
                "%(num)s payments imported for %(amount)s.",
                registry.imported_lines,
                amount=as_money(registry.imported_amount),
            ),
            "success",
        )
    return redirect_after_post("admin.payment_registry", registry_id=registry_id)


@bp.route("/payments/registries/<int:registry_id>/errors.csv")
@staff_required("payments")
def payment_registry_errors(registry_id: int):
    payments.get_registry(db.session, registry_id)  # 404 for an unknown one
    try:
        body = payments.errors_file(
            db.session, registry_id, staff_id=staff_member().id, ip=client_ip()
        )
    except DomainError as error:
        flash(error.message, "danger")
        return redirect_after_post("admin.payment_registry", registry_id=registry_id)
    db.session.commit()
    return send_download(body, f"registry-{registry_id}-errors.csv", exports.CSV_MIMETYPE)


# --- payments of an account -----------------------------------------------------------------


@bp.route("/payments")
@staff_required("payments")
def payments_search():
    typed = request.args.get("account", "")
    digits = payments.search_digits(typed)
    payments.record_search(db.session, digits, staff_id=staff_member().id, ip=client_ip())
    page = page_of(payments.find_payments(digits), payments.PAGE_SIZE) if digits else None
    accounts = (
        payments.accounts_brief(db.session, [p.account_id for p in page.items]) if page else {}
    )
    html = page_or_fragment(
        "admin/payments/search.html",
        "admin/payments/_search_results.html",
        digits=digits,
        typed=typed.strip(),
        page=page,
        accounts=accounts,
        params={"account": digits} if digits else {},
        min_digits=payments.MIN_SEARCH_DIGITS,
    )
    db.session.commit()  # the audit of the search, once the page is rendered
    return html
