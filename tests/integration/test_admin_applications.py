"""Contract applications in the back office: the queue by time left, the case file with
its inventory, a request for a missing document, the contract drawn up as a PDF, signing
that puts the account into the customer's cabinet with no linking step, a guest who
registers afterwards finding theirs, a refusal from the closed list, a complaint the
decider may not answer (recusal, 003), and the figures (Ккач дог)."""

import io
from datetime import UTC, datetime

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from portal.models import (
    AccountLink,
    ApplicationKind,
    ApplicationStatus,
    AuditEvent,
    ChecklistItem,
    RefusalReason,
    Segment,
)
from portal.services import applications
from portal.services.appeals.files import Upload
from portal.services.applications import cabinet
from tests.conftest import page, post_form
from tests.factories import make_account, make_staff, make_user

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def english(browser):
    with browser.session_transaction() as session:
        session["language"] = "en"
    return browser


@pytest.fixture
def item(db_session):
    row = ChecklistItem(
        kind=ApplicationKind.REREGISTER,
        segment=Segment.HOUSEHOLD,
        title="Выписка из ЕГРН",
        reason="Подтверждает право собственности",
    )
    db_session.add(row)
    db_session.flush()
    return row


def registered(app, db_session, user=None, **applicant):
    fields = {"name": "Новикова Ольга", "email": "novikova@example.ru", "address": "ул. Ленина, 5"}
    with app.test_request_context():
        application = applications.register(
            db_session,
            applications.NewApplication(
                kind=ApplicationKind.REREGISTER,
                segment=Segment.HOUSEHOLD,
                applicant=applications.Applicant(**(fields | applicant)),
                user=user,
            ),
        )
    db_session.commit()
    return application


def act(client, application, action, **data):
    fields = {f"{action}-{key}": value for key, value in data.items()}
    return post_form(client, f"/admin/applications/{application.id}/{action}", fields)


def test_the_queue_shows_the_time_left_in_the_stage(app, db_session, staff_client, item):
    application = registered(app, db_session)
    shown = page(english(staff_client("operator")).get("/admin/applications"))
    assert application.number in shown
    assert "5 days left" in shown  # 2 Dec + 5 = Monday 7 December 2026


def test_from_request_to_signature_the_account_lands_in_the_cabinet(
    app, db_session, staff_client, item
):
    resident = make_user(db_session)
    account = make_account(db_session)
    application = registered(app, db_session, user=resident)
    operator = english(staff_client("operator"))
    assert act(operator, application, "start_check").status_code == 303
    refused = act(operator, application, "accept")
    assert refused.status_code == 422
    assert "Выписка из ЕГРН" in page(refused)  # still missing
    assert (
        act(operator, application, "request_documents", text="Пришлите выписку").status_code == 303
    )
    with app.test_request_context():
        applications.add_documents(
            db_session, application, {item.id: [Upload("egrn.pdf", PDF)]}, user=resident
        )
    db_session.commit()
    assert application.status is ApplicationStatus.IN_REWORK
    assert act(operator, application, "accept").status_code == 303
    assert act(operator, application, "issue_contract").status_code == 303
    db_session.refresh(application)
    contract = application.documents[-1]
    assert contract.generated
    body = operator.get(f"/admin/applications/{application.id}/documents/{contract.id}").data
    text = PdfReader(io.BytesIO(body)).pages[0].extract_text()
    assert application.number in text
    assert "Новикова Ольга" in text
    assert act(operator, application, "sign", account_number="nope").status_code == 422
    assert act(operator, application, "sign", account_number=account.number).status_code == 303
    assert db_session.scalar(
        select(AccountLink).filter_by(user_id=resident.id, account_id=account.id)
    )
    card = page(operator.get(f"/admin/applications/{application.id}"))
    assert "egrn.pdf" in card
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.object_type == "application"))


def test_a_guest_who_registers_later_finds_the_signed_account(app, db_session):
    account = make_account(db_session)
    application = registered(app, db_session, email="later@example.ru")
    staff = make_staff(db_session)
    with app.test_request_context():
        applications.accept(db_session, application, staff)
        applications.issue_contract(db_session, application, staff)
        applications.sign(db_session, application, staff, account=account)
    user = make_user(db_session, email="later@example.ru")
    cabinet.claim_for(db_session, user)
    assert application.user_id == user.id
    assert db_session.scalar(select(AccountLink).filter_by(user_id=user.id, account_id=account.id))


def test_a_refusal_and_a_complaint_the_decider_may_not_answer(app, db_session, staff_client):
    reason = RefusalReason(code="not_owner", title="Не собственник", legal_ground="ГК РФ ст. 539")
    db_session.add(reason)
    db_session.flush()
    application = registered(app, db_session)
    decider = english(staff_client("operator"))
    assert act(decider, application, "refuse", reason="", text="x").status_code == 422
    response = act(
        decider, application, "refuse", reason=str(reason.id), text="Выписка на другое лицо"
    )
    assert response.status_code == 303
    with app.test_request_context():
        complaint = applications.complain(db_session, application, "Я собственник")
    db_session.commit()
    assert "another employee answers" in page(decider.get(f"/admin/applications/{application.id}"))
    answer = {"complaint-decision": "uphold", "complaint-text": "Пересмотрим"}
    url = f"/admin/applications/complaints/{complaint.id}"
    assert post_form(decider, url, answer).status_code == 422
    supervisor = english(staff_client("supervisor"))
    assert post_form(supervisor, url, answer).status_code == 303
    db_session.refresh(application)
    assert application.status is ApplicationStatus.FORMAL_CHECK


def test_figures_count_on_time_and_refusals(app, db_session, staff_client):
    reason = RefusalReason(code="r", title="Не собственник", legal_ground="ГК РФ ст. 539")
    db_session.add(reason)
    db_session.flush()
    on_time = registered(app, db_session)
    refused = registered(app, db_session)
    staff = make_staff(db_session)
    with app.test_request_context():
        applications.accept(db_session, on_time, staff)
        applications.issue_contract(db_session, on_time, staff)
        applications.refuse(db_session, refused, staff, reason.id, "Нет права")
    db_session.commit()
    shown = page(english(staff_client("supervisor")).get("/admin/applications/figures"))
    assert "100.0 %" in shown
    assert "Не собственник" in shown
    assert english(staff_client("operator")).get("/admin/applications/figures").status_code == 403


def test_supervisors_keep_the_lists_and_customers_see_them(app, db_session, staff_client, client):
    supervisor = english(staff_client("supervisor"))
    assert english(staff_client("operator")).get("/admin/applications/lists").status_code == 403
    assert post_form(supervisor, "/admin/applications/lists/standard", {}).status_code == 303
    shown = page(client.get("/applications/new/contract/legal"))
    assert "Акт о технологическом присоединении" in shown
    assert "ПП РФ № 442 п. 34" in shown
    no_reason = {
        "item-kind": "contract",
        "item-segment": "legal",
        "item-title": "Схема",
        "item-reason": "",
    }
    refused = post_form(supervisor, "/admin/applications/lists/item", no_reason)
    assert refused.status_code == 422
    added = post_form(
        supervisor, "/admin/applications/lists/item", no_reason | {"item-reason": "Граница сетей"}
    )
    assert added.status_code == 303
    assert "Граница сетей" in page(client.get("/applications/new/contract/legal"))
    item = db_session.scalar(select(ChecklistItem).filter_by(title="Схема"))
    toggle = post_form(supervisor, f"/admin/applications/lists/item/{item.id}/toggle", {})
    assert toggle.status_code == 303
    assert "Граница сетей" not in page(client.get("/applications/new/contract/legal"))


def test_the_scheduler_ends_consideration_after_the_month(app, db_session, now):
    from portal.cli import _end_unanswered_applications

    application = registered(app, db_session)
    with app.test_request_context():
        applications.request_documents(db_session, application, make_staff(db_session), "Выписку")
    db_session.commit()
    # 2 Dec 2026 + 1 month = Sat 2 Jan 2027 → Monday 11 January 2027 is the last day.
    now.move_to(datetime(2027, 1, 11, 20, 0, tzinfo=UTC))  # 23:00 in Moscow, still the 11th
    _end_unanswered_applications()
    assert application.status is ApplicationStatus.DOCUMENTS_REQUESTED
    now.move_to(datetime(2027, 1, 11, 21, 30, tzinfo=UTC))  # 00:30 on the 12th in Moscow
    _end_unanswered_applications()
    db_session.refresh(application)
    assert application.status is ApplicationStatus.ENDED


def test_demo_applications_cover_every_state_but_draft(app, db_session):
    from portal.models import Application, StaffRole
    from portal.services.applications import demo_applications

    make_staff(db_session, StaffRole.OPERATOR.value)
    demo_applications.seed(db_session)
    statuses = {a.status for a in db_session.scalars(select(Application))}
    assert statuses == set(ApplicationStatus) - {ApplicationStatus.DRAFT, ApplicationStatus.ENDED}
