"""Everything a spoke author needs, in one public module.

A spoke (vendor connector) imports from here, from :mod:`saas_license.http` (the HTTP toolkit:
clients, auth, rate governor, pagination) and, in its tests, from :mod:`saas_license.testing`;
never from a private ``saas_license._…`` module. The hook specifications live in
:mod:`saas_license.hookspecs`; mark implementations with :data:`hookimpl`.
"""

from __future__ import annotations

from ._convert import converter
from ._errors import (
    AuthenticationError,
    BadPayloadError,
    ConfigError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    SpokeError,
    VendorConnectionError,
    VendorError,
    VendorTimeoutError,
)
from ._plugins import Spoke, SpokeRegistry
from ._profiles import ConnectionAlias, IntegrationProfile, OptionSpec, Process
from ._sandbox import RunningSandbox, SandboxOffer, SandboxSettings
from ._secrets import Secret
from ._spokes import (
    Identity,
    ProcessPermission,
    ReclaimResult,
    ReclaimStatus,
    SpokeContext,
    SpokeInfo,
    ValidationCheck,
    ValidationReport,
)
from ._subscriptions import (
    ActivityRecord,
    CurrentUser,
    KnownIdentifier,
    Subscription,
    SubscriptionRecord,
)
from ._time import UTC, days_between, format_instant, parse_instant, utcnow
from .hookspecs import hookimpl

__all__ = [
    "UTC",
    "ActivityRecord",
    "AuthenticationError",
    "BadPayloadError",
    "ConfigError",
    "ConnectionAlias",
    "CurrentUser",
    "Identity",
    "IntegrationProfile",
    "KnownIdentifier",
    "NotFoundError",
    "OptionSpec",
    "PermissionDeniedError",
    "Process",
    "ProcessPermission",
    "RateLimitedError",
    "ReclaimResult",
    "ReclaimStatus",
    "RunningSandbox",
    "SandboxOffer",
    "SandboxSettings",
    "Secret",
    "ServerError",
    "Spoke",
    "SpokeContext",
    "SpokeError",
    "SpokeInfo",
    "SpokeRegistry",
    "Subscription",
    "SubscriptionRecord",
    "ValidationCheck",
    "ValidationReport",
    "VendorConnectionError",
    "VendorError",
    "VendorTimeoutError",
    "converter",
    "days_between",
    "format_instant",
    "hookimpl",
    "parse_instant",
    "utcnow",
]
