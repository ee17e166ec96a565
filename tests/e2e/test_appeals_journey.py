"""An appeal from filing to rating in real Chromium: a resident files a complaint with an
attachment → a supervisor assigns it → the executor asks for a clarification → the resident
answers → the executor answers → the resident reads the answer, downloads the PDF letter and
rates it 7 with a reason. The resident's part runs with JavaScript on and off; the pages pass
an axe-core check."""

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from portal.extensions import db
from portal.models import Appeal, AppealStatus
from tests.e2e.conftest import assert_accessible, staff_sign_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def resident_page(browser, live_portal, javascript: bool, **options):
    resident = live_portal.logins.residents[1]
    context = browser.new_context(java_script_enabled=javascript, **options)
    page = context.new_page()
    page.goto(live_portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()
    return context, page


def staff_page(browser, live_portal, role: str):
    context = browser.new_context()
    page = context.new_page()
    staff_sign_in(page, live_portal, role)
    return context, page


def appeal_with(app, text: str) -> tuple[int, str]:
    with app.app_context():
        appeal = db.session.scalar(select(Appeal).where(Appeal.text == text))
        found = appeal.id, appeal.number
        db.session.remove()
    return found


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_complaint_from_filing_to_rating(browser, live_portal, tmp_path, javascript):
    text = f"Счёт за ноябрь выставлен дважды ({'js' if javascript else 'no-js'})."
    scan = tmp_path / "kvitantsiya.pdf"
    scan.write_bytes(PDF)

    # The resident files a complaint with an attachment from the navigation.
    resident, page = resident_page(browser, live_portal, javascript)
    page.locator("nav a[href='/appeals/']").first.click()
    page.locator("main a[href='/appeals/new']").first.click()
    page.select_option("#kind", "complaint")
    page.select_option("#topic", "billing")
    page.fill("#text", text)
    page.set_input_files("#files", str(scan))
    page.locator("main form button.btn-lg").click()
    appeal_id, number = appeal_with(live_portal.app, text)
    expect(page).to_have_url(f"{live_portal.url}/appeals/{appeal_id}")
    expect(page.locator("h1")).to_contain_text(number)
    expect(page.locator("main")).to_contain_text("kvitantsiya.pdf")

    # The supervisor assigns it to the billing specialist.
    supervisor, boss = staff_page(browser, live_portal, "supervisor")
    boss.goto(f"{live_portal.url}/admin/appeals?q={number}")
    boss.locator(f"a[href='/admin/appeals/{appeal_id}']").click()
    billing = next(s for s in live_portal.logins.staff if s.role == "billing")
    boss.select_option("#assign-executor", label=billing.full_name)
    boss.locator("#action-assign button[type=submit]").click()
    expect(boss.locator("#action-assign")).to_have_count(1)  # still offered: reassigning

    # The executor asks for a clarification.
    executor_context, executor = staff_page(browser, live_portal, "billing")
    executor.goto(f"{live_portal.url}/admin/appeals/{appeal_id}")
    executor.fill("#ask-question", "Пришлите, пожалуйста, номер платёжного поручения.")
    executor.locator("#action-ask button[type=submit]").click()
    expect(executor.locator("#action-ask")).to_have_count(0)

    # The resident answers it.
    page.goto(f"{live_portal.url}/appeals/{appeal_id}")
    expect(page.locator("main")).to_contain_text("номер платёжного поручения")
    page.fill("#clarify-text", "Платёжное поручение № 4471 от 12.11.2026.")
    page.locator("form[action$='/clarify'] button[type=submit]").click()
    expect(page.locator("#clarify-text")).to_have_count(0)

    # The executor answers, signed by the supervisor.
    executor.goto(f"{live_portal.url}/admin/appeals/{appeal_id}")
    executor.fill(
        "#answer-text", "Двойное начисление снято, перерасчёт отражён в счёте за декабрь."
    )
    supervisor_login = next(s for s in live_portal.logins.staff if s.role == "supervisor")
    executor.select_option("#answer-signed_by", label=supervisor_login.full_name)
    executor.locator("#action-answer form[method=post] button[type=submit]").click()
    expect(executor.locator("#action-answer")).to_have_count(0)

    # The resident reads the answer, downloads the letter and rates it 7 with a reason.
    page.goto(f"{live_portal.url}/appeals/{appeal_id}")
    expect(page.locator("#answer-heading")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Двойное начисление снято")
    with page.expect_download() as download:
        page.locator(f"a[href='/appeals/{appeal_id}/answer.pdf']").click()
    letter = PdfReader(io.BytesIO(Path(download.value.path()).read_bytes()))
    letter_text = " ".join(p.extract_text() for p in letter.pages)
    assert number in letter_text
    assert billing.full_name in letter_text
    assert supervisor_login.full_name in letter_text
    page.locator("label[for='rate-rating-6']").click()  # the 7th button: mark 7
    page.fill("#rate-reason", "Ответ пришёл через три недели.")
    page.locator("form[action$='/rate'] button[type=submit]").click()
    expect(page.locator("form[action$='/rate']")).to_have_count(0)
    with live_portal.app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        assert (appeal.status, appeal.rating) == (AppealStatus.CLOSED, 7)
        assert appeal.rating_reason == "Ответ пришёл через три недели."
        db.session.remove()
    for context in (resident, supervisor, executor_context):
        context.close()


def test_appeal_pages_are_accessible(browser, live_portal):
    context, page = resident_page(browser, live_portal, True, bypass_csp=True)
    page.goto(live_portal.url + "/appeals/new")
    assert_accessible(page, "new appeal")
    page.locator("main form button.btn-lg").click()
    expect(page.locator("#text-error")).to_be_visible()
    assert_accessible(page, "new appeal with an error")
    page.goto(live_portal.url + "/appeals/")
    assert_accessible(page, "my appeals")
    first = page.locator("main .list-group a").first
    if first.count():
        first.click()
        assert_accessible(page, "an appeal")
    context.close()
    guest = browser.new_context(bypass_csp=True)
    page = guest.new_page()
    page.goto(live_portal.url + "/appeals/guest")
    assert_accessible(page, "guest appeal")
    guest.close()
    staff_context = browser.new_context(bypass_csp=True)
    page = staff_context.new_page()
    staff_sign_in(page, live_portal, "supervisor")
    for path in (
        "/admin/appeals",
        "/admin/appeals/new",
        "/admin/appeals/templates",
        "/admin/appeals/figures",
    ):
        page.goto(live_portal.url + path)
        assert_accessible(page, path)
    page.goto(live_portal.url + "/admin/appeals?status=open")
    page.locator("td a").first.click()
    expect(page).to_have_url(re.compile(r"/admin/appeals/\d+$"))
    assert_accessible(page, "appeal card")
    staff_context.close()
