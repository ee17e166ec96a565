"""Documents for organisations in the back office: the register of issued documents (the
журнал учёта выставленных счетов-фактур) by month and kind, as CSV or XLSX; the issue of a
closed month's documents for every contract, with a progress bar while the worker (or the
embedded scheduler) issues them. Rules: ``portal.services.contract_documents``."""

from flask import flash, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from admin import bp
from admin.access import can, staff_required
from portal.extensions import db
from portal.models import BillingPeriod, DocumentKind, PeriodStatus
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit, contract_documents, exports, months
from portal.services.errors import DomainError, NotFound
from portal.web import (
    client_ip,
    page_of,
    page_or_fragment,
    redirect_after_post,
    send_download,
    staff_member,
)

DOCUMENTS_PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RegisterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter

    period = StringField(_l("Month"), validators=[Optional()], description=_l("YYYY-MM"))
    kind = SelectField(
        _l("Document"),
        choices=[SelectChoice("", _l("All"))]
        + [SelectChoice(kind.value, kind.label) for kind in DocumentKind],
        validators=[Optional()],
    )

    def filters(self):
        """(period, kind) asked for; a malformed month is shown next to its field."""
        self.validate()
        period = None
        if self.period.data:
            try:
                period = months.parse_period(self.period.data)
            except DomainError as error:
                self.period.errors = [error.message]
        return period, self.kind.data or None


@bp.route("/documents")
@staff_required("documents")
def documents_register():
    form = RegisterForm(request.args)
    period, kind = form.filters()
    export = request.args.get("export")
    if export in ("csv", "xlsx"):
        return _export(period, kind, export)
    page = page_of(contract_documents.register(period, kind), DOCUMENTS_PER_PAGE)
    return page_or_fragment(
        "admin/documents/register.html",
        "admin/documents/_register_rows.html",
        page=page,
        form=form,
        periods=_closed_periods(),
        can_issue=can("documents.issue"),
    )


def _export(period, kind, export: str):
    rows = list(
        contract_documents.register_rows(
            db.session.scalars(contract_documents.register(period, kind))
        )
    )
    audit.record(
        db.session,
        staff_id=staff_member().id,
        action=AuditAction.EXPORT,
        object_type=AuditObject.CONTRACT_DOCUMENT,
        object_id=None,
        summary=f"register of documents {period or 'all'} {kind or 'all'}: {len(rows)} lines",
        ip_address=client_ip(),
    )
    db.session.commit()
    name = f"register-{period:%Y-%m}" if period else "register"
    header = contract_documents.REGISTER_HEADER
    if export == "csv":
        return send_download(exports.csv_file([header, *rows]), f"{name}.csv", "text/csv")
    body = exports.xlsx_file("Журнал", header, rows, widths=(18, 22, 12, 10, 40, 22, 16))
    return send_download(body, f"{name}.xlsx", XLSX)


def select_closed():
    return select(BillingPeriod.period).where(BillingPeriod.status == PeriodStatus.CLOSED)


def _closed_periods() -> list:
    """The last two years of closed months, for the links to their issue pages."""
    return list(db.session.scalars(select_closed().order_by(BillingPeriod.period.desc()).limit(24)))


def _closed(period_text: str):
    try:
        period = months.parse_period(period_text)
    except DomainError:
        raise NotFound() from None
    if period not in db.session.scalars(select_closed()).all():
        raise NotFound()
    return period


@bp.route("/documents/periods/<period>")
@staff_required("documents")
def documents_period(period: str):
    """The month's issue: how many contracts have their documents, polled while some wait."""
    month = _closed(period)
    progress = contract_documents.progress_of(db.session, month)
    return page_or_fragment(
        "admin/documents/period.html",
        "admin/documents/_progress.html",
        progress=progress,
        iso=months.iso(month),
        can_issue=can("documents.issue"),
    )


@bp.route("/documents/periods/<period>/issue", methods=["POST"])
@staff_required("documents.issue")
def documents_issue(period: str):
    """Hand the month to the worker; without one, the embedded scheduler issues it."""
    month = _closed(period)
    if not contract_documents.send_to_worker(db.session, month):
        flash(_("The documents will be issued by the background scheduler."), "info")
    audit.record(
        db.session,
        staff_id=staff_member().id,
        action=AuditAction.CREATE,
        object_type=AuditObject.CONTRACT_DOCUMENT,
        object_id=None,
        summary=f"documents of {months.iso(month)} requested for every contract",
        ip_address=client_ip(),
    )
    db.session.commit()
    return redirect_after_post("admin.documents_period", period=months.iso(month))
