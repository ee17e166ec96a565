"""The work calendar in the back office, for administrators: a year's holidays, moved days
off and working Saturdays as the calendar library gives them, and the exceptions kept here
(a decree the library does not know yet, a regional day off). Every rule is in
``portal.services.workdays``."""

from datetime import date, timedelta

from flask import flash, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models.calendar import MAX_NOTE_LENGTH, DayKind
from portal.services import workdays
from portal.services.clock import local_today
from portal.web import (
    client_ip,
    options,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    staff_member,
    wants_fragment,
)

MONDAY = date(2024, 1, 1)  # any Monday: the weekday names of the small calendars


class CalendarDayForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired(message=_l("Enter the date."))])
    working = SelectField(_l("The day is"), choices=options(DayKind.options()), default=DayKind.OFF)
    note = StringField(
        _l("Basis"),
        validators=[
            DataRequired(
                message=_l("Give the basis, for example the number and date of the decree.")
            )
        ],
        description=_l("For example: Government Decree No. 1466 of 24.09.2025"),
    )


def shown_year() -> int:
    """The ``year`` query parameter when it is a year the calendar covers, else this year."""
    year = request.args.get("year", type=int)
    first, last = workdays.EARLIEST_DAY.year, workdays.LATEST_DAY.year
    return year if year is not None and first <= year <= last else local_today().year


def holiday_language() -> str:
    """The language the calendar library names holidays in: Russian or English."""
    return "ru" if get_locale().language == "ru" else "en_US"


def _page(year: int, form: CalendarDayForm, message: str | None = None):
    return page_or_fragment(
        "admin/calendar/index.html",
        "admin/calendar/_calendar.html",
        view=workdays.year_view(db.session, year, holiday_language()),
        form=form,
        message=message,
        max_note=MAX_NOTE_LENGTH,
        first_year=workdays.EARLIEST_DAY.year,
        last_year=workdays.LATEST_DAY.year,
        weekday_names=[format_date(MONDAY + timedelta(days=n), "EEEEEE") for n in range(7)],
    )


def _done(year: int, message: str):
    """The calendar of the year with the message (htmx), or back to it (303)."""
    db.session.commit()
    if wants_fragment():
        target = url_for("admin.calendar_index", year=year)
        return _page(year, CalendarDayForm(formdata=None), message), {"HX-Push-Url": target}
    flash(message, "success")
    return redirect_after_post("admin.calendar_index", year=year)


@bp.get("/calendar")
@staff_required("calendar")
def calendar_index():
    return _page(shown_year(), CalendarDayForm(formdata=None))


@bp.post("/calendar")
@staff_required("calendar")
def calendar_add():
    form = CalendarDayForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            row = workdays.add_override(
                db.session,
                day=form.day.data,
                working=form.working.data == DayKind.WORKING,
                note=form.note.data,
                staff_id=staff_member().id,
                ip=client_ip(),
            )
            return _done(
                row.day.year,
                _(
                    "%(date)s is now: %(kind)s.",
                    date=format_date(row.day, "long"),
                    kind=row.kind.label,
                ),
            )
    return _page(shown_year(), form)


@bp.post("/calendar/<int:override_id>/delete")
@staff_required("calendar")
def calendar_remove(override_id: int):
    row = workdays.remove_override(
        db.session, override_id, staff_id=staff_member().id, ip=client_ip()
    )
    return _done(
        row.day.year,
        _(
            "The exception for %(date)s is removed: the calendar library decides the day again.",
            date=format_date(row.day, "long"),
        ),
    )
