"""Mass mailings (issue #10, "Campaigns"): compose, choose recipients, see the count and a
preview, send through the outbox, watch the progress; pause, resume, cancel."""

import uuid

from flask import abort, flash, render_template, request
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from admin import bp
from admin.access import staff_required
from admin.mailbox import kind_label
from portal import web
from portal.extensions import db
from portal.models import CampaignStatus, Channel, MessageStatus, Service
from portal.services.errors import DomainError
from portal.services.notify import campaigns as mailings
from portal.web import (
    client_ip,
    options,
    page_of,
    redirect_after_post,
    refusal_shown_on,
    staff_member,
)

PAGE_SIZE = 20


class CampaignForm(FlaskForm):
    kind = SelectField(_l("About"), validators=[DataRequired()])
    subject = StringField(_l("Subject of the letter"), validators=[DataRequired(), Length(max=200)])
    body = TextAreaField(_l("Text of the letter"), validators=[DataRequired(), Length(max=4000)])
    sms_text = TextAreaField(
        _l("SMS text"),
        description=_l(
            "For those who get notices by SMS: two segments at most (134 characters of Cyrillic)."
        ),
        validators=[DataRequired(), Length(max=400)],
    )
    address = StringField(
        _l("Address contains"),
        description=_l("A street, or a street and house: «Союзная, д. 9»."),
        validators=[Optional(), Length(max=200)],
    )
    district = StringField(_l("District"), validators=[Optional(), Length(max=100)])
    service = SelectField(
        _l("Service"),
        choices=options(Service.options(), blank=_l("Any service")),
        validators=[Optional()],
    )
    debt_above = StringField(_l("Overdue debt above, ₽"), validators=[Optional(), Length(max=20)])
    reading_missing = BooleanField(_l("Only accounts with a meter not read this month"))
    request_key = HiddenField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [(kind.name, kind.label) for kind in mailings.campaign_kinds()]
        if not self.request_key.data:
            self.request_key.data = uuid.uuid4().hex

    def segment(self) -> mailings.Segment:
        fields = ("address", "district", "service", "debt_above", "reading_missing")
        return mailings.clean_segment({name: self[name].data for name in fields})


@bp.route("/campaigns")
@staff_required("campaigns")
def campaigns():
    page = page_of(mailings.campaigns_list(), PAGE_SIZE)
    shown = {campaign.id: mailings.progress(db.session, campaign) for campaign in page.items}
    return render_template(
        "admin/campaigns/index.html", page=page, progress=shown, kind_label=kind_label
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
@staff_required("campaigns")
def campaign_new():
    form = CampaignForm()
    preview = None
    if form.validate_on_submit():
        with refusal_shown_on(form):
            segment = form.segment()
            if request.form.get("action") != "send":
                preview = _preview(form, segment)
            else:
                campaign = mailings.start(
                    db.session,
                    kind=form.kind.data,
                    subject=form.subject.data,
                    body=form.body.data,
                    sms_text=form.sms_text.data,
                    segment=segment,
                    staff_id=staff_member().id,
                    request_key=form.request_key.data,
                    ip=client_ip(),
                )
                db.session.commit()
                return redirect_after_post("admin.campaign", campaign_id=campaign.id)
    return render_template("admin/campaigns/new.html", form=form, preview=preview)


def _preview(form: CampaignForm, segment) -> dict:
    """The count per channel, and the texts as the recipients will read them."""
    mailings.check_texts(form.kind.data, form.subject.data, form.body.data, form.sms_text.data)
    sms = " ".join(form.sms_text.data.split())
    return {
        "counts": mailings.preview(db.session, form.kind.data, segment),
        "sms": sms,
        "sms_length": mailings.sms_length(sms),
    }


@bp.route("/campaigns/<int:campaign_id>")
@staff_required("campaigns")
def campaign(campaign_id: int):
    found = mailings.get(db.session, campaign_id)
    return web.page_or_fragment(
        "admin/campaigns/show.html",
        "admin/campaigns/_progress.html",
        campaign=found,
        progress=mailings.progress(db.session, found),
        channels=list(Channel),
        statuses=CampaignStatus,
        status_labels={status.value: status.label for status in MessageStatus},
        kind_label=kind_label,
        form=FlaskForm(),
    )


@bp.route("/campaigns/<int:campaign_id>/<action>", methods=["POST"])
@staff_required("campaigns")
def campaign_move(campaign_id: int, action: str):
    found = mailings.get(db.session, campaign_id)
    if action not in mailings.MOVES:
        abort(404)
    if FlaskForm().validate_on_submit():
        try:
            moved = mailings.move(db.session, found, action, staff_member().id, client_ip())
        except DomainError as error:
            flash(error.message, "warning")
        else:
            db.session.commit()
            flash(
                ngettext("%(num)d message changed.", "%(num)d messages changed.", moved), "success"
            )
    return redirect_after_post("admin.campaign", campaign_id=campaign_id)
