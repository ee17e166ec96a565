"""The audit log: who viewed or changed what, when and from where (152-ФЗ)."""

from datetime import UTC, date, datetime, time, timedelta

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload
from wtforms import DateField, IntegerField, SearchField, SelectField
from wtforms.validators import Length, NumberRange, Optional

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import AuditEvent, Staff, StaffRole
from portal.models.audit import AuditAction, AuditObject
from portal.services.clock import supplier_zone
from portal.services.customers import MAX_ID, clean_term, text_matches
from portal.web import options, page_of, page_or_fragment

PAGE_SIZE = 30

# Names of the fields that appear in the changes of an event.
FIELD_LABELS = {
    "full_name": _l("Full name"),
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "postal_address": _l("Postal address"),
    "birth_date": _l("Date of birth"),
    "lives_alone_disabled": _l("Lives alone and has a disability"),
    "is_veteran": _l("Veteran"),
    "notes": _l("Notes"),
    "position": _l("Position"),
    "role": _l("Role"),
    "active": _l("May sign in"),
    "password": _l("Password"),
    "status": _l("Status"),
    "scheduled_at": _l("Scheduled"),
    "value": _l("Value"),
    "day": _l("Date"),
    "working": _l("Working day"),
    "note": _l("Note"),
}


# --- the query (set-based, no request objects) ----------------------------------------------


def local_day_start(day: date) -> datetime:
    """The UTC moment a day begins in the supplier's time zone."""
    return datetime.combine(day, time.min, tzinfo=supplier_zone()).astimezone(UTC)


def audit_events(
    *,
    staff_id: int | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    text: str | None = None,
) -> Select:
    """Events matching every given filter, newest first; dates are the supplier's days."""
    query = select(AuditEvent).options(selectinload(AuditEvent.staff))
    if staff_id:
        query = query.where(AuditEvent.staff_id == staff_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if date_from:
        query = query.where(AuditEvent.at >= local_day_start(date_from))
    if date_to:
        query = query.where(AuditEvent.at < local_day_start(date_to + timedelta(days=1)))
    if text := clean_term(text):
        query = query.where(text_matches(AuditEvent.summary, text))
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def object_types_in_use(session: Session) -> list[str]:
    stored = session.scalars(select(AuditEvent.object_type).distinct()).all()
    return list(dict.fromkeys([*AuditObject.values(), *sorted(stored)]))


def object_label(kind: str):
    """What an object type is called; one the log has no label for, as stored."""
    return AuditObject(kind).label if kind in AuditObject.values() else kind


# --- the filter form ------------------------------------------------------------------------


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    staff = SelectField(_l("Employee"), validators=[Optional()])
    action = SelectField(_l("Action"), validators=[Optional()])
    object_type = SelectField(_l("Object"), validators=[Optional()])
    object_id = IntegerField(
        _l("Object number"), validators=[Optional(), NumberRange(min=1, max=MAX_ID)]
    )
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    q = SearchField(_l("Text in the description"), validators=[Optional(), Length(max=100)])

    def fill_choices(self, session: Session) -> None:
        everyone = session.execute(select(Staff.id, Staff.full_name).order_by(Staff.full_name))
        self.staff.choices = options(((str(i), name) for i, name in everyone), _l("Anyone"))
        self.action.choices = options(AuditAction.options(), _l("Any action"))
        self.object_type.choices = options(
            ((kind, object_label(kind)) for kind in object_types_in_use(session)),
            _l("Any object"),
        )

    def valid_filters(self) -> dict:
        """The filters that passed validation; a malformed one is ignored (and marked)."""
        self.validate()
        value = {name: None if self[name].errors else self[name].data for name in self.data}
        staff = value.pop("staff")
        return value | {
            "staff_id": int(staff) if staff else None,
            "text": value.pop("q"),
        }

    def query_args(self) -> dict:
        """The filters as query parameters, for the pagination links."""
        return {key: value for key, value in request.args.items() if key in self and value}


@bp.route("/audit")
@staff_required("audit")
def audit_log():
    form = AuditFilterForm(formdata=request.args)
    form.fill_choices(db.session)
    filters = form.valid_filters()
    page = page_of(audit_events(**filters), PAGE_SIZE)
    return page_or_fragment(
        "admin/audit/index.html",
        "admin/audit/_results.html",
        form=form,
        page=page,
        params=form.query_args(),
        FIELD_LABELS=FIELD_LABELS,
        StaffRole=StaffRole,
        AuditAction=AuditAction,
        AuditObject=AuditObject,
    )
