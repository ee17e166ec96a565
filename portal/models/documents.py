"""Documents issued to legal-entity customers for a contract and a billing period: the
invoice (счёт на оплату), the VAT invoice (счёт-фактура), the act (акт) or one УПД instead
of the last two. Each is rendered once, when issued, and kept as bytes: every download is
the same file. A correction is a new document with a number of its own that names the one
it replaces."""

from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal.models.base import Base, Choice, ChoiceType, CreatedAtMixin


class DocumentKind(Choice):
    INVOICE = "invoice", _l("Invoice")
    VAT_INVOICE = "vat_invoice", _l("VAT invoice")
    ACT = "act", _l("Act of services")
    UPD = "upd", _l("Universal transfer document")

    @property
    def prefix(self) -> str:
        """The letters before a document's number (Russian: printed on the document)."""
        return _PREFIXES[self]


_PREFIXES = {
    DocumentKind.INVOICE: "СЧ",
    DocumentKind.VAT_INVOICE: "СФ",
    DocumentKind.ACT: "АКТ",
    DocumentKind.UPD: "УПД",
}


class DocumentCounter(Base):
    """The last number given to a kind of document in a year. Taken with an UPDATE in the
    transaction that issues the document, so numbers never skip nor repeat: a rolled-back
    issue gives its number back, and a second issue waits for the first one's commit."""

    __tablename__ = "document_counters"

    kind: Mapped[DocumentKind] = mapped_column(ChoiceType(DocumentKind, 12), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ContractDocument(CreatedAtMixin, Base):
    __tablename__ = "contract_documents"
    __table_args__ = (
        UniqueConstraint("kind", "year", "sequence"),
        # One original (revision 0) and one of each correction per contract, month and
        # kind: two workers issuing the same contract at once cannot both succeed.
        UniqueConstraint("contract_id", "period", "kind", "revision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    period: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[DocumentKind] = mapped_column(ChoiceType(DocumentKind, 12))
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    issued_on: Mapped[date] = mapped_column(Date)
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    net: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # without VAT
    vat: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # what the document asks to pay
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("contract_documents.id"))
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Both empty between the numbering and the rendering of a document (a moment, or until
    # contract_documents.render_missing when a worker stopped in between).
    sha256: Mapped[str | None] = mapped_column(String(64))
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))

    contract: Mapped["Contract"] = relationship()  # noqa: F821
    replaces: Mapped["ContractDocument | None"] = relationship(remote_side=[id])

    @property
    def filename(self) -> str:
        return f"{self.kind.value}-{self.year}-{self.sequence:06d}.pdf"
