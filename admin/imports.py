"""Imports of remote-metering (АСКУЭ) readings from CSV: upload, preview, start, progress,
totals and the refused lines as a CSV file to correct and upload again.

The import itself runs in the background: a Celery worker when a broker is configured
(``REDIS_URL`` / ``CELERY_BROKER_URL``), otherwise the embedded ``flask scheduler``, which
picks up queued imports on each round (and so does Celery beat, should a message be lost).
"""

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from sqlalchemy import select

from admin import bp
from admin.access import staff_required
from portal.extensions import db
from portal.models import ImportStatus, Staff, Zone
from portal.services import exports
from portal.services import readings_import as importer
from portal.services.errors import DomainError
from portal.web import (
    client_ip,
    page_of,
    page_or_fragment,
    receive_upload,
    redirect_after_post,
    send_download,
    staff_member,
)

PAGE_SIZE = 20


def within_size_limit(form, field) -> None:
    """The upload limit (app config READINGS_IMPORT_MAX_BYTES) as a form validator."""
    max_bytes = importer.limits().bytes
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
        "REASONS": importer.REASONS,
        "COLUMN_LABELS": importer.COLUMN_LABELS,
        "ImportStatus": ImportStatus,
        "Zone": Zone,
        "is_active": importer.is_active,
        "is_checking": importer.is_checking,
    }


def _to_worker(batch_id: int) -> None:
    """After the commit: the batch is handed to a worker (or waits for the scheduler)."""
    importer.send_to_worker(current_app.config.get("CELERY_BROKER_URL"), batch_id)


@bp.route("/imports/readings", methods=["GET", "POST"])
@staff_required("readings.import")
def imports():
    form = UploadForm()
    batch = receive_upload(form, importer.create_batch)
    if batch is not None:
        db.session.commit()
        if importer.is_checking(batch):  # a large file: its lines are checked in the background
            _to_worker(batch.id)
        return redirect_after_post("admin.import_batch", batch_id=batch.id)
    page = page_of(importer.batches(db.session), PAGE_SIZE)
    limits = importer.limits()
    return render_template(
        "admin/imports/index.html",
        form=form,
        page=page,
        names=staff_names(db.session, page.items),
        max_mb=limits.bytes // (1024 * 1024),
        max_lines=limits.lines,
        **template_context(),
    )


@bp.route("/imports/<int:batch_id>")
@staff_required("readings.import")
def import_batch(batch_id: int):
    batch = importer.get_batch(db.session, batch_id)
    context = {"batch": batch, **template_context()}
    if batch.status in (ImportStatus.PENDING, ImportStatus.DONE, ImportStatus.FAILED):
        context["preview"] = importer.preview(importer.errors_text(db.session, batch_id))
    if batch.status == ImportStatus.PENDING:
        context["same_file"] = importer.same_file_batches(db.session, batch)
    if batch.status in importer.STARTABLE_STATUSES:
        context["action_form"] = ActionForm()
    context["uploaded_by"] = staff_names(db.session, [batch]).get(batch.staff_id)
    return page_or_fragment("admin/imports/batch.html", "admin/imports/_status.html", **context)


def _batch_action(batch_id: int, action) -> DomainError | None:
    """Start or discard a batch (a POST with its CSRF token); the service's refusal, if any."""
    importer.get_batch(db.session, batch_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        action(db.session, batch_id, staff_id=staff_member().id, ip=client_ip())
    except DomainError as error:
        db.session.rollback()
        return error
    db.session.commit()
    return None


@bp.route("/imports/<int:batch_id>/run", methods=["POST"])
@staff_required("readings.import")
def import_run(batch_id: int):
    refused = _batch_action(batch_id, importer.queue)
    if refused is not None:
        flash(refused.message, "warning")
    else:
        _to_worker(batch_id)
        flash(_("The import has started. It goes on if you leave this page."), "success")
    return redirect_after_post("admin.import_batch", batch_id=batch_id)


@bp.route("/imports/<int:batch_id>/discard", methods=["POST"])
@staff_required("readings.import")
def import_discard(batch_id: int):
    refused = _batch_action(batch_id, importer.discard)
    if refused is not None:
        flash(refused.message, "warning")
        return redirect_after_post("admin.import_batch", batch_id=batch_id)
    flash(_("The file is discarded; nothing was imported."), "info")
    return redirect_after_post("admin.imports")


@bp.route("/imports/<int:batch_id>/errors.csv")
@staff_required("readings.import")
def import_errors(batch_id: int):
    batch = importer.get_batch(db.session, batch_id)
    stored = importer.errors_text(db.session, batch_id)
    if not stored:
        abort(404)
    body = importer.errors_file(stored)
    importer.record_download(db.session, batch, staff_member().id, client_ip())
    db.session.commit()
    return send_download(body, f"import-{batch_id}-errors.csv", exports.CSV_MIMETYPE)


@bp.route("/imports")
@staff_required("readings.import")
def imports_list():
    return redirect(url_for("admin.imports"))
