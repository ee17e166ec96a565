"""Service offices and booked visits: the public offices pages (no sign-in), booking a visit
(office → service → day → time; the calendar works without JavaScript, htmx loads a day's
times), the customer's visits with the .ics file, moving and cancelling them in the portal
or through the signed link of the letters. The rules live in ``portal.services.visits``."""

from datetime import UTC, date, datetime

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_babel import format_date, format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.models import Booking, BookingStatus, HomeVisitStatus, VisitService
from portal.services import home_visits, notify, offices, settings, visit_letters, visits, workdays
from portal.services.errors import DomainError
from portal.visits.forms import HomeVisitForm, TimeForm
from portal.web import (
    customer_required,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    send_download,
)

bp = Blueprint("visits", __name__)
ICS_MIMETYPE = "text/calendar"


@bp.app_context_processor
def visit_choices():
    return {
        "BookingStatus": BookingStatus,
        "HomeVisitStatus": HomeVisitStatus,
        "VisitService": VisitService,
        "weekday_short": weekday_short,
    }


def weekday_short() -> list[str]:
    """Mo, Tu… (Пн, Вт…) for the calendar's columns; 2024-01-01 was a Monday."""
    return [format_date(date(2024, 1, 1 + n), "EEEEEE") for n in range(7)]


@bp.app_template_filter("as_office_moment")
def as_office_moment(moment: datetime) -> str:
    """A moment in an office's own zone as it reads there ("Mon, 7 December, 09:00"); the
    value is already local, so it is not moved to the supplier's zone."""
    return format_datetime(moment.replace(tzinfo=None), "EEE, d MMMM, HH:mm", rebase=False)


@bp.app_template_filter("as_office_moment_of")
def as_office_moment_of(moment: datetime, office, pattern: str = "HH:mm") -> str:
    """A stored (UTC) moment as the office's local time."""
    local = moment.astimezone(visits.zone_of(office)).replace(tzinfo=None)
    return format_datetime(local, pattern, rebase=False)


@bp.app_template_filter("visit_when")
def visit_when(booking: Booking) -> str:
    return visit_letters.when_text(booking)


@bp.app_template_filter("as_weekday_date")
def as_weekday_date(day: date) -> str:
    return format_date(day, "EEEE, d MMMM y")


# --- public offices pages -------------------------------------------------------------------


@bp.route("/offices")
def offices_list():
    calendar = workdays.calendar(db.session)
    found = offices.all_offices(db.session)
    return render_template(
        "portal/visits/offices.html",
        offices=found,
        status={office.id: offices.now_status(office, calendar) for office in found},
        week={office.id: offices.week(office) for office in found},
    )


@bp.route("/offices/<int:office_id>")
def office(office_id: int):
    place = visits.office_or_404(db.session, office_id)
    calendar = workdays.calendar(db.session)
    return render_template(
        "portal/visits/office.html",
        office=place,
        status=offices.now_status(place, calendar),
        week=offices.week(place),
        services=offices.durations(db.session, place),
        shut=offices.shut_days_ahead(db.session, place, calendar),
        map_url=offices.map_link(place),
        weekly_hours=visits.weekly_minutes(place.weekly_plan) / 60,
    )


# --- choosing a time ---------------------------------------------------------------------------


def _chosen_service(place, value):
    return next((s for s in place.offered if s.value == value), None)


def _chosen_day(value) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _picker(place, service, form, exclude=None, **context):
    """The booking page (or its picker, to htmx): services, the days, the chosen day's times."""
    view = visits.availability(db.session, place, service, exclude=exclude) if service else None
    day = _chosen_day(request.values.get("day"))
    days = view.days() if view else []
    if view and (day is None or not view.today <= day <= view.last_day):
        day = next((d.day for d in days if d.free_times), None)
    return page_or_fragment(
        "portal/visits/book.html",
        "portal/visits/_picker.html",
        office=place,
        service=service,
        services=offices.durations(db.session, place),
        months=month_grid(days),
        day=day,
        slots=view.slots(day) if view and day else [],
        form=form,
        **context,
    )


def month_grid(days) -> list[tuple[date, list[list]]]:
    """The days as months of weeks (Monday first), blanks (None) before the first day."""
    months: list[tuple[date, list[list]]] = []
    for item in days:
        if not months or months[-1][0].month != item.day.month:
            months.append((item.day.replace(day=1), [[None] * item.day.weekday()]))
        weeks = months[-1][1]
        if len(weeks[-1]) == 7:
            weeks.append([])
        weeks[-1].append(item)
    return months


def _starts_at(form) -> datetime | None:
    try:
        moment = datetime.fromisoformat(form.starts_at.data or "")
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


@bp.route("/offices/<int:office_id>/book", methods=["GET", "POST"])
@customer_required
def book(office_id: int):
    place = visits.office_or_404(db.session, office_id)
    service = _chosen_service(place, request.values.get("service"))
    form = TimeForm()
    if service and form.validate_on_submit():
        try:
            booking = visits.book(
                db.session, user=current_user, office_id=place.id, service=service,
                starts_at=_starts_at(form), note=form.note.data,
            )  # fmt: skip
        except DomainError as error:
            db.session.rollback()
            form.starts_at.errors = [error.message]
        else:
            visit_letters.notify(db.session, booking, "visit_booked")
            notify.commit_and_send(db.session)
            flash(_("Your visit is booked. Booking code: %(code)s.", code=booking.code), "success")
            return redirect_after_post("visits.show", booking_id=booking.id)
    return _picker(place, service, form, action=url_for("visits.book", office_id=place.id))


# --- the customer's visits ----------------------------------------------------------------------


@bp.route("/visits")
@customer_required
def mine():
    return render_template(
        "portal/visits/mine.html",
        bookings=visits.bookings_of(db.session, current_user),
        home_eligible=bool(home_visits.eligible_accounts(db.session, current_user)),
    )


@bp.route("/visits/home", methods=["GET", "POST"])
@customer_required
def home_visit():
    eligible = home_visits.eligible_accounts(db.session, current_user)
    form = HomeVisitForm()
    form.account_id.choices = [(a.id, f"{a.premises.address} ({a.number})") for a in eligible]
    if eligible and form.validate_on_submit():
        account = next(a for a in eligible if a.id == form.account_id.data)
        with refusal_shown_on(form):
            visit = home_visits.request_visit(
                db.session,
                account=account,
                reason=form.reason.data,
                phone=form.phone.data,
                user=current_user,
            )
            db.session.commit()
            flash(_("Your request is registered. We will visit you by %(date)s and tell you the date, the time and the employee's name in advance.",
                    date=visit.due_by.strftime("%d.%m.%Y")), "success")  # fmt: skip
            return redirect_after_post("visits.home_visit")
    requests = home_visits.visits_of(db.session, sorted({a.customer_id for a in eligible}))
    return render_template(
        "portal/visits/home_visit.html", form=form, eligible=eligible, requests=requests
    )


def _links(booking: Booking, token: str | None = None) -> dict:
    """Where the page of a visit sends its buttons: the portal's, or the signed link's."""
    if token:
        return {
            "ics": url_for("visits.manage_ics", token=token),
            "move": url_for("visits.manage_move", token=token),
            "cancel": url_for("visits.manage", token=token),
        }
    return {
        "ics": url_for("visits.ics", booking_id=booking.id),
        "move": url_for("visits.move", booking_id=booking.id),
        "cancel": url_for("visits.cancel", booking_id=booking.id),
    }


def _show(booking: Booking, token: str | None = None, form=None):
    return render_template(
        "portal/visits/show.html",
        booking=booking,
        when=visit_letters.when_text(booking),
        changeable=visits.changeable(db.session, booking),
        links=_links(booking, token),
        form=form or TimeForm(),
        signed_link=bool(token),
        min_notice_hours=settings.get(db.session, "visits.min_notice_hours"),
    )


@bp.route("/visits/<int:booking_id>")
@customer_required
def show(booking_id: int):
    return _show(visits.booking_of(db.session, current_user, booking_id))


@bp.route("/visits/<int:booking_id>/calendar.ics")
@customer_required
def ics(booking_id: int):
    booking = visits.booking_of(db.session, current_user, booking_id)
    return send_download(visit_letters.ics_file(booking), f"visit-{booking.code}.ics", ICS_MIMETYPE)


def _cancel(booking: Booking, token: str | None = None):
    form = TimeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        visits.cancel(db.session, booking)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        visit_letters.notify(db.session, booking, "visit_cancelled")
        notify.commit_and_send(db.session)
        flash(_("The visit is cancelled."), "success")
    if token:
        return redirect_after_post("visits.manage", token=token)
    return redirect_after_post("visits.show", booking_id=booking.id)


@bp.route("/visits/<int:booking_id>/cancel", methods=["POST"])
@customer_required
def cancel(booking_id: int):
    return _cancel(visits.booking_of(db.session, current_user, booking_id))


def _move(booking: Booking, token: str | None = None):
    form = TimeForm()
    if form.validate_on_submit():
        try:
            visits.reschedule(db.session, booking, _starts_at(form))
        except DomainError as error:
            db.session.rollback()
            form.starts_at.errors = [error.message]
        else:
            visit_letters.notify(db.session, booking, "visit_moved")
            notify.commit_and_send(db.session)
            flash(
                _("The visit is moved to %(when)s.", when=visit_letters.when_text(booking)),
                "success",
            )
            if token:
                return redirect_after_post("visits.manage", token=token)
            return redirect_after_post("visits.show", booking_id=booking.id)
    action = (
        url_for("visits.manage_move", token=token)
        if token
        else url_for("visits.move", booking_id=booking.id)
    )
    return _picker(
        booking.office, booking.service, form, exclude=booking.id, action=action, moving=booking
    )


@bp.route("/visits/<int:booking_id>/move", methods=["GET", "POST"])
@customer_required
def move(booking_id: int):
    return _move(visits.booking_of(db.session, current_user, booking_id))


# --- through the signed link of a letter (no sign-in) ------------------------------------------


@bp.route("/visits/manage/<token>", methods=["GET", "POST"])
def manage(token: str):
    booking = visit_letters.booking_by_token(db.session, token)
    if request.method == "POST":
        return _cancel(booking, token)
    return _show(booking, token)


@bp.route("/visits/manage/<token>/move", methods=["GET", "POST"])
def manage_move(token: str):
    return _move(visit_letters.booking_by_token(db.session, token), token)


@bp.route("/visits/manage/<token>/calendar.ics")
def manage_ics(token: str):
    booking = visit_letters.booking_by_token(db.session, token)
    return send_download(visit_letters.ics_file(booking), f"visit-{booking.code}.ics", ICS_MIMETYPE)
