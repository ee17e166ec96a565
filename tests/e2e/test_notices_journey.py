"""A resident chooses their notices on the profile page, gets a letter through a real SMTP
server, unsubscribes from it with the letter's link and undoes it (issue #10), with
JavaScript on; the pages pass an axe-core check."""

from datetime import date

from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import User
from portal.services.notify import dispatch_due, enqueue_email, preferences
from tests.e2e.conftest import assert_accessible


def send_window_letter(portal, email: str) -> None:
    with portal.app.app_context(), portal.app.test_request_context():
        user = db.session.scalar(select(User).filter_by(email=email))
        message = enqueue_email(
            db.session,
            kind="window_opened",
            recipient=email,
            subject="Meter readings are accepted from today",
            context={
                "period": date(2026, 12, 1),
                "opens": date(2026, 12, 15),
                "closes": date(2026, 12, 25),
                "number": "—",
                "accounts_url": portal.url + "/accounts/",
            },
            dedup_key=f"e2e-notices:{user.id}",
            user_id=user.id,
        )
        assert message is not None  # the resident chose e-mail for it
        db.session.commit()
        dispatch_due(db.session)
        db.session.remove()


def channel_of(portal, email: str, kind: str):
    with portal.app.app_context():
        user_id = db.session.scalar(select(User.id).filter_by(email=email))
        found = preferences.channel_for(db.session, user_id, kind)
        db.session.remove()
        return found


def test_choose_notices_unsubscribe_from_a_letter_and_undo(browser, live_portal):
    resident = live_portal.logins.residents[-1]
    context = browser.new_context(locale="ru-RU", bypass_csp=True)  # axe is injected
    page = context.new_page()
    page.goto(live_portal.url + "/login")
    page.fill("#email", resident.email)
    page.fill("#password", resident.password)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_be_visible()

    page.goto(live_portal.url + "/profile/#notices")
    page.check("input[name=window_opened][value=email]")
    page.check("input[name=news][value=sms]")
    expect(page.locator("input[name=debt_notice][value=none]")).to_have_count(0)
    assert_accessible(page, "profile with notices")
    page.click("#notices form button[type=submit]")
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("input[name=news][value=sms]")).to_be_checked()
    assert channel_of(live_portal, resident.email, "window_opened") == "email"

    send_window_letter(live_portal, resident.email)
    letter = live_portal.wait_for_mail(resident.email)
    assert letter["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = live_portal.link_in_mail(resident.email, "/unsubscribe/")
    assert letter["List-Unsubscribe"] == f"<{link}>"

    page.goto(link)
    assert_accessible(page, "unsubscribe page")
    assert channel_of(live_portal, resident.email, "window_opened") == "email"  # only opened
    page.click("main form button[type=submit]")
    expect(page.locator("input[name=undo]")).to_have_count(1)
    assert channel_of(live_portal, resident.email, "window_opened") is None
    page.click("main form button[type=submit]")  # undo
    expect(page.locator(".alert-success")).to_be_visible()
    assert channel_of(live_portal, resident.email, "window_opened") == "email"
    context.close()
