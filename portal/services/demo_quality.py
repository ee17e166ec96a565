"""Demo quality data (issue #16): a year of survey answers and feedback-book entries, so the
quality dashboard shows trends on `make run`, and last month's report. Deterministic for a
seed number; answers are dated through the past twelve months."""

import random
import secrets
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    FeedbackKind,
    FeedbackSource,
    Office,
    SurveyAnswer,
    SurveyInvitation,
    SurveyOccasion,
    SurveyScore,
    User,
)
from portal.services import feedback_book, quality_reports, surveys
from portal.services.clock import supplier_zone
from portal.services.months import add_months, period_of
from portal.services.notify.outbox import link_context

MONTHS = 12
ANSWERS_PER_MONTH = 20
REASONS = (
    "Долго ждал в очереди",
    "Не сразу поняли вопрос",
    "Счёт пришёл с ошибкой",
    "Перебои с горячей водой",
    "Показания приняли не с первого раза",
)
THANKS = (
    "Спасибо оператору за вежливость",
    "Быстро пересчитали счёт, спасибо",
    "Удобная запись в офис через портал",
)


def _score(rng: random.Random, month_index: int) -> int:
    """Scores that improve over the year, mostly 8–10."""
    return min(10, max(1, round(rng.gauss(7.8 + month_index * 0.12, 1.4))))


def _answer(session, rng, when: datetime, user_id, office_id, month_index, criteria) -> None:
    invitation = SurveyInvitation(
        occasion=rng.choice(list(SurveyOccasion)),
        subject_id=rng.randint(1, 10**6),
        user_id=user_id,
        office_id=office_id,
        email="demo@example.ru",
        nonce=secrets.token_hex(16),
        answered_at=when,
        created_at=when,
    )
    session.add(invitation)
    session.flush()
    answer = SurveyAnswer(
        invitation_id=invitation.id,
        occasion=invitation.occasion,
        office_id=office_id,
        created_at=when,
        suggestions=rng.choice(["", "", "Продлите часы работы офиса"]),
    )
    session.add(answer)
    session.flush()
    for criterion in criteria:
        score = _score(rng, month_index)
        session.add(
            SurveyScore(
                answer_id=answer.id,
                criterion_id=criterion.id,
                score=score,
                reason=rng.choice(REASONS) if score < surveys.REASON_BELOW else "",
            )
        )


def seed(session: Session, *, seed_number: int = 2026, today: date) -> int:
    """Seed the answers, the entries and last month's report; the number of answers."""
    with link_context():  # the appeals' receipts name links; the command has no request
        return _seed(session, seed_number, today)


def _seed(session: Session, seed_number: int, today: date) -> int:
    rng = random.Random(seed_number)
    surveys.ensure_default_criteria(session)
    criteria = surveys.criteria(session)
    offices = session.scalars(select(Office.id)).all() or [None]
    users = session.scalars(select(User.id).limit(200)).all() or [None]
    first = add_months(period_of(today), -MONTHS + 1)
    count = 0
    for index in range(MONTHS):
        month = add_months(first, index)
        days = (add_months(month, 1) - month).days
        for _n in range(ANSWERS_PER_MONTH):
            day = month + timedelta(days=rng.randrange(days))
            if day > today:
                continue
            when = datetime.combine(day, time(rng.randint(9, 18)), supplier_zone()).astimezone(UTC)
            _answer(session, rng, when, rng.choice(users), rng.choice(offices), index, criteria)
            count += 1
        when = datetime.combine(month + timedelta(days=3), time(11), supplier_zone()).astimezone(
            UTC
        )
        if when.date() <= today:
            feedback_book.add_entry(
                session,
                feedback_book.NewEntry(
                    kind=FeedbackKind.THANKS,
                    source=rng.choice([FeedbackSource.TABLET, FeedbackSource.PAPER]),
                    text=rng.choice(THANKS),
                    author_name="Посетитель офиса",
                    office_id=rng.choice(offices),
                ),
                at=when,
            )
    for kind, text in (
        (FeedbackKind.COMPLAINT, "В офисе работало одно окно из трёх, ждал час"),
        (FeedbackKind.PROPOSAL, "Добавьте приём показаний по SMS"),
    ):
        feedback_book.add_entry(
            session,
            feedback_book.NewEntry(
                kind=kind,
                source=FeedbackSource.PORTAL,
                text=text,
                author_name="Смирнова О. П.",
                email="smirnova@example.ru",
            ),
        )
    session.commit()
    quality_reports.make(session, add_months(period_of(today), -1))
    session.commit()
    return count
