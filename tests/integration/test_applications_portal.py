"""Contract applications on the customer's side, through the test client with CSRF on:
a guest applies with the checklist's documents (checked by content), gets the number and
a letter with the signed link, follows it by the link or by number + contact (the number
alone is guessable: the pair is asked, in the same words for an unknown number, and
limited per number), sends a missing document, complains about a refusal; a resident's
application is theirs only (another customer's is a 404)."""

import io
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from portal.models import (
    Application,
    ApplicationKind,
    ApplicationStatus,
    ChecklistItem,
    OutboxMessage,
    RefusalReason,
    Segment,
)
from portal.services import applications
from portal.services.applications import letters
from tests.conftest import csrf_token, field_error, link_in, login_as, mail_text, page, post_form
from tests.factories import make_staff, make_user

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # Wednesday 2 December 2026, noon in Moscow
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def items(db_session):
    rows = [
        ChecklistItem(
            kind=ApplicationKind.REREGISTER,
            segment=Segment.HOUSEHOLD,
            title="Паспорт нового собственника",
            reason="Идентификация заявителя",
            position=1,
        ),
        ChecklistItem(
            kind=ApplicationKind.REREGISTER,
            segment=Segment.HOUSEHOLD,
            title="Выписка из ЕГРН",
            reason="Подтверждает право собственности",
            position=2,
        ),
    ]
    db_session.add_all(rows)
    db_session.flush()
    return rows


def guest_data(**fields):
    return {
        "name": "Новикова Ольга Петровна",
        "email": "novikova@example.ru",
        "phone": "+7 (912) 345-67-89",
        "account_number": "100200300",
        "address": "г. Выкса, ул. Ленина, д. 5, кв. 12",
        "details": "Собственник с 1 ноября 2026 года",
        **fields,
    }


def apply(client, items, files=None, **fields):
    data = guest_data(**fields)
    for item, body in (files or {}).items():
        data[f"item_{item.id}"] = [(io.BytesIO(body), "scan.pdf")]
    return post_form(
        client, "/applications/new/reregister/household", data, content_type="multipart/form-data"
    )


def only(db_session) -> Application:
    return db_session.scalar(select(Application))


def test_the_choice_leads_to_the_checklist_with_reasons(client, items):
    assert client.get("/applications/new").status_code == 200
    response = client.get("/applications/new?kind=reregister&segment=household")
    assert response.headers["Location"].endswith("/applications/new/reregister/household")
    shown = page(client.get("/applications/new/reregister/household"))
    assert "Выписка из ЕГРН" in shown
    assert "Подтверждает право собственности" in shown
    assert client.get("/applications/new/nonsense/household").status_code == 404


def test_a_guest_applies_and_follows_by_the_letters_link(client, db_session, items, mailbox):
    response = apply(client, items, {items[0]: PDF})
    assert response.status_code == 303
    application = only(db_session)
    assert application.number == "D-2026-000001"
    assert application.user_id is None
    assert [d.title for d in application.documents] == ["Паспорт нового собственника"]
    follow = response.headers["Location"]
    shown = page(client.get(follow))
    assert application.number in shown
    assert "Выписка из ЕГРН" in shown  # still missing
    assert "07.12.2026" in shown  # 1.2: 2 Dec + 5 = Monday 7 December 2026
    assert link_in(mailbox[0], "/applications/follow/") == follow
    assert application.number in mail_text(mailbox[0])


def test_a_file_that_is_not_a_pdf_jpeg_or_png_is_refused_and_the_form_kept(
    client, db_session, items
):
    response = apply(client, items, {items[1]: HTML})
    assert response.status_code == 422
    assert "scan.pdf" in field_error(response, f"item_{items[1].id}")
    assert "Собственник с 1 ноября 2026 года" in page(response)
    assert only(db_session) is None


def test_a_guest_needs_a_name_and_a_contact(client, db_session, items):
    response = apply(client, items, name="", email="", phone="")
    assert response.status_code == 422
    assert field_error(response, "name")
    assert field_error(response, "email")
    assert only(db_session) is None


def test_follow_by_number_needs_the_contact_given(client, db_session, items):
    apply(client, items)
    application = only(db_session)
    wrong = post_form(
        client, "/applications/status", {"number": application.number, "contact": "x@example.ru"}
    )
    unknown = post_form(
        client, "/applications/status", {"number": "D-2026-999999", "contact": "x@example.ru"}
    )
    assert wrong.status_code == unknown.status_code == 422
    assert field_error(wrong, "number") == field_error(unknown, "number")
    for contact in ("NOVIKOVA@example.ru", "8 912 345 67 89", "9123456789"):
        found = post_form(
            client,
            "/applications/status",
            {"number": application.number.lower(), "contact": contact},
        )
        assert found.status_code == 303, contact
        assert "/applications/follow/" in found.headers["Location"]


def test_a_forged_link_and_another_customers_application_are_404(app, client, db_session, items):
    apply(client, items)
    application = only(db_session)
    with app.test_request_context():
        token = letters.follow_token(application)
    assert client.get(f"/applications/follow/{token[:-2]}xx").status_code == 404
    owner = make_user(db_session)
    application.user_id = owner.id
    db_session.flush()
    assert client.get(f"/applications/follow/{token}").status_code == 404
    login_as(client, make_user(db_session))
    assert client.get(f"/applications/{application.id}").status_code == 404


def test_sending_the_missing_document_returns_it_to_the_check(client, db_session, items):
    apply(client, items, {items[0]: PDF})
    application = only(db_session)
    staff = make_staff(db_session, "operator")
    applications.request_documents(db_session, application, staff, "Пришлите выписку из ЕГРН")
    db_session.commit()
    with client.application.test_request_context():
        follow = f"/applications/follow/{letters.follow_token(application)}"
    assert "02.01.2027" not in page(client.get(follow))
    # 2 Dec 2026 + 1 month = Saturday 2 January 2027 → Monday 11 January 2027 (003 п. 6).
    assert "11.01.2027" in page(client.get(follow))
    data = {
        "csrf_token": csrf_token(client),
        f"upload-item_{items[1].id}": [(io.BytesIO(PDF), "egrn.pdf")],
    }
    response = client.post(f"{follow}/upload", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    db_session.refresh(application)
    assert application.status is ApplicationStatus.IN_REWORK
    document = application.documents[-1]
    download = client.get(f"{follow}/documents/{document.id}")
    assert download.data == PDF
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_refused_guest_complains_and_the_message_goes_out(client, db_session, items):
    apply(client, items)
    application = only(db_session)
    reason = RefusalReason(code="x", title="Заявитель не собственник", legal_ground="ГК РФ ст. 539")
    db_session.add(reason)
    db_session.flush()
    applications.refuse(
        db_session, application, make_staff(db_session), reason.id, "Выписка на другое лицо"
    )
    db_session.commit()
    with client.application.test_request_context():
        follow = f"/applications/follow/{letters.follow_token(application)}"
    shown = page(client.get(follow))
    assert "Заявитель не собственник" in shown
    assert "ГК РФ ст. 539" in shown
    response = post_form(client, f"{follow}/complain", {"complain-text": "Я собственник с ноября"})
    assert response.status_code == 303
    db_session.refresh(application)
    assert application.complaints[0].due_on.isoformat() == "2027-01-11"  # 2 Dec + 30 → 1 Jan
    kinds = db_session.scalars(select(OutboxMessage.dedup_key).order_by(OutboxMessage.id)).all()
    assert len(kinds) == 3  # registered, refused, complaint: one message each


def test_a_resident_applies_from_the_cabinet_and_sees_it_in_the_list(
    resident_client, db_session, items
):
    response = apply(resident_client, items, account_number="")
    application = only(db_session)
    assert application.user_id == resident_client.user.id
    assert response.headers["Location"].endswith(f"/applications/{application.id}")
    assert application.number in page(resident_client.get("/applications/"))
