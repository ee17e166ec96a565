"""Exceptions to the production calendar that administrators keep (workdays service)."""

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, Choice, CreatedAtMixin

MAX_NOTE_LENGTH = 200


class DayKind(Choice):
    """What an exception makes a day (``CalendarDay.working``), as the calendar form offers."""

    OFF = "off", _l("Day off"), "text-bg-danger"
    WORKING = "working", _l("Working day"), "text-bg-success"

    @classmethod
    def of(cls, working: bool) -> "DayKind":
        return cls.WORKING if working else cls.OFF


class CalendarDay(CreatedAtMixin, Base):
    """A day the calendar library gets wrong or does not know yet: a day off moved by a
    Government decree, a regional holiday, a working Saturday. ``working`` is what the day
    is, whatever the library says; ``note`` gives the basis (the decree's number and date)."""

    __tablename__ = "calendar_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(MAX_NOTE_LENGTH))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    created_by: Mapped["Staff | None"] = relationship()  # noqa: F821

    @property
    def kind(self) -> DayKind:
        return DayKind.of(self.working)
