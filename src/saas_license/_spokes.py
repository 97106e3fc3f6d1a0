"""The records that pass between the core and a spoke: what a spoke is, gets and returns."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any

import attrs

from ._profiles import ConnectionAlias, IntegrationProfile, OptionSpec, Process
from ._secrets import Secret
from ._subscriptions import KnownIdentifier
from .http import HttpOptions, OAuth2Endpoints, TokenStore

__all__ = [
    "EXPECTED_RECORDS_META",
    "Identity",
    "ProcessPermission",
    "ReclaimResult",
    "ReclaimStatus",
    "SpokeContext",
    "SpokeInfo",
    "ValidationCheck",
    "ValidationReport",
]


#: Workspace meta key (then the profile's name) under which the core keeps a profile's
#: :attr:`SpokeContext.expected_records`: set by a complete download and by validation.
EXPECTED_RECORDS_META = "download.expected_records:"


@attrs.frozen(kw_only=True)
class ProcessPermission:
    """The least vendor privilege one process needs: shown before credentials are asked for."""

    process: Process
    vendor_role: str
    scopes: tuple[str, ...] = ()
    note: str = ""


@attrs.frozen(kw_only=True)
class SpokeInfo:
    """How a spoke describes itself to the core."""

    name: str
    display_name: str
    profile_type: str
    permissions: tuple[ProcessPermission, ...]
    identifiers: tuple[KnownIdentifier, ...]
    default_base_url: str = ""
    auth_types: tuple[str, ...] = ("api_key",)
    reclaim_effect: str = "deactivate"
    supports_undo: bool = False
    #: The download's records carry each user's last activity as the vendor knows it, so the core
    #: counts them as checked activity and the activity hook need only yield *extra* signals.
    activity_from_download: bool = False
    #: What one reclaim frees: ``"seat"`` (only the seat named) or ``"user"`` (every seat of the
    #: user at once, e.g. disabling the account). A ``"user"`` reclaim is held when any seat of
    #: that user is protected. A fact of the vendor, never a user setting.
    reclaim_scope: str = "seat"
    #: Record fields whose value protects a seat (``attributes`` keys, or ``"enabled"``). When one
    #: of them is in a record's ``unknown`` set, the seat is never proposed nor reclaimed.
    protective_fields: tuple[str, ...] = ("administrator",)
    version: str = ""
    oauth: OAuth2Endpoints | None = None
    #: The profile options this spoke reads (key, type, default, doc): ``profile edit --option``
    #: refuses any other key, or a value of the wrong type, before it is stored.
    options: tuple[OptionSpec, ...] = ()


@attrs.frozen(kw_only=True)
class SpokeContext:
    """Everything a spoke hook needs for one call: the profile, its connection and credentials."""

    profile: IntegrationProfile
    alias: ConnectionAlias
    credentials: Mapping[str, Secret] = attrs.Factory(dict)
    http: HttpOptions = attrs.Factory(HttpOptions)
    now: dt.datetime | None = None
    integration_user_id: str | None = None
    token_store: TokenStore | None = attrs.field(default=None, repr=False)
    #: Roughly how many records this profile's download yields: the last complete download's
    #: count, or what validation saw (None: unknown). Only a hint for sizing a listing's first
    #: requests (e.g. :func:`~saas_license.http.paginate`'s ``first_wave``); never a reason to
    #: stop reading early or to trust a listing as complete.
    expected_records: int | None = None


@attrs.frozen(kw_only=True)
class Identity:
    """Who the integration's credentials act as on the vendor side."""

    external_user_id: str
    user_principal_name: str
    is_administrator: bool


@attrs.frozen(kw_only=True)
class ValidationCheck:
    """The result of checking one process against the vendor."""

    process: Process
    ok: bool
    message: str


@attrs.frozen(kw_only=True)
class ValidationReport:
    """Per-process validation results plus the identity the credentials act as."""

    checks: tuple[ValidationCheck, ...]
    identity: Identity | None = None
    #: What the spoke found for each vendor behaviour that is not published (one line each),
    #: printed by ``saas-license validate --explain``.
    explain: tuple[str, ...] = ()
    #: How many records a download would list, when a check learned it (e.g. the account's
    #: user count from the first page of the users list): the first run's
    #: :attr:`SpokeContext.expected_records`. None: not learned.
    expected_records: int | None = None

    def check(self, process: Process) -> ValidationCheck | None:
        """The check for ``process``, if the spoke ran one."""
        return next((c for c in self.checks if c.process is process), None)

    @property
    def download_ok(self) -> bool:
        """Publishing requires at least this."""
        check = self.check(Process.DOWNLOAD)
        return bool(check and check.ok)


class ReclaimStatus(str, enum.Enum):
    """Outcome of one reclaim (or undo) attempt."""

    SUCCESS = "success"
    ALREADY_DONE = "already_done"
    REFUSED = "refused"
    FAILED = "failed"
    #: The vendor may or may not have acted (answer lost, confirming read failed): resolved later
    #: by reading the vendor, never guessed.
    UNKNOWN = "unknown"

    @property
    def ok(self) -> bool:
        """Success or already done: the seat is free."""
        return self in (ReclaimStatus.SUCCESS, ReclaimStatus.ALREADY_DONE)


@attrs.frozen(kw_only=True)
class ReclaimResult:
    """What happened when the spoke tried to reclaim (or restore) one seat."""

    status: ReclaimStatus
    message: str = ""
    before: dict[str, Any] = attrs.Factory(dict)
    after: dict[str, Any] = attrs.Factory(dict)
