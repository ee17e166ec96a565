"""The customer hears of every change of their application (004 §6.2: "how to learn the
state of the conclusion process"): an e-mail when they left one, else an SMS, through the
outbox. These are transactional messages the customer asked for by applying, not a
notice kind they may turn off.
"""

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.models import Application, ApplicationEvent
from portal.services import tokens
from portal.services.notify.outbox import (
    enqueue_email,
    enqueue_sms,
    link_context,
    send_after_commit,
)

KIND = "application_changed"


def follow_token(application: Application) -> str:
    return tokens.make_token("application", {"id": application.id, "number": application.number})


def page_url(application: Application) -> str:
    from portal.services.users import external_url

    if application.user_id:
        return external_url("applications.show", application_id=application.id)
    return external_url("applications.follow", token=follow_token(application))


def tell(session: Session, application: Application, event: ApplicationEvent):
    """Plan the message about ``event`` (once: the event's id is the dedup key) and send it
    after the caller commits."""
    if not (application.applicant_email or application.applicant_phone):
        return None
    with link_context(), force_locale(application.language):
        context = {"application": application, "event": event, "url": page_url(application)}
        dedup_key = f"{KIND}:{application.id}:{event.id}"
        if application.applicant_email:
            message = enqueue_email(
                session,
                kind=KIND,
                recipient=application.applicant_email,
                subject=_(
                    "Application %(number)s: %(step)s",
                    number=application.number,
                    step=event.kind.label,
                ),
                context=context,
                dedup_key=dedup_key,
                user_id=application.user_id,
            )
        else:
            message = enqueue_sms(
                session,
                kind=KIND,
                recipient=application.applicant_phone,
                context=context,
                dedup_key=dedup_key,
                user_id=application.user_id,
            )
    send_after_commit(session, message)
    return message
