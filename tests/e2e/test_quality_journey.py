"""Quality in real Chromium (issue #16): a resident rates a served visit from the letter's
link with a score of 6 and a reason (JavaScript off: the form needs none), writes in the
feedback book; a supervisor sees the answer in the dashboard and downloads the monthly
report. Each page passes an axe-core check."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Booking, OutboxMessage, SurveyOccasion, User
from portal.services import surveys
from tests.e2e.conftest import assert_accessible, staff_sign_in


def invitation_link(app, email: str) -> str:
    """Invite the resident as a served visit does, and return the letter's link."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        booking_id = db.session.scalar(select(Booking.id).limit(1)) or 1
        invitation = surveys.invite(
            db.session, SurveyOccasion.VISIT, booking_id + 10**6, email=user.email, user_id=user.id
        )
        db.session.commit()
        letter = db.session.scalar(
            select(OutboxMessage).filter_by(dedup_key=f"survey_invitation:{invitation.id}")
        )
        path = re.search(r"https?://[^/\s]+(/survey/\S+)", letter.body_text).group(1)
        db.session.remove()
    return path


def test_a_survey_a_book_entry_and_the_dashboard(browser, live_portal):
    resident = live_portal.logins.residents[2]
    path = invitation_link(live_portal.app, resident.email)

    # axe runs as a script: it checks the form in a browser with JavaScript (opening the
    # form does not use the link up); the resident then answers with JavaScript off.
    checker = browser.new_context(bypass_csp=True)
    look = checker.new_page()
    look.goto(live_portal.url + path)
    assert_accessible(look, "survey form")
    look.goto(live_portal.url + "/feedback-book")
    assert_accessible(look, "feedback book")
    checker.close()

    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_portal.url + path)
    expect(page.locator("h1")).to_be_visible()
    radios = page.locator("input[type=radio][value='10']")
    for index in range(radios.count()):
        radios.nth(index).check()
    page.locator("input[type=radio][value='6']").first.check()
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#survey-errors")).to_be_visible()  # a reason is needed below 9
    page.locator("textarea[name^=reason-]").first.fill("Ждал 40 минут")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#survey-thanks")).to_be_visible()
    page.goto(live_portal.url + path)
    expect(page.locator("#survey-already")).to_be_visible()  # single use

    page.goto(live_portal.url + "/feedback-book")
    page.locator("input[name=kind][value=proposal]").check()
    page.fill("#text", "Откройте офис по субботам")
    page.fill("#author_name", "Гость из e2e")
    page.fill("#email", "guest-e2e@example.ru")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#entry-number")).to_be_visible()
    expect(page.locator("#entry-appeal")).to_be_visible()
    context.close()

    staff_context = browser.new_context(bypass_csp=True)
    boss = staff_context.new_page()
    staff_sign_in(boss, live_portal, "supervisor")
    boss.locator("nav a[href='/admin/quality']").first.click()
    expect(boss.locator("#quality-table")).to_be_visible()
    expect(boss.locator("#satisfaction-table")).to_contain_text("6")
    assert_accessible(boss, "quality dashboard")
    boss.goto(live_portal.url + "/admin/feedback-book/check")
    expect(boss.locator("#chain-status")).to_have_attribute("data-intact", "1")
    boss.goto(live_portal.url + "/admin/quality/reports")
    assert_accessible(boss, "quality reports")
    with boss.expect_download() as download:
        boss.locator("#quality-reports a", has_text="PDF").first.click()
    assert download.value.suggested_filename.endswith(".pdf")
    staff_context.close()
