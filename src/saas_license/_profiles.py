"""Integration profiles and connection aliases: which vendor account, which processes, what state."""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import math
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._errors import ConfigError

__all__ = [
    "CORE_OPTIONS",
    "AliasDetails",
    "ConnectionAlias",
    "CredentialInfo",
    "IntegrationProfile",
    "OptionSpec",
    "Process",
    "Processes",
    "ProfileStatus",
    "check_base_url",
    "check_options",
]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _slug(field: str):  # type: ignore[no-untyped-def]
    def check(_inst: object, _attr: object, value: str) -> None:
        if not isinstance(value, str) or not _SLUG.match(value):
            raise ConfigError(
                f"{value!r} is not a valid name",
                field=field,
                hint="use 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit",
            )

    return check


class ProfileStatus(str, enum.Enum):
    """Lifecycle of a profile: created as draft, validated through its spoke, then published."""

    DRAFT = "draft"
    VALIDATED = "validated"
    PUBLISHED = "published"


class Process(str, enum.Enum):
    """The subflows a profile can run."""

    DOWNLOAD = "download"
    ACTIVITY = "activity"
    RECLAIM = "reclaim"


@attrs.frozen(kw_only=True)
class Processes:
    """Which processes a profile runs; download is always on, reclaim off means detect-only."""

    activity: bool = True
    reclaim: bool = True

    @property
    def download(self) -> bool:
        """Download is mandatory and cannot be switched off."""
        return True

    def enabled(self) -> tuple[Process, ...]:
        """The processes switched on, in pipeline order."""
        out = [Process.DOWNLOAD]
        if self.activity:
            out.append(Process.ACTIVITY)
        if self.reclaim:
            out.append(Process.RECLAIM)
        return tuple(out)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(value: object, *, field: str) -> None:
    """Refuse anything but an ``https://`` URL, or ``http://`` to this machine (a local sandbox):
    an API key sent over plain HTTP to another host could be read on the way."""
    hint = "give the account's base URL, e.g. https://yourcompany.aha.io"
    if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value, re.IGNORECASE):
        raise ConfigError(f"{value!r} is not an https URL", field=field, hint=hint)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ConfigError(f"{value!r} holds control characters", field=field, hint=hint)
    parts = urllib.parse.urlsplit(value)
    if parts.scheme.lower() == "http" and not _is_loopback(parts.hostname or ""):
        raise ConfigError(
            f"{value!r} is plain http to another machine; credentials would travel unencrypted",
            field=field,
            hint="use https:// (plain http is allowed only for 127.0.0.1, ::1 or localhost)",
        )


@attrs.frozen(kw_only=True)
class OptionSpec:
    """One profile option a spoke (or the core) understands: its key, type, default and meaning.

    ``type`` is ``"bool"``, ``"int"``, ``"float"`` or ``"str"`` (a name, so the declaration is
    plain data in ``spokes --json``); ``choices`` limits a text, ``low`` and ``high`` a number.
    Options are checked when written, so a stored option is always usable.
    """

    key: str
    type: str = attrs.field(validator=attrs.validators.in_(("bool", "int", "float", "str")))
    default: Any = None
    doc: str = ""
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def allowed(self) -> str:
        """What values are allowed, in words."""
        if self.type == "bool":
            return "true or false"
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = {"int": "a whole number", "float": "a number"}.get(self.type, "a text")
        if self.low is not None and self.high is not None:
            return f"{kind} from {self.low:g} to {self.high:g}"
        return kind

    def check(self, value: object) -> Any:
        """``value`` if it is allowed for this option (a bool is never a number, text never a
        bool); otherwise a :class:`ConfigError` naming the option."""
        ok = False
        if self.type == "bool":
            ok = isinstance(value, bool)
        elif self.type == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.type == "float":
            ok = (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
        elif self.type == "str":
            ok = isinstance(value, str) and (not self.choices or value in self.choices)
        if ok and isinstance(value, (int, float)) and not isinstance(value, bool):
            ok = (self.low is None or value >= self.low) and (
                self.high is None or value <= self.high
            )
        if not ok:
            shown = "true" if value is True else "false" if value is False else repr(value)
            raise ConfigError(
                f"{shown} is not allowed", field=f"option {self.key}", hint=f"use {self.allowed()}"
            )
        return value


#: Options the core itself reads (none yet); each spoke declares its own in ``SpokeInfo.options``.
CORE_OPTIONS: tuple[OptionSpec, ...] = ()


def check_options(
    options: Mapping[str, Any], specs: Iterable[OptionSpec], *, spoke: str = ""
) -> dict[str, Any]:
    """Check profile options against the declared ones: unknown keys and wrong types are refused
    with the known keys named. A None value (removal) is always allowed."""
    known = {s.key: s for s in (*CORE_OPTIONS, *specs)}
    out: dict[str, Any] = {}
    for key, value in options.items():
        spec = known.get(key)
        if spec is None:
            names = ", ".join(f"{k} ({known[k].allowed()})" for k in sorted(known)) or "none"
            raise ConfigError(
                f"unknown option {key!r}",
                field="profile.options",
                hint=f"options of the {spoke + ' ' if spoke else ''}spoke: {names}",
            )
        out[key] = None if value is None else spec.check(value)
    return out


@attrs.frozen(kw_only=True)
class ConnectionAlias:
    """Named connection details for one vendor account; secrets live in the SecretStore.

    A *child* alias (``parent`` set) lets several profiles use one spoke with different
    accounts. It belongs to its parent's spoke, and inherits its parent's URL (when its own
    ``base_url`` is empty) and credentials (when it has none of its own).
    """

    name: str = attrs.field(validator=_slug("alias.name"))
    spoke: str = attrs.field(validator=_slug("alias.spoke"))
    base_url: str = attrs.field(default="")
    auth_type: str = "api_key"
    parent: str | None = None

    @base_url.validator
    def _check_url(self, _attr: object, value: str) -> None:
        if value == "" and self.parent is not None:
            return  # a child that inherits its parent's URL
        check_base_url(value, field="alias.base_url")

    @property
    def inherits_url(self) -> bool:
        """True for a child alias that uses its parent's URL."""
        return self.parent is not None and not self.base_url

    def secret_key(self, kind: str) -> str:
        """Where this alias's secret of ``kind`` (``api_key``, ``oauth_token``…) is stored."""
        return f"alias/{self.name}/{kind}"


@attrs.frozen(kw_only=True)
class CredentialInfo:
    """One credential an alias uses, never its value: its kind, which alias holds it (the
    alias itself or its parent) and where it is kept."""

    kind: str
    alias: str
    inherited: bool
    stored_in: str


@attrs.frozen(kw_only=True)
class AliasDetails:
    """What ``alias show`` tells: the alias with its effective URL and auth, where each comes
    from, the credentials it uses (set or not, never their values), its children and the
    profiles that use it."""

    alias: ConnectionAlias
    base_url: str
    url_from: str
    auth_type: str
    credentials: tuple[CredentialInfo, ...]
    children: tuple[str, ...]
    profiles: tuple[str, ...]

    @property
    def has_credentials(self) -> bool:
        """True when some credential is set for the alias (its own or its parent's)."""
        return bool(self.credentials)


@attrs.frozen(kw_only=True)
class IntegrationProfile:
    """One configured connection to one vendor account and what the library does with it.

    ``options`` holds spoke-specific settings, namespaced by spoke (e.g. ``{"aha.audits": True}``).
    """

    name: str = attrs.field(validator=_slug("profile.name"))
    display_name: str
    spoke: str
    profile_type: str
    connection_alias: str
    status: ProfileStatus = ProfileStatus.DRAFT
    processes: Processes = attrs.Factory(Processes)
    activity_look_back_days: int = attrs.field(default=60)
    created_at: dt.datetime | None = None
    validated_at: dt.datetime | None = None
    published_at: dt.datetime | None = None
    integration_user_id: str | None = None
    options: dict[str, Any] = attrs.Factory(dict)

    @activity_look_back_days.validator
    def _check_look_back(self, _attr: object, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 365:
            raise ConfigError(
                f"{value!r} is out of range",
                field="profile.activity_look_back_days",
                hint="use a whole number of days from 1 to 365",
            )

    @property
    def is_published(self) -> bool:
        """True when the profile's daily jobs may run."""
        return self.status is ProfileStatus.PUBLISHED
