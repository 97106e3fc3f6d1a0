"""Workspace settings: the service's public address, how notices are sent (``ws.settings``).

Settings are plain values kept in the workspace database (audited when changed); secrets such
as the SMTP password live in the secret store instead (:meth:`Settings.set_smtp_password`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from .._links import check_public_url
from .._secrets import Secret
from ._change import changing

if TYPE_CHECKING:
    from ..email import SmtpSettings
    from .facade import Workspace

__all__ = ["SETTINGS", "SMTP_PASSWORD_SECRET", "Settings"]

#: Where the SMTP password lives in the secret store.
SMTP_PASSWORD_SECRET = "smtp/password"  # noqa: S105 - a key name, not a secret
_PREFIX = "setting:"


def _text(name: str) -> Callable[[object], Any]:
    def check(value: object) -> str:
        if not isinstance(value, str) or not value.strip() or any(ord(ch) < 32 for ch in value):
            raise ConfigError(f"{value!r} is not a one-line text", field=name)
        return value.strip()

    return check


def _int(name: str, low: int, high: int) -> Callable[[object], Any]:
    def check(value: object) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(
                f"{value!r} is not allowed", field=name, hint=f"use a whole number {low}-{high}"
            )
        return value

    return check


def _choice(name: str, *choices: str) -> Callable[[object], Any]:
    def check(value: object) -> str:
        if value not in choices:
            raise ConfigError(
                f"{value!r} is not allowed", field=name, hint="use one of " + ", ".join(choices)
            )
        assert isinstance(value, str)
        return value

    return check


def _directory(name: str) -> Callable[[object], Any]:
    def check(value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{value!r} is not a directory path", field=name)
        path = Path(value).expanduser()
        if not path.is_dir():
            raise ConfigError(
                f"{value} is not a directory", field=name, hint="create it first, or fix the path"
            )
        return str(path.resolve())

    return check


def _file(name: str) -> Callable[[object], Any]:
    def check(value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{value!r} is not a file path", field=name)
        path = Path(value).expanduser()
        if not path.is_file():
            raise ConfigError(f"{value} is not a file", field=name, hint="fix the path")
        return str(path.resolve())

    return check


def _address(name: str) -> Callable[[object], Any]:
    def check(value: object) -> str:
        text = _text(name)(value)
        if "@" not in text:
            raise ConfigError(f"{value!r} is not an e-mail address", field=name)
        return str(text)

    return check


#: Every setting: its checker (which also normalises) and what it means.
SETTINGS: dict[str, tuple[Callable[[object], Any], str]] = {
    "public_url": (
        check_public_url,
        "the address people open answer links at, e.g. https://licenses.example.com",
    ),
    "notices.templates_dir": (
        _directory("notices.templates_dir"),
        "a directory of notice templates that override the built-in ones, file by file",
    ),
    "smtp.host": (_text("smtp.host"), "the SMTP server's host name"),
    "smtp.port": (_int("smtp.port", 1, 65535), "its port (default 587 with STARTTLS, 465 TLS)"),
    "smtp.security": (
        _choice("smtp.security", "starttls", "tls", "none"),
        "starttls (default), tls, or none (only to this machine)",
    ),
    "smtp.username": (_text("smtp.username"), "the user to log in as (no login when unset)"),
    "smtp.password_env": (
        _text("smtp.password_env"),
        "an environment variable holding the password (else the secret store's smtp/password)",
    ),
    "smtp.sender": (_address("smtp.sender"), "the From address of notices"),
    "smtp.send_limit": (
        _int("smtp.send_limit", 1, 1_000_000),
        "at most this many e-mails per delivery run; the rest wait in the outbox",
    ),
    "smtp.ca_file": (
        _file("smtp.ca_file"),
        "a PEM file of the certificate authorities to trust for the SMTP server (a private CA)",
    ),
    "smtp.dry_run_dir": (
        _directory("smtp.dry_run_dir"),
        "write each e-mail as a .eml file here instead of sending it (nothing bounces)",
    ),
}


class Settings:
    """Workspace settings: the public address, notice templates, SMTP (``ws.settings``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def get(self, name: str) -> Any:
        """The value of setting ``name``, or None when unset."""
        self._known(name)
        raw = self._ws.store.get_meta(_PREFIX + name)
        return None if raw is None else json.loads(raw)

    def all(self) -> dict[str, Any]:
        """Every setting that is set, by name."""
        return {n: v for n in SETTINGS if (v := self.get(n)) is not None}

    def set(self, name: str, value: Any, *, actor: str = "user") -> Any:
        """Check and store one setting (audited); returns the stored (normalised) value.
        ``None`` unsets it."""
        check, _ = self._known(name)
        before = self.get(name)
        stored = None if value is None else check(value)
        with changing(
            self._ws,
            "setting.changed",
            "setting",
            entity_id=name,
            before={"value": before},
            actor=actor,
        ) as change:
            if stored is None:
                self._ws.store.set_meta(_PREFIX + name, "null")
            else:
                self._ws.store.set_meta(_PREFIX + name, json.dumps(stored))
            change.done(name, after={"value": stored})
        if name.startswith("smtp."):
            self._ws.outbox.reload_notifiers()
        return stored

    @property
    def public_url(self) -> str | None:
        """The service's public address (answer links start with it), or None."""
        value = self.get("public_url")
        return None if value is None else str(value)

    def require_public_url(self) -> str:
        """The public address, or the :class:`ConfigError` that refuses answerable notices."""
        value = self.public_url
        if value is None:
            raise ConfigError(
                "is not set, so notices with answer links cannot be sent",
                field="public_url",
                hint="set the address people reach the service at (Python `ws.settings.set('public_url', 'https://…')`, CLI `settings set public_url https://…`)",
            )
        return value

    def set_smtp_password(self, password: str | Secret, *, actor: str = "user") -> None:
        """Keep the SMTP password in the secret store (never in the database or a log)."""
        secret = password if isinstance(password, Secret) else Secret(password)
        self._ws.secrets.set(SMTP_PASSWORD_SECRET, secret)
        self._ws._audit(
            "setting.secret_set", "setting", SMTP_PASSWORD_SECRET, None, None, actor=actor
        )
        self._ws.outbox.reload_notifiers()

    def smtp(self) -> SmtpSettings | None:
        """The SMTP notifier's settings, or None when neither a host nor a dry-run directory is set."""
        if self.get("smtp.host") is None and self.get("smtp.dry_run_dir") is None:
            return None  # (without loading smtplib: a daily run needs none)
        from ..email import SmtpSettings

        return SmtpSettings.from_workspace(self._ws)

    def _known(self, name: str) -> tuple[Callable[[object], Any], str]:
        found = SETTINGS.get(name)
        if found is None:
            raise ConfigError(
                f"unknown setting {name!r}",
                field="setting",
                hint="settings: " + ", ".join(sorted(SETTINGS)),
            )
        return found
