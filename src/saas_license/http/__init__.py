"""The HTTP toolkit shared by spokes. Only this layer (and the spokes) import httpx.

- :func:`make_client` / :class:`HttpOptions`: timeouts, User-Agent, auth, and a
  :class:`GovernedTransport` that paces every request through a per-account :class:`RateGovernor`
  and retries with capped, jittered backoff inside a per-request budget of waiting time (never a
  mutation blindly); a :class:`Clock` (:class:`SimulatedClock` in tests) does all the waiting.
- :func:`request_json` / :func:`error_from_response`: one request, every failure mapped to the
  core error tree with a message that says what to do.
- Paginators for the four ways vendors page: :func:`paginate` (page numbers),
  :func:`paginate_offsets`, :func:`paginate_cursor`, :func:`paginate_links` (next link in the
  body or a ``Link`` header, :func:`next_link`): streamed, de-duplicated, guarded against endless
  listings, re-read when they drift; page numbers and offsets with a known total concurrently.
- OAuth2: :class:`AuthorizationCodeFlow`, :class:`OAuth2Auth` (refresh early and once on 401),
  :class:`TokenStore` and its stores, :class:`LoopbackRedirect` for the browser redirect.
"""

from ._auth import BearerAuth
from ._client import (
    HttpOptions,
    JsonAnswer,
    make_client,
    request_answer,
    request_json,
    transport_stats,
)
from ._clock import Clock, SimulatedClock, SystemClock, format_duration
from ._errors import error_from_response, extract_error_message
from ._links import next_link, parse_link_header
from ._loopback import LoopbackRedirect
from ._oauth import (
    DEFAULT_REDIRECT_URI,
    AuthorizationCodeFlow,
    OAuth2App,
    OAuth2Auth,
    OAuth2Endpoints,
    is_loopback_url,
)
from ._pagination import InconsistentListingError, KeySet, Page
from ._paginators import (
    CursorPage,
    EndlessListingError,
    OffsetPage,
    listing_workers,
    paginate,
    paginate_cursor,
    paginate_links,
    paginate_offsets,
)
from ._ratelimit import GovernorRegistry, Lease, RateGovernor, RateLimit, rate_limit_floor
from ._retry import (
    IDEMPOTENT_METHODS,
    RETRYABLE_STATUSES,
    RetryDecision,
    RetryPolicy,
    is_idempotent,
    parse_retry_after,
)
from ._tokens import (
    FileTokenStore,
    LockingTokenStore,
    MemoryTokenStore,
    OAuth2Token,
    SecretTokenStore,
    TokenStore,
    file_lock,
)
from ._transport import GovernedTransport, RetryRecord, TransportStats, retry_record, safe_url

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "AuthorizationCodeFlow",
    "BearerAuth",
    "Clock",
    "CursorPage",
    "EndlessListingError",
    "FileTokenStore",
    "GovernedTransport",
    "GovernorRegistry",
    "HttpOptions",
    "InconsistentListingError",
    "JsonAnswer",
    "KeySet",
    "Lease",
    "LockingTokenStore",
    "LoopbackRedirect",
    "MemoryTokenStore",
    "OAuth2App",
    "OAuth2Auth",
    "OAuth2Endpoints",
    "OAuth2Token",
    "OffsetPage",
    "Page",
    "RateGovernor",
    "RateLimit",
    "RetryDecision",
    "RetryPolicy",
    "RetryRecord",
    "SecretTokenStore",
    "SimulatedClock",
    "SystemClock",
    "TokenStore",
    "TransportStats",
    "error_from_response",
    "extract_error_message",
    "file_lock",
    "format_duration",
    "is_idempotent",
    "is_loopback_url",
    "listing_workers",
    "make_client",
    "next_link",
    "paginate",
    "paginate_cursor",
    "paginate_links",
    "paginate_offsets",
    "parse_link_header",
    "parse_retry_after",
    "rate_limit_floor",
    "request_answer",
    "request_json",
    "retry_record",
    "safe_url",
    "transport_stats",
]
