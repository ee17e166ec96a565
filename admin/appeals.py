"""Appeals in the back office: the queue (filters, search, counts, time left), registering
an appeal received by phone, post, e-mail, voicemail or in the office, and one appeal's
card where supervisors assign it and executors note, ask, extend, answer or close it
without consideration. Every rule is in ``portal.services.appeals``."""

from flask import abort, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    IntegerField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from admin import bp
from admin.access import can, staff_required
from portal.appeals.forms import uploads_of
from portal.appeals.views import send_attachment
from portal.extensions import db
from portal.models import (
    AnswerChannel,
    AppealChannel,
    AppealKind,
    AppealStatus,
    AppealTopic,
    NoActionReason,
    Staff,
)
from portal.models.audit import AuditAction
from portal.services import appeals, exports, settings
from portal.services.appeals import Action, answer_templates, figures, queue
from portal.services.clock import local_today
from portal.services.customers import clean_term
from portal.services.errors import DomainError
from portal.services.notify.outbox import commit_and_send
from portal.web import (
    client_ip,
    options,
    page_of,
    page_or_fragment,
    redirect_after_post,
    refusal_shown_on,
    send_download,
    staff_member,
)

PAGE_SIZE = 25
STAFF_CHANNELS = [c for c in AppealChannel if c != AppealChannel.WEB]


def _text(label, maximum=10_000, rows=4, required=True):
    presence = DataRequired(message=_l("Write the text.")) if required else Optional()
    return TextAreaField(
        label,
        validators=[presence, Length(max=maximum)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        render_kw={"rows": rows},
    )


# --- the queue ------------------------------------------------------------------------------


class QueueForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    q = StringField(_l("Number, name, account or text"), validators=[Optional(), Length(max=100)])
    status = SelectField(_l("Status"), validators=[Optional()])
    due = SelectField(_l("Term"), validators=[Optional()])
    within_days = IntegerField(
        _l("Due within, days"), validators=[Optional(), NumberRange(min=0, max=60)]
    )
    kind = SelectField(_l("Kind"), validators=[Optional()])
    topic = SelectField(_l("Topic"), validators=[Optional()])
    channel = SelectField(_l("Received by"), validators=[Optional()])
    executor = SelectField(_l("Executor"), validators=[Optional()])

    def fill(self, people: list[Staff]) -> None:
        self.status.choices = options(
            [("open", _l("Open")), *((s.value, s.staff_label) for s in AppealStatus)],
            _l("Any status"),
        )
        self.due.choices = options(
            [("overdue", _l("Overdue")), ("today", _l("Due today")), ("soon", _l("Due soon"))],
            _l("Any term"),
        )
        self.kind.choices = options(AppealKind.options(), _l("Any kind"))
        self.topic.choices = options(AppealTopic.options(), _l("Any topic"))
        self.channel.choices = options(AppealChannel.options(), _l("Any channel"))
        self.executor.choices = options(
            [(queue.UNASSIGNED, _l("Not assigned")), *((str(p.id), p.full_name) for p in people)],
            _l("Anyone"),
        )

    def filters(self, default_days: int) -> queue.QueueFilters:
        """The filters that passed validation; a malformed one is ignored (and marked)."""
        self.validate()

        def valid(field):
            return None if field.errors or not field.data else field.data

        days = self.within_days.data if valid(self.within_days) is not None else default_days
        return queue.QueueFilters(
            status=valid(self.status),
            kind=valid(self.kind),
            topic=valid(self.topic),
            channel=valid(self.channel),
            executor=valid(self.executor),
            due=valid(self.due),
            within_days=days,
            term=clean_term(self.q.data),
        )


def _active_staff() -> list[Staff]:
    return list(
        db.session.scalars(db.select(Staff).where(Staff.active.is_(True)).order_by(Staff.full_name))
    )


@bp.route("/appeals")
@staff_required("appeals")
def appeals_queue():
    # First visit: the open appeals, which staff work on; "Any status" sends status= empty.
    args = request.args if "status" in request.args else request.args | {"status": "open"}
    form = QueueForm(args)
    form.fill(_active_staff())
    default_days = settings.get(db.session, "appeals.due_soon_days")
    filters = form.filters(default_days)
    today = local_today()
    page = page_of(queue.queue_query(filters, today), PAGE_SIZE)
    params = {key: value for key, value in request.args.items() if key != "page" and value}
    return page_or_fragment(
        "admin/appeals/index.html",
        "admin/appeals/_results.html",
        form=form,
        page=page,
        counts=queue.counts(db.session, today),
        today=today,
        params=params,
    )


# --- registering an appeal received by staff ---------------------------------------------------


class RegisterForm(FlaskForm):
    channel = SelectField(
        _l("Received by"), choices=options((c.value, c.label) for c in STAFF_CHANNELS)
    )
    kind = SelectField(_l("Kind of appeal"), choices=options(AppealKind.options()))
    topic = SelectField(_l("Topic"), choices=options(AppealTopic.options()))
    name = StringField(
        _l("Full name of the applicant"),
        validators=[DataRequired(message=_l("Enter the applicant's name.")), Length(max=200)],
    )
    phone = TelField(_l("Phone"), validators=[Optional(), Length(max=20)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    postal_address = StringField(_l("Postal address"), validators=[Optional(), Length(max=400)])
    account_number = StringField(
        _l("Personal account number"), validators=[Optional(), Length(max=20)]
    )
    about_staff = SelectField(_l("A complaint about the employee"), validators=[Optional()])
    text = _text(_l("Text of the appeal (as written or said)"), rows=6)
    files = MultipleFileField(
        _l("Scans of the letter"), description=_l("Up to 5 files: PDF, JPEG or PNG.")
    )
    answer_channel = SelectField(
        _l("Answer by"), choices=options(AnswerChannel.options()), default="post"
    )


def _applicant(form: RegisterForm) -> appeals.Applicant:
    return appeals.Applicant(
        name=form.name.data,
        email=form.email.data,
        phone=form.phone.data,
        postal_address=form.postal_address.data,
    )


def _register(form: RegisterForm):
    account = appeals.account_by_number(db.session, form.account_number.data)
    new = appeals.NewAppeal(
        kind=AppealKind(form.kind.data),
        topic=AppealTopic(form.topic.data),
        text=form.text.data,
        channel=AppealChannel(form.channel.data),
        answer_channel=AnswerChannel(form.answer_channel.data),
        account=account,
        contract=account.contract if account else None,
        about_staff_id=int(form.about_staff.data) if form.about_staff.data else None,
        uploads=uploads_of(form.files),
    )
    applicant = _applicant(form)
    applicant.customer_id = account.customer_id if account else None
    return appeals.register(db.session, new, applicant, staff=staff_member())


@bp.route("/appeals/new", methods=["GET", "POST"])
@staff_required("appeals.register")
def appeal_register():
    form = RegisterForm()
    form.about_staff.choices = options(
        ((str(p.id), p.full_name) for p in _active_staff()), _l("Nobody")
    )
    if form.validate_on_submit():
        with refusal_shown_on(form):
            appeal = _register(form)
            appeals.record(
                db.session, appeal, AuditAction.CREATE, "registered", staff_member().id, client_ip()
            )
            commit_and_send(db.session)
            flash(_("Appeal %(number)s is registered.", number=appeal.number), "success")
            return redirect_after_post("admin.appeal_card", appeal_id=appeal.id)
    return render_template("admin/appeals/register.html", form=form)


# --- one appeal -------------------------------------------------------------------------------


class AssignForm(FlaskForm):
    executor = SelectField(
        _l("Executor"), validators=[DataRequired(message=_l("Choose the executor."))]
    )
    co_executors = SelectMultipleField(_l("Co-executors"), validators=[Optional()])
    about = SelectField(
        _l("A complaint about the employee"),
        validators=[Optional()],
        description=_l("They are never its executor."),
    )


class NoteForm(FlaskForm):
    note = _text(_l("Internal note (the customer never sees it)"), 2_000, 2)


class QuestionForm(FlaskForm):
    question = _text(_l("What should the customer clarify?"), 2_000, 3)


class InterimForm(FlaskForm):
    text = _text(_l("Interim answer"), rows=3)
    days = IntegerField(
        _l("Extend the term by, days"),
        validators=[
            InputRequired(message=_l("Enter the number of days.")),
            NumberRange(min=1, max=30),
        ],
    )


class AnswerForm(FlaskForm):
    text = _text(_l("Answer on the substance"), rows=10)
    signed_by = SelectField(
        _l("Signed by"), validators=[DataRequired(message=_l("Choose who signs."))]
    )


class NoActionForm(FlaskForm):
    reason = SelectField(_l("Reason"), choices=options(NoActionReason.options()))
    earlier = StringField(
        _l("Number of the earlier appeal"),
        validators=[Optional(), Length(max=16)],
        description=_l("For a repeat: the appeal whose answer the customer is referred to."),
    )
    text = _text(_l("Note to the customer"), 2_000, 2, required=False)


class LinkForm(FlaskForm):
    earlier = StringField(
        _l("Number of the earlier appeal"),
        validators=[DataRequired(message=_l("Enter the number.")), Length(max=16)],
    )


class EmptyForm(FlaskForm):
    pass


def _assign(appeal, form, staff):
    # Any active employee the form offered: the service itself refuses the one a complaint
    # is about, whatever a crafted request names.
    people = {str(p.id): p for p in _active_staff()}
    co = [people[i] for i in form.co_executors.data or [] if i in people]
    about = people.get(form.about.data or "")
    appeals.assign(db.session, appeal, people[form.executor.data], staff, co, about=about)


def _answer(appeal, form, staff):
    signer = db.session.get(Staff, int(form.signed_by.data))
    appeals.answer(db.session, appeal, staff, form.text.data, signer)


def _no_action(appeal, form, staff):
    earlier = appeals.by_number(db.session, form.earlier.data) if form.earlier.data else None
    reason = NoActionReason(form.reason.data)
    appeals.no_action(db.session, appeal, staff, reason, form.text.data, earlier)


def _link(appeal, form, staff):
    appeals.link_repeat(db.session, appeal, appeals.by_number(db.session, form.earlier.data), staff)


# form name: (form, area, workflow action, what it does, what staff are told)
STAFF_ACTIONS = {
    "assign": (
        AssignForm,
        "appeals.assign",
        Action.ASSIGN,
        _assign,
        _l("The executor is assigned."),
    ),
    "start": (
        EmptyForm,
        "appeals",
        Action.START,
        lambda a, f, s: appeals.start(db.session, a, s),
        _l("Taken into work."),
    ),
    "note": (
        NoteForm,
        "appeals",
        Action.NOTE,
        lambda a, f, s: appeals.add_note(db.session, a, s, f.note.data),
        _l("The note is added."),
    ),
    "ask": (
        QuestionForm,
        "appeals",
        Action.ASK_CLARIFICATION,
        lambda a, f, s: appeals.ask_clarification(db.session, a, s, f.question.data),
        _l("The customer is asked for a clarification."),
    ),
    "interim": (
        InterimForm,
        "appeals",
        Action.INTERIM_ANSWER,
        lambda a, f, s: appeals.interim_answer(db.session, a, s, f.text.data, f.days.data),
        _l("The interim answer is sent; the term is extended."),
    ),
    "answer": (
        AnswerForm,
        "appeals",
        Action.ANSWER,
        _answer,
        _l("The answer is sent to the customer."),
    ),
    "close": (
        EmptyForm,
        "appeals",
        Action.CLOSE,
        lambda a, f, s: appeals.close(db.session, a, s),
        _l("The appeal is closed."),
    ),
    "no_action": (
        NoActionForm,
        "appeals",
        Action.NO_ACTION,
        _no_action,
        _l("The appeal is closed without consideration."),
    ),
    "link": (
        LinkForm,
        "appeals",
        Action.LINK,
        _link,
        _l("The appeal is linked to the earlier one."),
    ),
}


def _forms_for(appeal, given: dict) -> dict:
    allowed = appeals.workflow_actions(appeal)
    forms = {}
    for name, (form_class, area, action, _run, _message) in STAFF_ACTIONS.items():
        if action in allowed and can(area):
            forms[name] = given.get(name) or form_class(formdata=None, prefix=name)
    if "assign" in forms:
        people = [(str(p.id), p.full_name) for p in appeals.executors_for(db.session, appeal)]
        forms["assign"].executor.choices = options(people, _l("Choose…"))
        forms["assign"].co_executors.choices = options(people)
        everyone = [(str(p.id), p.full_name) for p in _active_staff()]
        forms["assign"].about.choices = options(everyone, _l("Nobody"))
        if appeal.about_staff_id and not forms["assign"].about.data:
            forms["assign"].about.data = str(appeal.about_staff_id)
    if "answer" in forms:
        signers = [(str(p.id), p.full_name) for p in appeals.signatories(db.session)]
        forms["answer"].signed_by.choices = options(signers, _l("Choose…"))
    return forms


def _card(appeal, given=None, template=None):
    forms = _forms_for(appeal, given or {})
    if template is not None and "answer" in forms and not forms["answer"].text.data:
        forms["answer"].text.data = template.body
    return render_template(
        "admin/appeals/card.html",
        appeal=appeal,
        forms=forms,
        templates=answer_templates.for_topic(db.session, appeal.topic),
        today=local_today(),
    )


@bp.route("/appeals/<int:appeal_id>")
@staff_required("appeals")
def appeal_card(appeal_id: int):
    appeal = appeals.get(db.session, appeal_id)
    template = None
    if request.args.get("template", type=int):
        try:
            template = answer_templates.chosen(
                db.session, request.args.get("template", type=int), appeal.topic
            )
        except DomainError as error:
            flash(error.message, "warning")
    appeals.record(db.session, appeal, AuditAction.VIEW, "viewed", staff_member().id, client_ip())
    html = _card(appeal, template=template)
    db.session.commit()  # the view's audit record; after the page, which it would expire
    return html


@bp.route("/appeals/<int:appeal_id>/<action>", methods=["POST"])
@staff_required("appeals")
def appeal_act(appeal_id: int, action: str):
    if action not in STAFF_ACTIONS:
        abort(404)
    form_class, area, _action, run, message = STAFF_ACTIONS[action]
    if not can(area):
        abort(403)
    appeal = appeals.get(db.session, appeal_id)
    form = form_class(prefix=action)  # each form of the card has its own field ids
    _fill_choices(form, appeal)
    if form.validate_on_submit():
        with refusal_shown_on(form):
            run(appeal, form, staff_member())
            appeals.record(
                db.session, appeal, AuditAction.UPDATE, action, staff_member().id, client_ip()
            )
            commit_and_send(db.session)
            flash(str(message), "success")
            return redirect_after_post("admin.appeal_card", appeal_id=appeal.id)
    return _card(appeals.get(db.session, appeal_id), {action: form}), 422


def _fill_choices(form, appeal) -> None:
    """The choices a posted select is checked against."""
    if isinstance(form, AssignForm):
        everyone = [(str(p.id), p.full_name) for p in _active_staff()]
        form.executor.choices = options(everyone)
        form.co_executors.choices = options(everyone)
        form.about.choices = options(everyone, _l("Nobody"))
    if isinstance(form, AnswerForm):
        form.signed_by.choices = options((str(p.id), p.full_name) for p in _active_staff())


@bp.route("/appeals/<int:appeal_id>/files/<int:attachment_id>")
@staff_required("appeals")
def appeal_file(appeal_id: int, attachment_id: int):
    appeal = appeals.get(db.session, appeal_id)
    attachment = next((a for a in appeal.attachments if a.id == attachment_id), None)
    if attachment is None:
        abort(404)
    appeals.record(
        db.session,
        appeal,
        AuditAction.VIEW,
        f"file {attachment.filename}",
        staff_member().id,
        client_ip(),
    )
    db.session.commit()
    return send_attachment(attachment)


@bp.route("/appeals/<int:appeal_id>/answer.pdf")
@staff_required("appeals")
def appeal_letter(appeal_id: int):
    appeal = appeals.get(db.session, appeal_id)
    filename, body = appeals.answer_letter(appeal)
    return send_download(body, filename, "application/pdf")


# --- answer templates ---------------------------------------------------------------------


class TemplateForm(FlaskForm):
    topic = SelectField(_l("Topic"), choices=options(AppealTopic.options()))
    title = StringField(
        _l("Title"),
        validators=[DataRequired(message=_l("Give the template a title.")), Length(max=200)],
    )
    body = _text(_l("Text"), rows=8)
    active = SelectField(
        _l("In use"), choices=options([("1", _l("yes")), ("0", _l("no"))]), default="1"
    )


@bp.route("/appeals/templates", methods=["GET", "POST"])
@bp.route("/appeals/templates/<int:template_id>", methods=["GET", "POST"])
@staff_required("appeals.templates")
def appeal_templates(template_id: int | None = None):
    template = answer_templates.get(db.session, template_id) if template_id else None
    form = TemplateForm(obj=template) if template else TemplateForm()
    if template and request.method == "GET":
        form.active.data = "1" if template.active else "0"
    if form.validate_on_submit():
        with refusal_shown_on(form):
            answer_templates.save(
                db.session,
                template,
                topic=form.topic.data,
                title=form.title.data,
                body=form.body.data,
                active=form.active.data == "1",
                staff_id=staff_member().id,
            )
            db.session.commit()
            flash(_("The template is saved."), "success")
            return redirect_after_post("admin.appeal_templates")
    return render_template(
        "admin/appeals/templates.html",
        form=form,
        template=template,
        templates=answer_templates.every(db.session),
    )


# --- figures --------------------------------------------------------------------------------


class FiguresForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    granularity = SelectField(
        _l("Periods"), choices=options(figures.GRANULARITIES.items()), default="month"
    )
    year = IntegerField(_l("Year"), validators=[Optional(), NumberRange(min=2000, max=2100)])
    by = SelectField(
        _l("Split by"),
        choices=options(figures.GROUPS.items(), _l("Nothing")),
        validators=[Optional()],
    )

    def values(self, today) -> tuple[str, int, str | None]:
        self.validate()
        granularity = self.granularity.data if not self.granularity.errors else "month"
        year = self.year.data if self.year.data and not self.year.errors else today.year
        by = self.by.data if self.by.data and not self.by.errors else None
        self.year.data, self.year.raw_data = year, [str(year)]  # shown as the year it is
        return granularity or "month", year, by


def _figures():
    today = local_today()
    form = FiguresForm(request.args)
    granularity, year, by = form.values(today)
    rows = figures.figures(db.session, granularity=granularity, year=year, by=by, today=today)
    return form, granularity, year, by, rows


def _chart(rows, granularity) -> dict:
    totals = figures.totals(rows)
    return {
        "labels": [figures.period_label(row.period, granularity) for row in totals],
        "datasets": [
            {"label": str(_l("Received")), "data": [row.received for row in totals]},
            {"label": str(_l("Answered")), "data": [row.answered for row in totals]},
            {"label": str(_l("Answered on time")), "data": [row.on_time for row in totals]},
        ],
        "axis": str(_l("Appeals")),
    }


@bp.route("/appeals/figures")
@staff_required("appeals.figures")
def appeal_figures():
    form, granularity, year, by, rows = _figures()
    return render_template(
        "admin/appeals/figures.html",
        form=form,
        rows=rows,
        totals=figures.totals(rows),
        granularity=granularity,
        by=by,
        by_label=figures.GROUPS.get(by),
        year=year,
        labels=figures.group_labels(db.session, by),
        period_label=figures.period_label,
        chart=_chart(rows, granularity),
        params={key: value for key, value in request.args.items() if value},
    )


@bp.route("/appeals/figures.csv")
@staff_required("appeals.figures")
def appeal_figures_csv():
    _form, granularity, year, by, rows = _figures()
    labels = figures.group_labels(db.session, by)
    header = [_("Period"), *([figures.GROUPS[by]] if by else [])]
    header += [_("Received"), _("Answered"), _("Answered on time"), _("Answered on time, %")]
    header += [
        _("Overdue now"),
        _("Reopened"),
        _("Average days to answer"),
        _("Rated 9–10, %"),
        _("Average rating"),
    ]
    body = [
        [
            figures.period_label(row.period, granularity),
            *([labels.get(row.group or "", row.group or _("not assigned"))] if by else []),
            row.received,
            row.answered,
            row.on_time,
            row.on_time_share,
            row.overdue_now,
            row.reopened,
            row.average_days,
            row.top_share,
            row.average_rating,
        ]
        for row in rows
    ]
    name = f"obrashcheniya-{year}-{granularity}{'-' + by if by else ''}.csv"
    return send_download(exports.csv_file([header, *body]), name, "text/csv")
