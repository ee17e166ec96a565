"""Customer satisfaction surveys (001 Прил. 25; 002 §19: a 1–10 scale, a reason for any
score below 9).

The customer is invited by a letter of the optional kind ``survey_invitation`` (the outbox
follows their choice and its unsubscribe link): after an answered appeal
(``invite_after_appeal``), a served office visit (``invite_after_visit``), a concluded
contract (``invite_after_contract``, the hook for the contract applications area) and once a
year to a sample (``start_annual``). The letter's signed link opens the form without signing
in; it works once: ``submit`` writes the answer and marks the invitation answered in one
transaction, so a replayed link, a second tab or a double click finds it answered.
"""

import random
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, selectinload

from portal.models import (
    AccountLink,
    Appeal,
    Booking,
    Staff,
    SurveyAnswer,
    SurveyCampaign,
    SurveyCriterion,
    SurveyInvitation,
    SurveyOccasion,
    SurveyScore,
    User,
)
from portal.models.quality import DEFAULT_CRITERIA
from portal.services import settings, tokens
from portal.services.clock import local_today, supplier_zone, utcnow
from portal.services.errors import DomainError, NotFound
from portal.services.notify import enqueue_email
from portal.services.notify.outbox import link_context

KIND = "survey_invitation"
LOWEST, HIGHEST = 1, 10
REASON_BELOW = 9  # 002 §19: a score below 9 needs the reason
MAX_TEXT = 2000
SUBJECT = _l("How did we do? Rate our service")
# The invitation goes a while after the contact (the customer reads the answer first), by
# the outbox dispatcher, not at once with the answer's letter.
SEND_AFTER = timedelta(hours=1)


# --- criteria ------------------------------------------------------------------------------


def criteria(session: Session, *, active_only: bool = True) -> list[SurveyCriterion]:
    query = select(SurveyCriterion).order_by(SurveyCriterion.position, SurveyCriterion.id)
    if active_only:
        query = query.where(SurveyCriterion.active.is_(True))
    return list(session.scalars(query))


def ensure_default_criteria(session: Session) -> None:
    """The questionnaire of 001 Прил. 25, stored once (in Russian, the customers' language)."""
    if session.scalar(select(SurveyCriterion.id).limit(1)) is not None:
        return
    with force_locale("ru"):
        for position, name in enumerate(DEFAULT_CRITERIA, start=1):
            session.add(SurveyCriterion(name=str(name), position=position))
    session.flush()


def save_criterion(
    session: Session, criterion: SurveyCriterion | None, name: str, position: int, active: bool
) -> SurveyCriterion:
    """Add or rename a criterion. Old answers keep their scores: a criterion is retired
    (``active`` off), never deleted."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Name the criterion."), "name")
    if len(name) > 300:
        raise DomainError(_("At most 300 characters."), "name")
    criterion = criterion or SurveyCriterion()
    criterion.name, criterion.position, criterion.active = name, position, active
    session.add(criterion)
    session.flush()
    return criterion


# --- invitations ---------------------------------------------------------------------------


def form_token(invitation: SurveyInvitation) -> str:
    return tokens.make_token("survey", {"i": invitation.id, "n": invitation.nonce})


def invitation_by_token(session: Session, token: str) -> SurveyInvitation:
    """The invitation a letter's link names; a forged, expired or altered link is a 404."""
    payload = tokens.read_token("survey", token) or {}
    invitation_id = payload.get("i")
    invitation = (
        session.get(SurveyInvitation, invitation_id) if isinstance(invitation_id, int) else None
    )
    if invitation is None or not secrets.compare_digest(invitation.nonce, str(payload.get("n"))):
        raise NotFound("survey")
    return invitation


def _wanted(session: Session) -> bool:
    return settings.get(session, "quality.survey_after_contact") == 1


def invite(
    session: Session,
    occasion: SurveyOccasion,
    subject_id: int,
    *,
    email: str | None,
    user_id=None,
    account_id=None,
    office_id=None,
    language="ru",
):
    """Plan one invitation letter (none without an e-mail, none twice for the same contact);
    sent by the outbox dispatcher an hour later (``SEND_AFTER``)."""
    if not email:
        return None
    ensure_default_criteria(session)  # a questionnaire is never empty
    taken = select(SurveyInvitation.id).filter_by(
        occasion=occasion, subject_id=subject_id, user_id=user_id
    )
    if session.scalar(taken) is not None:
        return None
    invitation = SurveyInvitation(
        occasion=occasion,
        subject_id=subject_id,
        user_id=user_id,
        account_id=account_id,
        office_id=office_id,
        email=email,
        nonce=secrets.token_hex(16),
    )
    session.add(invitation)
    session.flush()
    from portal.services.users import external_url

    with force_locale(language or "ru"), link_context():  # a worker has no request
        enqueue_email(
            session,
            kind=KIND,
            recipient=email,
            subject=str(SUBJECT),
            context={
                "occasion": occasion,
                "url": external_url("surveys.form", token=form_token(invitation)),
                "hours": tokens.lifetime_hours("survey"),
            },
            dedup_key=f"{KIND}:{invitation.id}",
            scheduled_at=utcnow() + SEND_AFTER,
            user_id=user_id,
            account_id=account_id,
        )
    return invitation


def invite_after_appeal(session: Session, appeal: Appeal):
    if not _wanted(session):
        return None
    return invite(
        session,
        SurveyOccasion.APPEAL,
        appeal.id,
        email=appeal.applicant_email,
        user_id=appeal.user_id,
        account_id=appeal.account_id,
        language=appeal.language,
    )


def invite_after_visit(session: Session, booking: Booking):
    if not _wanted(session):
        return None
    user = session.get(User, booking.user_id) if booking.user_id else None
    email = (user.email if user is not None and user.is_confirmed else None) or booking.email
    return invite(
        session,
        SurveyOccasion.VISIT,
        booking.id,
        email=email,
        user_id=booking.user_id,
        office_id=booking.office_id,
    )


def invite_after_contract(
    session: Session,
    contract_id: int,
    *,
    email: str | None,
    user_id: int | None = None,
    account_id: int | None = None,
):
    """The hook for the contract applications area: call it in the same transaction that
    marks a contract concluded; the invitation asks about that contract."""
    if not _wanted(session):
        return None
    return invite(
        session,
        SurveyOccasion.CONTRACT,
        contract_id,
        email=email,
        user_id=user_id,
        account_id=account_id,
    )


def start_annual(
    session: Session, staff: Staff, rng: random.Random | None = None
) -> SurveyCampaign:
    """The annual survey: a random sample (``quality.annual_sample_percent``) of the users
    with a confirmed e-mail and a linked account is invited, once a year."""
    year = local_today().year
    if session.scalar(select(SurveyCampaign.id).filter_by(year=year)) is not None:
        raise DomainError(_("The survey of %(year)s has been started already.", year=year))
    percent = settings.get(session, "quality.annual_sample_percent")
    campaign = SurveyCampaign(year=year, sample_percent=percent, staff_id=staff.id)
    session.add(campaign)
    session.flush()
    people = session.execute(
        select(User.id, User.email, User.language, AccountLink.account_id)
        .join(AccountLink, AccountLink.user_id == User.id)
        .where(User.email_confirmed_at.is_not(None))
        .order_by(User.id)
    ).all()
    first = {}
    for row in people:
        first.setdefault(row.id, row)
    chosen = (rng or random.SystemRandom()).sample(
        list(first.values()), round(len(first) * percent / 100)
    )
    for row in chosen:
        if invite(
            session,
            SurveyOccasion.ANNUAL,
            campaign.id,
            email=row.email,
            user_id=row.id,
            account_id=row.account_id,
            language=row.language,
        ):
            campaign.invited += 1
    session.flush()
    return campaign


# --- answers -------------------------------------------------------------------------------


@dataclass
class Rating:
    criterion_id: int
    score: int | None
    reason: str


def check(session: Session, ratings: list[Rating]) -> dict[int, str]:
    """Errors by criterion id: a score 1–10 for every active criterion, a reason below 9."""
    errors = {}
    for rating in ratings:
        if rating.score is None or not LOWEST <= rating.score <= HIGHEST:
            errors[rating.criterion_id] = _("Choose a score from 1 to 10.")
        elif rating.score < REASON_BELOW and not rating.reason.strip():
            errors[rating.criterion_id] = _("Tell us why the score is below 9.")
        elif len(rating.reason) > MAX_TEXT:
            errors[rating.criterion_id] = _("At most %(n)s characters.", n=MAX_TEXT)
    return errors


def submit(
    session: Session,
    invitation: SurveyInvitation,
    ratings: list[Rating],
    suggestions: str = "",
    name: str = "",
) -> SurveyAnswer:
    """Write the answer once. The invitation is marked answered by a conditional UPDATE:
    of two submissions at once only one changes the row, the other is refused."""
    wanted = {c.id for c in criteria(session)}
    if {r.criterion_id for r in ratings} != wanted:
        raise DomainError(_("Rate every line of the questionnaire."))
    if len(suggestions) > MAX_TEXT or len(name) > 200:
        raise DomainError(_("At most %(n)s characters.", n=MAX_TEXT), "suggestions")
    claimed = session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation.id, SurveyInvitation.answered_at.is_(None))
        .values(answered_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise DomainError(_("This survey has been answered already. Thank you!"))
    answer = SurveyAnswer(
        invitation_id=invitation.id,
        occasion=invitation.occasion,
        office_id=invitation.office_id,
        account_id=invitation.account_id,
        suggestions=suggestions.strip(),
        name=name.strip(),
    )
    session.add(answer)
    session.flush()
    for rating in ratings:
        session.add(
            SurveyScore(
                answer_id=answer.id,
                criterion_id=rating.criterion_id,
                score=rating.score,
                reason=rating.reason.strip(),
            )
        )
    session.flush()
    session.refresh(invitation)
    return answer


def answers_query():
    """The answers, newest first, with their scores and criteria in two more queries."""
    return (
        select(SurveyAnswer)
        .options(selectinload(SurveyAnswer.scores).selectinload(SurveyScore.criterion))
        .order_by(SurveyAnswer.id.desc())
    )


# --- figures (001 Table 5 No. 10; 002 §19) -------------------------------------------------

TOP_SCORE = 9  # 9 and 10 are the "satisfied" scores of 002 §19
ONE_PLACE = Decimal("0.1")


@dataclass(frozen=True)
class CriterionFigure:
    criterion: str
    answers: int
    score_total: int
    top: int

    @property
    def average(self) -> Decimal | None:
        return _mean(self.score_total, self.answers)

    @property
    def top_share(self) -> Decimal | None:
        return _mean(self.top * 100, self.answers)


@dataclass(frozen=True)
class Satisfaction:
    by_criterion: list[CriterionFigure]

    @property
    def average(self) -> Decimal | None:
        """Куд.ср: the mean of all scores given in the span."""
        return _mean(
            sum(c.score_total for c in self.by_criterion), sum(c.answers for c in self.by_criterion)
        )

    @property
    def top_share(self) -> Decimal | None:
        return _mean(
            sum(c.top for c in self.by_criterion) * 100, sum(c.answers for c in self.by_criterion)
        )


def _mean(total: int, count: int) -> Decimal | None:
    return (Decimal(total) / count).quantize(ONE_PLACE, ROUND_HALF_UP) if count else None


def figures(
    session: Session, first: date, last: date, office_id: int | None = None
) -> Satisfaction:
    """Scores of the answers received from ``first`` to ``last`` (the supplier's days), by
    criterion: one GROUP BY."""
    start = datetime.combine(first, time(), supplier_zone())
    end = datetime.combine(last + timedelta(days=1), time(), supplier_zone())
    query = (
        select(
            SurveyCriterion.name,
            func.count(SurveyScore.id),
            func.sum(SurveyScore.score),
            func.sum(case((SurveyScore.score >= TOP_SCORE, 1), else_=0)),
        )
        .join(SurveyScore, SurveyScore.criterion_id == SurveyCriterion.id)
        .join(SurveyAnswer, SurveyAnswer.id == SurveyScore.answer_id)
        .where(SurveyAnswer.created_at >= start, SurveyAnswer.created_at < end)
        .group_by(SurveyCriterion.id, SurveyCriterion.name, SurveyCriterion.position)
        .order_by(SurveyCriterion.position, SurveyCriterion.id)
    )
    if office_id:
        query = query.where(SurveyAnswer.office_id == office_id)
    return Satisfaction(
        [
            CriterionFigure(name, int(n), int(total or 0), int(top or 0))
            for name, n, total, top in session.execute(query)
        ]
    )
