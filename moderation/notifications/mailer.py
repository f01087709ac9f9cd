"""Handing one message to an SMTP server (MODERATION_SMTP_URL), with the standard library.

Why `smtplib` and `email.message.EmailMessage` rather than Flask-Mail or Flask-Mailman: sending
happens in RQ jobs, outside any request, and exactly-once needs to tell a refusal (safe to
retry) from a conversation that died after the message body went out (the server may have it).
smtplib lets us run MAIL, RCPT and DATA as separate steps and see which one failed; the Flask
wrappers hide that behind one `send()`, add an app-bound global, and bring nothing the standard
library lacks (MIME building, STARTTLS, AUTH, timeouts are all there).

URLs: `smtp://host:25` (plain, for a local relay), `smtp+starttls://user:pass@host:587`
(STARTTLS required: a server that does not offer it is an error, never a silent downgrade),
`smtps://user:pass@host:465` (TLS from the first byte). Certificates are verified against the
system store or SMTP_CA_FILE.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


class MailNotSent(Exception):
    """The server refused the message, or it never got the body: nothing was delivered and a
    retry is safe. The message names only the SMTP step and code, never an address."""


class MailUncertain(Exception):
    """The conversation broke after the body was sent and before the server answered: the
    message may or may not have been accepted."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "plain", "starttls" or "tls"
    username: str | None
    password: str | None
    timeout: float
    ca_file: str | None

    @classmethod
    def from_url(cls, url: str, timeout: float = 30, ca_file: str | None = None) -> SmtpSettings:
        """Parse MODERATION_SMTP_URL; raises ValueError naming what is wrong (never the
        password)."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError("MODERATION_SMTP_URL must start smtp://, smtp+starttls:// or smtps://")
        if not parts.hostname:
            raise ValueError("MODERATION_SMTP_URL needs a host")
        security, default_port = SCHEMES[parts.scheme]
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if password and security == "plain":
            # A password over an unencrypted connection is readable on the wire.
            raise ValueError("a password needs smtp+starttls:// or smtps://")
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            security=security,
            username=username,
            password=password,
            timeout=float(timeout),
            ca_file=ca_file or None,
        )

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout,
            context=settings.tls_context(),
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    client.ehlo()
    if settings.security == "starttls":
        if not client.has_extn("starttls"):
            raise MailNotSent("the server does not offer STARTTLS")
        client.starttls(context=settings.tls_context())
        client.ehlo()
    if settings.username:
        client.login(settings.username, settings.password or "")
    return client


def send(settings: SmtpSettings, message: EmailMessage, sender: str, recipient: str) -> None:
    """Deliver `message` to one recipient. Raises MailNotSent when nothing was delivered (a
    refusal at any step, a connection that failed before the body was sent), MailUncertain when
    the connection broke while the server had the body."""
    try:
        client = _connect(settings)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        code = getattr(exc, "smtp_code", None)
        raise MailNotSent(
            f"connect/auth failed: {type(exc).__name__} {code or ''}".strip()
        ) from None
    try:
        try:
            code, _ = client.mail(sender)
            if code != 250:
                raise MailNotSent(f"MAIL FROM refused: {code}")
            code, _ = client.rcpt(recipient)
            if code not in (250, 251):
                raise MailNotSent(f"RCPT TO refused: {code}")
        except (OSError, smtplib.SMTPException) as exc:
            raise MailNotSent(f"envelope failed: {type(exc).__name__}") from None
        # CRLF line ends: smtplib fixes bare LFs only in str messages, and servers read a bytes
        # body of LF-only lines as one over-long line.
        data = message.as_bytes(policy=SMTP_POLICY)
        try:
            code, _ = client.data(data)
        except smtplib.SMTPDataError as exc:
            # The server answered: it refused the body, so it does not have the message.
            raise MailNotSent(f"DATA refused: {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:  # TimeoutError is an OSError
            raise MailUncertain(f"connection lost during DATA: {type(exc).__name__}") from None
        if code != 250:
            raise MailNotSent(f"DATA refused: {code}")
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
