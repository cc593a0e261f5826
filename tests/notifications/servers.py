"""Real servers on loopback for the channel tests: an SMTP server (aiosmtpd, optionally STARTTLS, implicit TLS
and login) and an HTTP server that records webhook requests and answers from a script."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from workers.dev_server import free_port

# ---------------------------------------------------------------- a self-signed certificate for 127.0.0.1


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def self_signed_certificate(directory: Path) -> Certificate:
    """A certificate for localhost and 127.0.0.1, signed by its own key (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trialflow test SMTP")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Certificate(cert_file=cert_file, key_file=key_file)


# ---------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    recipients: tuple[str, ...]
    message: EmailMessage
    authenticated_as: str | None
    over_tls: bool


@dataclass
class MailRecorder:
    """The aiosmtpd handler: keeps every message; answers RCPT for `refuse` addresses with `refuse_code`."""

    received: list[ReceivedMail] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.lock:
            self.received.append(
                ReceivedMail(
                    mail_from=envelope.mail_from,
                    recipients=tuple(envelope.rcpt_tos),
                    message=message,
                    authenticated_as=login,
                    over_tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
                )
            )
        return "250 Message accepted"

    def messages(self) -> list[ReceivedMail]:
        with self.lock:
            return list(self.received)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a free port, in its own thread. `tls`: offer STARTTLS (required when
    `require_tls`); `implicit_tls`: TLS from the first byte; `logins`: accept AUTH with these passwords only."""

    def __init__(
        self,
        *,
        certificate: Certificate | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        logins: dict[str, str] | None = None,
    ) -> None:
        self.recorder = MailRecorder()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if starttls:
            assert certificate is not None
            kwargs.update(tls_context=certificate.server_context(), require_starttls=True)
        if implicit_tls:
            assert certificate is not None
            kwargs.update(ssl_context=certificate.server_context())
        if logins is not None:
            kwargs.update(authenticator=self._authenticator(logins), auth_required=True)
            # Login in the clear is refused by default; over implicit TLS aiosmtpd does not know it is secure.
            kwargs.update(auth_require_tls=not implicit_tls)
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **kwargs)

    @staticmethod
    def _authenticator(logins: dict[str, str]) -> Any:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            if isinstance(auth_data, LoginPassword):
                ok = logins.get(auth_data.login.decode()) == auth_data.password.decode()
                return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
            return AuthResult(success=False, handled=False)

        return authenticate

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()

    def messages(self) -> list[ReceivedMail]:
        return self.recorder.messages()


# ---------------------------------------------------------------- webhooks


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class WebhookServer:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) that records each POST and answers with the next status
    scripted for its path (then `default_status`)."""

    def __init__(self, default_status: int = 200) -> None:
        self.default_status = default_status
        self.script: dict[str, list[int]] = {}
        self.always: dict[str, int] = {}
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        # Cleared, every request is held unanswered (the sender mid-send) until it is set again.
        self.answering = threading.Event()
        self.answering.set()
        self.arrived = threading.Event()  # set by every request, before it waits to be answered
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.arrived.set()
                server.answering.wait(timeout=60)
                status = server._answer(self.path)
                with server._lock:
                    server.requests.append(
                        ReceivedRequest(path=self.path, headers=dict(self.headers.items()), body=body, answered=status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-server", daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _answer(self, path: str) -> int:
        with self._lock:
            if path in self.always:
                return self.always[path]
            queued = self.script.get(path)
            return queued.pop(0) if queued else self.default_status

    def received(self, path: str | None = None, status: int | None = None) -> list[ReceivedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (path is None or r.path == path) and (status is None or r.answered == status)
            ]

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def accepted(requests: list[ReceivedRequest]) -> Iterator[ReceivedRequest]:
    return (r for r in requests if 200 <= r.answered < 300)
