"""A local fake of Twilio's Messages API for the real ``twilio`` client to talk to.

It answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` the way
api.twilio.com does, as far as the client and the outbox can tell: HTTP Basic auth with
the account SID and auth token, a form-encoded ``To``/``From``/``Body``, Twilio's JSON
error bodies (``code``, ``message``, ``more_info``, ``status``) and a 201 with a message
resource carrying every field ``MessageInstance`` reads. It keeps every request it
receives, and can be told to fail or to hang for the next requests.

It listens on 127.0.0.1 only, on a port the operating system picks when the socket is
bound, so two test runs never race for the same port.
"""

import base64
import binascii
import json
import math
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_VERSION = "2010-04-01"
MESSAGES_PATH = re.compile(rf"/{API_VERSION}/Accounts/(?P<account_sid>[^/]+)/Messages\.json")
E164 = re.compile(r"\+[1-9][0-9]{1,14}")
MAX_BODY = 1600
# How long a request told to hang waits at most; stop() releases it earlier.
HANG_LIMIT = 30.0

# The codes and texts Twilio answers with for the statuses a test can ask for.
FAILURES = {
    401: (20003, "Authenticate"),
    403: (20003, "Permission Denied"),
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    502: (20502, "Bad Gateway"),
    503: (20503, "Service Unavailable"),
}

# GSM 03.38 basic character set: text made only of these goes as 7-bit, 160 to a segment;
# anything else (Cyrillic included) as UCS-2, 70 to a segment.
GSM_CHARACTERS = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def segments(body: str) -> int:
    single, part = (160, 153) if set(body) <= GSM_CHARACTERS else (70, 67)
    return 1 if len(body) <= single else math.ceil(len(body) / part)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment)  # "Tue, 07 Oct 2025 09:30:00 +0000", as Twilio writes


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    auth: tuple[str, str] | None  # (user, password) of HTTP Basic auth, if any
    status: int | None = None  # what the fake answered (None while it hangs)


@dataclass
class Answer:
    status: int
    payload: dict
    headers: dict[str, str] = field(default_factory=dict)


def twilio_error(status: int, code: int, message: str) -> Answer:
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if status == 401 else {}
    return Answer(status, payload, headers)


class FakeTwilio:
    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[ReceivedRequest] = []  # every request, answered or refused
        self.messages: list[dict] = []  # the message resources it accepted, in order
        self._planned: deque[int | str] = deque()  # statuses to fail with, or "hang"
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True  # a hung request must not block stop()
        self._server.fake = self
        # serve_forever() notices shutdown() once per poll: keep stopping quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeTwilio":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> "FakeTwilio":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with this error status (see FAILURES)."""
        if status not in FAILURES:
            raise ValueError(f"no Twilio error known for HTTP {status}")
        with self._lock:
            self._planned.extend([status] * count)

    def hang_next(self, count: int = 1) -> None:
        """Keep the next requests waiting (until stop()), as a Twilio that does not answer."""
        with self._lock:
            self._planned.extend(["hang"] * count)

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        form = {key: values[-1] for key, values in parse_qs(body.decode()).items()}
        request = ReceivedRequest(method, path, headers, form, basic_auth(headers))
        with self._lock:
            self.requests.append(request)
            planned = self._planned.popleft() if self._planned else None
        if planned == "hang":
            self._release.wait(HANG_LIMIT)
        result = self._answer(request, planned if planned != "hang" else None)
        request.status = result.status
        return result

    def _answer(self, request: ReceivedRequest, planned: int | None) -> Answer:
        if planned is not None:
            return twilio_error(planned, *FAILURES[planned])
        # Twilio checks the credentials before it looks at the path.
        if request.auth != (self.account_sid, self.auth_token):
            return twilio_error(401, *FAILURES[401])
        found = MESSAGES_PATH.fullmatch(urlsplit(request.path).path)
        if not found or found["account_sid"] != self.account_sid:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        if request.method != "POST":
            return twilio_error(405, 20004, "Method not allowed")
        return self._create(request.form)

    def _create(self, form: dict[str, str]) -> Answer:
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not E164.fullmatch(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not from_:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not E164.fullmatch(from_):
            return twilio_error(
                400,
                21212,
                f"The 'From' number {from_} is not a valid phone number, shortcode, "
                "or alphanumeric sender ID.",
            )
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            return twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        sid = "SM" + secrets.token_hex(16)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        now = rfc2822(datetime.now(UTC).replace(microsecond=0))
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        with self._lock:
            self.messages.append(message)
        return Answer(201, message)


def basic_auth(headers: dict[str, str]) -> tuple[str, str] | None:
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeTwilio/1.0"

    def do_GET(self):  # noqa: N802 (http.server's API)
        self._respond()

    def do_POST(self):  # noqa: N802
        self._respond()

    def do_DELETE(self):  # noqa: N802
        self._respond()

    def _respond(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.title(): value for name, value in self.headers.items()}
        result = self.server.fake.answer(self.command, self.path, headers, body)
        data = json.dumps(result.payload).encode()
        try:
            self.send_response(result.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
            for name, value in result.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up waiting (a hung request); nobody to answer
            pass

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass  # keep test output clean; tests read FakeTwilio.requests instead
