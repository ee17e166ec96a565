"""Appeals on the customer's side through the test client with CSRF on: filing with files
checked by content, "My appeals", the timeline, a clarification, the answer and its PDF
letter, the rating, reopening, 404 on another customer's appeal, and a guest's appeal
followed through its signed link."""

import io
from datetime import UTC, datetime

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from portal.models import Appeal, AppealStatus, AppealTopic
from portal.services import appeals
from tests.conftest import (
    counted_queries,
    csrf_token,
    field_error,
    link_in,
    login_as,
    mail_text,
    page,
    post_form,
)
from tests.factories import link, make_account, make_staff, make_user

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def resident(resident_client, db_session):
    resident_client.user.language = "en"
    db_session.flush()
    return resident_client


def form_data(**fields):
    return {
        "kind": "complaint",
        "topic": "billing",
        "account": "",
        "text": "Счёт за ноябрь выставлен дважды.",
        "answer_channel": "portal",
        "postal_address": "",
        **fields,
    }


def file_through_page(client, files=(), **fields):
    data = form_data(**fields)
    if files:
        data["files"] = [(io.BytesIO(body), name) for name, body in files]
    return post_form(client, "/appeals/new", data, content_type="multipart/form-data")


def test_filing_gives_a_number_and_a_due_date_at_once(resident, db_session):
    response = file_through_page(resident, files=[("scan.pdf", PDF), ("photo.png", PNG)])
    assert response.status_code == 303
    appeal = db_session.scalar(select(Appeal).where(Appeal.user_id == resident.user.id))
    assert response.headers["Location"].endswith(f"/appeals/{appeal.id}")
    shown = page(resident.get(response.headers["Location"]))
    assert f"Your appeal is registered under number {appeal.number}." in shown
    assert "11.01.2027" in shown  # 30 days from 2 Dec 2026 → after the holidays
    assert [a.filename for a in appeal.attachments] == ["scan.pdf", "photo.png"]


@pytest.mark.parametrize(
    ("name", "body"),
    [("invoice.pdf", EXE), ("scan.jpg", HTML), ("letter.html", HTML), ("empty.pdf", b"")],
)
def test_a_file_that_is_not_a_pdf_jpeg_or_png_is_refused_and_the_text_kept(
    resident, db_session, name, body
):
    response = file_through_page(resident, files=[(name, body)], text="Мой текст остаётся")
    assert response.status_code == 200
    assert name in field_error(response, "files")
    assert "Мой текст остаётся" in page(response)
    assert db_session.scalar(select(Appeal).where(Appeal.user_id == resident.user.id)) is None


def test_a_renamed_file_is_stored_as_what_it_is(resident, db_session):
    file_through_page(resident, files=[("scan.exe", PDF)])
    appeal = db_session.scalar(select(Appeal).where(Appeal.user_id == resident.user.id))
    assert (appeal.attachments[0].filename, appeal.attachments[0].content_type) == (
        "scan.pdf",
        "application/pdf",
    )


def test_more_than_five_files_are_refused(resident):
    response = file_through_page(resident, files=[(f"f{n}.png", PNG) for n in range(6)])
    assert "at most 5 files" in field_error(response, "files")


def test_an_empty_text_is_refused_next_to_the_field(resident):
    response = file_through_page(resident, text="   ")
    assert field_error(response, "text") == "Write the text of your appeal."


def test_an_answer_by_post_needs_an_address(resident):
    response = file_through_page(resident, answer_channel="post")
    assert (
        field_error(response, "postal_address")
        == "Enter the postal address the answer should go to."
    )


def test_only_the_customers_own_accounts_can_be_chosen(resident, db_session):
    mine, theirs = make_account(db_session), make_account(db_session)
    link(db_session, resident.user, mine)
    assert file_through_page(resident, account=str(theirs.id)).status_code == 200  # not a choice
    assert file_through_page(resident, account=str(mine.id)).status_code == 303


def mine(db_session, user, **fields):
    new = appeals.NewAppeal(
        kind="complaint", topic=AppealTopic.BILLING, text="Текст", language="en", **fields
    )
    applicant = appeals.Applicant(name=user.full_name, email=user.email, user=user)
    return appeals.register(db_session, new, applicant)


def test_my_appeals_lists_status_and_due_date_in_constant_queries(resident, db_session):
    for _n in range(3):
        mine(db_session, resident.user)
    with counted_queries() as few:
        resident.get("/appeals/")
    for _n in range(10):
        mine(db_session, resident.user)
    with counted_queries() as many:
        listed = page(resident.get("/appeals/"))
    assert len(many) == len(few)
    assert listed.count("11.01.2027") == 13
    assert "registered" in listed


def test_another_customers_appeal_and_its_files_are_404(resident, db_session):
    stranger = make_user(db_session)
    theirs = mine(db_session, stranger, uploads=[appeals.files.Upload("a.pdf", PDF)])
    db_session.flush()
    assert resident.get(f"/appeals/{theirs.id}").status_code == 404
    assert resident.get(f"/appeals/{theirs.id}/files/{theirs.attachments[0].id}").status_code == 404
    assert resident.get(f"/appeals/{theirs.id}/answer.pdf").status_code == 404
    assert (
        post_form(resident, f"/appeals/{theirs.id}/rate", {"rate-rating": "10"}).status_code == 404
    )


def test_a_file_is_served_as_a_download_that_is_never_sniffed(resident, db_session):
    appeal = mine(db_session, resident.user, uploads=[appeals.files.Upload("scan.pdf", PDF)])
    db_session.flush()
    response = resident.get(f"/appeals/{appeal.id}/files/{appeal.attachments[0].id}")
    assert response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/pdf"


def test_files_are_kept_outside_static(app, resident, db_session):
    appeal = mine(db_session, resident.user, uploads=[appeals.files.Upload("scan.pdf", PDF)])
    folder = appeals.files.storage_dir().resolve()
    assert not folder.is_relative_to(app.root_path + "/../static")
    assert (folder / appeal.attachments[0].storage_key).read_bytes() == PDF


def work_on(db_session, appeal):
    supervisor = make_staff(db_session, "supervisor", position="Начальник абонентского отдела")
    executor = make_staff(db_session, "billing", phone="+74951112233")
    appeals.assign(db_session, appeal, executor, supervisor)
    return supervisor, executor


def test_the_customer_answers_a_clarification_with_a_file(resident, db_session):
    appeal = mine(db_session, resident.user)
    _supervisor, executor = work_on(db_session, appeal)
    appeals.ask_clarification(db_session, appeal, executor, "Пришлите фото квитанции")
    shown = page(resident.get(f"/appeals/{appeal.id}"))
    assert "Пришлите фото квитанции" in shown
    response = post_form(
        resident,
        f"/appeals/{appeal.id}/clarify",
        {"clarify-text": "Фото приложено", "clarify-files": [(io.BytesIO(PNG), "photo.png")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert appeal.status == AppealStatus.IN_WORK
    assert [a.filename for a in appeal.attachments] == ["photo.png"]


def test_the_answer_is_read_downloaded_as_a_letter_and_rated(resident, db_session):
    appeal = mine(db_session, resident.user)
    supervisor, executor = work_on(db_session, appeal)
    appeals.answer(
        db_session, appeal, executor, "Счёт за ноябрь пересчитан, переплата зачтена.", supervisor
    )
    shown = page(resident.get(f"/appeals/{appeal.id}"))
    assert "Счёт за ноябрь пересчитан" in shown
    letter = resident.get(f"/appeals/{appeal.id}/answer.pdf")
    assert letter.headers["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(letter.data)).pages)
    assert f"Answer to your appeal No. {appeal.number} of 02.12.2026" in text
    assert "переплата зачтена" in text
    assert executor.full_name in text
    assert "+74951112233" in text
    assert supervisor.full_name in text
    assert "Начальник абонентского отдела" in text

    for mark in ("0", "11", "seven", ""):
        bad = post_form(resident, f"/appeals/{appeal.id}/rate", {"rate-rating": mark})
        assert bad.status_code == 422
    refused = post_form(
        resident, f"/appeals/{appeal.id}/rate", {"rate-rating": "7", "rate-reason": ""}
    )
    assert refused.status_code == 422
    assert (
        field_error(refused, "rate-reason") == "Tell us what was wrong: it helps us answer better."
    )
    done = post_form(
        resident, f"/appeals/{appeal.id}/rate", {"rate-rating": "7", "rate-reason": "Долго"}
    )
    assert done.status_code == 303
    assert (appeal.rating, appeal.rating_reason, appeal.status) == (7, "Долго", AppealStatus.CLOSED)


def test_the_customer_reopens_once(resident, db_session, now):
    appeal = mine(db_session, resident.user)
    supervisor, executor = work_on(db_session, appeal)
    appeals.answer(db_session, appeal, executor, "Ответ", supervisor)
    now.move_to(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    login_as(resident, resident.user)  # the session ended while the days passed
    assert "Reopen the appeal" in page(resident.get(f"/appeals/{appeal.id}"))
    response = post_form(
        resident, f"/appeals/{appeal.id}/reopen", {"reopen-reason": "Не пересчитали"}
    )
    assert response.status_code == 303
    assert (appeal.status, appeal.reopen_count) == (AppealStatus.IN_WORK, 1)
    # 10 Dec 2026 + 30 = Saturday 9 January 2027 → Monday 11 January.
    assert appeal.due_on.isoformat() == "2027-01-11"


def test_notes_never_reach_the_customers_page(resident, db_session):
    appeal = mine(db_session, resident.user)
    _supervisor, executor = work_on(db_session, appeal)
    appeals.add_note(db_session, appeal, executor, "СЕКРЕТНАЯ ЗАМЕТКА")
    assert "СЕКРЕТНАЯ ЗАМЕТКА" not in page(resident.get(f"/appeals/{appeal.id}"))


def guest_data(**fields):
    guest = {
        "name": "Гостева Галина",
        "email": "guest@example.ru",
        "phone": "",
        "account_number": "",
    }
    return form_data(**(guest | fields))


def test_a_guest_files_and_follows_by_the_signed_link(client, db_session, mailbox):
    response = post_form(client, "/appeals/guest", guest_data(), content_type="multipart/form-data")
    assert response.status_code == 303
    follow = response.headers["Location"]
    appeal = db_session.scalar(select(Appeal).where(Appeal.applicant_email == "guest@example.ru"))
    assert appeal.user_id is None
    assert appeal.number in page(client.get(follow))
    letter = link_in(mailbox[0], "/appeals/follow/")
    assert letter == follow
    assert appeal.number in mail_text(mailbox[0])


def test_a_forged_or_altered_link_is_404(client, db_session):
    post_form(client, "/appeals/guest", guest_data(), content_type="multipart/form-data")
    appeal = db_session.scalar(select(Appeal).where(Appeal.applicant_email == "guest@example.ru"))
    token = appeals.follow_token(appeal)
    assert client.get(f"/appeals/follow/{token[:-2]}xx").status_code == 404
    assert client.get("/appeals/follow/nonsense").status_code == 404


def test_a_guest_link_never_opens_a_signed_in_customers_appeal(app, client, db_session):
    user = make_user(db_session)
    theirs = mine(db_session, user)
    with app.test_request_context():
        token = appeals.follow_token(theirs)
    assert client.get(f"/appeals/follow/{token}").status_code == 404


def test_a_guest_needs_name_and_e_mail(client):
    response = post_form(
        client, "/appeals/guest", guest_data(name="", email=""), content_type="multipart/form-data"
    )
    assert response.status_code == 200
    assert field_error(response, "name")
    assert field_error(response, "email")


def guest_post(client, address: str) -> int:
    data = {"csrf_token": csrf_token(client), **guest_data(text="")}  # refused: nothing stored
    return client.post(
        "/appeals/guest", data=data, environ_base={"REMOTE_ADDR": address}
    ).status_code


def test_the_guest_form_is_rate_limited_per_address(rate_limited_app):
    client = rate_limited_app.test_client()
    limit = int(rate_limited_app.config["RATE_LIMITS"]["guest_appeal"].split()[0])
    codes = [guest_post(client, "203.0.113.9") for _n in range(limit + 1)]
    assert codes == [200] * limit + [429]
    assert guest_post(client, "203.0.113.10") == 200  # another address
    assert client.get("/appeals/guest").status_code == 200  # reading the form is not limited


def test_the_home_page_and_navigation_lead_to_appeals(client, resident):
    assert "/appeals/guest" in page(client.get("/"))
    assert 'href="/appeals/"' in page(resident.get("/appeals/new"))
