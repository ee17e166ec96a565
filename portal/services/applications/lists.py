"""The lists staff keep: the documents each kind of application asks of each segment (with
why), and the closed list of refusal reasons with their legal grounds. The standard lists
below (ПП РФ № 442 п. 34 for contracts with organisations, ПП РФ № 354 п. 6–7 and 19 for
households, 004 table 1, 003) fill an empty installation once; staff change them after.
"""

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import ApplicationKind, ChecklistItem, RefusalReason, Segment
from portal.services.errors import DomainError

K, S = ApplicationKind, Segment
PASSPORT = (
    "Паспорт заявителя",
    "Удостоверяет личность того, кто заключает договор (ПП РФ № 354 п. 19).",
)
OWNERSHIP = (
    "Выписка из ЕГРН или иной документ о праве на помещение",
    "Договор заключается с собственником или законным владельцем (ГК РФ ст. 539, ПП РФ № 354 п. 6).",
)
EGRUL = ("Выписка из ЕГРЮЛ (ЕГРИП)", "Подтверждает сведения об организации (ПП РФ № 442 п. 34).")
AUTHORITY = (
    "Документ о полномочиях подписанта (приказ, доверенность)",
    "Договор подписывает лицо, имеющее на это право (ПП РФ № 442 п. 34).",
)
CONNECTION = (
    "Акт о технологическом присоединении",
    "Подтверждает присоединение энергопринимающих устройств к сети (ПП РФ № 442 п. 34).",
)
METER_DOCS = (
    "Документы на прибор учёта (паспорт, акт допуска)",
    "Нужны для учёта по прибору с первого месяца; без них — по нормативу.",
)

STANDARD_CHECKLIST = {
    (K.CONTRACT, S.HOUSEHOLD): [PASSPORT, OWNERSHIP, (*METER_DOCS, False)],
    (K.REREGISTER, S.HOUSEHOLD): [
        PASSPORT,
        OWNERSHIP,
        (
            "Фото прибора учёта с показаниями на дату перехода права",
            "Разделяет потребление прежнего и нового собственника.",
            False,
        ),
    ],
    (K.CHANGE, S.HOUSEHOLD): [
        PASSPORT,
        (
            "Документ, подтверждающий изменение (справка о зарегистрированных, техпаспорт)",
            "Число жителей и площадь меняют начисления по нормативу (ПП РФ № 354 п. 56(2)).",
        ),
    ],
    (K.METER_CONDITIONS, S.HOUSEHOLD): [PASSPORT, OWNERSHIP],
    (K.CONTRACT, S.LEGAL): [EGRUL, AUTHORITY, OWNERSHIP, CONNECTION, (*METER_DOCS, False)],
    (K.REREGISTER, S.LEGAL): [EGRUL, AUTHORITY, OWNERSHIP],
    (K.CHANGE, S.LEGAL): [
        AUTHORITY,
        (
            "Письмо с обоснованием изменения и подтверждающие документы (письмо банка о реквизитах)",
            "Условия договора меняются по письменному заявлению с обоснованием (004, табл. 2).",
        ),
    ],
    (K.METER_CONDITIONS, S.LEGAL): [
        AUTHORITY,
        OWNERSHIP,
        ("Однолинейная схема", "Показывает границу балансовой принадлежности.", False),
    ],
}

STANDARD_REASONS = [
    ("incomplete", "Не представлены обязательные документы", "ПП РФ № 442 п. 34, 39; 003"),
    (
        "no_right",
        "Заявитель не собственник и не законный владелец объекта",
        "ГК РФ ст. 539; ПП РФ № 354 п. 6",
    ),
    (
        "no_connection",
        "Нет технологического присоединения к сети",
        "ПП РФ № 442 п. 34; ФЗ № 35-ФЗ ст. 26",
    ),
    ("outside_area", "Объект вне зоны деятельности поставщика", "ПП РФ № 442 п. 32"),
    ("false_data", "Представленные сведения недостоверны", "003, основания для отказа, п. 1"),
]


def fill_standard_lists(session: Session) -> int:
    """Add the standard lists where none are kept yet; the number of rows added."""
    added = 0
    if not session.scalar(select(func.count()).select_from(ChecklistItem)):
        for (kind, segment), rows in STANDARD_CHECKLIST.items():
            for position, row in enumerate(rows, 1):
                title, reason, *rest = row
                required = rest[0] if rest else True
                session.add(
                    ChecklistItem(
                        kind=kind,
                        segment=segment,
                        title=title,
                        reason=reason,
                        required=required,
                        position=position,
                    )
                )
                added += 1
    if not session.scalar(select(func.count()).select_from(RefusalReason)):
        for code, title, ground in STANDARD_REASONS:
            session.add(RefusalReason(code=code, title=title, legal_ground=ground))
            added += 1
    session.flush()
    return added


def all_items(session: Session) -> list[ChecklistItem]:
    return list(
        session.scalars(
            select(ChecklistItem).order_by(
                ChecklistItem.kind, ChecklistItem.segment, ChecklistItem.position, ChecklistItem.id
            )
        )
    )


def add_item(
    session: Session, kind, segment, title: str, reason: str, required: bool, staff
) -> ChecklistItem:
    title, reason = (title or "").strip(), (reason or "").strip()
    if not title:
        raise DomainError(_("Name the document."), "title")
    if not reason:
        raise DomainError(_("Say why the document is needed: customers see it."), "reason")
    position = (
        session.scalar(
            select(func.coalesce(func.max(ChecklistItem.position), 0)).filter_by(
                kind=kind, segment=segment
            )
        )
        + 1
    )
    item = ChecklistItem(
        kind=kind,
        segment=segment,
        title=title[:300],
        reason=reason,
        required=required,
        position=position,
        updated_by_id=staff.id,
    )
    session.add(item)
    session.flush()
    return item


def add_reason(session: Session, code: str, title: str, ground: str) -> RefusalReason:
    code, title, ground = (
        (code or "").strip().lower(),
        (title or "").strip(),
        (ground or "").strip(),
    )
    if not title:
        raise DomainError(_("Write the reason."), "title")
    if not ground:
        raise DomainError(_("A refusal needs its legal ground."), "legal_ground")
    if not code or session.scalar(select(RefusalReason.id).filter_by(code=code)):
        raise DomainError(_("Give a short code not used yet."), "code")
    reason = RefusalReason(code=code[:40], title=title[:300], legal_ground=ground)
    session.add(reason)
    session.flush()
    return reason
