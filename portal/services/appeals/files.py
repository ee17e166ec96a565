"""Files attached to appeals: checked by what they contain, kept outside ``static/``.

Only PDF, JPEG and PNG are taken, told by their first bytes, never by the name or the type
the browser claims: a renamed executable or an HTML page is refused. The stored name gets
the extension of what the file is. The bytes live under ``APPEAL_FILES_DIR`` (default:
the instance folder), named by a random key; pages serve them only to the customer who
filed the appeal and to staff, as a download (``portal.appeals`` / ``admin.appeals``).
"""

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session

from portal.models import AppealAttachment
from portal.services import settings
from portal.services.errors import DomainError

MAX_FILES = 5
MAX_NAME_LENGTH = 120

# (first bytes, MIME type, extension)
SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def kind_of(data: bytes) -> tuple[str, str] | None:
    """(MIME type, extension) of a PDF, JPEG or PNG; None for anything else."""
    for magic, mime, extension in SIGNATURES:
        if data.startswith(magic):
            return mime, extension
    return None


def safe_name(filename: str, extension: str) -> str:
    """The name a person gave, without a path or odd characters, ending as what it is."""
    stem = os.path.basename((filename or "").replace("\\", "/"))
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    stem = re.sub(r"[^\w\- ]+", "_", stem).strip(" ._") or "file"
    return f"{stem[:MAX_NAME_LENGTH]}.{extension}"


def check(session: Session, uploads: list[Upload], field: str = "files") -> list[tuple]:
    """Each upload as (upload, mime, extension); a DomainError naming the file that is refused."""
    uploads = [upload for upload in uploads if upload.filename or upload.data]
    if len(uploads) > MAX_FILES:
        raise DomainError(
            ngettext("Attach at most %(num)d file.", "Attach at most %(num)d files.", MAX_FILES),
            field,
        )
    limit_kb = settings.get(session, "appeals.attachment_max_kb")
    checked = []
    for upload in uploads:
        if not upload.data:
            raise DomainError(_("The file %(name)s is empty.", name=upload.filename), field)
        if len(upload.data) > limit_kb * 1024:
            raise DomainError(
                _(
                    "The file %(name)s is larger than %(size)s KB.",
                    name=upload.filename,
                    size=limit_kb,
                ),
                field,
            )
        kind = kind_of(upload.data)
        if kind is None:
            raise DomainError(
                _(
                    "The file %(name)s is not a PDF, JPEG or PNG document: only these are accepted.",
                    name=upload.filename,
                ),
                field,
            )
        checked.append((upload, *kind))
    return checked


def storage_dir() -> Path:
    folder = current_app.config.get("APPEAL_FILES_DIR") or os.path.join(
        current_app.instance_path, "appeal_files"
    )
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(session: Session, appeal, checked: list[tuple], *, event=None, staff_id=None) -> list:
    """Write the checked files and add their rows to the appeal (and to ``event``)."""
    rows = []
    for upload, mime, extension in checked:
        key = secrets.token_hex(16)
        (storage_dir() / key).write_bytes(upload.data)
        row = AppealAttachment(
            appeal=appeal,
            event=event,
            filename=safe_name(upload.filename, extension),
            content_type=mime,
            size=len(upload.data),
            sha256=hashlib.sha256(upload.data).hexdigest(),
            storage_key=key,
            uploaded_by_staff_id=staff_id,
        )
        session.add(row)
        rows.append(row)
    return rows


def read(attachment: AppealAttachment) -> bytes:
    return (storage_dir() / attachment.storage_key).read_bytes()
