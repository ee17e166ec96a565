"""Imports of remote-metering (АСКУЭ) readings from CSV: upload, preview, start, progress,
totals and the refused lines as a CSV file to correct and upload again.

The import itself runs in the background: a Celery worker when a broker is configured
(``REDIS_URL`` / ``CELERY_BROKER_URL``), otherwise the embedded ``flask scheduler``, which
picks up queued imports on each round (and so does Celery beat, should a message be lost).
"""

import io

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from sqlalchemy import select

from admin import bp
from admin.access import staff_required
from admin.customers import page_of, staff_member
from portal.extensions import db, htmx
from portal.formatting import ZONE_LABELS
from portal.models import Staff
from portal.services import exports
from portal.services import readings_import as importer
from portal.services.errors import DomainError, NotFound
from portal.web import client_ip, receive_upload, redirect_after_post

PAGE_SIZE = 20

STATUS_LABELS = {
    "uploaded": _l("waiting for the check"),
    "checking": _l("checking"),
    "pending": _l("not started"),
    "queued": _l("queued"),
    "running": _l("importing"),
    "done": _l("done"),
    "failed": _l("failed"),
    "discarded": _l("discarded"),
}
STATUS_BADGES = {
    "uploaded": "text-bg-info",
    "checking": "text-bg-info",
    "pending": "text-bg-warning",
    "queued": "text-bg-info",
    "running": "text-bg-info",
    "done": "text-bg-success",
    "failed": "text-bg-danger",
    "discarded": "text-bg-secondary",
}


def within_size_limit(form, field) -> None:
    """The upload limit (app config READINGS_IMPORT_MAX_BYTES) as a form validator."""
    max_bytes = importer.limits()[0]
    FileSize(max_bytes, message=importer.too_large_message(max_bytes))(form, field)


class UploadForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(_l("Choose the file to upload.")), within_size_limit],
        description=_l(
            "Five columns: account, meter serial number, zone, date, reading. UTF-8 or Windows-1251, separated by “;” or “,”; a header line is optional."
        ),
    )


class ActionForm(FlaskForm):
    """A button that changes a batch: only the CSRF token."""


# --- views -----------------------------------------------------------------------------


def staff_names(session, batches) -> dict[int, str]:
    ids = {batch.staff_id for batch in batches if batch.staff_id}
    if not ids:
        return {}
    return dict(session.execute(select(Staff.id, Staff.full_name).where(Staff.id.in_(ids))).all())


def template_context() -> dict:
    return {
        "STATUS_LABELS": STATUS_LABELS,
        "STATUS_BADGES": STATUS_BADGES,
        "REASONS": importer.REASONS,
        "ZONE_LABELS": ZONE_LABELS,
        "COLUMN_LABELS": importer.COLUMN_LABELS,
    }


@bp.route("/imports/readings", methods=["GET", "POST"])
@staff_required("readings.import")
def imports():
    form = UploadForm()
    batch = receive_upload(form, importer.create_batch)
    if batch is not None:
        if batch.status == "uploaded":  # a large file: its lines are checked in the background
            importer.send_to_worker(current_app.config.get("CELERY_BROKER_URL"), batch.id)
        return redirect_after_post("admin.import_batch", batch_id=batch.id)
    page = page_of(importer.batches(db.session), PAGE_SIZE)
    max_bytes, max_lines = importer.limits()
    return render_template(
        "admin/imports/index.html",
        form=form,
        page=page,
        names=staff_names(db.session, page.items),
        max_mb=max_bytes // (1024 * 1024),
        max_lines=max_lines,
        **template_context(),
    )


def load(batch_id: int):
    try:
        return importer.get_batch(db.session, batch_id)
    except NotFound:
        abort(404)


@bp.route("/imports/<int:batch_id>")
@staff_required("readings.import")
def import_batch(batch_id: int):
    batch = load(batch_id)
    context = {"batch": batch, **template_context()}
    if batch.status in ("pending", "done", "failed"):
        context["preview"] = importer.preview(importer.errors_text(db.session, batch_id))
    if batch.status == "pending":
        context["same_file"] = importer.same_file_batches(db.session, batch)
        context["action_form"] = ActionForm()
    if batch.status == "failed":
        context["action_form"] = ActionForm()
    context["uploaded_by"] = staff_names(db.session, [batch]).get(batch.staff_id)
    if htmx and not htmx.boosted and not htmx.history_restore_request:
        return render_template("admin/imports/_status.html", **context)
    return render_template("admin/imports/batch.html", **context)


@bp.route("/imports/<int:batch_id>/run", methods=["POST"])
@staff_required("readings.import")
def import_run(batch_id: int):
    load(batch_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        importer.queue(db.session, batch_id, staff_id=staff_member().id, ip=client_ip())
    except DomainError as error:
        flash(error.message, "warning")
    else:
        importer.send_to_worker(current_app.config.get("CELERY_BROKER_URL"), batch_id)
        flash(_("The import has started. It goes on if you leave this page."), "success")
    return redirect_after_post("admin.import_batch", batch_id=batch_id)


@bp.route("/imports/<int:batch_id>/discard", methods=["POST"])
@staff_required("readings.import")
def import_discard(batch_id: int):
    load(batch_id)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        importer.discard(db.session, batch_id, staff_id=staff_member().id, ip=client_ip())
    except DomainError as error:
        flash(error.message, "warning")
        return redirect_after_post("admin.import_batch", batch_id=batch_id)
    flash(_("The file is discarded; nothing was imported."), "info")
    return redirect_after_post("admin.imports")


@bp.route("/imports/<int:batch_id>/errors.csv")
@staff_required("readings.import")
def import_errors(batch_id: int):
    batch = load(batch_id)
    stored = importer.errors_text(db.session, batch_id)
    if not stored:
        abort(404)
    body = importer.errors_file(stored)
    importer.record_download(db.session, batch, staff_member().id, client_ip())
    return send_file(
        io.BytesIO(body),
        mimetype=exports.CSV_MIMETYPE,
        as_attachment=True,
        download_name=f"import-{batch_id}-errors.csv",
    )


@bp.route("/imports")
@staff_required("readings.import")
def imports_list():
    return redirect(url_for("admin.imports"))
