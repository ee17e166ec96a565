"""The back office's CSV import of remote readings: who may use it, upload → preview →
start → progress → totals, the refused lines as CSV, and uploads that must never fail."""

import codecs
import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from portal.models import STAFF_ROLES, AuditEvent, ImportBatch, Reading
from portal.services import csvfiles
from portal.services import readings_import as importer
from tests import factories
from tests.conftest import csrf_token, login_as, page, post_form, translated
from tests.factories import downloaded_csv

ALLOWED = {"metering", "supervisor", "admin"}
DAY = date(2026, 3, 10)


@pytest.fixture
def meter(db_session):
    return factories.make_meter(db_session, factories.make_account(db_session), zones=2)


@pytest.fixture
def metering(client, db_session):
    staff = factories.make_staff(db_session, role="metering")
    login_as(client, staff, staff=True)
    return staff


def csv_of(meter, *rows) -> bytes:
    lines = ["Лицевой счёт;Заводской номер;Зона;Дата;Показание"]
    lines += [f"{meter.account.number};{meter.serial_number};{z};{d};{v}" for z, d, v in rows]
    return ("\n".join(lines) + "\n").encode("cp1251")


GOOD_AND_BAD = [
    ("день", "10.03.2026", "150,5"),
    ("ночь", "10.03.2026", "60"),
    ("пик", "10.03.2026", "1"),
]


def upload(client, data: bytes, filename: str = "askue.csv", **kwargs):
    return client.post(
        "/admin/imports/readings",
        data={"csrf_token": csrf_token(client), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        **kwargs,
    )


def batch_id_of(response) -> int:
    assert response.status_code == 303, page(response)[:1500]
    return int(re.search(r"/admin/imports/(\d+)$", response.headers["Location"]).group(1))


def start(client, batch_id: int):
    return post_form(client, f"/admin/imports/{batch_id}/run", {})


# --- who may use it ---------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_roles(client, db_session, meter, role):
    staff = factories.make_staff(db_session, role=role)
    login_as(client, staff, staff=True)
    batch = importer.create_batch(
        db_session, filename="a.csv", data=csv_of(meter, *GOOD_AND_BAD), staff_id=staff.id
    )
    responses = [
        client.get("/admin/imports/readings"),
        client.get(f"/admin/imports/{batch.id}"),
        client.get(f"/admin/imports/{batch.id}/errors.csv"),
        upload(client, csv_of(meter, *GOOD_AND_BAD)),
        start(client, batch.id),
    ]
    if role in ALLOWED:
        assert [r.status_code for r in responses] == [200, 200, 200, 303, 303]
        assert 'href="/admin/imports/readings"' in page(client.get("/admin/"))
    else:
        assert [r.status_code for r in responses] == [403] * 5
        assert "/admin/imports/readings" not in page(client.get("/admin/"))


def test_anonymous_and_residents_go_to_the_staff_sign_in(client, db_session):
    assert "/admin/login" in client.get("/admin/imports/readings").headers["Location"]
    login_as(client, factories.make_user(db_session))
    response = client.get("/admin/imports/readings")
    assert response.status_code in (302, 403)


# --- the journey ------------------------------------------------------------------------


def test_upload_preview_start_progress_and_totals(app, client, db_session, meter, metering):
    listing = client.get("/admin/imports/readings")
    assert listing.status_code == 200
    assert 'enctype="multipart/form-data"' in listing.get_data(as_text=True)

    batch_id = batch_id_of(upload(client, csv_of(meter, *GOOD_AND_BAD)))
    preview = client.get(f"/admin/imports/{batch_id}")
    text = page(preview)
    button = re.search(
        r'action="/admin/imports/\d+/run">.*?<button[^>]*>([^<]*)</button>', text, re.S
    )
    assert button
    assert "2" in button.group(1)
    assert "askue.csv" in text
    assert translated(app, "Unknown zone for the meter") in text  # refused, by reason
    assert ">4<" in preview.get_data(as_text=True)  # the refused line's number
    assert 'hx-trigger="every 1s"' not in text
    assert db_session.scalar(select(func.count()).select_from(Reading)) == 0

    started = start(client, batch_id)
    assert started.status_code == 303
    assert started.headers["Location"].endswith(f"/admin/imports/{batch_id}")
    batch = db_session.get(ImportBatch, batch_id)
    assert batch.status == "queued"

    # While it runs, the page and its fragment show the progress and poll for more.
    batch.status, batch.processed_lines = "running", 2
    db_session.flush()
    full = client.get(f"/admin/imports/{batch_id}")
    body = full.get_data(as_text=True)
    assert "<html" in body
    assert "<noscript>" in body
    assert 'hx-trigger="every 1s"' in body
    assert re.search(r'<progress[^>]*max="3"[^>]*value="2"', body)
    assert f'href="/admin/imports/{batch_id}"' in body  # the no-JS refresh link
    fragment = client.get(f"/admin/imports/{batch_id}", headers={"HX-Request": "true"})
    fragment_body = fragment.get_data(as_text=True)
    assert "<html" not in fragment_body
    assert 'id="import-status"' in fragment_body
    assert 'hx-trigger="every 1s"' in fragment_body
    assert "HX-Request" in fragment.headers.get("Vary", "")
    restore = client.get(
        f"/admin/imports/{batch_id}",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.get_data(as_text=True)

    batch.status = "queued"
    db_session.flush()
    assert importer.process_queued_imports(db_session) == 1
    done = client.get(f"/admin/imports/{batch_id}", headers={"HX-Request": "true"})
    done_body = done.get_data(as_text=True)
    assert "hx-trigger" not in done_body  # polling stops
    assert "<progress" not in done_body
    assert f"/admin/imports/{batch_id}/errors.csv" in done_body
    batch = db_session.get(ImportBatch, batch_id)
    assert (batch.status, batch.imported_lines, batch.error_lines) == ("done", 2, 1)
    values = db_session.scalars(select(Reading.value).order_by(Reading.id)).all()
    assert values == [Decimal("150.5"), Decimal("60")]

    listing = page(client.get("/admin/imports/readings"))
    assert f"/admin/imports/{batch_id}" in listing
    assert "askue.csv" in listing

    actions = db_session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.object_type == "import_batch", AuditEvent.object_id == batch_id
        )
    ).all()
    assert sorted(actions) == ["create", "update", "update"]


def test_errors_csv_download(client, db_session, meter, metering):
    batch_id = batch_id_of(upload(client, csv_of(meter, *GOOD_AND_BAD)))
    response = client.get(f"/admin/imports/{batch_id}/errors.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert f"import-{batch_id}-errors.csv" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Лицевой счёт", "Заводской номер", "Зона", "Дата", "Показание"]
    assert len(rows) == 2
    assert rows[1][:5] == [meter.account.number, meter.serial_number, "пик", "10.03.2026", "1"]
    assert rows[1][5]  # the reason
    assert rows[1][6] == "4"  # the line
    downloads = db_session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.object_id == batch_id, AuditEvent.action == "view")
    )
    assert downloads == 1


def test_the_errors_csv_neutralises_formulas_and_keeps_numbers(client, db_session, meter, metering):
    """Cells of the uploaded file come back in the download: none may run as a formula."""
    lines = [
        "Лицевой счёт;Заводской номер;Зона;Дата;Показание;@Примечание",
        f'{meter.account.number};{meter.serial_number};день;10.03.2026;-5;"=HYPERLINK(""http://x"")"',
        '+cmd;-2+3;@SUM(A1);10.03.2026;-12,5;"\tx"',
    ]
    batch_id = batch_id_of(upload(client, ("\n".join(lines) + "\n").encode("utf-8")))
    rows = downloaded_csv(
        client.get(f"/admin/imports/{batch_id}/errors.csv"), f"import-{batch_id}-errors.csv"
    )
    assert rows[0][:6] == [
        "Лицевой счёт",
        "Заводской номер",
        "Зона",
        "Дата",
        "Показание",
        "'@Примечание",
    ]
    first, second = rows[1], rows[2]
    assert first[:6] == [
        meter.account.number,
        meter.serial_number,
        "день",
        "10.03.2026",
        "-5",
        '\'=HYPERLINK("http://x")',
    ]
    assert second[:6] == ["'+cmd", "'-2+3", "'@SUM(A1)", "10.03.2026", "-12,5", "'\tx"]
    assert [first[-1], second[-1]] == ["2", "3"]


def test_no_errors_no_download(client, db_session, meter, metering):
    batch_id = batch_id_of(upload(client, csv_of(meter, ("день", "10.03.2026", "1"))))
    assert "errors.csv" not in page(client.get(f"/admin/imports/{batch_id}"))
    assert client.get(f"/admin/imports/{batch_id}/errors.csv").status_code == 404


def test_the_same_file_twice_adds_nothing(client, db_session, meter, metering):
    data = csv_of(meter, *GOOD_AND_BAD)
    first = batch_id_of(upload(client, data))
    start(client, first)
    importer.process_queued_imports(db_session)
    second = batch_id_of(upload(client, data))
    text = page(client.get(f"/admin/imports/{second}"))
    assert f"/admin/imports/{first}" in text  # "this very file was uploaded before"
    assert "/run" not in text  # nothing to import: no button
    assert db_session.get(ImportBatch, second).duplicate_lines == 2
    start(client, second)  # started anyway (an old page): nothing is added
    importer.process_queued_imports(db_session)
    assert db_session.scalar(select(func.count()).select_from(Reading)) == 2


def test_started_twice_is_refused_politely(app, client, db_session, meter, metering):
    batch_id = batch_id_of(upload(client, csv_of(meter, *GOOD_AND_BAD)))
    assert start(client, batch_id).status_code == 303
    again = start(client, batch_id)
    assert again.status_code == 303
    message = translated(app, "This import has already been started.")
    assert message in page(client.get(f"/admin/imports/{batch_id}"))


def test_discard(client, db_session, meter, metering):
    batch_id = batch_id_of(upload(client, csv_of(meter, *GOOD_AND_BAD)))
    response = post_form(client, f"/admin/imports/{batch_id}/discard", {})
    assert response.status_code == 303
    batch = db_session.get(ImportBatch, batch_id)
    assert (batch.status, batch.source_csv) == ("discarded", None)
    assert "/run" not in page(client.get(f"/admin/imports/{batch_id}"))


def test_with_a_broker_that_does_not_answer_the_batch_stays_queued(
    app, client, db_session, meter, metering
):
    app.config["CELERY_BROKER_URL"] = "redis://127.0.0.1:9/0"  # nothing listens there
    try:
        batch_id = batch_id_of(upload(client, csv_of(meter, *GOOD_AND_BAD)))
        assert start(client, batch_id).status_code == 303
    finally:
        app.config["CELERY_BROKER_URL"] = ""
    assert db_session.get(ImportBatch, batch_id).status == "queued"
    assert importer.process_queued_imports(db_session) == 1


# --- uploads that must never fail -------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "empty.csv", "The file is empty."),
        (b"\r\n" * 10, "blank.csv", "The file is empty."),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
            "photo.png",
            "This is not a CSV text file. Save the readings as CSV and upload that file.",
        ),
        (
            b"PK\x03\x04" + bytes(100),
            "book.xlsx",
            "This is an Excel workbook, not a CSV file. In Excel choose “Save as” and the type “CSV (semicolon delimited)”.",
        ),
        (
            b"hello world\n",
            "notes.txt",
            "No columns found: the file needs five columns (account, meter serial number, zone, date, reading) separated by “;” or “,”.",
        ),
        (
            "Лицевой счёт;Счётчик;Зона;Дата;Показание\n".encode(),
            "only.csv",
            "The file has no readings, only a header.",
        ),
        (b"a;b;c;d;e\n", "header.csv", None),  # not the expected header
        (b'"unterminated;1;2;2026-03-01;5\n' * 3, "quote.csv", None),
        (b"\xff\xfe\x00", "bom.csv", None),
        ("1;2;3;4;5\n".encode("utf-16-be"), "utf16.csv", None),
        (b"\xef\xbb\xbf" + b"\xff" * 50, "bad-utf8.csv", None),
    ],
)
def test_malformed_uploads_are_explained_never_500(
    app, client, db_session, metering, data, filename, message
):
    response = upload(client, data, filename)
    assert response.status_code in (200, 303), page(response)[:1000]
    if response.status_code == 200:
        text = page(response)
        error = re.search(r'id="file-error" class="invalid-feedback">(.*?)</div>', text, re.S)
        assert error, text[:2000]
        if message:
            assert error.group(1).strip() == translated(app, message)
    else:
        assert client.get(response.headers["Location"]).status_code == 200


def test_no_file_chosen(client, db_session, metering):
    response = post_form(client, "/admin/imports/readings", {}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert 'id="file-error"' in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_too_large_and_too_many_lines(app, client, db_session, meter, metering):
    data = csv_of(meter, *(("день", f"{day:02d}.03.2026", str(day)) for day in range(1, 29)))
    app.config.update(READINGS_IMPORT_MAX_BYTES=200)
    try:
        message = translated(app, "The file is too large: at most %(kb)s KB.", kb=1)
        assert message in page(upload(client, data))
    finally:
        del app.config["READINGS_IMPORT_MAX_BYTES"]
    app.config.update(READINGS_IMPORT_MAX_LINES=10)
    try:
        with app.test_request_context(), force_locale("ru"):
            message = csvfiles.too_many_lines(10)
        assert message in page(upload(client, data))
    finally:
        del app.config["READINGS_IMPORT_MAX_LINES"]
    assert db_session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_odd_filenames_are_kept_as_plain_names(client, db_session, meter, metering):
    batch_id = batch_id_of(
        upload(client, csv_of(meter, *GOOD_AND_BAD), filename="../../etc/<b>март.csv")
    )
    batch = db_session.get(ImportBatch, batch_id)
    assert batch.filename == "<b>март.csv"
    assert "<b>март" not in client.get(f"/admin/imports/{batch_id}").get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/imports/999999",
        "/admin/imports/99999999999999999999999",
        "/admin/imports/999999/errors.csv",
    ],
)
def test_unknown_batches_are_404(client, db_session, metering, url):
    assert client.get(url).status_code == 404


def test_unknown_batch_cannot_be_started(client, db_session, metering):
    assert start(client, 999999).status_code == 404


def test_csrf_is_required(client, db_session, meter, metering):
    refused = client.post(
        "/admin/imports/readings",
        data={"file": (io.BytesIO(csv_of(meter, *GOOD_AND_BAD)), "a.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    batch_id = batch_id_of(upload(client, csv_of(meter, *GOOD_AND_BAD)))
    assert client.post(f"/admin/imports/{batch_id}/run").status_code == 400
    assert client.post(f"/admin/imports/{batch_id}/discard").status_code == 400
    assert db_session.get(ImportBatch, batch_id).status == "pending"


def test_list_pages_without_n_plus_one(client, db_session, meter, metering):
    for _ in range(3):
        importer.create_batch(
            db_session, filename="a.csv", data=csv_of(meter, *GOOD_AND_BAD), staff_id=metering.id
        )
    from sqlalchemy import event

    from portal.extensions import db

    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get("/admin/imports/readings").status_code == 200
        few = len(statements)
        for _ in range(5):
            importer.create_batch(
                db_session,
                filename="b.csv",
                data=csv_of(meter, *GOOD_AND_BAD),
                staff_id=metering.id,
            )
        statements.clear()
        assert client.get("/admin/imports/readings").status_code == 200
        assert len(statements) == few
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_a_large_upload_is_checked_in_the_background(
    client, db_session, meter, metering, monkeypatch
):
    monkeypatch.setattr(importer, "INLINE_CHECK_LINES", 1)
    batch_id = batch_id_of(upload(client, csv_of(meter, *GOOD_AND_BAD)))
    waiting = client.get(f"/admin/imports/{batch_id}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in waiting
    assert "<progress" in waiting
    assert "/run" not in waiting
    importer.process_queued_imports(db_session)
    ready = client.get(f"/admin/imports/{batch_id}", headers={"HX-Request": "true"})
    body = ready.get_data(as_text=True)
    assert "hx-trigger" not in body
    assert f"/admin/imports/{batch_id}/run" in body
