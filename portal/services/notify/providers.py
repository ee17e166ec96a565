"""Delivery providers: SMTP through Flask-Mail, SMS through Twilio, or the dev outbox.

With no MAIL_SERVER (or no TWILIO_ACCOUNT_SID) a message is marked delivered to the
development outbox and stays readable in the back office; nothing leaves the machine.
"""

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from email import policy

from flask import current_app
from flask_mail import Message

from portal.extensions import mail
from portal.models import Channel, OutboxMessage


@dataclass
class Delivery:
    provider: str
    provider_id: str | None = None


class DeliveryError(Exception):
    """The provider refused or could not take the message; the outbox tries again later."""


class PermanentDeliveryError(DeliveryError):
    """The provider refused this very message: the same request would be refused again,
    so the outbox marks it failed at once (staff can send it again from the back office)."""


class Letter(Message):
    """Flask-Mail's message, its headers sent as set.

    The SMTP policy refolds a header longer than a line, and a URL has no space to fold
    at, so ``List-Unsubscribe`` went out as RFC 2047 encoded words no mail client follows.
    Left as set, a header is one line (under the 998 characters RFC 5322 allows)."""

    def _message(self):
        built = super()._message()
        built.policy = policy.SMTP.clone(refold_source="none")
        return built


class MailLine:
    """One SMTP connection for a batch of letters (Flask-Mail's ``mail.connect()``).

    A connection per letter cost a TCP and SMTP handshake each time (and STARTTLS and
    AUTH in production): most of the time of a letter. The line opens at its first letter,
    so a batch of SMS opens none, and again after a failure that may have broken it. A
    refusal of one letter (its recipient, its sender, its data) leaves the session usable:
    smtplib resets the transaction (RSET) before it raises."""

    KEEPS_CONNECTION = (
        smtplib.SMTPRecipientsRefused,
        smtplib.SMTPSenderRefused,
        smtplib.SMTPDataError,
    )

    def __init__(self) -> None:
        self._connection = None

    def send(self, letter: Message) -> None:
        if self._connection is None:
            self._connection = mail.connect().__enter__()
        try:
            self._connection.send(letter)
        except self.KEEPS_CONNECTION:
            raise
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        # The server may have gone already: then there is nothing to close.
        with suppress(smtplib.SMTPException, OSError):
            connection.__exit__(None, None, None)  # QUIT


@contextmanager
def mail_line() -> Iterator[MailLine]:
    line = MailLine()
    try:
        yield line
    finally:
        line.close()


def deliver(message: OutboxMessage, line: MailLine | None = None) -> Delivery:
    """Hand one message to its provider; letters go over ``line`` when given (a batch's
    shared SMTP connection), else over a connection of their own."""
    if message.channel == Channel.EMAIL:
        return deliver_email(message, line)
    if message.channel == Channel.SMS:
        return deliver_sms(message)
    raise ValueError(f"unknown channel {message.channel!r}")


def link_context():
    from portal.services.notify.outbox import link_context as context

    return context()


def deliver_email(message: OutboxMessage, line: MailLine | None = None) -> Delivery:
    from portal.services.notify import unsubscribe

    if not current_app.config["MAIL_SERVER"]:
        return Delivery("devmail")
    body_text, body_html, headers = unsubscribe.personal_letter(message)
    letter = Letter(
        subject=message.subject,
        recipients=[message.recipient],
        body=body_text,
        html=body_html,
        extra_headers={"X-Portal-Message": str(message.id), **headers},
    )
    try:
        (line.send if line else mail.send)(letter)
    except smtplib.SMTPException as error:
        raise smtp_error(error) from error
    return Delivery("smtp")


def smtp_error(error: smtplib.SMTPException) -> DeliveryError:
    """An SMTP refusal as permanent or temporary (RFC 5321 §4.2.1: 5yz is a permanent
    negative reply, 4yz a transient one).

    The recipient's address or the letter refused with 5yz fails at once: the server
    would refuse it the same way again. Anything else is retried with backoff: a 4yz, a
    dropped connection, and a refused sender, which is our configuration, not the letter.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in error.recipients.values()]
        texts = "; ".join(
            f"{address}: {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            for address, (code, text) in error.recipients.items()
        )
        kind = (
            PermanentDeliveryError
            if codes and all(500 <= c < 600 for c in codes)
            else DeliveryError
        )
        return kind(f"SMTP: recipient refused, {texts}"[:2000])
    code = getattr(error, "smtp_code", None)
    text = getattr(error, "smtp_error", b"")
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text or error)
    summary = f"SMTP {code}: {text}" if code else f"SMTP: {error!r}"
    permanent = (
        isinstance(error, smtplib.SMTPDataError) and isinstance(code, int) and 500 <= code < 600
    )
    return (PermanentDeliveryError if permanent else DeliveryError)(summary[:2000])


def twilio_client():
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    config = current_app.config
    client = Client(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_AUTH_TOKEN"],
        # Without a limit a hung connection holds the worker, and once the claim goes
        # stale (outbox.STALE_CLAIM) another worker sends the same SMS again.
        http_client=TwilioHttpClient(timeout=config["TWILIO_TIMEOUT"]),
    )
    if config["TWILIO_API_BASE"]:
        # Tests point the real client at a local fake of Twilio's HTTP API.
        client.api.base_url = config["TWILIO_API_BASE"]
    return client


def twilio_error(error: Exception) -> DeliveryError:
    """Twilio's answer as a plain one-line error the back office can show.

    ``str()`` of a Twilio exception is a coloured multi-line banner when the worker's
    stderr is a terminal, and those escape codes would end up in ``last_error``.
    Twilio asks callers not to branch on its error codes (they are refined over time), so
    the decision rests on the HTTP status: 400 means this message was refused as it is
    (the number, the text or the sender), and repeating it gets the same answer.
    A 401/403/404 is our credentials or account, a 429 or 5xx is Twilio being busy:
    those may pass later, so they are retried like a network failure.
    """
    status = getattr(error, "status", None)
    if status is None:  # not an answer from the API (e.g. the client's own checks)
        return DeliveryError(f"Twilio: {error!r}")
    code = getattr(error, "code", None)
    # TwilioRestException carries ``msg``; the newer RFC 9457 TwilioServiceException
    # carries ``title`` and ``detail``.
    text = getattr(error, "msg", None) or getattr(error, "detail", None)
    text = text or getattr(error, "title", None) or type(error).__name__
    summary = f"Twilio HTTP {status}" + (f", error {code}" if code else "") + f": {text}"
    kind = PermanentDeliveryError if status == 400 else DeliveryError
    return kind(summary)


def deliver_sms(message: OutboxMessage) -> Delivery:
    from twilio.base.exceptions import TwilioException

    config = current_app.config
    if not config["TWILIO_ACCOUNT_SID"]:
        return Delivery("devsms")
    from portal.services.notify import delivery

    client = twilio_client()
    extra = {}
    with link_context():
        if callback := delivery.callback_url():
            extra["status_callback"] = callback
    try:
        sent = client.messages.create(
            to=message.recipient,
            from_=config["TWILIO_FROM_NUMBER"],
            body=message.body_text,
            **extra,
        )
    except TwilioException as error:
        raise twilio_error(error) from error
    finally:
        client.http_client.session.close()  # a client per message: do not leak its sockets
    return Delivery("twilio", sent.sid)
