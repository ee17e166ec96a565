"""Satisfaction surveys in the back office (issue #16): the criteria of the questionnaire,
the annual survey of a sample, and the answers, read-only."""

from flask import flash, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import SurveyCampaign, SurveyCriterion
from portal.models.audit import AuditAction, AuditObject
from portal.services import audit
from portal.services import surveys as survey_service
from portal.services.errors import DomainError
from portal.services.notify import commit_and_send
from portal.web import client_ip, page_of, redirect_after_post, refusal_shown_on, staff_member

PAGE_SIZE = 20


class CriterionForm(FlaskForm):
    name = StringField(_l("Criterion"), validators=[DataRequired(), Length(max=300)])
    position = IntegerField(_l("Position"), default=10, validators=[NumberRange(0, 999)])
    active = BooleanField(_l("Asked in new surveys"), default=True)


class StartAnnualForm(FlaskForm):
    pass


def _record(action, object_type, object_id, summary):
    audit.record(
        db.session,
        staff_id=staff_member().id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary,
        ip_address=client_ip(),
    )


@bp.route("/surveys")
@staff_required("quality")
def surveys():
    page = page_of(survey_service.answers_query(), PAGE_SIZE)
    campaigns = db.session.scalars(
        db.select(SurveyCampaign).order_by(SurveyCampaign.year.desc())
    ).all()
    return render_template(
        "admin/surveys/index.html", page=page, campaigns=campaigns, start_form=StartAnnualForm()
    )


@bp.route("/surveys/annual", methods=["POST"])
@staff_required("quality")
def survey_start_annual():
    if StartAnnualForm().validate_on_submit():
        try:
            campaign = survey_service.start_annual(db.session, staff_member())
        except DomainError as error:
            flash(error.message, "danger")
            return redirect_after_post("admin.surveys")
        _record(
            AuditAction.CREATE,
            AuditObject.SURVEY_CAMPAIGN,
            campaign.id,
            f"annual survey {campaign.year}: {campaign.invited} invited",
        )
        commit_and_send(db.session)
        flash(_("%(n)s customers are invited.", n=campaign.invited), "success")
    return redirect_after_post("admin.surveys")


@bp.route("/surveys/criteria", methods=["GET", "POST"])
@staff_required("quality")
def survey_criteria():
    form = CriterionForm()
    if form.validate_on_submit():
        with refusal_shown_on(form):
            criterion = survey_service.save_criterion(
                db.session, None, form.name.data, form.position.data, form.active.data
            )
            _record(AuditAction.CREATE, AuditObject.SURVEY_CRITERION, criterion.id, criterion.name)
            db.session.commit()
            return redirect_after_post("admin.survey_criteria")
    rows = survey_service.criteria(db.session, active_only=False)
    forms = {c.id: CriterionForm(obj=c, prefix=f"c{c.id}") for c in rows}
    return render_template("admin/surveys/criteria.html", form=form, rows=rows, forms=forms)


@bp.route("/surveys/criteria/<int:criterion_id>", methods=["POST"])
@staff_required("quality")
def survey_criterion_edit(criterion_id: int):
    criterion = db.get_or_404(SurveyCriterion, criterion_id)
    form = CriterionForm(prefix=f"c{criterion_id}")
    if form.validate_on_submit():
        try:
            survey_service.save_criterion(
                db.session, criterion, form.name.data, form.position.data, form.active.data
            )
        except DomainError as error:
            flash(error.message, "danger")
            return redirect_after_post("admin.survey_criteria")
        _record(AuditAction.UPDATE, AuditObject.SURVEY_CRITERION, criterion.id, criterion.name)
        db.session.commit()
    else:
        flash(_("Name the criterion."), "danger")
    return redirect_after_post("admin.survey_criteria")


@bp.route("/surveys/criteria/defaults", methods=["POST"])
@staff_required("quality")
def survey_criteria_defaults():
    if StartAnnualForm().validate_on_submit():
        survey_service.ensure_default_criteria(db.session)
        _record(
            AuditAction.CREATE, AuditObject.SURVEY_CRITERION, None, "questionnaire of 001 App. 25"
        )
        db.session.commit()
    return redirect_after_post("admin.survey_criteria")
