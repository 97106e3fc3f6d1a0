"""Client factory and a single JSON request helper that maps every failure to the error tree."""

from __future__ import annotations

import json
from typing import Any

import attrs
import httpx

from ..errors import BadPayloadError, ConfigError, VendorConnectionError, VendorTimeoutError
from ._errors import error_from_response

__all__ = ["HttpOptions", "make_client", "request_json"]

USER_AGENT = "saas-license/0.1 (+https://github.com/saas-license/saas-license)"


@attrs.frozen(kw_only=True)
class HttpOptions:
    """How a spoke talks HTTP: timeouts, retries, rate limiting, and an optional transport.

    ``transport`` replaces the network (an in-process sandbox or a respx router in tests).
    """

    timeout: float = 30.0
    max_retries: int = 4
    rate_limit: bool = True
    transport: httpx.BaseTransport | None = attrs.field(default=None, repr=False)
    user_agent: str = USER_AGENT


def make_client(
    base_url: str, *, auth: httpx.Auth | None = None, options: HttpOptions | None = None
) -> httpx.Client:
    """An ``httpx.Client`` with our timeouts, headers and auth; never follows redirects silently."""
    options = options or HttpOptions()
    try:
        return httpx.Client(
            base_url=base_url,
            auth=auth,
            timeout=httpx.Timeout(options.timeout, connect=min(options.timeout, 10.0)),
            headers={"User-Agent": options.user_agent, "Accept": "application/json"},
            transport=options.transport,
            follow_redirects=False,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, TypeError) as exc:
        raise ConfigError(
            f"{base_url!r} is not a usable base URL ({exc})", field="alias.base_url"
        ) from None


def request_json(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    vendor: str = "the vendor",
    **kwargs: Any,
) -> Any:
    """Send one request and return its JSON body, or raise the matching :class:`VendorError`."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise VendorTimeoutError(
            f"{vendor} did not answer {method} {url} in time ({type(exc).__name__})",
            hint="check the network, or raise the timeout",
            url=url,
        ) from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise ConfigError(f"cannot request {url!r}: {exc}", field="alias.base_url") from None
    except httpx.TransportError as exc:
        raise VendorConnectionError(
            f"could not connect to {vendor} at {client.base_url} ({type(exc).__name__}: {exc})",
            hint="check the account URL in the connection alias and that the service is reachable",
            url=str(client.base_url),
        ) from None
    if response.is_redirect:
        raise VendorConnectionError(
            f"{vendor} redirected {method} {url} to {response.headers.get('location', '?')}",
            hint="use the account's canonical https:// URL in the connection alias",
            status_code=response.status_code,
        )
    if not response.is_success:
        raise error_from_response(response, vendor=vendor)
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        raise BadPayloadError(
            f"{vendor} answered {method} {url} with a body that is not JSON",
            hint="check that the base URL points at the API, not a login page",
            status_code=response.status_code,
            url=url,
        ) from None
