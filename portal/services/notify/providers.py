"""Delivery providers: SMTP through Flask-Mail, SMS through Twilio, or the dev outbox.

With no MAIL_SERVER (or no TWILIO_ACCOUNT_SID) a message is marked delivered to the
development outbox and stays readable in the back office; nothing leaves the machine.
"""

from dataclasses import dataclass

from flask import current_app
from flask_mail import Message

from portal.extensions import mail
from portal.models import OutboxMessage


@dataclass
class Delivery:
    provider: str
    provider_id: str | None = None


def deliver(message: OutboxMessage) -> Delivery:
    if message.channel == "email":
        return deliver_email(message)
    if message.channel == "sms":
        return deliver_sms(message)
    raise ValueError(f"unknown channel {message.channel!r}")


def deliver_email(message: OutboxMessage) -> Delivery:
    if not current_app.config["MAIL_SERVER"]:
        return Delivery("devmail")
    mail.send(
        Message(
            subject=message.subject,
            recipients=[message.recipient],
            body=message.body_text,
            html=message.body_html,
            extra_headers={"X-Portal-Message": str(message.id)},
        )
    )
    return Delivery("smtp")


def twilio_client():
    from twilio.rest import Client

    config = current_app.config
    client = Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"])
    if config["TWILIO_API_BASE"]:
        # Tests point the real client at a local fake of Twilio's HTTP API.
        client.api.base_url = config["TWILIO_API_BASE"]
    return client


def deliver_sms(message: OutboxMessage) -> Delivery:
    config = current_app.config
    if not config["TWILIO_ACCOUNT_SID"]:
        return Delivery("devsms")
    sent = twilio_client().messages.create(
        to=message.recipient, from_=config["TWILIO_FROM_NUMBER"], body=message.body_text
    )
    return Delivery("twilio", sent.sid)
