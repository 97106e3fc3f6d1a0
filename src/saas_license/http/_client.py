"""Client factory and a single JSON request helper that maps every failure to the error tree."""

from __future__ import annotations

import functools
import json
import ssl
import urllib.request
from collections.abc import Sequence
from typing import Any

import attrs
import httpx

from .._errors import BadPayloadError, ConfigError, VendorConnectionError, VendorTimeoutError
from ._clock import Clock, SystemClock
from ._errors import error_from_response
from ._ratelimit import GovernorRegistry, RateLimit
from ._retry import RetryPolicy
from ._transport import GovernedTransport, parsed_json, retry_record, safe_url

__all__ = ["HttpOptions", "JsonAnswer", "make_client", "request_answer", "request_json"]

USER_AGENT = "saas-license/0.1 (+https://github.com/saas-license/saas-license)"


@attrs.frozen(kw_only=True)
class HttpOptions:
    """How a spoke talks HTTP: timeouts, retries, rate limiting, concurrency, an optional transport.

    ``transport`` replaces the network (an in-process sandbox or a respx router in tests).
    ``rate_limit`` switches the governor off (tests); ``rate_limits`` overrides the budgets the
    spoke declares (a different plan, or a benchmark's scaled clock). Clients made from the same
    options share one governor per account, so parallel work never exceeds the account's budget.
    ``retry_budget`` is the total waiting (backoff and ``Retry-After``) one request may do before
    it fails; ``clock`` does all timing and waiting (a ``SimulatedClock`` in tests).
    ``max_concurrency`` bounds the pages a listing fetches at once (None: sized from the rate
    limits, see :func:`listing_workers`).
    """

    timeout: float = 30.0
    max_retries: int = 4
    max_throttle_retries: int = 25
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_budget: float = 600.0
    rate_limit: bool = True
    rate_limits: tuple[RateLimit, ...] | None = None
    max_concurrency: int | None = None
    transport: httpx.BaseTransport | None = attrs.field(default=None, repr=False)
    proxy: str | None = attrs.field(default=None, repr=False)
    user_agent: str = USER_AGENT
    governors: GovernorRegistry = attrs.field(
        factory=GovernorRegistry, repr=False, eq=False, hash=False
    )
    clock: Clock = attrs.field(factory=SystemClock, repr=False, eq=False, hash=False)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy these options describe."""
        return RetryPolicy(
            max_retries=self.max_retries,
            max_throttle_retries=self.max_throttle_retries,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            budget=self.retry_budget,
        )


def _account_key(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port or ''}"


def _env_proxy(url: httpx.URL) -> str | None:
    """The proxy the environment asks for (``HTTPS_PROXY``…), honouring ``NO_PROXY``."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(url.host):
        return None
    return proxy


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One verified TLS context per process: building one costs 30-60 ms, and spokes make a
    client per call."""
    return httpx.create_ssl_context()


def make_client(
    base_url: str,
    *,
    auth: httpx.Auth | None = None,
    options: HttpOptions | None = None,
    rate_limits: Sequence[RateLimit] = (),
) -> httpx.Client:
    """An ``httpx.Client`` with our timeouts, headers, auth, rate governor and retry policy.

    ``rate_limits`` are the vendor's budgets (the spoke knows them); ``options.rate_limits``
    overrides them and ``options.rate_limit=False`` turns pacing off. Never follows redirects.
    """
    options = options or HttpOptions()
    try:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise httpx.InvalidURL("need an http(s) URL with a host")
        inner = options.transport
        if inner is None:
            inner = httpx.HTTPTransport(
                verify=_ssl_context(), proxy=options.proxy or _env_proxy(url)
            )
        limits = options.rate_limits if options.rate_limits is not None else tuple(rate_limits)
        governor = (
            options.governors.get(
                _account_key(url), limits, clock=options.clock, max_pause=options.retry_budget
            )
            if options.rate_limit and limits
            else None
        )
        return httpx.Client(
            base_url=base_url,
            auth=auth,
            timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 10.0)),
            headers={"User-Agent": options.user_agent, "Accept": "application/json"},
            transport=GovernedTransport(
                inner, governor=governor, policy=options.retry_policy, clock=options.clock
            ),
            follow_redirects=False,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{base_url!r} is not a usable base URL ({exc})", field="alias.base_url"
        ) from None


def _location(response: httpx.Response) -> str:
    try:
        return safe_url(response.request.url.join(response.headers.get("location", "")))
    except (httpx.InvalidURL, ValueError, TypeError):
        return "?"


def _what_happened(exc: BaseException) -> str:
    record = retry_record(exc)
    return record.describe() if record is not None else ""


def request_json(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    vendor: str = "the vendor",
    **kwargs: Any,
) -> Any:
    """Send one request and return its JSON body, or raise the matching :class:`VendorError`.

    An empty body (e.g. ``204 No Content``) gives None. Messages say what really happened: the
    status, the URL without query or credentials, and, when it was retried, how many tries over
    how long and the last cause.
    """
    return request_answer(client, method, url, vendor=vendor, **kwargs).body


@attrs.frozen(kw_only=True)
class JsonAnswer:
    """A successful JSON answer: its body (None when empty) and headers (e.g. a ``Link``)."""

    body: Any
    headers: httpx.Headers = attrs.field(repr=False)
    status_code: int = 200


def request_answer(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    vendor: str = "the vendor",
    **kwargs: Any,
) -> JsonAnswer:
    """As :func:`request_json`, but keep the headers too (next links, rate-limit headers)."""
    where = f"{method} {safe_url(client.base_url.join(url))}"
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise VendorTimeoutError(
            f"{vendor} did not answer {where} in time"
            f"{_what_happened(exc) or f' ({type(exc).__name__})'}",
            hint="check the network, or raise the timeout",
            url=safe_url(client.base_url.join(url)),
        ) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ConfigError(f"cannot request {url!r}: {exc}", field="alias.base_url") from None
    except httpx.TransportError as exc:
        happened = _what_happened(exc) or f" ({type(exc).__name__}: {exc})"
        raise VendorConnectionError(
            f"could not connect to {vendor} for {where}{happened}",
            hint="check the account URL in the connection alias and that the service is reachable",
            url=safe_url(client.base_url),
        ) from None
    if response.is_redirect:
        raise VendorConnectionError(
            f"{vendor} redirected {where} to {_location(response)}",
            hint="use the account's canonical https:// URL in the connection alias",
            status_code=response.status_code,
        )
    if not response.is_success:
        raise error_from_response(response, vendor=vendor)
    cached = parsed_json(response)
    if cached is not None:
        return JsonAnswer(
            body=cached[0], headers=response.headers, status_code=response.status_code
        )
    if not response.content:
        return JsonAnswer(body=None, headers=response.headers, status_code=response.status_code)
    try:
        body = json.loads(response.content)
    except ValueError:
        record = retry_record(response)
        raise BadPayloadError(
            f"{vendor} answered {where} ({response.status_code}) with a body that is not JSON"
            f"{record.describe() if record is not None else ''}",
            hint="if it keeps happening, check that the base URL points at the API, not a login page",
            status_code=response.status_code,
            url=safe_url(response.request.url),
        ) from None
    return JsonAnswer(body=body, headers=response.headers, status_code=response.status_code)


def transport_stats(client: httpx.Client) -> Any:
    """The :class:`TransportStats` of a client made by :func:`make_client` (None otherwise)."""
    transport = client._transport  # the one transport make_client installed
    return transport.stats if isinstance(transport, GovernedTransport) else None
