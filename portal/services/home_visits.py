"""Home visits for vulnerable customers (004 §8.4): a customer registered as living alone
with a disability, over 65 or a veteran (``customers.vulnerability_of``, flags staff set
from documents) may ask, in the portal or by phone, for staff to come to their home. At
most once a calendar year; the visit is made no later than 30 working days after the
request (the work calendar). The customer is told the date, the time window and the
visitor's name and phone at least ``visits.home_notice_days`` days ahead (10, as 004 T4
asks of visits to a customer's home). The caller commits."""

from datetime import date, time, timedelta

from flask_babel import gettext as _
from sqlalchemy import extract, select
from sqlalchemy.orm import Session, selectinload

from portal.models import Account, HomeVisit, HomeVisitStatus, User
from portal.models.audit import AuditAction, AuditObject
from portal.services import accounts, audit, customers, settings, workdays
from portal.services.clock import local_today, utcnow
from portal.services.errors import DomainError, FieldErrors, NotFound
from portal.services.notify import enqueue_email, enqueue_sms, send_after_commit

WORKING_DAYS_TO_VISIT = 30  # 004 §8.4: no later than 30 working days after the request
ACTIVE = (HomeVisitStatus.REQUESTED, HomeVisitStatus.SCHEDULED, HomeVisitStatus.DONE)


def eligible_accounts(session: Session, user: User, today: date | None = None) -> list[Account]:
    """The user's accounts whose customer may ask for a home visit."""
    today = today or local_today()
    return [
        account
        for account in accounts.accounts_visible_to(session, user)
        if customers.vulnerability_of(account.customer, today)
    ]


def visits_of(session: Session, customer_ids: list[int]) -> list[HomeVisit]:
    return list(
        session.scalars(
            select(HomeVisit)
            .where(HomeVisit.customer_id.in_(customer_ids))
            .order_by(HomeVisit.requested_on.desc(), HomeVisit.id.desc())
        )
    )


def _check_once_a_year(session: Session, customer_id: int, year: int) -> None:
    taken = session.scalar(
        select(HomeVisit.id).where(
            HomeVisit.customer_id == customer_id,
            HomeVisit.status.in_(ACTIVE),
            extract("year", HomeVisit.requested_on) == year,
        )
    )
    if taken:
        raise DomainError(
            _(
                "A home visit can be asked for once a calendar year; this year's is already asked for."
            ),
            "account_id",
        )


def request_visit(
    session: Session, *, account: Account, reason: str, phone: str, user: User | None = None,
    staff_id: int | None = None, ip: str | None = None, today: date | None = None,
) -> HomeVisit:  # fmt: skip
    """Register the request (the customer's in the portal, or one staff took by phone)."""
    today = today or local_today()
    customer = account.customer
    if not customers.vulnerability_of(customer, today):
        raise DomainError(
            _("Home visits are for customers registered as vulnerable (004 §8.4)."), "account_id"
        )
    _check_once_a_year(session, customer.id, today.year)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Tell us briefly what the visit is about."), "reason")
    visit = HomeVisit(
        customer_id=customer.id, account_id=account.id, user_id=user.id if user else None,
        requested_on=today, due_by=workdays.calendar(session).add_working_days(today, WORKING_DAYS_TO_VISIT),
        reason=reason[:500], phone=(phone or "").strip()[:20] or (customer.phone or ""),
        address=account.premises.address if account.premises else (customer.postal_address or ""),
    )  # fmt: skip
    session.add(visit)
    session.flush()
    if staff_id is not None:
        audit.record(
            session, staff_id=staff_id, action=AuditAction.CREATE, object_type=AuditObject.CUSTOMER,
            object_id=customer.id, summary=f"home visit asked for by phone, due by {visit.due_by:%d.%m.%Y}", ip_address=ip,
        )  # fmt: skip
    return visit


def _clock(text: str | None) -> time | None:
    try:
        return time.fromisoformat(text) if text else None
    except ValueError:
        return None


def _checked_schedule(
    session, visit, day, window_from, window_to, visitor_name, visitor_phone, today
):
    errors = {}
    notice = settings.get(session, "visits.home_notice_days")
    if day is None:
        errors["visit_day"] = _("Enter the date of the visit.")
    elif day > visit.due_by:
        errors["visit_day"] = _("The visit must be made by %(date)s: 30 working days after the request.",
                                date=visit.due_by.strftime("%d.%m.%Y"))  # fmt: skip
    elif day < today + timedelta(days=notice):
        errors["visit_day"] = _("The customer must be told at least %(n)s days ahead: choose %(date)s or later.",
                                n=notice, date=(today + timedelta(days=notice)).strftime("%d.%m.%Y"))  # fmt: skip
    elif not workdays.calendar(session).is_working_day(day):
        errors["visit_day"] = _("Choose a working day.")
    start, end = _clock(window_from), _clock(window_to)
    if start is None or end is None or start >= end:
        errors["window_from"] = _("Give the time window, its start first (10:00 and 12:00).")
    if not (visitor_name or "").strip():
        errors["visitor_name"] = _("Enter the visitor's name.")
    if not (visitor_phone or "").strip():
        errors["visitor_phone"] = _("Enter the visitor's phone.")
    if errors:
        raise FieldErrors(errors)


def schedule(
    session: Session, visit: HomeVisit, *, day: date | None, window_from: str, window_to: str,
    visitor_name: str, visitor_phone: str, staff_id: int, ip: str | None = None, today: date | None = None,
) -> HomeVisit:  # fmt: skip
    """Set (or change) the date, window and visitor, and tell the customer."""
    today = today or local_today()
    if visit.status not in (HomeVisitStatus.REQUESTED, HomeVisitStatus.SCHEDULED):
        raise DomainError(_("This home visit is closed."))
    _checked_schedule(
        session, visit, day, window_from, window_to, visitor_name, visitor_phone, today
    )
    visit.visit_day, visit.window_from, visit.window_to = day, window_from, window_to
    visit.visitor_name, visit.visitor_phone = visitor_name.strip()[:200], visitor_phone.strip()[:20]
    visit.status, visit.scheduled_by_id = HomeVisitStatus.SCHEDULED, staff_id
    session.flush()
    audit.record(
        session, staff_id=staff_id, action=AuditAction.UPDATE, object_type=AuditObject.CUSTOMER,
        object_id=visit.customer_id, summary=f"home visit on {day:%d.%m.%Y} {window_from}–{window_to}", ip_address=ip,
    )  # fmt: skip
    _tell_customer(session, visit)
    return visit


def _tell_customer(session: Session, visit: HomeVisit) -> None:
    user = session.get(User, visit.user_id) if visit.user_id else None
    customer = visit.customer
    context = {"visit": visit, "day": visit.visit_day.strftime("%d.%m.%Y")}
    key = f"home_visit:{visit.id}:{visit.visit_day}:{visit.window_from}:{utcnow():%Y%m%d%H%M%S%f}"
    email = (user.email if user and user.is_confirmed else None) or customer.email
    if email and not (user and user.preferred_channel == "sms"):
        message = enqueue_email(
            session, kind="home_visit_scheduled", recipient=email, context=context, dedup_key=key,
            subject=_("Home visit on %(date)s", date=context["day"]), user_id=user.id if user else None,
        )  # fmt: skip
    elif phone := (user.phone if user else None) or visit.phone or customer.phone:
        message = enqueue_sms(
            session, kind="home_visit_scheduled", recipient=phone, context=context, dedup_key=key,
            user_id=user.id if user else None,
        )  # fmt: skip
    else:
        return
    send_after_commit(session, message)


def close(
    session: Session, visit: HomeVisit, done: bool, staff_id: int, ip: str | None = None
) -> HomeVisit:
    if visit.status not in (HomeVisitStatus.REQUESTED, HomeVisitStatus.SCHEDULED):
        raise DomainError(_("This home visit is closed."))
    if done and visit.status != HomeVisitStatus.SCHEDULED:
        raise DomainError(_("Schedule the visit before marking it made."))
    visit.status = HomeVisitStatus.DONE if done else HomeVisitStatus.CANCELLED
    visit.finished_at = utcnow()
    session.flush()
    audit.record(
        session, staff_id=staff_id, action=AuditAction.UPDATE, object_type=AuditObject.CUSTOMER,
        object_id=visit.customer_id, summary=f"home visit {visit.status.value}", ip_address=ip,
    )  # fmt: skip
    return visit


def open_requests(session: Session) -> list[HomeVisit]:
    """Requests not closed yet, the one due soonest first."""
    return list(
        session.scalars(
            select(HomeVisit)
            .options(selectinload(HomeVisit.customer))
            .where(HomeVisit.status.in_((HomeVisitStatus.REQUESTED, HomeVisitStatus.SCHEDULED)))
            .order_by(HomeVisit.due_by, HomeVisit.id)
        )
    )


def visit_or_404(session: Session, visit_id: int) -> HomeVisit:
    visit = session.get(HomeVisit, visit_id)
    if visit is None:
        raise NotFound("home visit")
    return visit


def account_by_number(session: Session, number: str) -> Account:
    account = session.scalar(
        select(Account).where(Account.number == accounts.normalise_account_number(number or ""))
    )
    if account is None:
        raise DomainError(_("No account with this number."), "account_number")
    return account
