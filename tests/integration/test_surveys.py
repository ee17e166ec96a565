"""Satisfaction surveys (issue #16; 001 Прил. 25; 002 §19: scores 1–10, a reason below 9):
the invitation after a contact through the outbox, the signed single-use link, the form
without signing in, answers never editable, the back office pages."""

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from portal.models import (
    Booking,
    BookingStatus,
    NoticePreference,
    OutboxMessage,
    QueueTicket,
    SurveyAnswer,
    SurveyCampaign,
    SurveyInvitation,
    SurveyOccasion,
    SurveyScore,
    TicketStatus,
    VisitService,
)
from portal.services import appeals, office_day, settings, surveys
from portal.services.errors import DomainError
from tests.conftest import page, post_form
from tests.factories import link, make_account, make_office, make_staff, make_user
from tests.integration.test_appeals_service import assigned, file_appeal

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def survey_path(message: OutboxMessage) -> str:
    return re.search(r"https?://[^/\s]+(/survey/\S+)", message.body_text).group(1)


def letter_of(session, invitation) -> OutboxMessage:
    return session.scalar(
        select(OutboxMessage).filter_by(dedup_key=f"survey_invitation:{invitation.id}")
    )


def visit_survey(session, user=None):
    user = user or make_user(session)
    invitation = surveys.invite(
        session, SurveyOccasion.VISIT, 1000 + user.id, email=user.email, user_id=user.id
    )
    session.commit()
    return invitation


def all_scores(session, score=10, reason=""):
    return {f"score-{c.id}": str(score) for c in surveys.criteria(session)} | {
        f"reason-{c.id}": reason for c in surveys.criteria(session)
    }


def test_a_served_visit_invites_the_customer_by_the_outbox(db_session):
    user = make_user(db_session)
    office = make_office(db_session, windows=1)
    booking = Booking(
        code="Q1W2E3",
        office_id=office.id,
        user_id=user.id,
        service=VisitService.RECEPTION,
        starts_at=NOW,
        ends_at=NOW + timedelta(minutes=15),
        full_name=user.full_name,
        status=BookingStatus.CHECKED_IN,
    )
    db_session.add(booking)
    db_session.flush()
    ticket = QueueTicket(
        office_id=office.id,
        day=NOW.date(),
        prefix="З",
        number=1,
        booking_id=booking.id,
        service=VisitService.RECEPTION,
        status=TicketStatus.CALLED,
        queue_at=NOW,
        arrived_at=NOW,
        called_at=NOW,
        window=1,
    )
    db_session.add(ticket)
    db_session.flush()
    office_day.finish(db_session, ticket, served=True)
    invitation = db_session.scalar(select(SurveyInvitation).filter_by(subject_id=booking.id))
    assert invitation.occasion == SurveyOccasion.VISIT
    assert invitation.office_id == office.id
    letter = letter_of(db_session, invitation)
    assert letter.recipient == user.email
    assert "/survey/" in letter.body_text
    # The seven lines of 001 Прил. 25 (the two meter lines made one) are there to rate.
    assert len(surveys.criteria(db_session)) == 7


def test_an_answered_appeal_invites_its_applicant(db_session):
    appeal = file_appeal(db_session)
    supervisor, executor = assigned(db_session, appeal)
    appeals.answer(db_session, appeal, executor, "Счёт пересчитан.", supervisor)
    invitation = db_session.scalar(
        select(SurveyInvitation).filter_by(occasion=SurveyOccasion.APPEAL, subject_id=appeal.id)
    )
    assert invitation.email == appeal.applicant_email
    assert letter_of(db_session, invitation) is not None


def test_the_contract_hook_invites_once(db_session):
    user = make_user(db_session)
    first = surveys.invite_after_contract(db_session, 77, email=user.email, user_id=user.id)
    again = surveys.invite_after_contract(db_session, 77, email=user.email, user_id=user.id)
    assert first is not None
    assert again is None


def test_no_invitation_when_turned_off_in_settings(db_session):
    settings.put(db_session, "quality.survey_after_contact", 0)
    user = make_user(db_session)
    assert surveys.invite_after_contract(db_session, 5, email=user.email, user_id=user.id) is None


def test_a_customer_who_turned_the_kind_off_gets_no_letter(db_session):
    user = make_user(db_session)
    db_session.add(NoticePreference(user_id=user.id, kind="survey_invitation", channel="none"))
    db_session.flush()
    invitation = visit_survey(db_session, user)
    assert letter_of(db_session, invitation) is None


def test_the_link_opens_the_form_without_signing_in(client, db_session):
    invitation = visit_survey(db_session)
    response = client.get(survey_path(letter_of(db_session, invitation)))
    assert response.status_code == 200
    html = page(response)
    assert html.count('type="radio"') == 70
    assert "<script" not in html.split("<form")[1].split("</form>")[0]


def test_a_score_below_9_needs_a_reason_and_the_form_keeps_what_was_typed(client, db_session):
    """002 §19: a reason is asked for any score below 9."""
    invitation = visit_survey(db_session)
    path = survey_path(letter_of(db_session, invitation))
    first = surveys.criteria(db_session)[0]
    data = all_scores(db_session) | {f"score-{first.id}": "6", "suggestions": "Больше окон"}
    response = post_form(client, path, data)
    assert response.status_code == 200
    assert f'id="error-{first.id}"' in page(response)
    assert f'id="score-{first.id}-6" value="6" checked' in page(response)
    assert "Больше окон" in page(response)
    assert db_session.scalar(select(func.count(SurveyAnswer.id))) == 0


def test_an_answer_is_kept_once_and_the_link_cannot_be_replayed(client, other_client, db_session):
    invitation = visit_survey(db_session)
    path = survey_path(letter_of(db_session, invitation))
    first = surveys.criteria(db_session)[0]
    data = all_scores(db_session) | {
        f"score-{first.id}": "6",
        f"reason-{first.id}": "Долго ждал",
        "name": "",
    }
    assert post_form(client, path, data).status_code == 303
    answer = db_session.scalar(select(SurveyAnswer))
    scores = {s.criterion_id: (s.score, s.reason) for s in answer.scores}
    assert scores[first.id] == (6, "Долго ждал")
    assert len(scores) == 7
    # The same link again, in another browser: no form, and a second post changes nothing.
    assert 'id="survey-already"' in page(other_client.get(path))
    post_form(other_client, path, all_scores(db_session, 1, "плохо"))
    assert db_session.scalar(select(func.count(SurveyAnswer.id))) == 1
    assert db_session.scalar(select(func.min(SurveyScore.score))) == 6


def test_submit_twice_in_the_service_is_refused(db_session):
    invitation = visit_survey(db_session)
    ratings = [surveys.Rating(c.id, 10, "") for c in surveys.criteria(db_session)]
    surveys.submit(db_session, invitation, ratings)
    with pytest.raises(DomainError):
        surveys.submit(db_session, invitation, ratings)


def test_a_tampered_forged_or_someone_elses_link_is_a_404(client, db_session):
    mine = visit_survey(db_session)
    theirs = visit_survey(db_session)
    path = survey_path(letter_of(db_session, mine))
    assert client.get(path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")).status_code == 404
    # A link signed for another kind, or naming their invitation with my nonce, is refused.
    from portal.services import tokens

    with client.application.test_request_context():
        other_kind = tokens.make_token("visit", {"i": theirs.id, "n": theirs.nonce})
        mixed = tokens.make_token("survey", {"i": theirs.id, "n": mine.nonce})
    assert client.get(f"/survey/{other_kind}").status_code == 404
    assert client.get(f"/survey/{mixed}").status_code == 404


def test_the_link_expires(client, db_session, fixed_time):
    invitation = visit_survey(db_session)
    path = survey_path(letter_of(db_session, invitation))
    fixed_time.shift(timedelta(days=31))
    assert client.get(path).status_code == 404


def test_the_annual_survey_invites_a_sample_once_a_year(db_session):
    staff = make_staff(db_session, "supervisor")
    for _n in range(10):
        link(db_session, make_user(db_session), make_account(db_session))
    settings.put(db_session, "quality.annual_sample_percent", 30)
    campaign = surveys.start_annual(db_session, staff, random.Random(1))
    assert campaign.invited == 3
    with pytest.raises(DomainError):
        surveys.start_annual(db_session, staff)
    assert db_session.scalar(select(func.count(SurveyCampaign.id))) == 1


def test_supervisor_sees_answers_and_keeps_the_criteria(staff_client, db_session):
    invitation = visit_survey(db_session)
    surveys.submit(
        db_session,
        invitation,
        [surveys.Rating(c.id, 8, "Очередь") for c in surveys.criteria(db_session)],
        "Спасибо",
    )
    db_session.commit()
    browser = staff_client("supervisor")
    assert "Очередь" in page(browser.get("/admin/surveys"))
    assert (
        post_form(
            browser,
            "/admin/surveys/criteria",
            {"name": "Удобство сайта", "position": "20", "active": "y"},
        ).status_code
        == 303
    )
    assert "Удобство сайта" in page(browser.get("/admin/surveys/criteria"))
    assert (
        post_form(browser, "/admin/surveys/criteria", {"name": "", "position": "1"}).status_code
        == 200
    )
    assert staff_client("operator").get("/admin/surveys").status_code == 403
