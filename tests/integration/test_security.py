"""Security properties of every page: headers, CSRF, no inline scripts, no 500 on bad input,
rate limits; and a walk over every GET route of the public site."""

import re
import tempfile
from pathlib import Path

import pytest

from portal import create_app
from portal.extensions import db
from tests import factories
from tests.conftest import csrf_token, login_as, page, post_form, translated
from tests.conftest import test_config as make_test_config

# --- The routes, read from the application's URL map ------------------------------------

_APP_FOR_ROUTES = create_app(make_test_config(Path(tempfile.gettempdir())))
RULES = [
    rule
    for rule in _APP_FOR_ROUTES.url_map.iter_rules()
    if rule.endpoint != "static" and not rule.endpoint.startswith("admin.")
]
PUBLIC_GET_RULES = sorted(rule.rule for rule in RULES if "GET" in rule.methods)
ALL_POST_RULES = sorted(
    rule.rule
    for rule in _APP_FOR_ROUTES.url_map.iter_rules()
    if "POST" in rule.methods and rule.endpoint != "static"
)

JUNK = {
    "int": ["0", "1", "999999", "2147483648", "99999999999999999999999999"],
    "default": ["junk", "0", "%00", "..%2F..%2Fetc", "%F0%9F%98%80", "a" * 300, "%FF%FE"],
}


def fill(rule: str, value_for) -> str:
    """The rule with its parameters filled in; an ``any(a, b)`` parameter takes its first
    choice, so the request reaches the view (any other word is only a 404)."""

    def parameter(match) -> str:
        converter, choices = match.group(1), match.group(2)
        if converter == "any":
            return choices.split(",")[0].strip()
        return value_for(converter or "default")

    return re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>", parameter, rule)


def urls_for(rule: str) -> list[str]:
    """The rule with every junk value put in all its parameters (one URL per junk value)."""
    if "<" not in rule:
        return [rule, rule + "?page=abc&next=//evil.com&id=-1"]
    converters = set(re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", rule)) or {""}
    kinds = {c or "default" for c in converters}
    width = max(len(JUNK.get(kind, JUNK["default"])) for kind in kinds)
    urls = []
    for n in range(width):

        def value_for(kind, n=n):
            values = JUNK.get(kind, JUNK["default"])
            return values[n % len(values)]

        urls.append(fill(rule, value_for))
    # ints that are not ints
    urls.append(fill(rule, lambda kind: "abc" if kind == "int" else "junk"))
    urls.append(fill(rule, lambda kind: "-1" if kind == "int" else "junk"))
    return urls


@pytest.fixture
def resident(db_session):
    user = factories.make_user(db_session)
    account = factories.make_account(db_session)
    factories.link(db_session, user, account)
    factories.make_meter(db_session, account)
    factories.make_organisation(db_session, owner=user)
    return user


def assert_no_inline_script(response) -> None:
    """Scripts only from files: no inline code, no event-handler attributes, no javascript:."""
    body = response.get_data(as_text=True)
    for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", body, re.I | re.S):
        attributes, code = match.groups()
        assert "src=" in attributes, f"inline script: {match.group(0)[:200]}"
        assert not code.strip(), f"inline script: {match.group(0)[:200]}"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", body, re.I), "inline event handler"
    assert "javascript:" not in body.lower()


def test_the_walk_covers_the_public_site():
    endpoints = {rule.endpoint for rule in RULES}
    assert {
        "main.home",
        "auth.login",
        "accounts.dashboard",
        "organisations.card",
        "profile.edit",
    } <= endpoints
    assert len(PUBLIC_GET_RULES) >= 15


@pytest.mark.parametrize("who", ["visitor", "resident"])
@pytest.mark.parametrize("rule", PUBLIC_GET_RULES)
def test_every_get_route_survives_junk(client, db_session, resident, rule, who):
    if who == "resident":
        login_as(client, resident)
    for url in urls_for(rule):
        response = client.get(url)
        assert response.status_code < 500, f"{url} answered {response.status_code}"
        if response.mimetype == "text/html":
            assert_no_inline_script(response)
        assert "Content-Security-Policy" in response.headers, url


# POSTs authenticated otherwise than by the session's CSRF token: Twilio signs its status
# callbacks (X-Twilio-Signature); an unsubscribe link's signed token is its authority (the
# RFC 8058 one-click POST comes from a mail client with no session).
CSRF_EXEMPT_POST_RULES = {
    "/notices/twilio/status": 403,
    "/unsubscribe/<token>": 404,
}


@pytest.mark.parametrize("rule", sorted(CSRF_EXEMPT_POST_RULES))
def test_a_post_exempt_from_csrf_refuses_what_it_cannot_authenticate(client, db_session, rule):
    url = fill(rule, lambda kind: "junk")
    assert client.post(url, data={"anything": "1"}).status_code == CSRF_EXEMPT_POST_RULES[rule]


@pytest.mark.parametrize(
    "rule", [rule for rule in ALL_POST_RULES if rule not in CSRF_EXEMPT_POST_RULES]
)
def test_every_post_without_csrf_token_is_a_friendly_400(app, client, db_session, resident, rule):
    login_as(client, resident)
    url = fill(rule, lambda kind: "1" if kind == "int" else "junk")
    response = client.post(url, data={"anything": "1"})
    assert response.status_code == 400, url
    assert translated(app, "The page has expired") in page(response)
    assert '<html lang="' in response.get_data(as_text=True)  # our page, not the bare default


def test_csrf_token_from_another_session_is_refused(client, other_client, db_session, resident):
    login_as(client, resident)
    foreign = csrf_token(other_client)
    response = client.post("/profile/", data={"csrf_token": foreign, "full_name": "X"})
    assert response.status_code == 400


def test_htmx_request_may_send_the_token_in_a_header(client, db_session, resident):
    login_as(client, resident)
    token = csrf_token(client)
    response = client.post("/language/en", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 303


# --- Headers ----------------------------------------------------------------------------


def script_sources(csp: str) -> str:
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip()
    )
    return directives.get("script-src") or directives.get("default-src", "")


@pytest.mark.parametrize("url", ["/", "/login", "/signup", "/privacy", "/password/forgot", "/nope"])
def test_security_headers_for_visitors(client, url):
    response = client.get(url)
    csp = response.headers["Content-Security-Policy"]
    assert "'self'" in script_sources(csp)
    assert "unsafe-inline" not in script_sources(csp)
    assert "unsafe-eval" not in script_sources(csp)
    assert "frame-ancestors" in csp
    assert "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in (
        "same-origin",
        "strict-origin-when-cross-origin",
        "no-referrer",
    )
    assert "HX-Request" in response.headers.get("Vary", "")
    assert_no_inline_script(response)


@pytest.mark.parametrize(
    "url", ["/accounts/", "/profile/", "/organisations/", "/accounts/link", "/"]
)
def test_personal_pages_are_not_stored(client, db_session, resident, url):
    login_as(client, resident)
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    assert "HX-Request" in response.headers["Vary"]
    assert "unsafe-inline" not in script_sources(response.headers["Content-Security-Policy"])
    assert_no_inline_script(response)


def test_pages_showing_an_email_to_a_visitor_are_not_stored(client, db_session):
    response = post_form(client, "/password/forgot", {"email": "someone@example.ru"})
    assert "no-store" in response.headers["Cache-Control"]


def test_static_files_are_cacheable_and_set_no_cookie(client):
    response = client.get("/static/js/portal.js")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert "Set-Cookie" not in response.headers


def test_error_pages_are_ours(app, client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert translated(app, "Page not found") in page(response)
    assert client.get("/logout").status_code == 405


# --- Malformed input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/abc",
        "/accounts/-1",
        "/accounts/1.5",
        "/accounts/99999999999999999999999999999",
        "/accounts/2147483648",
        "/organisations/9223372036854775808",
        "/organisations/1/members/99999999999999999999/remove",
    ],
)
def test_bad_ints_in_urls_are_404(client, db_session, resident, url):
    login_as(client, resident)
    response = client.get(url) if "remove" not in url else post_form(client, url, {})
    assert response.status_code == 404


def test_body_over_the_limit_is_refused_politely(app, client, db_session, resident):
    login_as(client, resident)
    token = csrf_token(client)
    response = client.post(
        "/profile/",
        data=f"csrf_token={token}&full_name=" + "x" * app.config["MAX_CONTENT_LENGTH"],
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert translated(app, "The request is too large") in page(response)


def test_huge_field_is_a_form_error(client, db_session, resident):
    login_as(client, resident)
    token = csrf_token(client)
    response = client.post(
        "/profile/",
        data=f"csrf_token={token}&phone=1&full_name=" + "Я" * 300_000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "is-invalid" in response.get_data(as_text=True)


def test_huge_multipart_field_is_refused_politely(client, db_session, resident):
    login_as(client, resident)
    response = client.post(
        "/profile/",
        data={"csrf_token": csrf_token(client), "full_name": "x" * 600_000},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413


def test_many_form_fields_are_refused_politely(client):
    body = "&".join(f"f{n}=1" for n in range(5000))
    response = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 413)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"email": "a@b.ru", "password": "x"}'),
        ("text/plain", "email=a@b.ru"),
        ("multipart/form-data", "no boundary here"),
        ("multipart/form-data; boundary=zzz", "--zzz\r\nbroken"),
        ("application/x-www-form-urlencoded", "%%%&&&==="),
        ("application/octet-stream", "\x00\x01\x02"),
    ],
)
def test_wrong_content_types_never_500(client, content_type, body):
    for url in ("/login", "/signup", "/password/forgot"):
        response = client.post(url, data=body, content_type=content_type)
        assert 400 <= response.status_code < 500 or response.status_code == 200, url


def test_wrong_content_type_with_a_valid_token_rerenders_the_form(client):
    token = csrf_token(client)
    response = client.post(
        "/login",
        data='{"email": "a@b.ru"}',
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200
    assert 'name="email"' in response.get_data(as_text=True)


def test_head_and_options_requests(client):
    assert client.head("/").status_code == 200
    assert client.options("/login").status_code < 500
    assert client.put("/login").status_code == 405
    assert client.delete("/accounts/1").status_code in (302, 405)


def test_very_long_url_and_query(client, other_client, db_session, resident):
    login_as(client, resident)
    assert client.get("/accounts/?" + "x=" + "y" * 20000).status_code == 200
    assert other_client.get("/login?next=" + "/" + "a" * 5000).status_code == 200


def test_odd_hosts_and_headers(client):
    response = client.get(
        "/", headers={"HX-Request": "true", "HX-Boosted": "junk", "Accept-Language": "xx;q=abc"}
    )
    assert response.status_code == 200
    assert (
        client.get("/", headers={"Cookie": "session=garbage; remember_token=junk|junk"}).status_code
        == 200
    )


# --- Rate limits (Flask-Limiter on, memory storage, an app of its own) -------------------


def assert_friendly_429(app, response) -> None:
    assert response.status_code == 429
    assert translated(app, "Too many attempts") in page(response)
    assert '<html lang="ru">' in response.get_data(as_text=True)
    assert response.headers.get("Retry-After")


def hammer(client, url: str, data: dict, times: int) -> list[int]:
    codes = []
    for _ in range(times):
        codes.append(client.post(url, data={"csrf_token": csrf_token(client), **data}).status_code)
    return codes


def allowed(app, name: str) -> int:
    """How many requests the named limit of RATE_LIMITS lets through ("30 per minute": 30)."""
    return int(app.config["RATE_LIMITS"][name].split()[0])


def test_login_is_rate_limited_per_address(rate_limited_app):
    with rate_limited_app.app_context():
        user = factories.make_user(db.session)
        db.session.commit()
        email = user.email
        db.session.remove()
    client = rate_limited_app.test_client()
    wrong = {"email": email, "password": "wrong-pass-1"}
    n = allowed(rate_limited_app, "sign_in")
    codes = hammer(client, "/login", wrong, n)
    assert codes == [200] * n  # wrong passwords, then "wait" from the throttle: pages all
    response = client.post("/login", data={"csrf_token": csrf_token(client), **wrong})
    assert_friendly_429(rate_limited_app, response)
    # the right password does not get through either while the limit lasts
    right = {"csrf_token": csrf_token(client), "email": email, "password": factories.PASSWORD}
    assert client.post("/login", data=right).status_code == 429


def test_password_reset_is_rate_limited_per_address(rate_limited_app):
    client = rate_limited_app.test_client()
    n = allowed(rate_limited_app, "password_forgot")
    codes = [
        client.post(
            "/password/forgot",
            data={"csrf_token": csrf_token(client), "email": f"a{i}@example.ru"},
        ).status_code
        for i in range(n + 1)
    ]
    assert codes[:n] == [200] * n
    assert codes[n] == 429
    assert_friendly_429(
        rate_limited_app,
        client.post(
            "/password/forgot", data={"csrf_token": csrf_token(client), "email": "b@example.ru"}
        ),
    )


def test_password_reset_is_rate_limited_per_email_whatever_the_address(rate_limited_app):
    """Someone flooding one person's mailbox with reset letters from many addresses."""
    n = allowed(rate_limited_app, "password_forgot_email")
    client = rate_limited_app.test_client()
    codes = [
        client.post(
            "/password/forgot",
            data={"csrf_token": csrf_token(client), "email": "Victim@Example.ru"},
            environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
        ).status_code
        for i in range(n + 1)
    ]
    assert codes == [200] * n + [429]


def test_signup_is_rate_limited(rate_limited_app):
    client = rate_limited_app.test_client()
    codes = hammer(client, "/signup", {"email": "not-an-email"}, 11)
    assert codes[:10] == [200] * 10
    assert codes[10] == 429


def test_account_linking_is_rate_limited_per_user(rate_limited_app):
    with rate_limited_app.app_context():
        first = factories.make_user(db.session)
        second = factories.make_user(db.session)
        db.session.commit()
        first_client, second_client = rate_limited_app.test_client(), rate_limited_app.test_client()
        login_as(first_client, first)
        login_as(second_client, second)
        wrong = {"number": "5200000000", "secret_code": "ZZZZZZ"}
        codes = hammer(first_client, "/accounts/link", wrong, 11)
        assert codes[:10] == [200] * 10
        assert codes[10] == 429
        assert_friendly_429(
            rate_limited_app,
            first_client.post(
                "/accounts/link", data={"csrf_token": csrf_token(first_client), **wrong}
            ),
        )
        # another person (same address, e.g. one office) still may try
        assert hammer(second_client, "/accounts/link", wrong, 1) == [200]
        db.session.remove()
