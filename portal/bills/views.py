"""A resident's bills and payments. The figures come from ``portal.services.statements``,
the QR code and PDF from ``portal.services.documents``."""

from datetime import date

from flask import Blueprint, abort, current_app, render_template, request, session
from flask_babel import format_date, format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.models import Account, ChargeMethod, CustomerKind, NormBasis, Service, Zone
from portal.services import accounts, documents, statements
from portal.services.clock import local_today
from portal.web import customer_required, page_of, send_download

bp = Blueprint("bills", __name__, url_prefix="/accounts")

PERIOD = "<int(fixed_digits=4):year>-<int(fixed_digits=2):month>"


def charge_method(line: statements.ChargeLine) -> str:
    """How a charge's volume was found, in words."""
    charge = line.charge
    if charge.method == ChargeMethod.METER:
        return _("by meter")
    if charge.method == ChargeMethod.AVERAGE:
        if not charge.basis:
            return _("by average consumption")
        return ngettext(
            "by average of %(num)d month", "by average of %(num)d months", int(charge.basis)
        )
    if charge.method == ChargeMethod.NORM:
        return _by_norm(line.norm_basis, charge.basis)
    if charge.takes_back_estimates:
        return statements.estimates_taken_back(charge)
    return _("recalculation: %(reason)s", reason=charge.reason or "—")


def _by_norm(norm_basis, basis) -> str:
    if norm_basis == NormBasis.PER_M2 and basis is not None:
        return _("by norm for %(area)s m²", area=format_decimal(basis))
    if norm_basis == NormBasis.PER_RESIDENT and basis is not None:
        return ngettext("by norm for %(num)d resident", "by norm for %(num)d residents", int(basis))
    return _("by consumption norm")


def as_volume(value) -> str:
    """A charged volume as stored, up to four decimals: 0,9991 Gcal, 120 kWh."""
    return "—" if value is None else format_decimal(value, format="#,##0.####")


def zone_shown(service: str, zone: str) -> bool:
    """Tariff zones mean something for a service that has zones; others have one rate."""
    return zone != Zone.TOTAL or Service(service).has_zones


@bp.context_processor
def bill_helpers():
    return {
        "charge_method": charge_method,
        "format_decimal": format_decimal,
        "as_volume": as_volume,
        "zone_shown": zone_shown,
    }


def _account(account_id: int) -> Account:
    """The account, if it is the user's to see; otherwise 404 (the service's NotFound)."""
    account = accounts.get_account_for(db.session, current_user, account_id)
    session["account_id"] = account.id
    return account


def _statement(account: Account, year: int, month: int) -> statements.Statement:
    try:
        period = date(year, month, 1)
    except ValueError:  # month 13 matches the URL's digits
        abort(404)
    return statements.statement(db.session, account.id, period)


def _payer(account: Account) -> documents.Payer:
    customer = account.customer
    is_person = customer.kind == CustomerKind.PERSON
    return documents.Payer(
        full_name=customer.full_name,
        address=account.premises.address,
        account_number=account.number,
        is_person=is_person,
        inn=None if is_person or customer.organisation is None else customer.organisation.inn,
    )


def _payment_qr(account: Account, statement: statements.Statement) -> tuple[str, str]:
    """The payload of the bill's payment QR code and the code as an SVG data URI."""
    payload = documents.payment_payload(
        documents.Payee.from_config(current_app.config),
        _payer(account),
        statement.period,
        statement.to_pay,
    )
    return payload, documents.qr_svg_data_uri(payload)


@bp.route("/<int:account_id>/bills")
@customer_required
def index(account_id: int):
    account = _account(account_id)
    bills = statements.bills_of_year(db.session, account.id, request.args.get("year", type=int))
    return render_template(
        "portal/bills/index.html",
        account=account,
        bills=bills,
        summary=statements.account_summary(db.session, account.id, local_today()),
        today=local_today(),
    )


@bp.route(f"/<int:account_id>/bills/{PERIOD}")
@customer_required
def show(account_id: int, year: int, month: int):
    account = _account(account_id)
    statement = _statement(account, year, month)
    _payload, qr = _payment_qr(account, statement)
    return render_template(
        "portal/bills/show.html",
        account=account,
        statement=statement,
        bill=statement.bill,
        qr=qr,
        payee=documents.Payee.from_config(current_app.config),
    )


@bp.route(f"/<int:account_id>/bills/{PERIOD}.pdf")
@customer_required
def pdf(account_id: int, year: int, month: int):
    account = _account(account_id)
    statement = _statement(account, year, month)
    _payload, qr = _payment_qr(account, statement)
    html = render_template(
        "documents/bill.html",
        account=account,
        statement=statement,
        bill=statement.bill,
        qr=qr,
        payee=documents.Payee.from_config(current_app.config),
        printed_on=local_today(),
    )
    return send_download(
        documents.render_pdf(html),
        f"kvitantsiya-{account.number}-{year:04d}-{month:02d}.pdf",
        "application/pdf",
    )


@bp.route("/<int:account_id>/payments")
@customer_required
def payments(account_id: int):
    account = _account(account_id)
    series = statements.monthly_series(db.session, account.id)
    return render_template(
        "portal/bills/payments.html",
        account=account,
        page=page_of(statements.payments_of(account.id), statements.PAYMENTS_PER_PAGE),
        series=series,
        chart=_chart_data(series),
    )


def _chart_data(series: statements.MonthlySeries) -> dict:
    """What billing-chart.js draws: charges stacked by service, consumption per service."""
    return {
        "labels": [format_date(p, "LLL yyyy") for p in series.periods],
        "charges": {
            "axis": "₽",
            "unit": "₽",
            "stacked": True,
            "datasets": [
                {
                    "label": str(Service(service).label),
                    "data": [float(series.charges.get((p, service), 0)) for p in series.periods],
                }
                for service in series.services
            ],
        },
        "consumption": [
            {
                "axis": str(Service(service).unit),
                "unit": str(Service(service).unit),
                "stacked": False,
                "datasets": [
                    {
                        "label": str(Service(service).label),
                        "data": [
                            float(v)
                            if (v := series.volumes.get((p, service))) is not None
                            else None
                            for p in series.periods
                        ],
                    }
                ],
            }
            for service in series.services
        ],
    }
