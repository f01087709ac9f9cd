"""A real SMTP server for the notification tests: aiosmtpd on loopback that requires STARTTLS
and AUTH, with a throwaway certificate made here with `cryptography`, recording what it gets
and refusing the messages a test scripts it to refuse."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "mailer", "s3cret-relay-password"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    port: int = 0
    ca_file: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    # Replies to give to the next DATA commands instead of accepting ("451 ..." refuses).
    refuse_next: list[str] = field(default_factory=list)
    auth_seen: list[str] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)
    scheme: str = "smtp+starttls"
    # While set, DATA is read (into `held`) and left unanswered: a sender killed meanwhile
    # leaves a message the server may have, the one uncertain moment of SMTP.
    hold: threading.Event = field(default_factory=threading.Event)
    held: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{USER}:{PASSWORD}@127.0.0.1:{self.port}"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(item["content"], policy=policy.default)  # type: ignore[misc]
            for item in self.received
        ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_server(folder: Path, mode: str = "starttls") -> Iterator[Mailbox]:
    """`starttls`: STARTTLS and AUTH required (the default); `tls`: TLS from the first byte
    (smtps://), AUTH required; `no_tls`: a server that offers no STARTTLS at all."""
    import ssl

    cert_path, key_path = make_certificate(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_path), str(key_path))
    box = Mailbox(ca_file=str(cert_path))

    class Handler:
        async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd
            box.tls_seen.append(session.ssl is not None)
            if box.hold.is_set():
                box.held.append(envelope.original_content or envelope.content)
                while box.hold.is_set():
                    await asyncio.sleep(0.05)
                return "451 4.3.0 the sender is gone"
            if box.refuse_next:
                return box.refuse_next.pop(0)
            box.received.append(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "content": envelope.original_content or envelope.content,
                }
            )
            return "250 2.0.0 OK: queued"

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        box.auth_seen.append(mechanism)
        return AuthResult(success=ok, handled=False)

    box.port = _free_port()
    box.scheme = {"starttls": "smtp+starttls", "tls": "smtps", "no_tls": "smtp+starttls"}[mode]
    options: dict[str, Any] = {"auth_required": True, "authenticator": authenticator}
    if mode == "starttls":
        options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
    elif mode == "tls":
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(auth_require_tls=False)
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
