"""Demo appeals (``portal.services.demo.seed_appeals``): rows with believable timelines in
every state, their terms counted by the same rules as real ones (``deadlines``)."""

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    AccountLink,
    AnswerChannel,
    Appeal,
    AppealChannel,
    AppealCounter,
    AppealEvent,
    AppealEventKind,
    AppealKind,
    AppealStatus,
    AppealTopic,
    Customer,
    NoActionReason,
    Staff,
    StaffRole,
    User,
)
from portal.services import workdays
from portal.services.appeals import deadlines
from portal.services.clock import supplier_zone

KIND_BY_TOPIC = {
    "billing": (AppealKind.COMPLAINT, AppealKind.INFORMATION, AppealKind.APPLICATION),
    "readings": (AppealKind.COMPLAINT, AppealKind.APPLICATION),
    "supply_quality": (AppealKind.COMPLAINT,),
    "meter": (AppealKind.APPLICATION, AppealKind.INFORMATION),
    "staff": (AppealKind.COMPLAINT,),
    "other": (AppealKind.THANKS, AppealKind.PROPOSAL),
}
CHANNEL_WEIGHTS = (
    (AppealChannel.WEB, 45),
    (AppealChannel.PHONE, 15),
    (AppealChannel.EMAIL, 15),
    (AppealChannel.POST, 10),
    (AppealChannel.OFFICE, 10),
    (AppealChannel.VOICEMAIL, 5),
)


def _moment(day, rng) -> datetime:
    local = datetime.combine(day, time(rng.randint(8, 19), rng.randint(0, 59)), supplier_zone())
    return local.astimezone(UTC)


class _Builder:
    def __init__(self, session: Session, rng, today, texts, answers):
        self.session, self.rng, self.today = session, rng, today
        self.texts, self.answers = texts, answers
        self.calendar = workdays.calendar(session)
        staff = list(session.scalars(select(Staff).where(Staff.active.is_(True))))
        self.executors = [
            s
            for s in staff
            if s.role in (StaffRole.OPERATOR, StaffRole.METERING, StaffRole.BILLING)
        ]
        self.signers = [s for s in staff if s.role == StaffRole.SUPERVISOR] or staff
        self.users = list(
            session.scalars(select(User).join(AccountLink).distinct().order_by(User.id))
        )
        self.links = {
            user_id: account_id
            for user_id, account_id in session.execute(
                select(AccountLink.user_id, AccountLink.account_id)
            )
        }
        self.customers = list(session.scalars(select(Customer).order_by(Customer.id).limit(200)))

    def applicant(self, appeal: Appeal, index: int) -> None:
        if appeal.channel == AppealChannel.WEB and self.users:
            user = self.users[0] if index < 8 else self.rng.choice(self.users)
            appeal.user_id, appeal.applicant_name = user.id, user.full_name
            appeal.applicant_email, appeal.applicant_phone = user.email, user.phone
            appeal.account_id = self.links.get(user.id)
            return
        customer = self.rng.choice(self.customers)
        appeal.customer_id, appeal.applicant_name = customer.id, customer.full_name
        appeal.applicant_phone = customer.phone
        appeal.applicant_email = customer.email if appeal.channel == AppealChannel.EMAIL else None
        appeal.postal_address = customer.postal_address or "607060, г. Выкса"
        if appeal.answer_channel == AnswerChannel.EMAIL and not appeal.applicant_email:
            appeal.answer_channel = AnswerChannel.POST

    def term(self, appeal: Appeal, start) -> None:
        term = deadlines.term_for(
            self.session,
            appeal.kind,
            appeal.topic,
            appeal.channel,
            phone_left=bool(appeal.applicant_phone),
        )
        appeal.term_start_on, appeal.term_days, appeal.term_working = start, term.days, term.working
        appeal.extension_days = min(term.extension_days, max(term.max_total_days - term.days, 0))
        appeal.due_on = deadlines.due_date(start, term.days, term.working, self.calendar)

    def event(self, appeal, kind, day, staff=None, text=None, internal=False):
        appeal.events.append(
            AppealEvent(
                kind=kind,
                at=_moment(min(day, self.today), self.rng),
                staff_id=staff.id if staff else None,
                user_id=appeal.user_id
                if staff is None and kind != AppealEventKind.REGISTERED
                else None,
                text=text,
                internal=internal,
            )
        )

    def new(self, index: int, status: str, days_back) -> Appeal:
        rng = self.rng
        topic = rng.choice(list(self.texts))
        channel = rng.choices(*zip(*CHANNEL_WEIGHTS, strict=True))[0]
        registered_on = self.today - timedelta(days=rng.randint(*days_back))
        appeal = Appeal(
            kind=rng.choice(KIND_BY_TOPIC[topic]),
            topic=AppealTopic(topic),
            channel=channel,
            answer_channel=AnswerChannel.PORTAL
            if channel == AppealChannel.WEB
            else rng.choice(list(AnswerChannel)),
            status=AppealStatus.REGISTERED,
            text=rng.choice(self.texts[topic]),
            registered_on=registered_on,
            registered_at=_moment(registered_on, rng),
            language="ru",
            reopen_count=0,
            extended_days=0,
            paused_days=0,
        )
        self.applicant(appeal, index)
        self.term(appeal, registered_on)
        appeal.assign_by = deadlines.internal_target(registered_on, 1, self.calendar)
        self.event(appeal, AppealEventKind.REGISTERED, registered_on)
        appeal.events[-1].due_on = appeal.due_on
        self.advance(appeal, status)
        return appeal

    def advance(self, appeal: Appeal, status: str) -> None:
        if status == "registered":
            return
        rng, start = self.rng, appeal.registered_on
        executor, signer = rng.choice(self.executors), rng.choice(self.signers)
        appeal.executor_id, appeal.status = executor.id, AppealStatus.ASSIGNED
        self.event(
            appeal, AppealEventKind.ASSIGNED, start + timedelta(days=1), signer, executor.full_name
        )
        if status == "assigned":
            return
        appeal.status = AppealStatus.IN_WORK
        self.event(appeal, AppealEventKind.STARTED, start + timedelta(days=2), executor)
        if rng.random() < 0.3:
            self.event(
                appeal,
                AppealEventKind.NOTE,
                start + timedelta(days=2),
                executor,
                "Запрошены данные в расчётном отделе",
                True,
            )
        if status == "in_work":
            return
        if status == "awaiting_customer":
            appeal.status = AppealStatus.AWAITING_CUSTOMER
            appeal.clarification_asked_on = min(start + timedelta(days=3), self.today)
            self.event(
                appeal,
                AppealEventKind.CLARIFICATION_ASKED,
                appeal.clarification_asked_on,
                executor,
                "Уточните, пожалуйста, номер лицевого счёта и период.",
            )
            return
        if status == "no_action":
            appeal.status = AppealStatus.NO_ACTION
            appeal.no_action_reason = rng.choice(
                [r for r in NoActionReason if r != NoActionReason.REPEAT]
            )
            appeal.closed_at = _moment(min(start + timedelta(days=4), self.today), rng)
            self.event(appeal, AppealEventKind.NO_ACTION, start + timedelta(days=4), executor)
            return
        self.answer(appeal, executor, signer)
        if status == "closed":
            self.close(appeal)
        elif status == "reopened":
            self.reopen(appeal)

    def reopen(self, appeal: Appeal) -> None:
        day = appeal.answered_at.date() + timedelta(days=self.rng.randint(1, 10))
        reopened_on = min(day, self.today)
        appeal.status, appeal.reopen_count = AppealStatus.IN_WORK, 1
        appeal.answered_on_time = appeal.answered_on = appeal.answer_days = None
        self.term(appeal, reopened_on)
        text = "Ответ не устроил: перерасчёт не выполнен."
        self.event(appeal, AppealEventKind.REOPENED, reopened_on, None, text)
        appeal.events[-1].due_on = appeal.due_on

    def answer(self, appeal: Appeal, executor, signer) -> None:
        rng = self.rng
        late = rng.random() < 0.08
        day = (
            appeal.due_on + timedelta(days=rng.randint(1, 6))
            if late
            else appeal.registered_on
            + timedelta(days=rng.randint(3, max(3, (appeal.due_on - appeal.registered_on).days)))
        )
        day = min(day, self.today)
        appeal.status = AppealStatus.ANSWERED
        appeal.answer_text = rng.choice(self.answers)
        appeal.answered_at = _moment(day, rng)
        appeal.answered_by_id, appeal.signed_by_id = executor.id, signer.id
        appeal.answered_on_time = day <= appeal.due_on
        appeal.answered_on, appeal.answer_days = day, (day - appeal.term_start_on).days
        self.event(appeal, AppealEventKind.ANSWERED, day, executor, appeal.answer_text)

    def close(self, appeal: Appeal) -> None:
        rng = self.rng
        day = min(appeal.answered_at.date() + timedelta(days=rng.randint(1, 12)), self.today)
        appeal.status, appeal.closed_at = AppealStatus.CLOSED, _moment(day, rng)
        if rng.random() < 0.75:
            appeal.rating = rng.choices(range(1, 11), weights=(2, 1, 2, 2, 3, 4, 6, 10, 25, 45))[0]
            appeal.rating_reason = (
                None if appeal.rating >= 9 else "Ответ пришёл позже, чем хотелось бы."
            )
            appeal.rated_at = appeal.closed_at
            self.event(appeal, AppealEventKind.RATED, day, None, str(appeal.rating))
        else:
            self.event(appeal, AppealEventKind.CLOSED, day, rng.choice(self.signers))


def _statuses(plan, count: int, rng) -> list:
    """The first of each state first (the showcase resident gets one of each), then the rest
    by the plan's shares."""
    chosen = [(status, days) for status, _share, days in plan]
    weights = [share for _status, share, _days in plan]
    while len(chosen) < count:
        index = rng.choices(range(len(plan)), weights=weights)[0]
        chosen.append((plan[index][0], plan[index][2]))
    return chosen


def seed(session: Session, *, rng, count, today, plan, texts, answers) -> int:
    builder = _Builder(session, rng, today, texts, answers)
    if not builder.executors or not builder.customers:
        return 0
    appeals = [
        builder.new(index, status, days)
        for index, (status, days) in enumerate(_statuses(plan, count, rng))
    ]
    appeals.sort(key=lambda appeal: appeal.registered_at)
    last: dict[int, int] = {}
    for appeal in appeals:
        year = appeal.registered_on.year
        last[year] = last.get(year, 0) + 1
        appeal.year, appeal.sequence = year, last[year]
        appeal.number = f"{year}-{last[year]:06d}"
    session.add_all(appeals)
    session.add_all(AppealCounter(year=year, last=value) for year, value in last.items())
    session.commit()
    return len(appeals)
