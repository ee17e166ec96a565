"""Demo contract applications in every state, made through the service itself (so their
case files, clocks and letters are what a real one would have)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import ApplicationKind, RefusalReason, Segment, Staff, StaffRole, User
from portal.services import applications as service
from portal.services.appeals.files import Upload
from portal.services.applications import lists
from portal.services.notify.outbox import link_context

SCAN = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PEOPLE = [
    ("Новикова Ольга Петровна", "novikova@example.ru", "ул. Ленина, д. 5, кв. 12"),
    ("Петров Игорь Сергеевич", "petrov@example.ru", "ул. Мира, д. 14, кв. 3"),
    ("Сидорова Мария Ивановна", "sidorova@example.ru", "пр. Победы, д. 2, кв. 41"),
    ("Козлов Андрей Викторович", "kozlov@example.ru", "ул. Заводская, д. 7"),
    ("Фёдорова Анна Николаевна", "fedorova@example.ru", "ул. Садовая, д. 21, кв. 8"),
]
# (kind, segment, the steps after registration)
PLAN = [
    (ApplicationKind.REREGISTER, Segment.HOUSEHOLD, []),
    (ApplicationKind.CONTRACT, Segment.HOUSEHOLD, ["check"]),
    (ApplicationKind.REREGISTER, Segment.HOUSEHOLD, ["check", "request"]),
    (ApplicationKind.CHANGE, Segment.HOUSEHOLD, ["check", "request", "deliver"]),
    (ApplicationKind.CONTRACT, Segment.LEGAL, ["check", "accept"]),
    (ApplicationKind.CONTRACT, Segment.HOUSEHOLD, ["check", "accept", "issue"]),
    (ApplicationKind.CHANGE, Segment.LEGAL, ["check", "accept", "issue", "disagree"]),
    (ApplicationKind.REREGISTER, Segment.HOUSEHOLD, ["check", "accept", "issue", "sign"]),
    (ApplicationKind.METER_CONDITIONS, Segment.HOUSEHOLD, ["check", "conditions"]),
    (ApplicationKind.CONTRACT, Segment.HOUSEHOLD, ["check", "refuse"]),
    (ApplicationKind.REREGISTER, Segment.HOUSEHOLD, ["check", "refuse", "complain"]),
    (ApplicationKind.CHANGE, Segment.HOUSEHOLD, ["withdraw"]),
]


def _uploads(session, kind, segment) -> dict:
    return {
        item.id: [Upload("scan.pdf", SCAN)]
        for item in service.checklist(session, kind, segment)
        if item.required
    }


def _run(session, application, step, staff, reason) -> None:
    steps = {
        "check": lambda: service.start_check(session, application, staff),
        "request": lambda: service.request_documents(
            session,
            application,
            staff,
            "Пришлите, пожалуйста, выписку из ЕГРН: в приложенной не видна дата.",
        ),
        "deliver": lambda: service.deliver_documents(session, application),
        "accept": lambda: service.accept(
            session, application, staff, "Документы полные, договор будет подготовлен."
        ),
        "issue": lambda: service.issue_contract(session, application, staff),
        "disagree": lambda: service.disagree(
            session, application, "Просим изложить п. 4.2 в редакции: «оплата до 15-го числа»."
        ),
        "sign": lambda: service.sign(session, application, staff),
        "conditions": lambda: service.issue_conditions(
            session,
            application,
            staff,
            "Установить прибор учёта класса точности 1,0 на границе балансовой принадлежности.",
        ),
        "refuse": lambda: service.refuse(
            session,
            application,
            staff,
            reason.id,
            "В выписке из ЕГРН собственником указано другое лицо.",
        ),
        "complain": lambda: service.complain(
            session, application, "Я собственник с ноября, выписка обновлена."
        ),
        "withdraw": lambda: service.withdraw(session, application),
    }
    steps[step]()


def seed(session: Session) -> int:
    lists.fill_standard_lists(session)
    staff = session.scalar(select(Staff).where(Staff.role == StaffRole.OPERATOR).order_by(Staff.id))
    reason = session.scalar(select(RefusalReason).filter_by(code="no_right"))
    resident = session.scalar(select(User).where(User.email == "resident@demo.portal"))
    count = 0
    with link_context():
        for index, (kind, segment, steps) in enumerate(PLAN):
            name, email, address = PEOPLE[index % len(PEOPLE)]
            applicant = service.Applicant(
                name=name,
                email=email,
                address=f"г. Выкса, {address}",
                organisation_name="ООО «Выксунский хлеб»" if segment is Segment.LEGAL else None,
                inn="5247000012" if segment is Segment.LEGAL else None,
                details="Прошу переоформить лицевой счёт в связи с покупкой квартиры."
                if kind is ApplicationKind.REREGISTER
                else "",
            )
            uploads = {} if "request" in steps else _uploads(session, kind, segment)
            new = service.NewApplication(
                kind=kind,
                segment=segment,
                applicant=applicant,
                user=resident if index % 4 == 0 else None,
                uploads=uploads,
            )
            application = service.register(session, new)
            for step in steps:
                _run(session, application, step, staff, reason)
            count += 1
    session.commit()
    return count
