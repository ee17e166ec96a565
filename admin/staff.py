"""Staff management, for administrators: employees, their roles and passwords."""

from flask import flash, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from admin import bp
from admin.access import staff_required
from portal import web
from portal.extensions import db
from portal.models import Staff, StaffRole
from portal.services import names
from portal.services import staff as staff_service
from portal.services.users import MIN_PASSWORD_LENGTH, external_url
from portal.web import (
    client_ip,
    options,
    page_of,
    redirect_after_post,
    refusal_shown_on,
    staff_member,
)

PAGE_SIZE = 50


class StaffDetailsForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    phone = TelField(
        _l("Work phone"),
        validators=[Optional(), Length(max=30)],
        description=_l("Mobile or landline, e.g. +7 831 771-23-45"),
    )
    position = StringField(_l("Position"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = options(StaffRole.options())

    def validate_full_name(self, field):
        """The service's rule (every person's name), so every error shows at once."""
        if not field.errors:  # a name already too long for the form needs no second word
            web.rule_check(names.person_name)(self, field)


class StaffCreateForm(StaffDetailsForm):
    email = EmailField(
        _l("Work e-mail"),
        validators=[DataRequired(), Email(), Length(max=254)],
        description=_l("The employee signs in with it"),
    )
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=128)],
        description=_l("At least 8 characters, letters and digits; tell it to the employee"),
    )
    password_again = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class StaffEditForm(StaffDetailsForm):
    active = BooleanField(
        _l("May sign in"), description=_l("Untick to block the employee's access")
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=128)],
        description=_l("Leave empty to keep the current password"),
    )
    new_password_again = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("new_password", message=_l("The passwords differ."))],
    )


@bp.route("/staff")
@staff_required("staff")
def staff_list():
    page = page_of(staff_service.list_staff(), PAGE_SIZE)
    return render_template("admin/staff/index.html", page=page)


@bp.route("/staff/new", methods=["GET", "POST"])
@staff_required("staff")
def staff_create():
    form = StaffCreateForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            employee = staff_service.create_staff(
                db.session,
                email=form.email.data,
                full_name=form.full_name.data,
                phone=form.phone.data,
                position=form.position.data,
                role=form.role.data,
                password=form.password.data,
                actor=staff_member(),
                ip=client_ip(),
            )
            db.session.commit()
            flash(
                _(
                    "%(name)s can now sign in as %(email)s.",
                    name=employee.full_name,
                    email=employee.email,
                ),
                "success",
            )
            return redirect_after_post("admin.staff_list")
    return render_template(
        "admin/staff/form.html", form=form, employee=None, login_url=external_url("admin.login")
    )


@bp.route("/staff/<int:staff_id>/edit", methods=["GET", "POST"])
@staff_required("staff")
def staff_edit(staff_id: int):
    employee = db.get_or_404(Staff, staff_id)
    form = StaffEditForm(obj=employee)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            changes = staff_service.update_staff(
                db.session,
                employee,
                full_name=form.full_name.data,
                phone=form.phone.data,
                position=form.position.data,
                role=form.role.data,
                active=form.active.data,
                new_password=form.new_password.data or None,
                actor=staff_member(),
                ip=client_ip(),
            )
            db.session.commit()
            if changes:
                flash(_("The employee's data is saved."), "success")
            else:
                flash(_("Nothing was changed."), "info")
            return redirect_after_post("admin.staff_list")
    return render_template("admin/staff/form.html", form=form, employee=employee)
