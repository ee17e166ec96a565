"""An employee's own sign-in: enrolling the second factor, recovery codes, devices; and an
administrator resetting a colleague's second factor."""

import segno
from flask import flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from admin import bp
from admin.access import staff_required, staff_signed_in
from admin.auth import CodeForm, finish_sign_in, pending_staff
from portal.extensions import db
from portal.models import Staff
from portal.services import second_factor, sessions
from portal.services.errors import DomainError
from portal.web import (
    attach_error,
    client_ip,
    end_device_session,
    end_other_sessions,
    rate_limit,
    redirect_after_post,
    staff_member,
)

ENROL_SECRET = "second_factor_secret"  # the secret being enrolled, until a code confirms it


def _enrolling_staff() -> tuple[Staff | None, bool]:
    """Who is enrolling: a pending sign-in (True) or a signed-in employee (False)."""
    if current_user.is_authenticated and current_user.is_staff:
        return staff_member(), False
    return pending_staff(), True


def _secret_grouped(secret: str) -> str:
    """The key in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _after_enrolment(staff: Staff, pending: bool, codes: list[str]):
    """The recovery codes to write down, then on to where the employee was going: a pending
    sign-in is finished, a signed-in employee's session counts the second factor as given."""
    session.pop(ENROL_SECRET, None)
    if pending:
        next_url = finish_sign_in(
            staff, with_second_factor=True, how=_("enrolled the second factor")
        )
    else:
        sessions.mark_second_factor(db.session, staff)
        db.session.commit()
        next_url = url_for("admin.security")
    return render_template("admin/security/codes.html", codes=codes, next_url=next_url)


def _enrolment_page(form: CodeForm, staff: Staff, pending: bool, secret: str):
    uri = second_factor.provisioning_uri(secret, staff)
    return render_template(
        "admin/security/enrol.html",
        form=form,
        staff=staff,
        pending=pending,
        secret=_secret_grouped(secret),
        qr=segno.make(uri, error="m").svg_data_uri(scale=5, border=2),
    )


@bp.route("/security/enrol", methods=["GET", "POST"])
@rate_limit("second_factor", methods=["POST"])
def security_enrol():
    staff, pending = _enrolling_staff()
    if staff is None:
        return redirect(url_for("admin.login"), code=303)
    if second_factor.is_enrolled(staff):
        return redirect(url_for("admin.security" if not pending else "admin.login_code"))
    secret = session.get(ENROL_SECRET) or second_factor.new_secret()
    session[ENROL_SECRET] = secret
    form = CodeForm()
    form.code.description = _("The 6 digits the app shows after you add the key")
    if form.validate_on_submit():
        try:
            codes = second_factor.enrol(db.session, staff, secret, form.code.data, client_ip())
        except DomainError as error:
            attach_error(form, error)
        else:
            return _after_enrolment(staff, pending, codes)
    return _enrolment_page(form, staff, pending, secret)


@bp.route("/security")
@staff_signed_in
def security():
    staff = staff_member()
    return render_template(
        "admin/security/index.html",
        staff=staff,
        required=second_factor.is_required(db.session, staff),
        enrolled=second_factor.is_enrolled(staff),
        codes_left=second_factor.recovery_codes_left(db.session, staff),
        devices=sessions.signed_in_devices(db.session, staff),
        end_form=FlaskForm(),
    )


@bp.route("/security/recovery-codes", methods=["POST"])
@staff_required("dashboard")
def security_renew_codes():
    staff = staff_member()
    if not FlaskForm().validate_on_submit() or not second_factor.is_enrolled(staff):
        return redirect_after_post("admin.security")
    codes = second_factor.renew_recovery_codes(db.session, staff, client_ip())
    db.session.commit()
    return render_template(
        "admin/security/codes.html", codes=codes, next_url=url_for("admin.security")
    )


@bp.route("/security/devices/others/end", methods=["POST"])
@staff_signed_in
def security_end_others():
    end_other_sessions(staff_member())
    return redirect_after_post("admin.security", _anchor="devices")


@bp.route("/security/devices/<int:session_id>/end", methods=["POST"])
@staff_signed_in
def security_end_device(session_id: int):
    end_device_session(staff_member(), session_id)
    return redirect_after_post("admin.security", _anchor="devices")


@bp.route("/staff/<int:staff_id>/second-factor/reset", methods=["POST"])
@staff_required("staff")
def staff_second_factor_reset(staff_id: int):
    colleague = db.get_or_404(Staff, staff_id)
    if FlaskForm().validate_on_submit():
        try:
            second_factor.reset(db.session, colleague, staff_member(), client_ip())
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "warning")
        else:
            db.session.commit()
            flash(
                _(
                    "The second factor of %(name)s is reset: they are signed out and enrol "
                    "again at the next sign-in.",
                    name=colleague.full_name,
                ),
                "success",
            )
    return redirect_after_post("admin.staff_edit", staff_id=staff_id)
