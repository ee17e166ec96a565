"""Contract applications in real Chromium: a guest applies, without JavaScript, to
re-register an account with one document → the operator requests the missing one → the
guest opens the link from the letter and uploads it → the operator accepts, draws up the
contract and marks it signed → the guest registers with the same e-mail and finds the
account in the cabinet with no linking step. Another application is refused with a
reason and the customer complains. The public pages open with JavaScript off and pass
axe."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, ApplicationStatus
from tests.e2e.conftest import assert_accessible, staff_sign_in
from tests.e2e.test_resident_journey import sign_up

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def application_by_email(app, email: str) -> Application:
    with app.app_context():
        application = db.session.scalar(
            select(Application).where(Application.applicant_email == email)
        )
        db.session.expunge(application)
        db.session.remove()
    return application


def guest_applies(page, portal, email: str, scan, javascript: bool = True) -> None:
    page.goto(portal.url + "/applications/new")
    page.check("#kind-1")  # re-register an account
    page.check("#segment-0")  # household
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(portal.url + "/applications/new/reregister/household")
    if javascript:
        assert_accessible(page, "application form")
    page.fill("#name", "Новикова Ольга Петровна")
    page.fill("#email", email)
    page.fill("#account_number", "100200300")
    page.fill("#address", "г. Выкса, ул. Ленина, д. 5, кв. 12")
    page.locator("main input[type=file]").first.set_input_files(str(scan))
    page.locator("main form button.btn-lg").click()
    expect(page.locator("#application-status")).to_be_visible()


@pytest.fixture
def operator(browser, live_portal):
    context = browser.new_context()
    page = context.new_page()
    staff_sign_in(page, live_portal, "operator")
    yield page
    context.close()


def staff_act(page, portal, application_id: int, action: str, **fields) -> None:
    page.goto(f"{portal.url}/admin/applications/{application_id}")
    for name, value in fields.items():
        page.fill(f"#{action}-{name}", value)
    page.locator(f"#action-{action} button[type=submit]").click()
    expect(page.locator(".alert-success")).to_be_visible()


def test_a_guest_re_registers_an_account_and_finds_it_in_the_cabinet(
    browser, live_portal, operator, tmp_path
):
    email = "new-owner@example.ru"
    scan = tmp_path / "passport.pdf"
    scan.write_bytes(PDF)
    spare = live_portal.logins.spare_accounts[-1]
    guest_context = browser.new_context(java_script_enabled=False)
    guest = guest_context.new_page()
    guest_applies(guest, live_portal, email, scan, javascript=False)
    application = application_by_email(live_portal.app, email)
    expect(guest.locator("h1")).to_contain_text(application.number)
    expect(guest.locator("#missing-documents")).to_be_visible()

    staff_act(operator, live_portal, application.id, "start_check")
    staff_act(
        operator, live_portal, application.id, "request_documents", text="Пришлите выписку из ЕГРН"
    )

    follow = live_portal.link_in_mail(email, "/applications/follow/")
    guest.goto(follow)
    expect(guest.locator("#next-deadline")).to_be_visible()
    file_inputs = guest.locator("form[action$='/upload'] input[type=file]")
    file_inputs.nth(1).set_input_files(str(scan))
    guest.locator("form[action$='/upload'] button[type=submit]").click()
    expect(guest.locator("#missing-documents")).to_have_count(0)

    staff_act(operator, live_portal, application.id, "accept")
    staff_act(operator, live_portal, application.id, "issue_contract")
    expect(operator.locator("#inventory")).to_contain_text(".pdf")
    staff_act(operator, live_portal, application.id, "sign", account_number=spare.account_number)

    sign_up(guest, live_portal, email)
    guest.goto(live_portal.link_in_mail(email, "/confirm/"))
    guest.goto(live_portal.url + "/applications/")
    expect(guest.locator("main")).to_contain_text(application.number)
    guest.goto(live_portal.url + "/")
    expect(guest.locator("main")).to_contain_text(spare.account_number)
    guest_context.close()


def test_a_refusal_with_a_reason_and_the_complaint(browser, live_portal, operator, tmp_path):
    email = "refused@example.ru"
    scan = tmp_path / "passport.pdf"
    scan.write_bytes(PDF)
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe-core
    guest = context.new_page()
    guest_applies(guest, live_portal, email, scan)
    application = application_by_email(live_portal.app, email)
    operator.goto(f"{live_portal.url}/admin/applications/{application.id}")
    operator.select_option("#refuse-reason", index=2)
    operator.fill("#refuse-text", "В выписке указан другой собственник")
    operator.locator("#action-refuse button[type=submit]").click()
    expect(operator.locator(".alert-success")).to_be_visible()

    guest.goto(live_portal.link_in_mail(email, "/applications/follow/"))
    expect(guest.locator("main")).to_contain_text("В выписке указан другой собственник")
    assert_accessible(guest, "refused application")
    guest.fill("#complain-text", "Я собственник с ноября, выписка обновлена")
    guest.locator("form[action$='/complain'] button[type=submit]").click()
    expect(guest.locator(".alert-success")).to_be_visible()
    with live_portal.app.app_context():
        row = db.session.get(Application, application.id)
        assert row.status is ApplicationStatus.REFUSED
        assert len(row.complaints) == 1
        db.session.remove()
    context.close()


PUBLIC = ("/info/", "/info/tariffs", "/info/documents", "/info/appeals", "/applications/status")


def test_the_public_pages_pass_axe(browser, live_portal):
    context = browser.new_context(bypass_csp=True)  # lets the test inject axe-core
    page = context.new_page()
    for path in PUBLIC:
        page.goto(live_portal.url + path)
        assert_accessible(page, path)
    context.close()


def test_the_public_pages_without_javascript(browser, live_portal):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    for path in PUBLIC:
        page.goto(live_portal.url + path)
        expect(page.locator("h1")).to_be_visible()
    page.goto(live_portal.url + "/info/documents")
    expect(page.locator("main")).to_contain_text("ЕГРН")
    context.close()
