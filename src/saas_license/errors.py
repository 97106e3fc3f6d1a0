"""The one error tree of saas-license; every message says what went wrong and what to do.

::

    SaasLicenseError
    ├── ConfigError              bad user input: config, rules, CLI options (names the field)
    ├── ProfileStateError        an action the profile's status does not allow
    ├── StoreError               the workspace database cannot be opened, read or migrated
    │   └── WorkspaceBusyError   another process kept the database locked past the busy timeout
    ├── SpokeError               a spoke is missing, broken, or answered out of contract
    │   └── SpokeNotFoundError
    ├── RunInProgressError       another run of the same profile holds the lock
    ├── InvalidTransitionError   a candidate event its state does not allow (saas_license.lifecycle)
    └── VendorError              talking to the vendor failed
        ├── VendorConnectionError    refused, DNS, TLS
        │   └── VendorTimeoutError
        ├── AuthenticationError      401: credentials rejected or expired
        ├── PermissionDeniedError    403: the account lacks the role
        ├── NotFoundError            404
        ├── RateLimitedError         429, with ``retry_after`` seconds when known
        ├── ServerError              5xx
        ├── BadPayloadError          the vendor answered something we cannot read
        └── InconsistentListingError the listing changed on every pass; no consistent copy

``CsvImportError`` (a ``ConfigError``) lives with the CSV import; its rows name their lines.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadPayloadError",
    "ConfigError",
    "InconsistentListingError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProfileStateError",
    "RateLimitedError",
    "RunInProgressError",
    "SaasLicenseError",
    "ServerError",
    "SpokeError",
    "SpokeNotFoundError",
    "StoreError",
    "VendorConnectionError",
    "VendorError",
    "VendorTimeoutError",
    "WorkspaceBusyError",
]


class SaasLicenseError(Exception):
    """Base of every error this library raises on purpose.

    ``exit_code`` is what the CLI exits with: 1 by default, 2 for bad input (``ConfigError``),
    75 ("busy, try again later") for a run or workspace held by someone else.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class ConfigError(SaasLicenseError, ValueError):
    """User-supplied configuration is invalid; ``field`` names the offending setting."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message, hint=hint)
        self.field = field


class ProfileStateError(SaasLicenseError):
    """The profile's lifecycle status does not allow this action (e.g. publish before validate)."""


class StoreError(SaasLicenseError):
    """The workspace database could not be opened, migrated, read or written."""


class WorkspaceBusyError(StoreError):
    """Another process kept the workspace database locked for longer than the busy timeout.

    Like :class:`RunInProgressError`, it means "try again shortly" (CLI exit code 75).
    """

    exit_code = 75


class SpokeError(SaasLicenseError):
    """A spoke failed to load or broke its contract with the core."""


class SpokeNotFoundError(SpokeError, LookupError):
    """No installed spoke has the requested name."""


class RunInProgressError(SaasLicenseError):
    """Another run of the same profile is still going; runs of one profile never overlap."""

    exit_code = 75


class VendorError(SaasLicenseError):
    """Base for everything that goes wrong while talking to a vendor API."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.url = url


class VendorConnectionError(VendorError):
    """The vendor could not be reached at all (refused, DNS, TLS)."""


class VendorTimeoutError(VendorConnectionError):
    """The vendor did not answer in time."""


class AuthenticationError(VendorError):
    """The vendor rejected the credentials (HTTP 401)."""


class PermissionDeniedError(VendorError):
    """The credentials are valid but lack the rights for this call (HTTP 403)."""


class NotFoundError(VendorError, LookupError):
    """The vendor has no such record, or the token cannot see it (HTTP 404)."""


class RateLimitedError(VendorError):
    """The vendor's rate limit was hit (HTTP 429) and retries were exhausted."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(VendorError):
    """The vendor failed on its side (HTTP 5xx)."""


class BadPayloadError(VendorError):
    """The vendor answered with a body we cannot interpret (bad JSON, missing fields)."""


class InconsistentListingError(VendorError):
    """The listing changed on every pass; no complete, consistent copy could be read."""
