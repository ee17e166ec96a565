"""Appeals in the back office through the test client with CSRF on: the queue (filters,
search, counts, order by time left, htmx fragment and plain page, constant queries), roles
per route, registering an appeal received by staff, assigning (the recusal refused by the
service), notes, clarification, interim answer, templates and the answer, no-action
outcomes, links, and files served to staff."""

import io
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from portal.models import (
    AnswerTemplate,
    Appeal,
    AppealChannel,
    AppealEventKind,
    AppealStatus,
    AppealTopic,
    AuditEvent,
    NoActionReason,
)
from portal.services import appeals, settings
from tests.conftest import counted_queries, field_error, page, post_form
from tests.factories import make_account, make_staff, make_user

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def english(browser):
    with browser.session_transaction() as session:
        session["language"] = "en"
    return browser


def filed(session, text="Счёт неверный", name="Иванов Иван", **fields):
    user = make_user(session, full_name=name)
    new = appeals.NewAppeal(
        kind=fields.pop("kind", "complaint"),
        topic=fields.pop("topic", AppealTopic.BILLING),
        text=text,
        language="en",
        **fields,
    )
    return appeals.register(session, new, appeals.Applicant(name=name, email=user.email, user=user))


def numbers_on(response) -> list[str]:
    import re

    return re.findall(r"\d{4}-\d{6}", page(response))


def test_the_queue_full_page_and_fragment(staff_client, db_session):
    filed(db_session)
    client = english(staff_client("operator"))
    full = client.get("/admin/appeals")
    fragment = client.get("/admin/appeals", headers={"HX-Request": "true"})
    assert "<form" in page(full)
    assert "<html" not in page(fragment)
    assert "2026-000001" in page(fragment)


def test_the_queue_is_ordered_by_time_left_and_counts_what_is_due(staff_client, db_session, now):
    now.move_to(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    old = filed(db_session, text="старое")  # 1 Oct + 30 = Sat 31 Oct → Mon 2 Nov: overdue
    now.move_to(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    today_one = filed(db_session, text="сегодня")  # 2 Nov + 30 = 2 Dec 2026
    now.move_to(NOW)
    fresh = filed(db_session, text="свежее")  # due 11 Jan 2027
    client = english(staff_client("operator"))
    response = client.get("/admin/appeals?status=open")
    assert numbers_on(response)[:3] == [old.number, today_one.number, fresh.number]
    counts = appeals.queue.counts(db_session, date(2026, 12, 2))
    assert (counts.overdue, counts.today, counts.week, counts.unassigned) == (1, 1, 1, 3)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=2026-000002", ["2026-000002"]),
        ("q=Петров", ["2026-000002"]),
        ("q=петров", ["2026-000002"]),
        ("q=отключили", ["2026-000001"]),
        ("topic=supply_quality", ["2026-000001"]),
        ("kind=information", ["2026-000002"]),
        ("executor=none", ["2026-000001", "2026-000002"]),
        ("due=overdue", []),
        ("status=closed", []),
    ],
)
def test_filters_and_search(staff_client, db_session, query, expected):
    filed(db_session, text="Свет отключили на сутки", topic=AppealTopic.SUPPLY_QUALITY)
    filed(db_session, text="Как считается норматив?", name="Петров Пётр", kind="information")
    client = english(staff_client("operator"))
    response = client.get(f"/admin/appeals?{query}", headers={"HX-Request": "true"})
    assert sorted(set(numbers_on(response))) == expected


def test_search_by_account_number(staff_client, db_session):
    account = make_account(db_session)
    filed(db_session, account=account)
    client = english(staff_client("operator"))
    response = client.get(f"/admin/appeals?q={account.number}", headers={"HX-Request": "true"})
    assert numbers_on(response) == ["2026-000001"]


@pytest.mark.parametrize(
    "query", ["within_days=-5&due=soon", "executor=abc", "status=nonsense", "page=99999"]
)
def test_malformed_filters_never_fail(staff_client, db_session, query):
    filed(db_session)
    assert english(staff_client("operator")).get(f"/admin/appeals?{query}").status_code == 200


def test_the_queue_makes_the_same_number_of_queries_for_3_and_25_appeals(staff_client, db_session):
    executor = make_staff(db_session, "billing")
    supervisor = make_staff(db_session, "supervisor")
    client = english(staff_client("operator"))

    def fill(count):
        for _n in range(count):
            appeal = filed(db_session, account=make_account(db_session))
            appeals.assign(db_session, appeal, executor, supervisor)

    fill(3)
    with counted_queries() as few:
        client.get("/admin/appeals")
    fill(22)
    with counted_queries() as many:
        client.get("/admin/appeals")
    assert len(many) == len(few)


@pytest.mark.parametrize(
    ("role", "url", "code"),
    [
        ("metering", "/admin/appeals", 200),
        ("metering", "/admin/appeals/new", 403),
        ("operator", "/admin/appeals/new", 200),
        ("operator", "/admin/appeals/templates", 403),
        ("supervisor", "/admin/appeals/templates", 200),
    ],
)
def test_roles_per_route(staff_client, db_session, role, url, code):
    assert staff_client(role).get(url).status_code == code


def test_an_operator_cannot_assign(staff_client, db_session):
    appeal = filed(db_session)
    executor = make_staff(db_session, "billing")
    client = staff_client("operator")
    response = post_form(
        client, f"/admin/appeals/{appeal.id}/assign", {"assign-executor": str(executor.id)}
    )
    assert response.status_code == 403
    assert appeal.executor_id is None


def test_registering_a_voicemail_with_a_scan(staff_client, db_session):
    account = make_account(db_session)
    client = english(staff_client("operator"))
    response = post_form(
        client,
        "/admin/appeals/new",
        {
            "channel": "voicemail",
            "kind": "application",
            "topic": "meter",
            "name": "Смирнова Ольга",
            "phone": "+79031234567",
            "email": "",
            "postal_address": "",
            "account_number": account.number,
            "about_staff": "",
            "text": "Прошу заменить счётчик",
            "answer_channel": "portal",
            "files": [(io.BytesIO(PDF), "scan.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    appeal = db_session.scalar(select(Appeal).where(Appeal.applicant_name == "Смирнова Ольга"))
    assert appeal.channel == AppealChannel.VOICEMAIL
    assert appeal.account_id == account.id
    assert appeal.registered_by_id == client.staff.id
    # 004: 5 working days from Wed 2 Dec 2026 → Wednesday 9 December.
    assert appeal.due_on == date(2026, 12, 9)
    assert [a.filename for a in appeal.attachments] == ["scan.pdf"]


def test_an_unknown_account_number_is_refused_and_the_text_kept(staff_client, db_session):
    client = english(staff_client("operator"))
    response = post_form(
        client,
        "/admin/appeals/new",
        {
            "channel": "phone",
            "kind": "complaint",
            "topic": "billing",
            "name": "Кто-то",
            "account_number": "9999999999",
            "text": "Текст остаётся",
            "answer_channel": "post",
            "postal_address": "Выкса",
        },
    )
    assert response.status_code == 200
    assert field_error(response, "account_number") == "There is no account with this number."
    assert "Текст остаётся" in page(response)


def test_a_complaint_about_an_employee_is_refused_for_them_even_when_posted(
    staff_client, db_session
):
    employee = make_staff(db_session, "operator", full_name="Жалобная Жанна")
    appeal = filed(db_session, topic=AppealTopic.STAFF, about_staff_id=employee.id)
    client = english(staff_client("supervisor"))
    card = page(client.get(f"/admin/appeals/{appeal.id}"))
    assert f'<option value="{employee.id}">' not in card  # not offered…
    response = post_form(
        client, f"/admin/appeals/{appeal.id}/assign", {"assign-executor": str(employee.id)}
    )
    assert response.status_code == 422  # …and refused when a request names them anyway
    assert "cannot work on a complaint about themselves" in field_error(response, "assign-executor")
    assert appeal.executor_id is None


def test_the_executors_way_to_the_answer(staff_client, db_session):
    appeal = filed(db_session)
    supervisor = make_staff(db_session, "supervisor", position="Начальник отдела")
    executor_client = english(staff_client("billing"))
    executor = executor_client.staff
    appeals.assign(db_session, appeal, executor, supervisor)
    base = f"/admin/appeals/{appeal.id}"
    assert post_form(executor_client, f"{base}/start", {}).status_code == 303
    assert (
        post_form(executor_client, f"{base}/note", {"note-note": "Проверить оплату"}).status_code
        == 303
    )
    assert (
        post_form(executor_client, f"{base}/ask", {"ask-question": "Какой месяц?"}).status_code
        == 303
    )
    assert appeal.status == AppealStatus.AWAITING_CUSTOMER
    appeals.give_clarification(db_session, appeal, "Ноябрь")
    db_session.add(
        AnswerTemplate(topic=AppealTopic.BILLING, title="Пересчёт", body="Счёт пересчитан.")
    )
    db_session.flush()
    template = db_session.scalar(select(AnswerTemplate))
    card = page(executor_client.get(f"{base}?template={template.id}"))
    assert "Счёт пересчитан." in card
    response = post_form(
        executor_client,
        f"{base}/answer",
        {"answer-text": "Счёт пересчитан.", "answer-signed_by": str(supervisor.id)},
    )
    assert response.status_code == 303
    assert (appeal.status, appeal.answered_by, appeal.signed_by) == (
        AppealStatus.ANSWERED,
        executor,
        supervisor,
    )
    kinds = [event.kind for event in appeal.events]
    assert AppealEventKind.NOTE in kinds
    audited = db_session.scalars(
        select(AuditEvent.summary).where(AuditEvent.object_id == appeal.id)
    )
    assert f"{appeal.number}: answer" in list(audited)


def test_an_answer_without_a_signatory_keeps_the_text(staff_client, db_session):
    appeal = filed(db_session)
    client = english(staff_client("supervisor"))
    appeals.assign(db_session, appeal, client.staff, client.staff)
    response = post_form(
        client,
        f"/admin/appeals/{appeal.id}/answer",
        {"answer-text": "Мой ответ", "answer-signed_by": ""},
    )
    assert response.status_code == 422
    assert field_error(response, "answer-signed_by") == "Choose who signs."
    assert "Мой ответ" in page(response)


def test_an_interim_answer_extends_once(staff_client, db_session):
    settings.put(db_session, "appeals.complaint.days", 15)
    settings.put(db_session, "appeals.complaint.extension_days", 15)
    appeal = filed(db_session)
    client = english(staff_client("supervisor"))
    appeals.assign(db_session, appeal, client.staff, client.staff)
    url = f"/admin/appeals/{appeal.id}/interim"
    refused = post_form(client, url, {"interim-text": "Проверяем", "interim-days": "20"})
    assert refused.status_code == 422
    assert (
        post_form(client, url, {"interim-text": "Проверяем", "interim-days": "15"}).status_code
        == 303
    )
    assert appeal.due_on == date(2027, 1, 11)
    assert post_form(client, url, {"interim-text": "Ещё", "interim-days": "1"}).status_code == 422


def test_a_repeat_is_closed_without_consideration_with_the_earlier_number(staff_client, db_session):
    client = english(staff_client("supervisor"))
    earlier = filed(db_session)
    appeals.assign(db_session, earlier, client.staff, client.staff)
    appeals.answer(db_session, earlier, client.staff, "Ответ", client.staff)
    repeat = filed(db_session)
    url = f"/admin/appeals/{repeat.id}/no_action"
    missing = post_form(
        client, url, {"no_action-reason": "repeat", "no_action-earlier": "2026-999999"}
    )
    assert (
        field_error(missing, "no_action-earlier")
        == "There is no appeal with the number 2026-999999."
    )
    done = post_form(
        client, url, {"no_action-reason": "repeat", "no_action-earlier": earlier.number}
    )
    assert done.status_code == 303
    assert (repeat.status, repeat.repeat_of) == (AppealStatus.NO_ACTION, earlier)


def test_linking_a_repeat(staff_client, db_session):
    client = english(staff_client("operator"))
    earlier, later = filed(db_session), filed(db_session)
    assert (
        post_form(
            client, f"/admin/appeals/{later.id}/link", {"link-earlier": earlier.number}
        ).status_code
        == 303
    )
    assert later.repeat_of == earlier


def test_an_action_the_status_does_not_allow_is_refused(staff_client, db_session):
    appeal = filed(db_session)
    client = english(staff_client("supervisor"))
    response = post_form(client, f"/admin/appeals/{appeal.id}/close", {})
    assert response.status_code == 422
    assert appeal.status == AppealStatus.REGISTERED


def test_staff_download_files_as_attachments_and_it_is_audited(staff_client, db_session):
    appeal = filed(db_session, uploads=[appeals.files.Upload("scan.pdf", PDF)])
    client = staff_client("operator")
    response = client.get(f"/admin/appeals/{appeal.id}/files/{appeal.attachments[0].id}")
    assert response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/admin/appeals/{appeal.id}/files/999999").status_code == 404
    summaries = db_session.scalars(
        select(AuditEvent.summary).where(AuditEvent.object_id == appeal.id)
    )
    assert f"{appeal.number}: file scan.pdf" in list(summaries)


def test_templates_are_kept_by_supervisors(staff_client, db_session):
    client = english(staff_client("supervisor"))
    empty = post_form(
        client,
        "/admin/appeals/templates",
        {"topic": "billing", "title": "", "body": "", "active": "1"},
    )
    assert field_error(empty, "title")
    saved = post_form(
        client,
        "/admin/appeals/templates",
        {"topic": "billing", "title": "Пересчёт", "body": "Текст", "active": "1"},
    )
    assert saved.status_code == 303
    template = db_session.scalar(select(AnswerTemplate))
    post_form(
        client,
        f"/admin/appeals/templates/{template.id}",
        {"topic": "billing", "title": "Пересчёт", "body": "Текст", "active": "0"},
    )
    assert template.active is False
    assert appeals.answer_templates.for_topic(db_session, AppealTopic.BILLING) == []


def test_the_first_visit_shows_open_appeals_and_any_status_shows_all(staff_client, db_session):
    done, waiting = filed(db_session), filed(db_session)
    client = english(staff_client("supervisor"))
    appeals.assign(db_session, done, client.staff, client.staff)
    appeals.no_action(db_session, done, client.staff, NoActionReason.OFFENSIVE)
    assert numbers_on(client.get("/admin/appeals", headers={"HX-Request": "true"})) == [
        waiting.number
    ]
    every = numbers_on(client.get("/admin/appeals?status=", headers={"HX-Request": "true"}))
    assert sorted(every) == sorted([done.number, waiting.number])


def test_a_short_registration_number_is_found(staff_client, db_session):
    filed(db_session)
    second = filed(db_session)
    client = english(staff_client("operator"))
    assert numbers_on(client.get("/admin/appeals?q=2026-2", headers={"HX-Request": "true"})) == [
        second.number
    ]


def test_a_supervisor_names_whom_a_web_complaint_is_about_and_they_are_refused(
    staff_client, db_session
):
    employee = make_staff(db_session, "operator")
    appeal = filed(db_session, topic=AppealTopic.STAFF)
    client = english(staff_client("supervisor"))
    url = f"/admin/appeals/{appeal.id}/assign"
    refused = post_form(
        client, url, {"assign-executor": str(employee.id), "assign-about": str(employee.id)}
    )
    assert refused.status_code == 422
    assert appeal.executor_id is None
    other = make_staff(db_session, "billing")
    done = post_form(
        client, url, {"assign-executor": str(other.id), "assign-about": str(employee.id)}
    )
    assert done.status_code == 303
    assert (appeal.executor_id, appeal.about_staff_id) == (other.id, employee.id)


def test_a_no_action_notice_to_post_is_a_pdf_without_internal_notes(staff_client, db_session):
    import io as _io

    from pypdf import PdfReader

    client = english(staff_client("supervisor"))
    appeal = filed(db_session)
    appeals.assign(db_session, appeal, client.staff, client.staff)
    appeals.no_action(
        db_session, appeal, client.staff, NoActionReason.UNREADABLE, "Пришлите текст заново."
    )
    appeals.add_note(db_session, appeal, client.staff, "СЛУЖЕБНОЕ")
    response = client.get(f"/admin/appeals/{appeal.id}/answer.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(_io.BytesIO(response.data)).pages)
    assert f"Notice about your appeal No. {appeal.number}" in text
    assert "the text cannot be read" in text
    assert "Пришлите текст заново." in text
    assert "СЛУЖЕБНОЕ" not in text
