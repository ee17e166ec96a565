"""Answer templates per topic, kept by staff: the executor starts an answer from one."""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import AnswerTemplate, AppealTopic
from portal.services.errors import DomainError, FieldErrors, NotFound

MAX_TITLE_LENGTH = 200
MAX_BODY_LENGTH = 10_000


def for_topic(session: Session, topic: AppealTopic) -> list[AnswerTemplate]:
    return list(
        session.scalars(
            select(AnswerTemplate)
            .where(AnswerTemplate.topic == topic, AnswerTemplate.active.is_(True))
            .order_by(AnswerTemplate.title)
        )
    )


def every(session: Session) -> list[AnswerTemplate]:
    return list(
        session.scalars(
            select(AnswerTemplate).order_by(
                AnswerTemplate.active.desc(), AnswerTemplate.topic, AnswerTemplate.title
            )
        )
    )


def get(session: Session, template_id: int) -> AnswerTemplate:
    template = session.get(AnswerTemplate, template_id)
    if template is None:
        raise NotFound()
    return template


def save(
    session: Session,
    template: AnswerTemplate | None,
    *,
    topic: str,
    title: str,
    body: str,
    active: bool = True,
    staff_id: int | None = None,
) -> AnswerTemplate:
    """Add a template (``template`` None) or change one; refusals next to their fields."""
    title, body = (title or "").strip(), (body or "").strip()
    errors = {}
    if topic not in AppealTopic.values():
        errors["topic"] = _("Choose the topic.")
    if not title or len(title) > MAX_TITLE_LENGTH:
        errors["title"] = _("Give the template a title of up to 200 characters.")
    if not body or len(body) > MAX_BODY_LENGTH:
        errors["body"] = _("Write the text of the template, up to 10 000 characters.")
    if errors:
        raise FieldErrors(errors)
    template = template or AnswerTemplate()
    template.topic = AppealTopic(topic)
    template.title, template.body, template.active = title, body, active
    template.updated_by_id = staff_id
    session.add(template)
    session.flush()
    return template


def chosen(session: Session, template_id, topic: AppealTopic) -> AnswerTemplate:
    """A template an executor picked for an appeal of ``topic``."""
    template = session.get(AnswerTemplate, template_id) if template_id else None
    if template is None or not template.active or template.topic != topic:
        raise DomainError(_("Choose a template of this topic."), "template")
    return template
