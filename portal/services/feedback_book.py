"""The electronic book of complaints and suggestions (002 §8.2, 004 §13).

Entries are numbered 1, 2, 3… without gaps and are never changed or deleted: the ORM
refuses an UPDATE or DELETE of an entry, and each entry holds the SHA-256 of the previous
one in its own hash, so a row altered behind the application's back (raw SQL) breaks the
chain, which ``verify`` finds and the back office shows. The number is taken from the
book's head row in the writing transaction, so two entries at once get consecutive
numbers and a rolled-back entry leaves no gap (its number is rolled back with it).

A complaint or a suggestion becomes an appeal (``portal.services.appeals.register``) with
the appeals' own terms; its answer is the entry's answer. Thanks need none.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import (
    AnswerChannel,
    AppealChannel,
    AppealKind,
    AppealTopic,
    FeedbackBookHead,
    FeedbackEntry,
    FeedbackKind,
    FeedbackSource,
    Staff,
    User,
)
from portal.services import appeals
from portal.services.clock import utcnow
from portal.services.errors import FieldErrors

MAX_TEXT = 5000
HEAD_ID = 1
GENESIS = "0" * 64  # the "previous hash" of entry No. 1

APPEAL_KINDS = {
    FeedbackKind.COMPLAINT: AppealKind.COMPLAINT,
    FeedbackKind.PROPOSAL: AppealKind.PROPOSAL,
}
CHANNELS = {
    FeedbackSource.PORTAL: AppealChannel.WEB,
    FeedbackSource.TABLET: AppealChannel.OFFICE,
    FeedbackSource.PAPER: AppealChannel.OFFICE,
}


@dataclass
class NewEntry:
    kind: FeedbackKind
    source: FeedbackSource
    text: str
    author_name: str
    email: str = ""
    phone: str = ""
    office_id: int | None = None
    user: User | None = None
    staff: Staff | None = None
    topic: AppealTopic = AppealTopic.OTHER


def entry_digest(entry: FeedbackEntry) -> str:
    """The SHA-256 of everything the entry says, and of the previous entry's hash."""
    fields = [
        entry.number,
        entry.created_at.isoformat(),
        entry.kind.value,
        entry.source.value,
        entry.office_id,
        entry.user_id,
        entry.staff_id,
        entry.author_name,
        entry.email,
        entry.phone,
        entry.text,
        entry.appeal_id,
        entry.prev_hash,
    ]
    joined = "\x1f".join("" if value is None else str(value) for value in fields)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def _check(new: NewEntry) -> None:
    errors = {}
    if not new.author_name.strip():
        errors["author_name"] = _("Enter your name.")
    text = new.text.strip()
    if not text:
        errors["text"] = _("Write your complaint, suggestion or thanks.")
    elif len(text) > MAX_TEXT:
        errors["text"] = _("At most %(n)s characters.", n=MAX_TEXT)
    if new.source == FeedbackSource.TABLET and new.office_id is None:
        errors["office_id"] = _("Choose the office.")
    if errors:
        raise FieldErrors(errors)


def _take_number(session: Session) -> tuple[int, str]:
    """The next number and the previous hash, with the head row locked until the commit."""
    bump = (
        update(FeedbackBookHead)
        .where(FeedbackBookHead.id == HEAD_ID)
        .values(last_number=FeedbackBookHead.last_number + 1)
        .returning(FeedbackBookHead.last_number, FeedbackBookHead.last_hash)
    )
    row = session.execute(bump).first()
    if row is None:
        try:
            with session.begin_nested():
                session.execute(
                    insert(FeedbackBookHead).values(id=HEAD_ID, last_number=0, last_hash=GENESIS)
                )
        except IntegrityError:  # another transaction created the head a moment ago
            pass
        row = session.execute(bump).first()
    return row.last_number, row.last_hash


def _appeal_for(session: Session, new: NewEntry):
    kind = APPEAL_KINDS.get(new.kind)
    if kind is None:
        return None
    return appeals.register(
        session,
        appeals.NewAppeal(
            kind=kind,
            topic=new.topic,
            text=new.text.strip(),
            channel=CHANNELS[new.source],
            answer_channel=AnswerChannel.EMAIL if new.email else AnswerChannel.PORTAL,
        ),
        appeals.Applicant(
            name=new.author_name.strip(),
            email=new.email or None,
            phone=new.phone or None,
            user=new.user,
        ),
        staff=new.staff,
    )


def add_entry(session: Session, new: NewEntry, at: datetime | None = None) -> FeedbackEntry:
    """Write the next entry (and the appeal it becomes); the caller commits. ``at``: when
    it was written, for demo data of past months (entries must still come in order)."""
    _check(new)
    appeal = _appeal_for(session, new)
    number, previous = _take_number(session)
    entry = FeedbackEntry(
        number=number,
        created_at=(at or utcnow()).replace(microsecond=0),
        kind=new.kind,
        source=new.source,
        office_id=new.office_id,
        user_id=new.user.id if new.user else None,
        staff_id=new.staff.id if new.staff else None,
        author_name=new.author_name.strip(),
        email=new.email.strip(),
        phone=new.phone.strip(),
        text=new.text.strip(),
        appeal_id=appeal.id if appeal else None,
        prev_hash=previous,
    )
    entry.entry_hash = entry_digest(entry)
    session.add(entry)
    session.execute(
        update(FeedbackBookHead)
        .where(FeedbackBookHead.id == HEAD_ID)
        .values(last_hash=entry.entry_hash)
    )
    session.flush()
    return entry


@dataclass
class ChainCheck:
    entries: int
    broken_at: int | None  # the number of the first entry that does not match, or None
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify(session: Session) -> ChainCheck:
    """Walk the book in number order: numbers 1, 2, 3…, each previous hash the hash before,
    each hash recomputed from the row; then the head must name the last entry."""
    previous, expected, count = GENESIS, 1, 0
    rows = session.execute(
        select(FeedbackEntry).order_by(FeedbackEntry.number).execution_options(yield_per=500)
    ).scalars()
    for entry in rows:
        count += 1
        if entry.number != expected:
            return ChainCheck(count, expected, _("an entry is missing"))
        if entry.prev_hash != previous:
            return ChainCheck(count, entry.number, _("the link to the previous entry is broken"))
        if entry_digest(entry) != entry.entry_hash:
            return ChainCheck(count, entry.number, _("the entry was changed after it was written"))
        previous, expected = entry.entry_hash, expected + 1
    head = session.get(FeedbackBookHead, HEAD_ID)
    if head is not None and (head.last_number != count or head.last_hash != previous):
        return ChainCheck(count, count + 1, _("the last entries are missing"))
    return ChainCheck(count, None)


def entries_query():
    return select(FeedbackEntry).order_by(FeedbackEntry.number.desc())
