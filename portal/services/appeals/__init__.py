"""Appeals and complaints: registration, routing, answers, ratings and reopening.

The one service of appeals. Every change of an appeal asks ``_target`` first: the state
machine (``workflow.TRANSITIONS``) says whether the action may be taken in the appeal's
status, and an event on its timeline records it. The guards beyond the status (a
complaint about an employee is never theirs to answer; one extension; one reopening
within N days; a reason for a rating below 9) are here too. Services flush; the caller
commits once, with the audit record.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.models import (
    AnswerChannel,
    Appeal,
    AppealChannel,
    AppealCounter,
    AppealEvent,
    AppealEventKind,
    AppealKind,
    AppealStatus,
    AppealTopic,
    NoActionReason,
    Staff,
    StaffRole,
    User,
)
from portal.services import settings, tokens, workdays
from portal.services.appeals import deadlines, files
from portal.services.appeals.workflow import Action, actions_from, next_status
from portal.services.clock import local_day_of, local_today, utcnow
from portal.services.errors import DomainError, FieldErrors, NotFound
from portal.services.notify.outbox import enqueue_email, send_after_commit

MAX_TEXT_LENGTH = 10_000
MAX_REASON_LENGTH = 2_000
GOOD_RATING = 9  # from 9 up no reason is asked (002 §19, 004 §6: a 1–10 scale)
SUPERVISING = frozenset({StaffRole.SUPERVISOR, StaffRole.ADMIN})

__all__ = ["Action", "actions_from", "deadlines", "files", "workflow_actions"]


def workflow_actions(appeal: Appeal) -> frozenset[Action]:
    return actions_from(appeal.status)


# --- numbers --------------------------------------------------------------------------


def next_sequence(session: Session, year: int) -> int:
    """The next registration number of ``year``: the year's counter row is incremented in
    the registering transaction (PostgreSQL locks the row until the commit; SQLite writes
    one transaction at a time), so two appeals never share a number."""
    bump = (
        update(AppealCounter)
        .where(AppealCounter.year == year)
        .values(last=AppealCounter.last + 1)
        .returning(AppealCounter.last)
    )
    value = session.execute(bump).scalar()
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(AppealCounter).values(year=year, last=0))
        except IntegrityError:  # another transaction created the year's row a moment ago
            pass
        value = session.execute(bump).scalar()
    return value


def format_number(year: int, sequence: int) -> str:
    return f"{year}-{sequence:06d}"


# --- registration ---------------------------------------------------------------------


@dataclass
class Applicant:
    """Who wrote and how to reach them; a portal user's own details when signed in."""

    name: str = ""
    email: str | None = None
    phone: str | None = None
    postal_address: str | None = None
    user: User | None = None
    customer_id: int | None = None


@dataclass
class NewAppeal:
    kind: AppealKind
    topic: AppealTopic
    text: str
    answer_channel: AnswerChannel = AnswerChannel.PORTAL
    channel: AppealChannel = AppealChannel.WEB
    account: object | None = None
    contract: object | None = None
    about_staff_id: int | None = None
    uploads: list = field(default_factory=list)
    language: str = "ru"


def _clean(value: str | None) -> str:
    return (value or "").strip()


def check_text(text: str, field_name: str = "text", maximum: int = MAX_TEXT_LENGTH) -> str:
    text = _clean(text)
    if not text:
        raise DomainError(_("Write the text of your appeal."), field_name)
    if len(text) > maximum:
        raise DomainError(
            ngettext(
                "Shorten the text to %(num)d character.",
                "Shorten the text to %(num)d characters.",
                maximum,
            ),
            field_name,
        )
    return text


def _check_applicant(new: NewAppeal, applicant: Applicant) -> None:
    errors = {}
    if not _clean(applicant.name):
        errors["name"] = _("Enter your name.")
    if new.answer_channel == AnswerChannel.EMAIL and not _clean(applicant.email):
        errors["email"] = _("Enter the e-mail the answer should go to.")
    if new.answer_channel == AnswerChannel.POST and not _clean(applicant.postal_address):
        errors["postal_address"] = _("Enter the postal address the answer should go to.")
    if new.channel == AppealChannel.WEB and applicant.user is None and not _clean(applicant.email):
        errors["email"] = _("Enter your e-mail: the number and the answer come to it.")
    if errors:
        raise FieldErrors(errors)


def _start_term(session: Session, appeal: Appeal, start: date, calendar) -> None:
    term = deadlines.term_for(
        session, appeal.kind, appeal.topic, appeal.channel, phone_left=bool(appeal.applicant_phone)
    )
    appeal.term_start_on = start
    appeal.term_days = term.days
    appeal.term_working = term.working
    appeal.extension_days = min(term.extension_days, max(term.max_total_days - term.days, 0))
    appeal.extended_days = 0
    appeal.paused_days = 0
    _recount_due(appeal, calendar)


def _recount_due(appeal: Appeal, calendar) -> None:
    days = appeal.term_days + appeal.extended_days + appeal.paused_days
    appeal.due_on = deadlines.due_date(appeal.term_start_on, days, appeal.term_working, calendar)


def register(
    session: Session, new: NewAppeal, applicant: Applicant, *, staff: Staff | None = None
) -> Appeal:
    """Register an appeal: its number, its term, the first event of its timeline, its files,
    and the receipt by e-mail (sent once the caller commits)."""
    text = check_text(new.text)
    _check_applicant(new, applicant)
    checked = files.check(session, new.uploads)
    now = utcnow()
    today = local_day_of(now)
    calendar = workdays.calendar(session)
    sequence = next_sequence(session, today.year)
    appeal = Appeal(
        number=format_number(today.year, sequence),
        year=today.year,
        sequence=sequence,
        kind=new.kind,
        topic=new.topic,
        channel=new.channel,
        answer_channel=new.answer_channel,
        status=AppealStatus.REGISTERED,
        text=text,
        user_id=applicant.user.id if applicant.user else None,
        customer_id=applicant.customer_id,
        account_id=new.account.id if new.account else None,
        contract_id=new.contract.id if new.contract else None,
        applicant_name=_clean(applicant.name)[:200],
        applicant_email=_clean(applicant.email)[:254] or None,
        applicant_phone=_clean(applicant.phone)[:20] or None,
        postal_address=_clean(applicant.postal_address)[:400] or None,
        language=new.language,
        about_staff_id=new.about_staff_id,
        registered_by_id=staff.id if staff else None,
        registered_at=now,
        registered_on=today,
    )
    _start_term(session, appeal, today, calendar)
    appeal.assign_by = deadlines.internal_target(
        today, settings.get(session, "appeals.assign_target_working_days"), calendar
    )
    session.add(appeal)
    event = _event(appeal, AppealEventKind.REGISTERED, staff=staff, user=applicant.user)
    event.due_on = appeal.due_on
    files.store(session, appeal, checked, event=event, staff_id=staff.id if staff else None)
    session.flush()
    _letter(session, appeal, "appeal_registered", _l("Your appeal %(number)s is registered"))
    return appeal


# --- who sees what ----------------------------------------------------------------------


def visible_to(user: User):
    """The condition on appeals a portal user may see: the ones they filed."""
    return Appeal.user_id == user.id


def appeal_for(session: Session, user: User, appeal_id: int) -> Appeal:
    """The user's appeal with its timeline and files; NotFound for anyone else's."""
    appeal = session.scalar(
        select(Appeal)
        .where(Appeal.id == appeal_id, visible_to(user))
        .options(selectinload(Appeal.events), selectinload(Appeal.attachments))
    )
    if appeal is None:
        raise NotFound()
    return appeal


def appeal_by_token(session: Session, token: str) -> Appeal:
    """A guest's appeal from the signed link in their receipt; NotFound for a bad link."""
    payload = tokens.read_token("appeal", token)
    if not payload:
        raise NotFound()
    appeal = session.get(Appeal, payload.get("id"))
    if appeal is None or appeal.number != payload.get("number") or appeal.user_id is not None:
        raise NotFound()
    return appeal


def follow_token(appeal: Appeal) -> str:
    return tokens.make_token("appeal", {"id": appeal.id, "number": appeal.number})


def customer_events(appeal: Appeal) -> list[AppealEvent]:
    """The timeline the customer sees: never the internal notes."""
    return [event for event in appeal.events if not event.internal]


def customer_attachments(appeal: Appeal) -> list:
    return [
        attachment
        for attachment in appeal.attachments
        if attachment.event is None or not attachment.event.internal
    ]


# --- moving an appeal -----------------------------------------------------------------


def _event(
    appeal: Appeal, kind: AppealEventKind, *, staff=None, user=None, text=None, internal=False
):
    event = AppealEvent(
        kind=kind,
        text=text,
        internal=internal,
        staff_id=staff.id if staff else None,
        user_id=user.id if user else None,
        at=utcnow(),
    )
    appeal.events.append(event)
    return event


def _target(appeal: Appeal, action: Action) -> AppealStatus:
    """Where the action takes the appeal; refused before anything changes when it may not."""
    return next_status(action, appeal.status)


def _may_work(appeal: Appeal, staff: Staff) -> None:
    """The executor, a co-executor, a supervisor or an administrator may work on it."""
    if staff.role in SUPERVISING:
        return
    if staff.id == appeal.executor_id or any(c.id == staff.id for c in appeal.co_executors):
        return
    raise DomainError(_("Only the appeal's executor or a supervisor may do this."))


def _recused(appeal: Appeal, people) -> None:
    for person in people:
        if appeal.about_staff_id is not None and person.id == appeal.about_staff_id:
            raise DomainError(
                _(
                    "%(name)s cannot work on a complaint about themselves: choose another employee.",
                    name=person.full_name,
                ),
                "executor",
            )


def assign(
    session: Session,
    appeal: Appeal,
    executor: Staff,
    supervisor: Staff,
    co_executors=(),
    about: Staff | None = None,
) -> AppealEvent:
    """A supervisor names the responsible executor (and co-executors). Never the employee a
    complaint is about (003: recusal); ``about`` names that employee when the supervisor
    reads it in the text (an appeal filed on the portal does not say whom it is about)."""
    if supervisor.role not in SUPERVISING:
        raise DomainError(_("Only a supervisor assigns appeals."))
    if about is not None:
        appeal.about_staff_id = about.id
    co_executors = [person for person in co_executors if person.id != executor.id]
    _recused(appeal, [executor, *co_executors])
    if not executor.active or any(not person.active for person in co_executors):
        raise DomainError(_("Choose an employee who is still working here."), "executor")
    target = _target(appeal, Action.ASSIGN)
    appeal.executor = executor
    appeal.co_executors = list(co_executors)
    names = ", ".join(person.full_name for person in [executor, *co_executors])
    appeal.status = target
    event = _event(appeal, AppealEventKind.ASSIGNED, staff=supervisor, text=names)
    session.flush()
    return event


def start(session: Session, appeal: Appeal, staff: Staff) -> AppealEvent:
    _may_work(appeal, staff)
    target = _target(appeal, Action.START)
    appeal.status = target
    event = _event(appeal, AppealEventKind.STARTED, staff=staff)
    session.flush()
    return event


def add_note(session: Session, appeal: Appeal, staff: Staff, text: str) -> AppealEvent:
    """An internal note: on the timeline staff see, never on the customer's."""
    text = check_text(text, "note", MAX_REASON_LENGTH)
    target = _target(appeal, Action.NOTE)
    appeal.status = target
    event = _event(appeal, AppealEventKind.NOTE, staff=staff, text=text, internal=True)
    session.flush()
    return event


def ask_clarification(session: Session, appeal: Appeal, staff: Staff, question: str):
    """Ask the customer for what is missing (002 §15.4). The legal clock runs on unless the
    setting ``appeals.clarification_stops_clock`` says it stops."""
    _may_work(appeal, staff)
    question = check_text(question, "question", MAX_REASON_LENGTH)
    target = _target(appeal, Action.ASK_CLARIFICATION)
    appeal.clarification_asked_on = local_today()
    appeal.status = target
    event = _event(appeal, AppealEventKind.CLARIFICATION_ASKED, staff=staff, text=question)
    session.flush()
    _letter(
        session,
        appeal,
        "appeal_clarification",
        _l("Appeal %(number)s: we need a clarification"),
        key=event.id,
        question=question,
    )
    return event


def give_clarification(session: Session, appeal: Appeal, text: str, uploads=(), user=None):
    """The customer's answer to the question: text and files; the clock, if it was stopped,
    gets back the days it waited."""
    text = check_text(text)
    checked = files.check(session, list(uploads))
    target = _target(appeal, Action.GIVE_CLARIFICATION)
    if settings.get(session, "appeals.clarification_stops_clock") and appeal.clarification_asked_on:
        calendar = workdays.calendar(session)
        appeal.paused_days += deadlines.days_between(
            appeal.clarification_asked_on, local_today(), appeal.term_working, calendar
        )
        _recount_due(appeal, calendar)
    appeal.clarification_asked_on = None
    appeal.status = target
    event = _event(appeal, AppealEventKind.CLARIFICATION_GIVEN, user=user, text=text)
    event.due_on = appeal.due_on
    files.store(session, appeal, checked, event=event)
    session.flush()
    return event


def interim_answer(session: Session, appeal: Appeal, staff: Staff, text: str, days: int):
    """An interim answer that extends the term once, by at most the allowed days and never
    beyond the longest term in all (004: 15 + up to 15, never over 30)."""
    _may_work(appeal, staff)
    text = check_text(text, "text")
    target = _target(appeal, Action.INTERIM_ANSWER)
    if appeal.extended_days:
        raise DomainError(_("The term of this appeal was extended already: only once is allowed."))
    if appeal.extension_days <= 0:
        raise DomainError(_("The term of appeals of this kind cannot be extended."))
    if not 1 <= days <= appeal.extension_days:
        raise DomainError(
            ngettext(
                "The term can be extended by %(num)d day at most.",
                "The term can be extended by %(num)d days at most.",
                appeal.extension_days,
            ),
            "days",
        )
    appeal.extended_days = days
    _recount_due(appeal, workdays.calendar(session))
    appeal.status = target
    event = _event(appeal, AppealEventKind.INTERIM_ANSWER, staff=staff, text=text)
    event.due_on = appeal.due_on
    session.flush()
    _letter(
        session,
        appeal,
        "appeal_extended",
        _l("Appeal %(number)s: interim answer"),
        key=event.id,
        text=text,
    )
    return event


def answer(session: Session, appeal: Appeal, staff: Staff, text: str, signed_by: Staff):
    """The answer on the substance (002 §15.5): it names the executor and the signing
    official, goes by the channel chosen and is in the portal."""
    _may_work(appeal, staff)
    text = check_text(text, "text")
    if signed_by is None or signed_by.role not in SUPERVISING:
        raise DomainError(_("Choose the official who signs the answer."), "signed_by")
    target = _target(appeal, Action.ANSWER)
    now = utcnow()
    appeal.answer_text = text
    appeal.answered_at = now
    appeal.answered_by = staff
    appeal.signed_by = signed_by
    appeal.answered_on = local_day_of(now)
    appeal.answered_on_time = appeal.answered_on <= appeal.due_on
    appeal.answer_days = (appeal.answered_on - appeal.term_start_on).days
    appeal.rated_at = None
    appeal.status = target
    event = _event(appeal, AppealEventKind.ANSWERED, staff=staff, text=text)
    session.flush()
    _letter(session, appeal, "appeal_answered", _l("Appeal %(number)s: our answer"), key=event.id)
    from portal.services import surveys  # the satisfaction survey follows the answer (#16)

    surveys.invite_after_appeal(session, appeal)
    return event


def close(session: Session, appeal: Appeal, staff: Staff) -> AppealEvent:
    _may_work(appeal, staff)
    target = _target(appeal, Action.CLOSE)
    appeal.closed_at = utcnow()
    appeal.status = target
    event = _event(appeal, AppealEventKind.CLOSED, staff=staff)
    session.flush()
    return event


def rate(session: Session, appeal: Appeal, rating, reason: str | None, user=None):
    """The customer's rating of the answer, 1–10, with a reason below 9 (002 §19)."""
    target = _target(appeal, Action.RATE)
    if appeal.answered_at is None or appeal.rated_at is not None:
        raise DomainError(_("This answer has been rated already."))
    if not isinstance(rating, int) or not 1 <= rating <= 10:
        raise DomainError(_("Choose a mark from 1 to 10."), "rating")
    reason = _clean(reason)
    if rating < GOOD_RATING and not reason:
        raise DomainError(_("Tell us what was wrong: it helps us answer better."), "reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise DomainError(_("Shorten the reason."), "reason")
    appeal.rating = rating
    appeal.rating_reason = reason or None
    appeal.rated_at = utcnow()
    appeal.closed_at = appeal.closed_at or appeal.rated_at
    appeal.status = target
    event = _event(appeal, AppealEventKind.RATED, user=user, text=str(rating))
    session.flush()
    return event


def reopen_until(session: Session, appeal: Appeal) -> date | None:
    """The last day the customer may reopen the appeal, or None when they may not."""
    if appeal.answered_at is None or appeal.reopen_count > 0:
        return None
    return local_day_of(appeal.answered_at) + timedelta(
        days=settings.get(session, "appeals.reopen_days")
    )


def reopen(session: Session, appeal: Appeal, reason: str, user=None) -> AppealEvent:
    """Once within ``appeals.reopen_days`` of the answer, with a reason: the same number, a
    new term from today, the reopening counted."""
    target = _target(appeal, Action.REOPEN)
    until = reopen_until(session, appeal)
    if appeal.reopen_count > 0:
        raise DomainError(_("An appeal can be reopened only once: please file a new one."))
    if until is None or local_today() > until:
        raise DomainError(_("The time to reopen this appeal has passed: please file a new one."))
    reason = check_text(reason, "reason", MAX_REASON_LENGTH)
    appeal.reopen_count += 1
    appeal.closed_at = None
    appeal.answered_on_time = appeal.answered_on = appeal.answer_days = None
    _start_term(session, appeal, local_today(), workdays.calendar(session))
    appeal.status = target
    event = _event(appeal, AppealEventKind.REOPENED, user=user, text=reason)
    event.due_on = appeal.due_on
    session.flush()
    return event


def no_action(
    session: Session,
    appeal: Appeal,
    staff: Staff,
    reason: NoActionReason,
    text: str = "",
    earlier: Appeal | None = None,
) -> AppealEvent:
    """Close without consideration for one of the closed list of reasons; the notice the rule
    asks for goes to the customer (002 §15.7–15.9)."""
    _may_work(appeal, staff)
    target = _target(appeal, Action.NO_ACTION)
    if reason == NoActionReason.REPEAT:
        if earlier is None or earlier.id == appeal.id or earlier.answered_at is None:
            raise DomainError(
                _("Give the number of the earlier appeal that was answered."), "earlier"
            )
        appeal.repeat_of = earlier
    appeal.no_action_reason = reason
    appeal.closed_at = utcnow()
    appeal.status = target
    event = _event(appeal, AppealEventKind.NO_ACTION, staff=staff, text=_clean(text) or None)
    session.flush()
    if reason.sends_notice:
        _letter(
            session,
            appeal,
            "appeal_no_action",
            _l("Appeal %(number)s"),
            key=event.id,
            reason=reason,
            note=_clean(text),
        )
    return event


def link_repeat(session: Session, appeal: Appeal, earlier: Appeal, staff: Staff) -> AppealEvent:
    """Mark an appeal as a repeat of an earlier one (the two are shown together)."""
    if earlier.id == appeal.id:
        raise DomainError(_("An appeal cannot repeat itself."), "earlier")
    target = _target(appeal, Action.LINK)
    appeal.repeat_of = earlier
    appeal.status = target
    event = _event(appeal, AppealEventKind.LINKED, staff=staff, text=earlier.number)
    session.flush()
    return event


# --- letters --------------------------------------------------------------------------


def _letter(session: Session, appeal: Appeal, kind: str, subject: str, key=None, **context):
    """A letter to the customer, in their language, when they left an e-mail; sent once the
    caller commits."""
    if not appeal.applicant_email:
        return None
    from portal.services.users import external_url

    with force_locale(appeal.language):
        if appeal.user_id:
            url = external_url("appeals.show", appeal_id=appeal.id)
        else:
            url = external_url("appeals.follow", token=follow_token(appeal))
        message = enqueue_email(
            session,
            kind=kind,
            recipient=appeal.applicant_email,
            subject=str(subject) % {"number": appeal.number},
            context={"appeal": appeal, "url": url, **context},
            dedup_key=f"{kind}:{appeal.id}:{key or 0}",
            user_id=appeal.user_id,
        )
    send_after_commit(session, message)
    return message


# --- the answer as a letter -------------------------------------------------------------


def _no_action_note(appeal: Appeal) -> str | None:
    """What staff wrote to the customer when closing without consideration (never a note)."""
    closing = [e for e in appeal.events if e.kind == AppealEventKind.NO_ACTION and not e.internal]
    return closing[-1].text if closing else None


def answer_letter(appeal: Appeal) -> tuple[str, bytes]:
    """The answer on the supplier's letterhead as a PDF (filename, bytes), in the language
    the appeal was written in: executor and signing official named (002 §15.5); for an
    appeal closed without consideration, the notice the rule asks for (§15.7–15.9), to post
    to an applicant who left no e-mail."""
    from flask import current_app, render_template

    from portal.services.documents import render_pdf

    notice = appeal.status == AppealStatus.NO_ACTION and appeal.no_action_reason.sends_notice
    if appeal.answered_at is None and not notice:
        raise NotFound()
    config = current_app.config
    supplier = {
        "name": config["SUPPLIER_NAME"],
        "address": config["SUPPLIER_ADDRESS"],
        "inn": config["SUPPLIER_INN"],
        "kpp": config["SUPPLIER_KPP"],
        "phone": config["SUPPLIER_PHONE"],
    }
    with force_locale(appeal.language):
        html = render_template(
            "documents/appeal_answer.html",
            appeal=appeal,
            supplier=supplier,
            notice=notice,
            note=_no_action_note(appeal) if notice else None,
            answered_on=local_day_of(appeal.closed_at if notice else appeal.answered_at),
        )
    return f"{'uvedomlenie' if notice else 'otvet'}-{appeal.number}.pdf", render_pdf(html)


# --- the back office ------------------------------------------------------------------------


def get(session: Session, appeal_id: int) -> Appeal:
    """An appeal for staff, with its timeline, files and people; NotFound if there is none."""
    appeal = session.scalar(
        select(Appeal)
        .where(Appeal.id == appeal_id)
        .options(
            selectinload(Appeal.events).selectinload(AppealEvent.staff),
            selectinload(Appeal.attachments),
            selectinload(Appeal.co_executors),
        )
    )
    if appeal is None:
        raise NotFound()
    return appeal


def by_number(session: Session, number: str, field_name: str = "earlier") -> Appeal:
    """The appeal with this registration number (2026-000123); a refusal next to the field."""
    appeal = session.scalar(select(Appeal).where(Appeal.number == _clean(number)))
    if appeal is None:
        raise DomainError(
            _("There is no appeal with the number %(number)s.", number=_clean(number)), field_name
        )
    return appeal


def record(session: Session, appeal: Appeal, action, summary: str, staff_id: int, ip=None):
    """Staff viewed or changed an appeal (personal data, 152-ФЗ): audited in the caller's
    transaction."""
    from portal.models.audit import AuditObject
    from portal.services import audit

    audit.record(
        session,
        staff_id=staff_id,
        action=action,
        object_type=AuditObject.APPEAL,
        object_id=appeal.id,
        summary=f"{appeal.number}: {summary}",
        ip_address=ip,
    )


def executors_for(session: Session, appeal: Appeal) -> list[Staff]:
    """Who may be named executor: active employees, never the one a complaint is about."""
    query = select(Staff).where(Staff.active.is_(True)).order_by(Staff.full_name)
    if appeal.about_staff_id is not None:
        query = query.where(Staff.id != appeal.about_staff_id)
    return list(session.scalars(query))


def signatories(session: Session) -> list[Staff]:
    """The officials who may sign an answer."""
    return list(
        session.scalars(
            select(Staff)
            .where(Staff.active.is_(True), Staff.role.in_(SUPERVISING))
            .order_by(Staff.full_name)
        )
    )


def account_by_number(session: Session, number: str | None):
    """The account an operator typed the number of, or None when none was typed."""
    from portal.models import Account
    from portal.services.accounts import normalise_account_number

    if not _clean(number):
        return None
    account = session.scalar(
        select(Account).where(Account.number == normalise_account_number(number))
    )
    if account is None:
        raise DomainError(_("There is no account with this number."), "account_number")
    return account
