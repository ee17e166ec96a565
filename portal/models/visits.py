"""Service offices where customers are received."""

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import Base


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(400))
    phones: Mapped[str] = mapped_column(String(200))
    district: Mapped[str | None] = mapped_column(String(100))
    # {"mon": ["09:00", "18:00", "13:00", "14:00"], ...}: opens, closes, break start, break end
    weekly_plan: Mapped[dict] = mapped_column(JSON)
    windows: Mapped[int] = mapped_column(Integer, default=1)
