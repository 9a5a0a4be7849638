"""Sending a message: over SMTP (``SERVICEGUIDE_SMTP_URL``) or, unset, into ``.eml`` files.

``smtp://[user:pass@]host[:port]`` is plain SMTP (port 25; AUTH if a user is given),
``smtp+starttls://…`` requires STARTTLS (port 587) and ``smtps://…`` is implicit TLS (port 465).
Certificates are verified. Without an SMTP URL each message is written to
``{var_dir}/mail/outbox-{id}.eml``, named by its outbox row so that a retry overwrites the file
rather than adding a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
import anyio

from serviceguide.settings import Settings
from serviceguide.storage import mailcopies


@dataclass(frozen=True, slots=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # implicit TLS from the first byte (smtps)
    start_tls: bool  # STARTTLS required (smtp+starttls)

    def __repr__(self) -> str:  # never the password
        mode = "tls" if self.use_tls else "starttls" if self.start_tls else "plain"
        return f"SmtpServer({self.hostname}:{self.port}, {mode}, user={self.username!r})"


_SCHEMES = {
    "smtp": (25, False, False),
    "smtp+starttls": (587, False, True),
    "smtps": (465, True, False),
}


def parse_smtp_url(url: str) -> SmtpServer:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError("SMTP URL must start with smtp://, smtp+starttls:// or smtps://")
    default_port, use_tls, start_tls = _SCHEMES[scheme]
    if not parts.hostname:
        raise ValueError("SMTP URL has no host")
    return SmtpServer(
        hostname=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )


class Mailer(Protocol):
    async def send(self, message: EmailMessage, *, outbox_id: int) -> None:
        """Deliver the message or raise."""


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    sender = parseaddr(str(message["From"]))[1]
    recipients = [parseaddr(str(message["To"]))[1]]
    return sender, recipients


class SmtpMailer:
    """One connection per message: simple, and a broken connection costs one message only."""

    def __init__(self, server: SmtpServer, timeout: float) -> None:
        self.server = server
        self.timeout = timeout

    async def send(self, message: EmailMessage, *, outbox_id: int) -> None:
        sender, recipients = _envelope(message)
        s = self.server
        await aiosmtplib.send(
            message,
            sender=sender,
            recipients=recipients,
            hostname=s.hostname,
            port=s.port,
            username=s.username,
            password=s.password,
            use_tls=s.use_tls,
            start_tls=s.start_tls,  # False for smtp://: plain, as asked for
            timeout=self.timeout,
        )


class EmlMailer:
    """Writes ``outbox-{id}.eml`` files, atomically (a reader never sees half a message)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, outbox_id: int) -> Path:
        return mailcopies.copy_path(self.directory, outbox_id)

    async def send(self, message: EmailMessage, *, outbox_id: int) -> None:
        await anyio.to_thread.run_sync(
            mailcopies.write_atomically, self.path_for(outbox_id), message.as_bytes()
        )


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(parse_smtp_url(settings.smtp_url), settings.smtp_timeout_seconds)
    return EmlMailer(mailcopies.mail_dir(settings.var_dir))
