"""Payment registries in the back office: upload → preview → import → errors file, the list
with totals, payments of an account; roles, CSRF and malformed input, through the client."""

import csv
import io
import re
import uuid

import pytest
from sqlalchemy import func, select

from admin.access import AREA_ROLES
from portal.models import STAFF_ROLES, AuditEvent, Payment, PaymentRegistry
from portal.services.clock import local_today
from tests import factories
from tests.conftest import csrf_token, field_error, page, post_form, sign_in
from tests.factories import downloaded_csv

HTMX = {"HX-Request": "true"}


def english(browser):
    """The browser reads the English texts the assertions quote."""
    with browser.session_transaction() as session:
        session["language"] = "en"
    return browser


@pytest.fixture
def accounts(db_session):
    return [factories.make_account(db_session) for _ in range(2)]


def registry_file(accounts, ref: str) -> bytes:
    day = local_today().strftime("%d.%m.%Y")
    text = (
        "account;amount;date;reference;agent\r\n"
        f"{accounts[0].number};1520,40;{day};{ref}-1;Сбербанк\r\n"
        f"{accounts[1].number};870.00;{day};{ref}-2;Почта России\r\n"
        f"5299999999;10,00;{day};{ref}-3;Сбербанк\r\n"
        f"{accounts[1].number};-1;{day};{ref}-4;Сбербанк\r\n"
    )
    return text.encode("cp1251")


def upload(client, data: bytes, filename="bank.csv"):
    return post_form(
        client,
        "/admin/payments/registries",
        {"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def registry_id(response) -> int:
    return int(re.search(r"/admin/payments/registries/(\d+)$", response.headers["Location"])[1])


def test_upload_preview_import(staff_client, db_session, accounts):
    client = english(staff_client("billing"))
    staff = client.staff
    ref = uuid.uuid4().hex[:10]
    response = upload(client, registry_file(accounts, ref))
    assert response.status_code == 303
    number = registry_id(response)

    preview = client.get(f"/admin/payments/registries/{number}")
    html = page(preview)
    assert preview.status_code == 200
    assert "Import 2 lines" in html
    assert "There is no account with this number." in html
    assert "The amount must be above zero." in html
    assert "2 390,40" in html.replace("\u00a0", " ") or "2,390.40" in html
    assert "Почта России" in html
    assert db_session.scalar(select(func.count()).where(Payment.reference.startswith(ref))) == 0

    response = post_form(client, f"/admin/payments/registries/{number}/import", {})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/payments/registries/{number}"
    done = page(client.get(response.headers["Location"]))
    assert "2 payments imported" in done
    assert "Import 2 lines" not in done
    registry = db_session.get(PaymentRegistry, number)
    assert (registry.status, registry.imported_lines, registry.error_lines) == ("imported", 2, 2)
    assert registry.staff_id == staff.id

    # Again: nothing more, and a message instead of a crash.
    response = post_form(client, f"/admin/payments/registries/{number}/import", {})
    assert response.status_code == 303
    assert "already been imported" in page(client.get(f"/admin/payments/registries/{number}"))
    assert db_session.scalar(select(func.count()).where(Payment.reference.startswith(ref))) == 2

    # The same file uploaded again previews as already imported and adds nothing.
    again = registry_id(upload(client, registry_file(accounts, ref)))
    html = page(client.get(f"/admin/payments/registries/{again}"))
    assert f"/admin/payments/registries/{again}/import" not in html  # nothing to import
    assert "Already imported" in html
    assert f"/admin/payments/registries/{number}" in html  # the same file before


def test_errors_file_download(staff_client, db_session, accounts):
    client = english(staff_client("billing"))
    number = registry_id(upload(client, registry_file(accounts, uuid.uuid4().hex[:10])))
    response = client.get(f"/admin/payments/registries/{number}/errors.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["account", "amount", "date", "reference", "agent", "Reason", "Line"]
    assert [row[0] for row in rows[1:]] == ["5299999999", accounts[1].number]
    assert [row[-1] for row in rows[1:]] == ["4", "5"]


def test_the_errors_file_neutralises_formulas_and_keeps_numbers(staff_client, db_session, accounts):
    """Before and after the import (checked again, then as stored) the cells of the refused
    lines come back unable to run as formulas; plain numbers stay as they were."""
    client = english(staff_client("billing"))
    ref = uuid.uuid4().hex[:10]
    day = local_today().strftime("%d.%m.%Y")
    text = (
        "account;amount;date;reference;agent;@note\r\n"
        f"{accounts[0].number};100,00;{day};{ref}-1;Сбербанк;ok\r\n"
        f'{accounts[0].number};-12,5;{day};{ref}-2;"=HYPERLINK(""http://x"")";x\r\n'
        f'+cmd;10,00;{day};-2+3;@SUM(A1);"\tx"\r\n'
    )
    number = registry_id(upload(client, text.encode("utf-8")))
    url = f"/admin/payments/registries/{number}/errors.csv"
    expected = [
        ["account", "amount", "date", "reference", "agent", "'@note"],
        [accounts[0].number, "-12,5", day, f"{ref}-2", '\'=HYPERLINK("http://x")', "x"],
        ["'+cmd", "10,00", day, "'-2+3", "'@SUM(A1)", "'\tx"],
    ]
    in_preview = downloaded_csv(client.get(url), f"registry-{number}-errors.csv")
    assert post_form(client, f"/admin/payments/registries/{number}/import", {}).status_code == 303
    assert db_session.get(PaymentRegistry, number).status == "imported"
    as_stored = downloaded_csv(client.get(url), f"registry-{number}-errors.csv")
    for rows in (in_preview, as_stored):
        assert [row[:6] for row in rows] == expected
        assert [row[-1] for row in rows[1:]] == ["3", "4"]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", "The file is empty."),
        (b"PK\x03\x04xxxx", "book.xlsx", "Excel workbook"),
        (b"\x00\x01\x02\x03", "x.bin", "not a CSV text file"),
        (b"account;amount;date;reference;agent\n", "header.csv", "only a header"),
    ],
)
def test_bad_files_are_refused_next_to_the_field(staff_client, db_session, data, filename, message):
    client = english(staff_client("billing"))
    response = upload(client, data, filename)
    assert response.status_code == 200
    assert message in (field_error(response, "file") or "")
    assert db_session.scalar(select(func.count()).select_from(PaymentRegistry).where(
        PaymentRegistry.filename == filename
    )) == 0  # fmt: skip


def test_no_file_and_no_multipart(staff_client, db_session):
    client = english(staff_client("billing"))
    response = post_form(client, "/admin/payments/registries", {})
    assert response.status_code == 200
    assert field_error(response, "file") == "Choose the registry file."
    response = post_form(client, "/admin/payments/registries", {"file": "just text"})
    assert response.status_code == 200


def test_post_without_csrf_is_refused(staff_client, db_session, accounts):
    client = english(staff_client("billing"))
    number = registry_id(upload(client, registry_file(accounts, uuid.uuid4().hex[:10])))
    response = client.post(f"/admin/payments/registries/{number}/import", data={})
    assert response.status_code == 400
    assert db_session.get(PaymentRegistry, number).status == "preview"


def test_unknown_registry_is_404(staff_client, db_session):
    client = english(staff_client("billing"))
    assert client.get("/admin/payments/registries/999999").status_code == 404
    assert client.get("/admin/payments/registries/999999/errors.csv").status_code == 404
    response = post_form(client, "/admin/payments/registries/999999/import", {})
    assert response.status_code == 404


def test_the_list_shows_registries_and_totals_by_agent_and_day(staff_client, db_session, accounts):
    client = english(staff_client("billing"))
    ref = uuid.uuid4().hex[:10]
    number = registry_id(upload(client, registry_file(accounts, ref), filename=f"{ref}.csv"))
    post_form(client, f"/admin/payments/registries/{number}/import", {})
    html = page(client.get("/admin/payments/registries")).replace("\u00a0", " ")
    assert f"{ref}.csv" in html
    assert "Почта России" in html
    assert "Сбербанк" in html
    assert "870,00" in html or "870.00" in html
    for query in ("date_from=abc&date_to=2026-13-45", "date_from=2030-01-01&date_to=2020-01-01"):
        assert client.get(f"/admin/payments/registries?{query}").status_code == 200
    assert client.get("/admin/payments/registries?page=-3").status_code == 200
    assert client.get("/admin/payments/registries?page=99999999999").status_code == 200


def test_payments_of_an_account_full_page_and_fragment(staff_client, db_session, accounts):
    client = english(staff_client("billing"))
    staff = client.staff
    ref = uuid.uuid4().hex[:10]
    number = registry_id(upload(client, registry_file(accounts, ref)))
    post_form(client, f"/admin/payments/registries/{number}/import", {})

    full = client.get(f"/admin/payments?account={accounts[1].number}")
    assert full.status_code == 200
    html = page(full)
    assert "<html" in html
    assert f"{ref}-2" in html
    assert f"{ref}-1" not in html
    fragment = client.get(f"/admin/payments?account={accounts[1].number}", headers=HTMX)
    assert "<html" not in fragment.get_data(as_text=True)
    assert f"{ref}-2" in page(fragment)
    assert "HX-Request" in fragment.headers.get("Vary", "")
    short = page(client.get("/admin/payments?account=5"))
    assert "Type at least 3 digits" in short
    assert client.get("/admin/payments?account=%00%ff" + "9" * 200).status_code == 200
    searches = db_session.scalars(
        select(AuditEvent.summary).where(
            AuditEvent.staff_id == staff.id, AuditEvent.object_type == "payment"
        )
    ).all()
    assert accounts[1].number in searches


ROUTES = [
    ("GET", "/admin/payments/registries"),
    ("GET", "/admin/payments/registries/{registry}"),
    ("GET", "/admin/payments/registries/{registry}/errors.csv"),
    ("POST", "/admin/payments/registries/{registry}/import"),
    ("GET", "/admin/payments?account={account}"),
]


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_roles(staff_client, db_session, accounts, role, method, url):
    registry = PaymentRegistry(
        filename="x.csv",
        file_sha256="0" * 64,
        status="preview",
        source_csv=f"account;amount;date;reference;agent\n{accounts[0].number};1;2026-01-01;"
        f"{uuid.uuid4().hex};ВТБ\n",
    )
    db_session.add(registry)
    db_session.flush()
    client = english(staff_client(role))
    target = url.format(registry=registry.id, account=accounts[0].number)
    if method == "GET":
        response = client.get(target)
    else:
        response = client.post(target, data={"csrf_token": csrf_token(client)})
    if role in AREA_ROLES["payments"]:
        assert response.status_code == (200 if method == "GET" else 303)
    else:
        assert response.status_code == 403


def test_the_menu_shows_payments_to_billing_only(staff_client, db_session):
    client = english(staff_client("billing"))
    assert 'href="/admin/payments/registries"' in client.get("/admin/").get_data(as_text=True)
    other = factories.make_staff(db_session, role="operator")
    client.post("/admin/logout", data={"csrf_token": csrf_token(client)})
    sign_in(client, other.email, factories.PASSWORD, staff=True)
    assert 'href="/admin/payments/registries"' not in client.get("/admin/").get_data(as_text=True)
