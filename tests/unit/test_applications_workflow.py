"""The application state machine and its service: every allowed move, the refusal of every
other one, every refusal rule, and the clocks each step sets (004 table 1 and 2, 003),
with the figures worked out by hand on the production calendar (see
test_applications_clocks.py for the calendar facts)."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine

from portal.models import (
    ApplicationKind,
    ApplicationStatus,
    ChecklistItem,
    ComplaintStatus,
    RefusalReason,
    Segment,
)
from portal.models.applications import InventoryRewritten
from portal.services import applications as service
from portal.services import settings
from portal.services.appeals.files import Upload
from portal.services.applications.machine import TRANSITIONS, Action, next_status
from portal.services.errors import DomainError, FieldErrors
from tests.factories import make_staff

S = ApplicationStatus
PDF = b"%PDF-1.4 a scan of the passport"
EXPECTED = {
    (Action.SUBMIT, S.DRAFT): S.REGISTERED,
    (Action.START_CHECK, S.REGISTERED): S.FORMAL_CHECK,
    (Action.REQUEST_DOCUMENTS, S.REGISTERED): S.DOCUMENTS_REQUESTED,
    (Action.REQUEST_DOCUMENTS, S.FORMAL_CHECK): S.DOCUMENTS_REQUESTED,
    (Action.REQUEST_DOCUMENTS, S.IN_REWORK): S.DOCUMENTS_REQUESTED,
    (Action.DELIVER_DOCUMENTS, S.DOCUMENTS_REQUESTED): S.IN_REWORK,
    (Action.ACCEPT, S.REGISTERED): S.ACCEPTED,
    (Action.ACCEPT, S.FORMAL_CHECK): S.ACCEPTED,
    (Action.ACCEPT, S.IN_REWORK): S.ACCEPTED,
    (Action.ISSUE_CONTRACT, S.ACCEPTED): S.FOR_SIGNATURE,
    (Action.DISAGREE, S.FOR_SIGNATURE): S.DISAGREEMENT,
    (Action.ANSWER_DISAGREEMENT, S.DISAGREEMENT): S.FOR_SIGNATURE,
    (Action.SIGN, S.FOR_SIGNATURE): S.SIGNED,
    (Action.ISSUE_CONDITIONS, S.REGISTERED): S.ISSUED,
    (Action.ISSUE_CONDITIONS, S.FORMAL_CHECK): S.ISSUED,
    (Action.ISSUE_CONDITIONS, S.IN_REWORK): S.ISSUED,
    (Action.REFUSE, S.REGISTERED): S.REFUSED,
    (Action.REFUSE, S.FORMAL_CHECK): S.REFUSED,
    (Action.REFUSE, S.IN_REWORK): S.REFUSED,
    (Action.END, S.DOCUMENTS_REQUESTED): S.ENDED,
    **{
        (Action.WITHDRAW, status): S.WITHDRAWN
        for status in (
            S.DRAFT,
            S.REGISTERED,
            S.FORMAL_CHECK,
            S.DOCUMENTS_REQUESTED,
            S.IN_REWORK,
            S.ACCEPTED,
            S.FOR_SIGNATURE,
            S.DISAGREEMENT,
        )
    },
    (Action.REOPEN, S.REFUSED): S.FORMAL_CHECK,
    (Action.REOPEN, S.ENDED): S.FORMAL_CHECK,
}


def test_the_table_is_exactly_the_rules():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("action", "status"), sorted(EXPECTED))
def test_an_allowed_move(action, status):
    assert next_status(action, status) is EXPECTED[(action, status)]


FORBIDDEN = [pair for pair in itertools.product(Action, ApplicationStatus) if pair not in EXPECTED]


@pytest.mark.parametrize(("action", "status"), FORBIDDEN)
def test_a_forbidden_move_is_refused(action, status, app):
    with app.test_request_context(), pytest.raises(DomainError):
        next_status(action, status)


def test_nothing_leaves_signed_issued_or_withdrawn():
    for status in (S.SIGNED, S.ISSUED, S.WITHDRAWN):
        assert not [action for action, source in TRANSITIONS if source == status]


# --- the service -------------------------------------------------------------------------------


def at(day: date, hour: int = 9):
    """Travel to a Moscow morning (UTC+3)."""
    return time_machine.travel(
        datetime(day.year, day.month, day.day, hour - 3, tzinfo=UTC), tick=False
    )


@pytest.fixture
def items(db_session):
    rows = [
        ChecklistItem(
            kind=ApplicationKind.REREGISTER,
            segment=Segment.HOUSEHOLD,
            title="Passport",
            reason="Identifies the new owner (ПП 354 п. 19)",
            position=1,
        ),
        ChecklistItem(
            kind=ApplicationKind.REREGISTER,
            segment=Segment.HOUSEHOLD,
            title="Extract from the property register",
            reason="Proves the ownership of the premises",
            position=2,
        ),
        ChecklistItem(
            kind=ApplicationKind.REREGISTER,
            segment=Segment.HOUSEHOLD,
            title="Meter passport",
            reason="Optional: speeds up registering the meter",
            required=False,
            position=3,
        ),
    ]
    db_session.add_all(rows)
    db_session.flush()
    return rows


@pytest.fixture
def reason(db_session):
    row = RefusalReason(
        code="not_owner",
        title="The applicant is not the owner of the premises",
        legal_ground="ГК РФ ст. 539, ПП 354 п. 6",
    )
    db_session.add(row)
    db_session.flush()
    return row


def new(kind=ApplicationKind.REREGISTER, segment=Segment.HOUSEHOLD, uploads=None, **applicant):
    fields = {"name": "Иванов Иван Иванович", "email": "ivanov@example.ru"} | applicant
    return service.NewApplication(
        kind=kind, segment=segment, applicant=service.Applicant(**fields), uploads=uploads or {}
    )


def test_registration_gives_a_number_and_the_5_day_answer_clock(app, db_session, items):
    # Thu 24 Dec 2026 + 5 = Tuesday 29 December 2026 (1.2).
    with app.test_request_context(), at(date(2026, 12, 24)):
        first = service.register(db_session, new(uploads={items[0].id: [Upload("p.pdf", PDF)]}))
        second = service.register(db_session, new())
    assert first.number == "D-2026-000001"
    assert second.number == "D-2026-000002"
    assert first.status is S.REGISTERED
    assert first.registered_on == date(2026, 12, 24)
    assert first.stage_due_on == date(2026, 12, 29)
    assert [d.title for d in first.documents] == ["Passport"]
    assert [e.kind.value for e in first.events] == ["document_received", "submitted"]


def test_the_whole_way_to_a_signed_contract_with_a_request_across_the_holidays(
    app, db_session, items
):
    staff = make_staff(db_session, "operator")
    with app.test_request_context():
        with at(date(2026, 12, 24)):
            application = service.register(
                db_session, new(uploads={items[0].id: [Upload("p.pdf", PDF)]})
            )
            service.start_check(db_session, application, staff)
            assert [i.title for i in service.missing_items(db_session, application)] == [
                "Extract from the property register"
            ]
            with pytest.raises(DomainError):
                service.accept(db_session, application, staff)
        with at(date(2026, 12, 25)):
            service.request_documents(db_session, application, staff, "Send the extract")
        # 25 Dec 2026 + 1 month = Monday 25 January 2027, a working day (003 п. 6).
        assert application.stage_due_on == date(2027, 1, 25)
        with at(date(2027, 1, 11)):
            service.add_documents(db_session, application, {items[1].id: [Upload("e.pdf", PDF)]})
        # Delivered in full: back to the check, 11 Jan + 5 = Sat 16 → Monday 18 January.
        assert application.status is S.IN_REWORK
        assert application.stage_due_on == date(2027, 1, 18)
        with at(date(2027, 1, 12)):
            service.accept(db_session, application, staff)
        # 1.3, individuals: 10 working days from Tue 12 Jan 2027: 13, 14, 15, 18, 19, 20,
        # 21, 22, 25, 26 → Tuesday 26 January 2027.
        assert application.contract_due_on == date(2027, 1, 26)
        with at(date(2027, 1, 20)):
            service.issue_contract(db_session, application, staff)
        assert application.concluded_on_time is True
        assert application.stage_due_on is None
        with at(date(2027, 1, 21)):
            service.sign(db_session, application, staff)
    assert application.status is S.SIGNED
    assert application.signed_on == date(2027, 1, 21)


def test_a_contract_after_its_last_day_is_not_on_time(app, db_session, items):
    staff = make_staff(db_session, "operator")
    uploads = {items[0].id: [Upload("p.pdf", PDF)], items[1].id: [Upload("e.pdf", PDF)]}
    with app.test_request_context():
        with at(date(2026, 12, 2)):
            application = service.register(
                db_session, new(ApplicationKind.REREGISTER, uploads=uploads)
            )
            service.accept(db_session, application, staff)
        # 10 working days from Wed 2 Dec 2026: 3, 4, 7, 8, 9, 10, 11, 14, 15, 16 → 16 Dec.
        assert application.contract_due_on == date(2026, 12, 16)
        with at(date(2026, 12, 17)):
            service.issue_contract(db_session, application, staff)
    assert application.concluded_on_time is False


def test_the_quality_dashboard_counts_contracts_concluded_on_time(app, db_session, items):
    """Ккач дог (001 Table 5 No. 4): of two contracts due Wed 16 Dec 2026 (10 working days
    from Wed 2 Dec), one issued on 3 Dec and one on 17 Dec: 1 of 2 on time, 50.0 %."""
    from portal.services import quality

    staff = make_staff(db_session, "operator")

    def accepted():
        uploads = {items[0].id: [Upload("p.pdf", PDF)], items[1].id: [Upload("e.pdf", PDF)]}
        application = service.register(db_session, new(ApplicationKind.REREGISTER, uploads=uploads))
        service.accept(db_session, application, staff)
        return application

    with app.test_request_context():
        with at(date(2026, 12, 2)):
            prompt, late = accepted(), accepted()
        with at(date(2026, 12, 3)):
            service.issue_contract(db_session, prompt, staff)
        with at(date(2026, 12, 17)):
            service.issue_contract(db_session, late, staff)
    december = date(2026, 12, 1)
    assert quality.contracts_on_time(db_session, december, december) == Decimal("50.0")
    assert quality.contracts_on_time(db_session, date(2026, 11, 1), date(2026, 11, 1)) is None


def test_a_legal_entity_contract_clock_is_30_calendar_days(app, db_session):
    staff = make_staff(db_session, "operator")
    with app.test_request_context(), at(date(2026, 12, 2)):
        application = service.register(
            db_session, new(ApplicationKind.CONTRACT, Segment.LEGAL, inn="7701234567")
        )
        service.accept(db_session, application, staff)
    # 2 Dec 2026 + 30 = Fri 1 Jan 2027 → Monday 11 January 2027.
    assert application.contract_due_on == date(2027, 1, 11)


def test_the_contract_clock_follows_the_setting(app, db_session):
    staff = make_staff(db_session, "operator")
    settings.put(db_session, "applications.contract_days.legal", 15)
    settings.put(db_session, "applications.contract_working.legal", 1)
    with app.test_request_context(), at(date(2026, 12, 24)):
        application = service.register(
            db_session, new(ApplicationKind.CONTRACT, Segment.LEGAL, inn="7701234567")
        )
        service.accept(db_session, application, staff)
    # 15 working days from Thu 24 Dec 2026: 25, 28, 29, 30 (4), 11–15 Jan (9),
    # 18–22 (14), 25 (15) → Monday 25 January 2027.
    assert application.contract_due_on == date(2027, 1, 25)


def test_a_legal_entity_must_give_its_inn_and_everyone_a_contact(app, db_session):
    with app.test_request_context(), pytest.raises(FieldErrors) as refused:
        service.register(db_session, new(segment=Segment.LEGAL, email=None, name=" "))
    assert set(refused.value.errors) == {"name", "email", "inn"}


def test_a_refusal_names_an_active_reason_and_counts_its_5_days(app, db_session, reason):
    staff = make_staff(db_session, "operator")
    with app.test_request_context():
        with at(date(2026, 12, 28)):
            application = service.register(db_session, new())
            with pytest.raises(DomainError) as no_reason:
                service.refuse(db_session, application, staff, None, "Not the owner")
            assert no_reason.value.field == "reason"
            reason.active = False
            with pytest.raises(DomainError):
                service.refuse(db_session, application, staff, reason.id, "Not the owner")
            reason.active = True
            with pytest.raises(DomainError):
                service.refuse(db_session, application, staff, reason.id, "  ")
        # 1.4: 28 Dec 2026 + 5 = Sat 2 Jan 2027 → Monday 11 January; refused on the 11th.
        with at(date(2027, 1, 11)):
            service.refuse(
                db_session, application, staff, reason.id, "The extract names another owner"
            )
        assert service.refusal_on_time(application, db_session) is True
    assert application.status is S.REFUSED
    assert application.decided_by_id == staff.id
    assert "ГК РФ ст. 539" in application.events[-1].text


def test_a_refusal_a_day_late_is_late(app, db_session, reason):
    staff = make_staff(db_session, "operator")
    with app.test_request_context():
        with at(date(2026, 12, 28)):
            application = service.register(db_session, new())
        with at(date(2027, 1, 12)):
            service.refuse(db_session, application, staff, reason.id, "Not the owner")
        assert service.refusal_on_time(application, db_session) is False


def test_a_month_without_documents_ends_consideration_the_day_after(app, db_session, items):
    staff = make_staff(db_session, "operator")
    with app.test_request_context():
        with at(date(2026, 1, 30)):
            application = service.register(db_session, new())
            service.request_documents(db_session, application, staff, "The extract, please")
        # 30 Jan + 1 month → Sat 28 Feb → Monday 2 March 2026 is the last day.
        assert application.stage_due_on == date(2026, 3, 2)
        assert service.end_unanswered(db_session, date(2026, 3, 2)) == []
        assert service.end_unanswered(db_session, date(2026, 3, 3)) == [application]
    assert application.status is S.ENDED


def test_meter_conditions_are_issued_within_10_days_and_never_accepted(app, db_session):
    staff = make_staff(db_session, "metering")
    with app.test_request_context():
        with at(date(2026, 4, 30)):
            application = service.register(db_session, new(ApplicationKind.METER_CONDITIONS))
            with pytest.raises(DomainError):
                service.accept(db_session, application, staff)
        # 1.9: 30 Apr + 10 = Sun 10 May; Mon 11 May off → Tuesday 12 May 2026.
        assert application.stage_due_on == date(2026, 5, 12)
        with at(date(2026, 5, 12)):
            service.issue_conditions(db_session, application, staff, "Install at the border")
    assert application.status is S.ISSUED
    assert application.concluded_on_time is True


def test_a_protocol_of_disagreements_is_answered_within_30_days(app, db_session):
    staff = make_staff(db_session, "operator")
    with app.test_request_context():
        with at(date(2026, 5, 4)):
            application = service.register(db_session, new(ApplicationKind.CHANGE))
            service.accept(db_session, application, staff)
            service.issue_contract(db_session, application, staff)
        with at(date(2026, 5, 13)):
            service.disagree(db_session, application, "Clause 4.2 in our wording")
        # Table 2: 13 May + 30 = Fri 12 June (holiday) → Monday 15 June 2026.
        assert application.status is S.DISAGREEMENT
        assert application.stage_due_on == date(2026, 6, 15)
        with at(date(2026, 6, 1)):
            service.answer_disagreement(db_session, application, staff, "Accepted in your wording")
    assert application.status is S.FOR_SIGNATURE


def test_post_registered_late_keeps_the_clock_of_the_day_it_should_have_been(app, db_session):
    # Received Wed 30 Dec 2026, registered on 12 Jan 2027: should have been by Monday
    # 11 January (003), so the clock runs from the 11th: + 5 = Sat 16 → Monday 18 January.
    application_new = new()
    application_new.channel = "post"
    application_new.received_on = date(2026, 12, 30)
    with app.test_request_context(), at(date(2027, 1, 12)):
        application = service.register(db_session, application_new)
    assert application.registered_on == date(2027, 1, 11)
    assert application.stage_due_on == date(2027, 1, 18)


def test_a_complaint_goes_to_someone_other_than_the_decider_and_reopens(app, db_session, reason):
    decider = make_staff(db_session, "operator")
    reviewer = make_staff(db_session, "supervisor")
    with app.test_request_context():
        with at(date(2026, 10, 1)):
            application = service.register(db_session, new())
            with pytest.raises(DomainError):
                service.complain(db_session, application, "No decision yet")
            service.refuse(db_session, application, decider, reason.id, "Not the owner")
        with at(date(2026, 10, 5)):
            complaint = service.complain(db_session, application, "I am the owner since May")
            with pytest.raises(DomainError):
                service.complain(db_session, application, "Again")
        # 5 Oct + 30 = Wed 4 Nov (holiday) → Thursday 5 November 2026.
        assert complaint.due_on == date(2026, 11, 5)
        with pytest.raises(DomainError) as recused:
            service.assign_complaint(db_session, complaint, decider)
        assert recused.value.field == "reviewer"
        with pytest.raises(DomainError):
            service.answer_complaint(db_session, complaint, decider, upheld=True, text="Fine")
        service.assign_complaint(db_session, complaint, reviewer)
        with at(date(2026, 10, 9)):
            service.answer_complaint(
                db_session, complaint, reviewer, upheld=True, text="The extract was misread"
            )
        # Reopened for a fresh check: Fri 9 Oct + 5 = Wednesday 14 October 2026.
        assert application.status is S.FORMAL_CHECK
        assert application.stage_due_on == date(2026, 10, 14)
        assert complaint.status is ComplaintStatus.UPHELD
        with pytest.raises(DomainError):
            service.answer_complaint(db_session, complaint, reviewer, upheld=False, text="x")


def test_a_rejected_complaint_leaves_the_refusal_standing(app, db_session, reason):
    decider, reviewer = make_staff(db_session, "operator"), make_staff(db_session, "supervisor")
    with app.test_request_context(), at(date(2026, 10, 1)):
        application = service.register(db_session, new())
        service.refuse(db_session, application, decider, reason.id, "Not the owner")
        complaint = service.complain(db_session, application, "Please reconsider")
        service.answer_complaint(db_session, complaint, reviewer, upheld=False, text="It stands")
    assert application.status is S.REFUSED
    assert complaint.status is ComplaintStatus.REJECTED


def test_uploads_are_checked_by_content_and_only_for_listed_documents(app, db_session, items):
    with app.test_request_context(), at(date(2026, 12, 1)):
        application = service.register(db_session, new())
        with pytest.raises(DomainError) as html:
            service.add_documents(
                db_session, application, {items[0].id: [Upload("passport.pdf", b"<html>")]}
            )
        assert html.value.field == f"item_{items[0].id}"
        with pytest.raises(DomainError):
            service.add_documents(db_session, application, {999_999: [Upload("a.pdf", PDF)]})
        service.withdraw(db_session, application)
        with pytest.raises(DomainError):
            service.add_documents(db_session, application, {items[0].id: [Upload("a.pdf", PDF)]})
    assert application.documents == []


def test_the_case_file_is_never_rewritten(app, db_session, items):
    with app.test_request_context(), at(date(2026, 12, 1)):
        application = service.register(
            db_session, new(uploads={items[0].id: [Upload("p.pdf", PDF)]})
        )
    db_session.flush()
    application.events[0].text = "rewritten"
    with pytest.raises(InventoryRewritten):
        db_session.flush()
    db_session.rollback()


def test_internal_notes_are_not_shown_to_the_customer(app, db_session):
    staff = make_staff(db_session, "operator")
    with app.test_request_context(), at(date(2026, 12, 1)):
        application = service.register(db_session, new())
        service.add_note(db_session, application, staff, "Call the previous owner")
    assert [e.kind.value for e in service.customer_events(application)] == ["submitted"]
