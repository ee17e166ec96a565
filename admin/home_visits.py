"""Home visits for vulnerable customers in the back office (004 §8.4): the open requests,
the one due soonest first; a request taken by phone; scheduling a date, a time window and
the visitor (the customer is told at once); closing it as made or cancelled. Rules live in
``portal.services.home_visits``."""

from flask import flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.services import home_visits, notify
from portal.services.clock import local_today
from portal.services.errors import DomainError
from portal.web import client_ip, redirect_after_post, refusal_shown_on, staff_member


class PhoneRequestForm(FlaskForm):
    account_number = StringField(
        _l("Account number"), validators=[DataRequired(message=_l("Enter the account number."))]
    )
    reason = TextAreaField(
        _l("What is the visit about?"),
        validators=[
            DataRequired(message=_l("Tell us briefly what the visit is about.")),
            Length(max=500),
        ],
    )
    phone = StringField(_l("Phone to agree the time"), validators=[Optional(), Length(max=20)])


class ScheduleForm(FlaskForm):
    visit_day = DateField(_l("Date of the visit"), validators=[Optional()])
    window_from = StringField(_l("From"), validators=[Optional(), Length(max=5)])
    window_to = StringField(_l("To"), validators=[Optional(), Length(max=5)])
    visitor_name = StringField(_l("Visitor"), validators=[Length(max=200)])
    visitor_phone = StringField(_l("Visitor's phone"), validators=[Length(max=20)])


def _list(form=None):
    return render_template(
        "admin/visits/home_visits.html",
        requests=home_visits.open_requests(db.session),
        form=form or PhoneRequestForm(formdata=None),
        today=local_today(),
    )


@bp.get("/home-visits")
@staff_required("visits")
def home_visits_index():
    return _list()


@bp.post("/home-visits")
@staff_required("visits")
def home_visits_add():
    form = PhoneRequestForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            account = home_visits.account_by_number(db.session, form.account_number.data)
            visit = home_visits.request_visit(
                db.session, account=account, reason=form.reason.data, phone=form.phone.data,
                staff_id=staff_member().id, ip=client_ip(),
            )  # fmt: skip
            db.session.commit()
            flash(
                _(
                    "The request is registered: the visit is due by %(date)s.",
                    date=visit.due_by.strftime("%d.%m.%Y"),
                ),
                "success",
            )
            return redirect_after_post("admin.home_visits_show", visit_id=visit.id)
    return _list(form)


def _show(visit, form=None):
    return render_template(
        "admin/visits/home_visit.html",
        visit=visit,
        form=form or ScheduleForm(formdata=None, obj=visit),
        action_form=FlaskForm(),
    )


@bp.route("/home-visits/<int:visit_id>", methods=["GET", "POST"])
@staff_required("visits")
def home_visits_show(visit_id: int):
    visit = home_visits.visit_or_404(db.session, visit_id)
    form = ScheduleForm()
    if request.method == "POST" and form.validate_on_submit():
        with refusal_shown_on(form):
            home_visits.schedule(
                db.session, visit, day=form.visit_day.data, window_from=form.window_from.data,
                window_to=form.window_to.data, visitor_name=form.visitor_name.data,
                visitor_phone=form.visitor_phone.data, staff_id=staff_member().id, ip=client_ip(),
            )  # fmt: skip
            notify.commit_and_send(db.session)
            flash(_("The visit is scheduled and the customer is told."), "success")
            return redirect_after_post("admin.home_visits_show", visit_id=visit.id)
    return _show(visit, form if request.method == "POST" else None)


@bp.post("/home-visits/<int:visit_id>/close")
@staff_required("visits")
def home_visits_close(visit_id: int):
    visit = home_visits.visit_or_404(db.session, visit_id)
    if FlaskForm().validate_on_submit():
        try:
            home_visits.close(
                db.session,
                visit,
                request.form.get("result") == "done",
                staff_member().id,
                client_ip(),
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            db.session.commit()
            flash(_("The home visit is closed: %(status)s.", status=visit.status.label), "success")
    return redirect_after_post("admin.home_visits_show", visit_id=visit.id)
