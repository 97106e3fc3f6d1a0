"""The built-in SMTP notifier: e-mails from the outbox, over TLS or STARTTLS, or ``.eml`` files.

Standard library only (:mod:`smtplib`, :mod:`email`). The password comes from the secret store
(``smtp/password``) or an environment variable named by ``smtp.password_env``; it is never put in
a log, a repr or an error. A per-run send limit leaves the rest pending in the outbox (not
counted as a failed attempt), and failures are retried through the outbox. Dry-run mode writes
each message as a ``.eml`` file instead of sending it: nothing leaves the machine, nothing bounces.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import os
import re
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from .._errors import ConfigError
from .._notify import DeliveryDeferred, Notification
from .._profiles import _is_loopback
from .._secrets import Secret
from ..hookspecs import hookimpl

if TYPE_CHECKING:
    from .._workspace import Workspace

__all__ = ["SmtpNotifier", "SmtpSettings"]

log = logging.getLogger("saas_license.email")


@attrs.frozen(kw_only=True)
class SmtpSettings:
    """Where and how notices are e-mailed. ``security`` is ``starttls`` (default), ``tls`` or
    ``none`` (allowed only to this machine: a password must not cross a network in clear).
    With ``dry_run_dir`` nothing is sent: each message becomes a ``.eml`` file there."""

    sender: str
    host: str | None = None
    port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password: Secret | None = attrs.field(default=None, repr=False)
    send_limit: int | None = None
    dry_run_dir: Path | None = None
    timeout: float = 30.0
    #: Trust only these certificate authorities (PEM) instead of the system's (a private CA).
    ca_file: Path | None = None

    def __attrs_post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ConfigError(
                f"{self.security!r} is not allowed",
                field="smtp.security",
                hint="use starttls, tls or none",
            )
        if self.dry_run_dir is None and not self.host:
            raise ConfigError(
                "is not set", field="smtp.host", hint="set the SMTP server, or a dry-run directory"
            )
        if (
            self.dry_run_dir is None
            and self.security == "none"
            and not _is_loopback(self.host or "")
        ):
            raise ConfigError(
                f"plain SMTP to {self.host} would send notices (and a password) unencrypted",
                field="smtp.security",
                hint="use starttls or tls (none is allowed only to 127.0.0.1, ::1 or localhost)",
            )
        if "@" not in self.sender:
            raise ConfigError(f"{self.sender!r} is not an e-mail address", field="smtp.sender")

    @property
    def effective_port(self) -> int:
        """The port given, else 465 for TLS, 587 for STARTTLS, 25 for none."""
        return self.port or {"tls": 465, "starttls": 587}.get(self.security, 25)

    @classmethod
    def from_workspace(cls, ws: Workspace) -> SmtpSettings | None:
        """The workspace's SMTP settings (``ws.settings``), or None when neither ``smtp.host``
        nor ``smtp.dry_run_dir`` is set."""
        get = ws.settings.get
        host, dry = get("smtp.host"), get("smtp.dry_run_dir")
        if host is None and dry is None:
            return None
        password: Secret | None = None
        env = get("smtp.password_env")
        if env:
            value = os.environ.get(str(env))
            if not value:
                raise ConfigError(
                    f"the environment variable {env} is not set or empty",
                    field="smtp.password_env",
                    hint="export it for the service, or keep the password in the secret store",
                )
            password = Secret(value)
        else:
            from .._workspace.settings import SMTP_PASSWORD_SECRET

            password = ws.secrets.get(SMTP_PASSWORD_SECRET)
        sender = get("smtp.sender")
        if sender is None:
            raise ConfigError(
                "is not set", field="smtp.sender", hint="set the From address of notices"
            )
        return cls(
            sender=str(sender),
            host=None if host is None else str(host),
            port=get("smtp.port"),
            security=get("smtp.security") or "starttls",
            username=get("smtp.username"),
            password=password,
            send_limit=get("smtp.send_limit"),
            dry_run_dir=None if dry is None else Path(dry),
            ca_file=None if get("smtp.ca_file") is None else Path(get("smtp.ca_file")),
        )


def build_message(notification: Notification, sender: str) -> EmailMessage:
    """The e-mail of one notification: plain text, plus HTML when the notice has it."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = notification.recipient
    msg["Subject"] = notification.subject
    msg["Date"] = email.utils.format_datetime(notification.created_at)
    domain = sender.rpartition("@")[2] or "saas-license.invalid"
    msg["Message-ID"] = (
        f"<notice-{notification.id}.{int(notification.created_at.timestamp())}@{domain}>"
    )
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a notice
    msg.set_content(notification.body)
    if notification.html:
        msg.add_alternative(notification.html, subtype="html")
    return msg


class SmtpNotifier:
    """Delivers outbox notifications by e-mail (a notifier plugin, registered as ``smtp`` when
    the workspace has SMTP settings). Call :meth:`begin_run` to restart the send limit."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.sent = 0

    def __repr__(self) -> str:
        return f"SmtpNotifier(host={self.settings.host!r}, dry_run={self.settings.dry_run_dir is not None})"

    def begin_run(self) -> None:
        """Start a new delivery run: the send limit counts from zero again."""
        self.sent = 0

    @hookimpl
    def saas_license_notify(self, notification: Notification) -> bool:
        """Send one notification; raises :class:`DeliveryDeferred` past the send limit."""
        if "@" not in notification.recipient:
            raise ConfigError(
                f"{notification.recipient!r} is not an e-mail address", field="recipient"
            )
        limit = self.settings.send_limit
        if limit is not None and self.sent >= limit:
            raise DeliveryDeferred(f"the send limit of {limit} e-mails for this run is reached")
        msg = build_message(notification, self.settings.sender)
        if self.settings.dry_run_dir is not None:
            self._write(msg, notification)
        else:
            self._send(msg)
        self.sent += 1
        return True

    def _write(self, msg: EmailMessage, notification: Notification) -> Path:
        folder = self.settings.dry_run_dir
        assert folder is not None
        safe = re.sub(r"[^A-Za-z0-9@._-]", "_", notification.recipient)[:80]
        stamp = notification.created_at.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        path = folder / f"{stamp}-{notification.id or 0:06d}-{safe}.eml"
        path.write_bytes(bytes(msg))
        log.info("dry run: wrote notice %s to %s", notification.id, path.name)
        return path

    def _send(self, msg: EmailMessage) -> None:
        s = self.settings
        host, port = s.host or "", s.effective_port
        context = ssl.create_default_context(cafile=None if s.ca_file is None else str(s.ca_file))
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(host, port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=s.timeout)
        try:
            client.ehlo()
            if s.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if s.username:
                if s.password is None:
                    raise ConfigError(
                        "no SMTP password is set for the SMTP user",
                        field="smtp.password",
                        hint="keep it in the secret store (Python `ws.settings.set_smtp_password(...)`) or set smtp.password_env",
                    )
                try:
                    client.login(s.username, s.password.reveal())
                except smtplib.SMTPAuthenticationError as exc:
                    # the server's reply may echo what it was given: keep only the code
                    raise ConnectionError(f"SMTP login refused (code {exc.smtp_code})") from None
            client.send_message(msg)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
