"""Office visits in the back office: the office's day for operators (booked visitors,
check-in, walk-in tickets, call next per window, served, no-show) and the hall's screen;
offices, their plans, closures, services and windows for administrators, with the booked
visits a change made impossible listed to move or cancel. Rules live in
``portal.services.office_day`` and ``portal.services.office_admin``."""

from datetime import date, datetime, timedelta

from flask import flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import Office, VisitService
from portal.models.audit import AuditAction, AuditObject
from portal.services import (
    audit,
    exports,
    notify,
    office_admin,
    office_day,
    offices,
    settings,
    visit_figures,
    visit_letters,
    visits,
)
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.visits.views import as_office_moment
from portal.web import (
    client_ip,
    options,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    send_download,
    staff_member,
)

ZONES = (
    "Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
    "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok",
    "Asia/Magadan", "Asia/Kamchatka",
)  # fmt: skip
PLAN_PARTS = ("opens", "closes", "break_from", "break_to")


class WalkInForm(FlaskForm):
    service = SelectField(_l("Service"), choices=options(VisitService.options()))
    full_name = StringField(_l("Name (optional)"), validators=[Optional(), Length(max=200)])


class CheckInForm(FlaskForm):
    code = StringField(
        _l("Booking code"), validators=[DataRequired(message=_l("Enter the booking code."))]
    )


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Message to the customer"), validators=[Length(max=300)])


class ClosureForm(FlaskForm):
    first_day = DateField(_l("From"), validators=[DataRequired(message=_l("Enter the first day."))])
    last_day = DateField(_l("To (inclusive)"), validators=[Optional()])
    reason = StringField(_l("Reason shown to customers"), validators=[Length(max=200)])


class OfficeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    address = StringField(_l("Address"), validators=[Length(max=400)])
    phones = StringField(
        _l("Phones"), validators=[Length(max=200)], description=_l("Separated by commas")
    )
    district = StringField(_l("District"), validators=[Length(max=100)])
    timezone = SelectField(
        _l("Time zone"), choices=options((zone, zone) for zone in ZONES), default="Europe/Moscow"
    )
    windows = IntegerField(_l("Windows receiving visitors"), validators=[Optional()], default=1)
    services = SelectMultipleField(
        _l("Services"),
        choices=options(VisitService.options()),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


for _key in visits.DAY_KEYS:
    for _part in PLAN_PARTS:
        setattr(OfficeForm, f"{_key}_{_part}", StringField(validators=[Optional(), Length(max=5)]))


def _form_of(office: Office) -> OfficeForm:
    form = OfficeForm(obj=office)
    if not form.is_submitted():
        for key in visits.DAY_KEYS:
            entry = (office.weekly_plan or {}).get(key) or []
            for index, part in enumerate(PLAN_PARTS):
                getattr(form, f"{key}_{part}").data = entry[index] if index < len(entry) else ""
    return form


def _office(office_id: int) -> Office:
    return db.get_or_404(Office, office_id)


# --- the office's day ----------------------------------------------------------------------------


def _chosen_office() -> Office | None:
    found = offices.all_offices(db.session)
    wanted = request.args.get("office", type=int)
    return next((o for o in found if o.id == wanted), found[0] if found else None)


def _day_page(office: Office, walk_in=None, check_in=None):
    day = office_day.office_today(office)
    view = office_day.day_view(db.session, office, day, request.args.get("q", ""))
    audit.record(
        db.session, staff_id=staff_member().id, action=AuditAction.VIEW, object_type=AuditObject.OFFICE,
        object_id=office.id, summary=f"{office.name}: visitors of {day:%d.%m.%Y}", ip_address=client_ip(),
    )  # fmt: skip
    page = page_or_fragment(
        "admin/visits/day.html", "admin/visits/_queue.html",
        view=view, offices=offices.all_offices(db.session), search=request.args.get("q", ""),
        walk_in=walk_in or WalkInForm(formdata=None), check_in=check_in or CheckInForm(formdata=None),
        action_form=FlaskForm(), now=visits.utcnow(),
    )  # fmt: skip
    db.session.commit()  # the view's audit record
    return page


@bp.get("/visits")
@staff_required("visits")
def visits_day():
    office = _chosen_office()
    if office is None:
        return render_template("admin/visits/no_offices.html")
    return _day_page(office)


def _back(office: Office, message: str | None = None, category: str = "success"):
    db.session.commit()
    if message:
        flash(message, category)
    return redirect_after_post("admin.visits_day", office=office.id)


@bp.post("/visits/<int:office_id>/walk-in")
@staff_required("visits")
def visits_walk_in(office_id: int):
    office, form = _office(office_id), WalkInForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            ticket = office_day.walk_in(
                db.session, office.id, form.service.data, form.full_name.data
            )
            return _back(
                office, _("Ticket %(ticket)s: give it to the visitor.", ticket=ticket.label)
            )
    return _day_page(office, walk_in=form)


@bp.post("/visits/<int:office_id>/check-in")
@staff_required("visits")
def visits_check_in(office_id: int):
    office, form = _office(office_id), CheckInForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            ticket = office_day.check_in(db.session, office.id, form.code.data)
            return _back(
                office,
                _(
                    "%(name)s is checked in: ticket %(ticket)s.",
                    name=ticket.full_name,
                    ticket=ticket.label,
                ),
            )
    return _day_page(office, check_in=form)


@bp.post("/visits/<int:office_id>/call")
@staff_required("visits")
def visits_call(office_id: int):
    office = _office(office_id)
    if not FlaskForm().validate_on_submit():
        return _back(office)
    try:
        ticket = office_day.call_next(db.session, office, request.form.get("window", type=int) or 0)
    except DomainError as error:
        db.session.rollback()
        return _back(office, error.message, "danger")
    if ticket is None:
        return _back(office, _("Nobody is waiting."), "info")
    return _back(
        office,
        _(
            "Ticket %(ticket)s is called to window %(window)s.",
            ticket=ticket.label,
            window=ticket.window,
        ),
    )


@bp.post("/visits/<int:office_id>/tickets/<int:ticket_id>/finish")
@staff_required("visits")
def visits_finish(office_id: int, ticket_id: int):
    office = _office(office_id)
    ticket = office_day.ticket_of(db.session, office, ticket_id)
    if not FlaskForm().validate_on_submit():
        return _back(office)
    try:
        office_day.finish(db.session, ticket, served=request.form.get("result") == "served")
    except DomainError as error:
        db.session.rollback()
        return _back(office, error.message, "danger")
    return _back(
        office, _("Ticket %(ticket)s: %(status)s.", ticket=ticket.label, status=ticket.status.label)
    )


@bp.post("/visits/<int:office_id>/bookings/<int:booking_id>/no-show")
@staff_required("visits")
def visits_no_show(office_id: int, booking_id: int):
    office = _office(office_id)
    if not FlaskForm().validate_on_submit():
        return _back(office)
    try:
        booking = office_day.booking_no_show(db.session, office, booking_id)
    except DomainError as error:
        db.session.rollback()
        return _back(office, error.message, "danger")
    return _back(office, _("%(name)s did not come.", name=booking.full_name))


@bp.get("/visits/<int:office_id>/screen")
@staff_required("visits")
def visits_screen(office_id: int):
    office = _office(office_id)
    called, waiting = office_day.screen(db.session, office)
    return page_or_fragment(
        "admin/visits/screen.html",
        "admin/visits/_screen.html",
        office=office,
        called=called,
        waiting=waiting,
    )


# --- offices, for administrators -------------------------------------------------------------------


@bp.get("/offices")
@staff_required("visits.manage")
def offices_index():
    found = offices.all_offices(db.session)
    return render_template(
        "admin/visits/offices.html",
        offices=found,
        hours={o.id: visits.weekly_minutes(o.weekly_plan) / 60 for o in found},
        minimum=office_admin.MIN_WEEKLY_HOURS,
    )


def _edit_page(office: Office | None, form: OfficeForm):
    return render_template(
        "admin/visits/office_form.html",
        office=office,
        form=form,
        closure_form=ClosureForm(formdata=None),
        day_keys=visits.DAY_KEYS,
        day_names=dict(zip(visits.DAY_KEYS, offices.WEEKDAY_NAMES, strict=True)),
        action_form=FlaskForm(),
    )


def _saved(office: Office, message: str):
    affected = office_admin.impossible_bookings(db.session, office)
    db.session.commit()
    if affected:
        flash(
            _("Saved. Some booked visits are no longer possible: move or cancel each."), "warning"
        )
        return redirect_after_post("admin.offices_affected", office_id=office.id)
    flash(message, "success")
    return redirect_after_post("admin.offices_edit", office_id=office.id)


@bp.route("/offices/new", methods=["GET", "POST"])
@staff_required("visits.manage")
def offices_new():
    form = OfficeForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            office = office_admin.save_office(
                db.session, None, form.data, staff_member().id, client_ip()
            )
            return _saved(office, _("The office is added."))
    return _edit_page(None, form)


@bp.route("/offices/<int:office_id>", methods=["GET", "POST"])
@staff_required("visits.manage")
def offices_edit(office_id: int):
    office = _office(office_id)
    form = _form_of(office)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            office_admin.save_office(db.session, office, form.data, staff_member().id, client_ip())
            return _saved(office, _("The office is saved."))
    return _edit_page(office, form)


@bp.post("/offices/<int:office_id>/closures")
@staff_required("visits.manage")
def offices_closure_add(office_id: int):
    office, form = _office(office_id), ClosureForm()
    if form.validate_on_submit():
        try:
            office_admin.add_closure(
                db.session,
                office,
                form.first_day.data,
                form.last_day.data,
                form.reason.data,
                staff_member().id,
                client_ip(),
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            return _saved(office, _("The closure is added."))
    else:
        flash(" ".join(e for errors in form.errors.values() for e in errors), "danger")
    return redirect_after_post("admin.offices_edit", office_id=office.id)


@bp.post("/offices/<int:office_id>/closures/<int:closure_id>/delete")
@staff_required("visits.manage")
def offices_closure_remove(office_id: int, closure_id: int):
    office = _office(office_id)
    if FlaskForm().validate_on_submit():
        office_admin.remove_closure(db.session, office, closure_id, staff_member().id, client_ip())
        db.session.commit()
        flash(_("The closure is removed."), "success")
    return redirect_after_post("admin.offices_edit", office_id=office.id)


@bp.get("/offices/<int:office_id>/affected")
@staff_required("visits.manage")
def offices_affected(office_id: int):
    office = _office(office_id)
    affected = office_admin.impossible_bookings(db.session, office)
    return render_template(
        "admin/visits/affected.html",
        office=office,
        affected=affected,
        free={b.id: office_admin.free_times_for(db.session, b) for b in affected},
        when={b.id: visit_letters.when_text(b) for b in affected},
        cancel_form=CancelForm(formdata=None),
    )


@bp.post("/offices/<int:office_id>/affected/<int:booking_id>/move")
@staff_required("visits.manage")
def offices_booking_move(office_id: int, booking_id: int):
    office = _office(office_id)
    booking = visits.office_booking_or_404(db.session, office, booking_id)
    if FlaskForm().validate_on_submit():
        try:
            starts_at = datetime.fromisoformat(request.form.get("starts_at", ""))
        except ValueError:
            starts_at = None
        try:
            office_admin.staff_move(db.session, booking, starts_at, staff_member().id, client_ip())
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            visit_letters.notify(
                db.session, booking, "visit_moved", reason=request.form.get("reason", "")
            )
            notify.commit_and_send(db.session)
            flash(_("Visit %(code)s is moved; the customer is told.", code=booking.code), "success")
    return redirect_after_post("admin.offices_affected", office_id=office.id)


@bp.post("/offices/<int:office_id>/affected/<int:booking_id>/cancel")
@staff_required("visits.manage")
def offices_booking_cancel(office_id: int, booking_id: int):
    office = _office(office_id)
    booking = visits.office_booking_or_404(db.session, office, booking_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            office_admin.staff_cancel(
                db.session, booking, form.reason.data, staff_member().id, client_ip()
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            visit_letters.notify(
                db.session, booking, "visit_cancelled", reason=form.reason.data.strip()
            )
            notify.commit_and_send(db.session)
            flash(
                _("Visit %(code)s is cancelled; the customer is told.", code=booking.code),
                "success",
            )
    return redirect_after_post("admin.offices_affected", office_id=office.id)


# --- waiting and service time figures ----------------------------------------------------------


def _period() -> tuple[date, date]:
    """The ``from`` and ``to`` days asked for, else the month so far; at most a year."""
    today = local_today()
    first = _day_arg("from") or today.replace(day=1)
    last = _day_arg("to") or today
    if last < first:
        first, last = last, first
    return max(first, last - timedelta(days=visit_figures.MAX_PERIOD_DAYS)), last


def _day_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _figures_csv(rows, first: date, last: date):
    header = [_("Office"), _("Bookings"), _("Walk-ins"), _("No-shows"), _("Called"), _("Average wait, min"),
              _("90th percentile wait, min"), _("Called within target, %"), _("Average service, min")]  # fmt: skip
    lines = [[row.office or _("All offices"), row.bookings, row.walk_ins, row.no_shows, row.called, row.average_wait,
              row.p90_wait, None if row.within_target is None else row.within_target * 100, row.average_service]
             for row in rows]  # fmt: skip
    body = exports.csv_file([header, *lines])
    return send_download(
        body, f"office-waiting-{first:%Y%m%d}-{last:%Y%m%d}.csv", exports.CSV_MIMETYPE
    )


@bp.get("/visits/figures")
@staff_required("visits.figures")
def visits_figures():
    first, last = _period()
    office_id = request.args.get("office", type=int)
    rows = visit_figures.figures(db.session, first, last, office_id)
    if request.args.get("format") == "csv":
        return _figures_csv(rows, first, last)
    return render_template(
        "admin/visits/figures.html",
        rows=rows,
        first=first,
        last=last,
        office_id=office_id,
        offices=offices.all_offices(db.session),
        target=settings.get(db.session, "visits.wait_target_minutes"),
        chart=_chart(rows),
    )


def _chart(rows) -> dict:
    shown = [row for row in rows if row.office]
    return {
        "labels": [row.office for row in shown],
        "datasets": [
            {
                "label": str(_("Average wait")),
                "data": [float(row.average_wait or 0) for row in shown],
            },
            {
                "label": str(_("90th percentile wait")),
                "data": [float(row.p90_wait or 0) for row in shown],
            },
        ],
        "axis": str(_("Minutes")),
        "unit": str(_("min")),
    }


# --- a visit booked for a caller (002 §11.2: booking by phone) --------------------------------


class CallerForm(FlaskForm):
    starts_at = SelectField(_l("Time"), validate_choice=False)
    full_name = StringField(_l("Visitor"), validators=[Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Length(max=20)])
    email = StringField(_l("E-mail (optional)"), validators=[Optional(), Length(max=254)])
    note = TextAreaField(_l("Question"), validators=[Optional(), Length(max=500)])


def _caller_page(office: Office, service: VisitService, form: CallerForm):
    view = visits.availability(db.session, office, service)
    times = [slot for day in view.days() if day.free_times for slot in view.slots(day.day)][:120]
    form.starts_at.choices = options(
        (slot.starts_at.isoformat(), as_office_moment(slot.local)) for slot in times
    )
    return render_template(
        "admin/visits/book.html", office=office, service=service, form=form, services=office.offered
    )


@bp.route("/visits/<int:office_id>/book", methods=["GET", "POST"])
@staff_required("visits")
def visits_book(office_id: int):
    office = _office(office_id)
    wanted = request.values.get("service")
    service = next((s for s in office.offered if s.value == wanted), office.offered[0])
    form = CallerForm()
    if request.method == "POST" and form.validate_on_submit():
        with refusal_shown_on(form):
            booking = visits.book_for_caller(
                db.session, office_id=office.id, service=service, starts_at=_moment(form.starts_at.data),
                full_name=form.full_name.data, phone=form.phone.data, email=form.email.data, note=form.note.data,
            )  # fmt: skip
            visit_letters.notify(db.session, booking, "visit_booked")
            notify.commit_and_send(db.session)
            flash(
                _(
                    "Booked: %(when)s, code %(code)s. Tell the caller the code.",
                    when=visit_letters.when_text(booking),
                    code=booking.code,
                ),
                "success",
            )
            return redirect_after_post("admin.visits_day", office=office.id)
    return _caller_page(office, service, form)


def _moment(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else None
