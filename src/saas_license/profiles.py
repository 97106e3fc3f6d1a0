"""Integration profiles and connection aliases: which vendor account, which processes, what state."""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any

import attrs

from .errors import ConfigError

__all__ = ["ConnectionAlias", "IntegrationProfile", "Process", "Processes", "ProfileStatus"]

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


@attrs.frozen(kw_only=True)
class ConnectionAlias:
    """Named connection details for one vendor account; secrets live in the SecretStore.

    A *child* alias (``parent`` set) lets several profiles use one spoke with different accounts;
    it inherits nothing secret from its parent.
    """

    name: str = attrs.field(validator=_slug("alias.name"))
    spoke: str = attrs.field(validator=_slug("alias.spoke"))
    base_url: str = attrs.field()
    auth_type: str = "api_key"
    parent: str | None = None

    @base_url.validator
    def _check_url(self, _attr: object, value: str) -> None:
        if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+", value):
            raise ConfigError(
                f"{value!r} is not an http(s) URL",
                field="alias.base_url",
                hint="give the account's base URL, e.g. https://yourcompany.aha.io",
            )

    def secret_key(self, kind: str) -> str:
        """Where this alias's secret of ``kind`` (``api_key``, ``oauth_token``…) is stored."""
        return f"alias/{self.name}/{kind}"


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
        if not isinstance(value, int) or not 1 <= value <= 365:
            raise ConfigError(
                f"{value!r} is out of range",
                field="profile.activity_look_back_days",
                hint="use a whole number of days from 1 to 365",
            )

    @property
    def is_published(self) -> bool:
        """True when the profile's daily jobs may run."""
        return self.status is ProfileStatus.PUBLISHED
