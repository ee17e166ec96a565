"""Contract applications: registration, the check of documents, requests for what is
missing, the contract, refusals from the closed list, and complaints about a decision.

The one service of applications. Every change asks the state machine
(``machine.TRANSITIONS``) first and adds a line to the case file (``ApplicationEvent``,
never rewritten). Each stage's last day comes from ``clocks`` (004 table 1 and 2, 003) on
the work calendar. Services flush; the caller commits once, with the audit record.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import (
    Application,
    ApplicationComplaint,
    ApplicationCounter,
    ApplicationDocument,
    ApplicationEvent,
    ApplicationEventKind,
    ApplicationKind,
    ApplicationStatus,
    ChecklistItem,
    ComplaintStatus,
    RefusalReason,
    Segment,
    Staff,
    User,
)
from portal.services import tokens, workdays
from portal.services.appeals import files
from portal.services.applications import cabinet, letters
from portal.services.applications import clocks as clock_rules
from portal.services.applications.machine import Action, actions_from, next_status
from portal.services.clock import local_today, utcnow
from portal.services.errors import DomainError, FieldErrors, NotFound

__all__ = ["Action", "actions_from", "clock_rules"]

MAX_TEXT_LENGTH = 10_000
S = ApplicationStatus
E = ApplicationEventKind


# --- numbers ----------------------------------------------------------------------------


def next_sequence(session: Session, year: int) -> int:
    """The year's counter row incremented in the registering transaction, so two
    applications never share a number (as appeals do)."""
    bump = (
        update(ApplicationCounter)
        .where(ApplicationCounter.year == year)
        .values(last=ApplicationCounter.last + 1)
        .returning(ApplicationCounter.last)
    )
    value = session.execute(bump).scalar()
    if value is None:
        try:
            with session.begin_nested():
                session.execute(insert(ApplicationCounter).values(year=year, last=0))
        except IntegrityError:
            pass
        value = session.execute(bump).scalar()
    return value


def format_number(year: int, sequence: int) -> str:
    return f"D-{year}-{sequence:06d}"


# --- checklists ---------------------------------------------------------------------------


def checklist(session: Session, kind: ApplicationKind, segment: Segment) -> list[ChecklistItem]:
    """The active documents an application of this kind asks of this segment, in order."""
    query = (
        select(ChecklistItem)
        .where(ChecklistItem.kind == kind, ChecklistItem.segment == segment)
        .where(ChecklistItem.active.is_(True))
        .order_by(ChecklistItem.position, ChecklistItem.id)
    )
    return list(session.scalars(query))


def missing_items(session: Session, application: Application) -> list[ChecklistItem]:
    """Required checklist items with no document received for them yet."""
    received = {doc.checklist_item_id for doc in application.documents}
    return [
        item
        for item in checklist(session, application.kind, application.segment)
        if item.required and item.id not in received
    ]


# --- the case file --------------------------------------------------------------------------


def _event(
    application: Application,
    kind,
    *,
    staff=None,
    user=None,
    text=None,
    internal=False,
    document=None,
):
    row = ApplicationEvent(
        document=document,
        kind=kind,
        text=text,
        internal=internal,
        status=application.status,
        due_on=application.stage_due_on,
        staff_id=staff.id if staff else None,
        user_id=user.id if user else None,
        at=utcnow(),
    )
    application.events.append(row)
    return row


# Steps the customer is told of (their own uploads and internal notes are not).
SILENT = frozenset({E.DOCUMENT_RECEIVED, E.NOTE})


def _step(session: Session, application: Application, kind, **fields):
    """A line of the case file, and the customer's message about it."""
    row = _event(application, kind, **fields)
    session.flush()
    if kind not in SILENT and not row.internal:
        letters.tell(session, application, row)
    return row


def _move(application: Application, action: Action) -> None:
    application.status = next_status(action, application.status)


def _clean(text: str | None, field_name: str, *, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise DomainError(_("Write the text."), field_name)
    if len(text) > MAX_TEXT_LENGTH:
        raise DomainError(_("Keep it under %(num)d characters.", num=MAX_TEXT_LENGTH), field_name)
    return text


@dataclass
class Applicant:
    name: str
    email: str | None = None
    phone: str | None = None
    organisation_name: str | None = None
    inn: str | None = None
    address: str = ""
    details: str = ""
    language: str = "ru"


@dataclass
class NewApplication:
    kind: ApplicationKind
    segment: Segment
    applicant: Applicant
    user: User | None = None
    account_id: int | None = None
    channel: str = "web"
    received_on: date | None = None  # post: the day it arrived
    uploads: dict = field(default_factory=dict)  # checklist item id → [files.Upload]


def _check_applicant(new: NewApplication) -> None:
    errors = {}
    applicant = new.applicant
    if not (applicant.name or "").strip():
        errors["name"] = _("Write your full name.")
    if not (applicant.email or applicant.phone):
        errors["email"] = _("Give an e-mail or a phone number: we tell you about each step.")
    if new.segment is Segment.LEGAL and not (applicant.inn or "").strip():
        errors["inn"] = _("Give the organisation's INN.")
    if len(applicant.details or "") > MAX_TEXT_LENGTH:
        errors["details"] = _("Keep it under %(num)d characters.", num=MAX_TEXT_LENGTH)
    if errors:
        raise FieldErrors(errors)


def create_draft(session: Session, new: NewApplication) -> Application:
    """An application the customer is still filling in: no number, no clock."""
    _check_applicant(new)
    a = new.applicant
    application = Application(
        kind=new.kind,
        segment=new.segment,
        status=S.DRAFT,
        channel=new.channel,
        user_id=new.user.id if new.user else None,
        account_id=new.account_id,
        applicant_name=a.name.strip(),
        applicant_email=(a.email or "").strip().lower() or None,
        applicant_phone=(a.phone or "").strip() or None,
        organisation_name=(a.organisation_name or "").strip() or None,
        inn=(a.inn or "").strip() or None,
        address=(a.address or "").strip(),
        details=(a.details or "").strip(),
        language=a.language,
        received_on=new.received_on,
        events=[],
        documents=[],
        complaints=[],
    )
    session.add(application)
    add_documents(session, application, new.uploads, user=new.user)
    session.flush()
    return application


def submit(session: Session, application: Application, *, user=None, staff=None) -> Application:
    """Register a draft: a number, the day, and the first answer's clock (003: registration
    starts the clock; post is registered by the working day after it arrived)."""
    _move(application, Action.SUBMIT)
    today = local_today()
    calendar = workdays.calendar(session)
    if application.received_on and today > clock_rules.post_registered_by(
        application.received_on, calendar
    ):
        # Registered late: the clock still runs from the day the post should have been.
        start = clock_rules.post_registered_by(application.received_on, calendar)
    else:
        start = today
    application.year = today.year
    application.sequence = next_sequence(session, today.year)
    application.number = format_number(application.year, application.sequence)
    application.registered_at = utcnow()
    application.registered_on = start
    application.stage_started_on = start
    c = clock_rules.clocks(session)
    application.stage_due_on = clock_rules.first_answer_due(start, application.kind, c, calendar)
    _step(session, application, E.SUBMITTED, user=user, staff=staff)
    session.flush()
    return application


def register(session: Session, new: NewApplication, *, staff=None) -> Application:
    application = create_draft(session, new)
    return submit(session, application, user=new.user, staff=staff)


def add_documents(
    session: Session, application: Application, uploads: dict, *, user=None, staff=None
):
    """Store files per checklist item, checked by their content as appeal attachments are;
    each is a new line of the inventory. While documents are requested, the application
    goes back to the check once nothing required is missing."""
    if not application.status.is_open:
        raise DomainError(_("This application is closed: documents can no longer be added."))
    items = {item.id: item for item in checklist(session, application.kind, application.segment)}
    rows = []
    for item_id, item_uploads in uploads.items():
        item = items.get(item_id)
        if item is None:
            raise DomainError(_("This document is not on the application's list."), "files")
        checked = files.check(session, item_uploads, f"item_{item_id}")
        rows += [
            _store(item, upload, mime, extension, staff) for upload, mime, extension in checked
        ]
    for row in rows:
        application.documents.append(row)
        session.add(row)
        session.flush()
        _event(
            application, E.DOCUMENT_RECEIVED, user=user, staff=staff, text=row.title, document=row
        )
    if (
        rows
        and application.status is S.DOCUMENTS_REQUESTED
        and not missing_items(session, application)
    ):
        deliver_documents(session, application, user=user, staff=staff)
    session.flush()
    return rows


def _store(item, upload, mime, extension, staff) -> ApplicationDocument:
    key = secrets.token_hex(16)
    (files.storage_dir() / key).write_bytes(upload.data)
    return ApplicationDocument(
        checklist_item_id=item.id if item else None,
        title=item.title if item else upload.filename,
        filename=files.safe_name(upload.filename, extension),
        content_type=mime,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        storage_key=key,
        from_staff_id=staff.id if staff else None,
        received_at=utcnow(),
    )


def read_document(document: ApplicationDocument) -> bytes:
    return (files.storage_dir() / document.storage_key).read_bytes()


# --- the back office's steps ------------------------------------------------------------------


def start_check(session: Session, application: Application, staff: Staff) -> None:
    _move(application, Action.START_CHECK)
    application.executor_id = application.executor_id or staff.id
    _step(session, application, E.CHECK_STARTED, staff=staff)
    session.flush()


def request_documents(session: Session, application: Application, staff: Staff, text: str) -> None:
    """Ask for what is missing: the customer has the settings' month to deliver it."""
    text = _clean(text, "text")
    _move(application, Action.REQUEST_DOCUMENTS)
    today = local_today()
    c = clock_rules.clocks(session)
    application.documents_requested_on = today
    application.stage_started_on = today
    application.stage_due_on = clock_rules.documents_wait_ends(today, c, workdays.calendar(session))
    _step(session, application, E.DOCUMENTS_REQUESTED, staff=staff, text=text)
    session.flush()


def deliver_documents(session: Session, application: Application, *, user=None, staff=None) -> None:
    """The customer says the requested documents are all there: back to the check, on the
    first answer's term from today."""
    _move(application, Action.DELIVER_DOCUMENTS)
    today = local_today()
    c = clock_rules.clocks(session)
    application.stage_started_on = today
    application.stage_due_on = clock_rules.rework_due(today, c, workdays.calendar(session))
    _step(session, application, E.DOCUMENTS_DELIVERED, user=user, staff=staff)
    session.flush()


def accept(session: Session, application: Application, staff: Staff, text: str = "") -> None:
    """The application is complete: a contract is possible (1.2) and its clock starts (1.3)."""
    if not application.kind.ends_in_contract:
        raise DomainError(_("Technical conditions are issued, not a contract."))
    missing = missing_items(session, application)
    if missing:
        raise DomainError(
            _("Documents are still missing: %(list)s.", list="; ".join(i.title for i in missing))
        )
    _move(application, Action.ACCEPT)
    today = local_today()
    c = clock_rules.clocks(session)
    application.complete_on = today
    application.contract_due_on = clock_rules.contract_due(
        today, application.segment, c, workdays.calendar(session)
    )
    application.stage_started_on = today
    application.stage_due_on = application.contract_due_on
    application.decided_by_id = staff.id
    application.decided_on = today
    _step(
        session,
        application,
        E.ACCEPTED,
        staff=staff,
        text=_clean(text, "text", required=False) or None,
    )
    session.flush()


def issue_contract(session: Session, application: Application, staff: Staff) -> ApplicationDocument:
    """The contract, drawn up from the application and signed by the supplier, goes to the
    customer (kept in the case file as a generated document); on time when by the
    contract's last day (001: Ккач дог)."""
    _move(application, Action.ISSUE_CONTRACT)
    today = local_today()
    application.contract_issued_on = today
    application.concluded_on_time = today <= application.contract_due_on
    application.stage_started_on = today
    application.stage_due_on = None  # the customer's turn
    filename, body = cabinet.contract_pdf(application)
    document = _store(None, files.Upload(filename, body), "application/pdf", "pdf", staff)
    document.title = _("Contract for signature")
    document.generated = True
    application.documents.append(document)
    session.add(document)
    session.flush()
    _step(session, application, E.CONTRACT_ISSUED, staff=staff, document=document)
    session.flush()
    return document


def disagree(session: Session, application: Application, text: str, *, user=None, staff=None):
    """A protocol of disagreements: answered within the settings' days (004 table 2, 1.1)."""
    text = _clean(text, "text")
    _move(application, Action.DISAGREE)
    today = local_today()
    c = clock_rules.clocks(session)
    application.stage_started_on = today
    application.stage_due_on = clock_rules.disagreement_due(today, c, workdays.calendar(session))
    _step(session, application, E.DISAGREEMENT, user=user, staff=staff, text=text)
    session.flush()


def answer_disagreement(session: Session, application: Application, staff: Staff, text: str):
    text = _clean(text, "text")
    _move(application, Action.ANSWER_DISAGREEMENT)
    application.stage_started_on = local_today()
    application.stage_due_on = None
    _step(session, application, E.DISAGREEMENT_ANSWERED, staff=staff, text=text)
    session.flush()


def sign(
    session: Session, application: Application, staff: Staff, *, account=None, contract=None
) -> None:
    """The customer signed: the account (a resident's) or the contract (an organisation's)
    appears in the applicant's cabinet at once."""
    _move(application, Action.SIGN)
    application.signed_on = local_today()
    application.stage_due_on = None
    if account is not None:
        application.account_id = account.id
    if contract is not None:
        application.contract_id = contract.id
    _step(session, application, E.SIGNED, staff=staff)
    cabinet.put_in_cabinet(session, application, application.user)
    session.flush()


def issue_conditions(session: Session, application: Application, staff: Staff, text: str) -> None:
    if application.kind is not ApplicationKind.METER_CONDITIONS:
        raise DomainError(_("Only an application for a meter's conditions gets them."))
    text = _clean(text, "text")
    _move(application, Action.ISSUE_CONDITIONS)
    today = local_today()
    application.decided_by_id = staff.id
    application.decided_on = today
    application.concluded_on_time = today <= application.stage_due_on
    application.stage_due_on = None
    _step(session, application, E.CONDITIONS_ISSUED, staff=staff, text=text)
    session.flush()


def refusal_reasons(session: Session) -> list[RefusalReason]:
    query = select(RefusalReason).where(RefusalReason.active.is_(True)).order_by(RefusalReason.id)
    return list(session.scalars(query))


def refuse(session: Session, application: Application, staff: Staff, reason_id, text: str) -> None:
    """A reasoned refusal naming one reason of the closed list (1.4)."""
    reason = session.get(RefusalReason, reason_id) if reason_id else None
    if reason is None or not reason.active:
        raise DomainError(_("Choose a reason from the list."), "reason")
    text = _clean(text, "text")
    _move(application, Action.REFUSE)
    today = local_today()
    application.refusal_reason = reason
    application.refusal_text = text
    application.decided_by_id = staff.id
    application.decided_on = today
    application.stage_due_on = None
    grounds = f"{reason.title} ({reason.legal_ground}). {text}"
    _step(session, application, E.REFUSED, staff=staff, text=grounds)


def refusal_on_time(application: Application, session: Session) -> bool | None:
    """Whether the refusal came within its term of the application's registration (1.4)."""
    if application.status is not S.REFUSED or application.decided_on is None:
        return None
    c = clock_rules.clocks(session)
    due = clock_rules.refusal_due(application.registered_on, c, workdays.calendar(session))
    return application.decided_on <= due


def end_unanswered(session: Session, today: date | None = None) -> list[Application]:
    """End consideration of every application whose requested documents did not come
    within the month (003 п. 6): the day after its last day."""
    today = today or local_today()
    query = select(Application).where(
        Application.status == S.DOCUMENTS_REQUESTED, Application.stage_due_on < today
    )
    ended = list(session.scalars(query))
    for application in ended:
        _move(application, Action.END)
        application.decided_on = today
        application.stage_due_on = None
        _step(session, application, E.ENDED)
    session.flush()
    return ended


def withdraw(session: Session, application: Application, *, user=None, staff=None) -> None:
    _move(application, Action.WITHDRAW)
    application.stage_due_on = None
    _step(session, application, E.WITHDRAWN, user=user, staff=staff)
    session.flush()


def add_note(session: Session, application: Application, staff: Staff, text: str) -> None:
    _step(session, application, E.NOTE, staff=staff, text=_clean(text, "text"), internal=True)
    session.flush()


# --- complaints about a decision ----------------------------------------------------------------


def complain(session: Session, application: Application, text: str, *, user=None):
    """A complaint about a refusal or the end of consideration, answered within the
    settings' days by someone other than the person who decided (003)."""
    if application.status not in (S.REFUSED, S.ENDED):
        raise DomainError(_("A complaint is about a decision: this application has none yet."))
    if any(c.status is ComplaintStatus.OPEN for c in application.complaints):
        raise DomainError(_("Your complaint about this decision is already being considered."))
    text = _clean(text, "text")
    today = local_today()
    c = clock_rules.clocks(session)
    complaint = ApplicationComplaint(
        text=text,
        received_on=today,
        due_on=clock_rules.complaint_due(today, c, workdays.calendar(session)),
        decided_by_id=application.decided_by_id,
    )
    application.complaints.append(complaint)
    _step(session, application, E.COMPLAINT, user=user, text=text)
    session.flush()
    return complaint


def _recused(complaint: ApplicationComplaint, staff: Staff) -> None:
    if complaint.decided_by_id is not None and staff.id == complaint.decided_by_id:
        raise DomainError(
            _(
                "%(name)s made the decision and cannot consider the complaint about it.",
                name=staff.full_name,
            ),
            "reviewer",
        )


def assign_complaint(session: Session, complaint: ApplicationComplaint, reviewer: Staff) -> None:
    _recused(complaint, reviewer)
    complaint.reviewer_id = reviewer.id
    session.flush()


def answer_complaint(
    session: Session, complaint: ApplicationComplaint, staff: Staff, *, upheld: bool, text: str
) -> None:
    """An upheld complaint reopens the application for a fresh check on the first
    answer's term from today; a rejected one leaves the decision standing."""
    _recused(complaint, staff)
    if complaint.status is not ComplaintStatus.OPEN:
        raise DomainError(_("This complaint has been answered."))
    text = _clean(text, "text")
    application = complaint.application
    today = local_today()
    complaint.answer = text
    complaint.answered_on = today
    complaint.reviewer_id = staff.id
    if not upheld:
        complaint.status = ComplaintStatus.REJECTED
        _step(session, application, E.COMPLAINT_REJECTED, staff=staff, text=text)
        session.flush()
        return
    complaint.status = ComplaintStatus.UPHELD
    _move(application, Action.REOPEN)
    c = clock_rules.clocks(session)
    application.refusal_reason_id = None
    application.refusal_text = None
    application.stage_started_on = today
    application.stage_due_on = clock_rules.rework_due(today, c, workdays.calendar(session))
    application.executor_id = staff.id
    _step(session, application, E.COMPLAINT_UPHELD, staff=staff, text=text)
    session.flush()


# --- reading --------------------------------------------------------------------------------------


def get(session: Session, application_id: int) -> Application:
    application = session.get(Application, application_id)
    if application is None:
        raise NotFound()
    return application


def customer_events(application: Application) -> list[ApplicationEvent]:
    return [event for event in application.events if not event.internal]


def visible_to(user: User):
    """The customer's own applications (a guest's are reached only by their link)."""
    return Application.user_id == user.id


def application_for(session: Session, user: User, application_id: int) -> Application:
    application = session.scalar(
        select(Application).where(Application.id == application_id, visible_to(user))
    )
    if application is None or application.status is S.DRAFT:
        raise NotFound()
    return application


def application_by_token(session: Session, token: str) -> Application:
    """The application from the signed link of its letters; NotFound for a bad one."""
    payload = tokens.read_token("application", token)
    if not payload:
        raise NotFound()
    application = session.get(Application, payload.get("id"))
    if application is None or application.number != payload.get("number"):
        raise NotFound()
    if application.user_id is not None:  # a signed-in customer's letters link to its page
        raise NotFound()
    return application


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())[-10:]


def _contact_matches(application: Application, contact: str) -> bool:
    """The e-mail (any case) or the phone (its last 10 digits, however written) given in
    the application. Compared in constant time: a number alone is guessable, the pair is
    not, and the look-up is rate-limited per address and per number."""
    contact = (contact or "").strip()
    if "@" in contact:
        given = (application.applicant_email or "").encode()
        return bool(given) and hmac.compare_digest(given, contact.lower().encode())
    digits = _digits(contact)
    phone = _digits(application.applicant_phone or "")
    return len(digits) == 10 and hmac.compare_digest(phone.encode(), digits.encode())


def find_for_follow(session: Session, number: str, contact: str) -> Application:
    """The application of this number whose applicant left this contact; one refusal in
    the same words whether the number exists or not."""
    application = session.scalar(
        select(Application).where(Application.number == (number or "").strip().upper())
    )
    if application is None or not _contact_matches(application, contact):
        raise DomainError(
            _("No application with this number and contact. Check both and try again."), "number"
        )
    return application
