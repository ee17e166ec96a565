"""A live portal for the browser: migrations applied to a fresh SQLite file, demo data,
a real SMTP server for its mail, served by a threaded WSGI server on loopback."""

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pyotp
import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect
from werkzeug.serving import make_server

from portal import create_app
from portal.extensions import db
from portal.services import demo
from tests.conftest import IN_CI, free_port

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe" / "axe.min.js"


def system_chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright cannot download its own browser here."""
    path = system_chromium()
    if path is None:
        if IN_CI:
            pytest.fail("Chromium is required in CI: apt-get install chromium")
        pytest.skip("no Chromium on this machine")
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS}


class LivePortal:
    def __init__(self, app, url: str, logins, mail):
        self.app = app
        self.url = url
        self.logins = logins
        self.mail = mail

    def wait_for_mail(self, recipient: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.mail.messages):
                if message["To"] == recipient:
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no mail to {recipient} arrived")

    def link_in_mail(self, recipient: str, path_part: str) -> str:
        message = self.wait_for_mail(recipient)
        body = next(
            part.get_payload(decode=True).decode()
            for part in message.walk()
            if part.get_content_type() == "text/plain"
        )
        return re.search(rf"(https?://\S*{re.escape(path_part)}\S*)", body).group(1)


@pytest.fixture(scope="session")
def live_portal(tmp_path_factory, smtp_server):
    tmp = tmp_path_factory.mktemp("live")
    port = free_port()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'e2e.db'}",
            "SECRET_KEY": "e2e-secret",
            "RATELIMIT_ENABLED": False,
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_server.port,
            "MAIL_SUPPRESS_SEND": False,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "APPEAL_FILES_DIR": str(tmp / "appeal_files"),
        }
    )
    with app.app_context():
        upgrade()
        logins = demo.seed(db.session, residents=40, organisations=2)
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LivePortal(app, f"http://127.0.0.1:{port}", logins, smtp_server)
    server.shutdown()


def assert_accessible(page, context_name: str) -> None:
    """axe-core finds no serious or critical violation on the page."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{context_name}: " + "; ".join(bad)


_secrets: dict[str, str] = {}  # the authenticator app: e-mail -> TOTP secret enrolled


def staff_sign_in(page, portal, role: str = "operator"):
    """Sign in with the demo login; administrators and supervisors give the second factor
    too (outside the demo mode it is required), enrolling it the first time."""
    staff = next(s for s in portal.logins.staff if s.role == role)
    page.goto(portal.url + "/admin/login")
    page.fill("#email", staff.email)
    page.fill("#password", staff.password)
    page.click("main form button[type=submit]")
    if page.url.endswith("/admin/security/enrol"):
        _secrets[staff.email] = page.locator("#totp-secret").inner_text().replace(" ", "")
        page.fill("#code", pyotp.TOTP(_secrets[staff.email]).now())
        page.click("main form button[type=submit]")
        page.click("main a.btn-primary")  # the recovery codes are saved
    elif page.url.endswith("/admin/login/code"):
        page.fill("#code", pyotp.TOTP(_secrets[staff.email]).at(time.time() + 30))
        page.click("main form button[type=submit]")
    expect(page).to_have_url(portal.url + "/admin/")
