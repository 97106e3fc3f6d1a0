"""The governed transport: retries where safe, never a mutation blindly, errors in the core tree."""

from __future__ import annotations

import logging
import time

import attrs
import httpx
import pytest
import respx

from saas_license import ConfigError, Secret
from saas_license.http import (
    BearerAuth,
    HttpOptions,
    RateLimit,
    make_client,
    request_json,
    transport_stats,
)
from saas_license.spoke import (
    RateLimitedError,
    ServerError,
    VendorConnectionError,
    VendorTimeoutError,
)

BASE = "https://acme.example.com"
FAST = HttpOptions(backoff_base=0.0, rate_limit=False)


def _client(router: respx.MockRouter, **overrides: object) -> httpx.Client:
    options = attrs.evolve(FAST, transport=httpx.MockTransport(router.handler), **overrides)
    return make_client(
        BASE,
        auth=BearerAuth(Secret("tok-123")),
        options=options,
        rate_limits=(RateLimit(requests=1000, per=1),),
    )


def test_reads_are_retried_through_transient_failures() -> None:
    router = respx.MockRouter(base_url=BASE, assert_all_called=True)
    route = router.get("/x").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ReadTimeout("slow"),
            httpx.Response(502, text="<html>bad gateway</html>"),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    with _client(router) as client:
        assert request_json(client, "GET", "/x") == {"ok": True}
        stats = transport_stats(client)
    assert route.call_count == 4
    assert stats.retries == 3 and stats.server_errors == 2


def test_reads_give_up_after_max_retries_with_a_clear_error() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.get("/x").respond(500, json={"error": "boom"})
    with (
        _client(router, max_retries=2) as client,
        pytest.raises(ServerError, match="boom"),
    ):
        request_json(client, "GET", "/x", vendor="Acme")
    assert route.call_count == 3


@pytest.mark.parametrize(
    "failure", [httpx.Response(500), httpx.Response(503), httpx.ReadTimeout("lost")]
)
def test_a_mutation_is_sent_once_when_its_outcome_is_unknown(failure: object) -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.put("/users/1").mock(side_effect=[failure, httpx.Response(200, json={})])
    with _client(router) as client, pytest.raises((ServerError, VendorTimeoutError)):
        request_json(client, "PUT", "/users/1", json={"user": {"enabled": False}})
    assert route.call_count == 1


def test_a_mutation_is_resent_after_429_or_a_refused_connection() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.put("/users/1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={"id": "1"}),
        ]
    )
    with _client(router) as client:
        assert request_json(client, "PUT", "/users/1", json={}) == {"id": "1"}
    assert route.call_count == 3


def test_a_long_retry_after_is_reported_not_waited() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.get("/x").respond(
        429, headers={"Retry-After": "3600"}, json={"error": "slow down"}
    )
    with _client(router) as client, pytest.raises(RateLimitedError, match="slow down") as info:
        request_json(client, "GET", "/x")
    assert route.call_count == 1 and info.value.retry_after == 3600.0
    assert "the server asked to wait 1h00m, more than the 10m00s left" in str(info.value)


def test_429_pauses_every_caller_of_the_account() -> None:
    router = respx.MockRouter(base_url=BASE)
    router.get("/slow").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "0.3"}),
            httpx.Response(200, json=1),
        ]
    )
    router.get("/other").respond(200, json=2)
    options = HttpOptions(backoff_base=0.0, transport=httpx.MockTransport(router.handler))
    limits = (RateLimit(requests=100, per=1),)
    with (
        make_client(BASE, options=options, rate_limits=limits) as a,
        make_client(BASE, options=options, rate_limits=limits) as b,
    ):
        start = time.monotonic()
        assert request_json(a, "GET", "/slow") == 1
        assert request_json(b, "GET", "/other") == 2  # same account: same governor, same pause
    assert time.monotonic() - start >= 0.3


def test_ratelimit_remaining_zero_pauses_until_reset() -> None:
    router = respx.MockRouter(base_url=BASE)
    router.get("/x").respond(
        200, json=1, headers={"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "0.25"}
    )
    options = HttpOptions(transport=httpx.MockTransport(router.handler))
    with make_client(BASE, options=options, rate_limits=(RateLimit(requests=100, per=1),)) as c:
        request_json(c, "GET", "/x")
        start = time.monotonic()
        request_json(c, "GET", "/x")
    assert time.monotonic() - start >= 0.2


def test_governor_is_shared_per_account_and_can_be_switched_off_or_overridden() -> None:
    options = HttpOptions(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    limits = (RateLimit(requests=3, per=60),)
    with (
        make_client(BASE, options=options, rate_limits=limits) as a,
        make_client(BASE + "/api", options=options, rate_limits=limits) as b,
        make_client("https://other.example.com", options=options, rate_limits=limits) as c,
    ):
        ga, gb, gc = (transport_stats(x) for x in (a, b, c))
        assert ga is not None and gb is not None and gc is not None
        assert a._transport.governor is b._transport.governor  # type: ignore[attr-defined]
        assert a._transport.governor is not c._transport.governor  # type: ignore[attr-defined]
    off = HttpOptions(rate_limit=False)
    with make_client(BASE, options=off, rate_limits=limits) as d:
        assert d._transport.governor is None  # type: ignore[attr-defined]
    override = HttpOptions(rate_limits=(RateLimit(requests=7, per=1),))
    with make_client(BASE, options=override, rate_limits=limits) as e:
        assert e._transport.governor.limits == (RateLimit(requests=7, per=1),)  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["ftp://x", "not a url", "https://"])
def test_unusable_base_urls_name_the_field(url: str) -> None:
    with pytest.raises(ConfigError, match="alias.base_url"):
        make_client(url)


def test_refused_connections_are_retried_twice_then_reported() -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    options = HttpOptions(backoff_base=0.0, transport=httpx.MockTransport(refuse))
    with (
        make_client(BASE, options=options) as client,
        pytest.raises(VendorConnectionError, match="check the account URL"),
    ):
        request_json(client, "GET", "/x")
    assert len(calls) == 3


def test_retry_logs_never_carry_credentials(caplog: pytest.LogCaptureFixture) -> None:
    router = respx.MockRouter(base_url=BASE)
    router.get("/x").mock(side_effect=[httpx.Response(503), httpx.Response(200, json=1)])
    with caplog.at_level(logging.DEBUG), _client(router) as client:
        request_json(client, "GET", "/x", params={"page": 1})
    assert "retry 1" in caplog.text
    assert "tok-123" not in caplog.text and "Bearer" not in caplog.text


@pytest.mark.parametrize(
    ("status", "cli", "python"),
    [
        (401, "CLI `connect PROFILE`", "Python `ws.profiles.connect_api_key`"),
        (403, "CLI `spokes`", "Python `ws.spokes.get(name).info().permissions`"),
    ],
)
def test_credential_errors_name_the_cli_and_the_python_action(
    status: int, cli: str, python: str
) -> None:
    from saas_license.http import error_from_response

    request = httpx.Request("GET", f"{BASE}/api/v1/users")
    error = error_from_response(httpx.Response(status, request=request), vendor="Acme")
    assert error.hint is not None and cli in error.hint and python in error.hint
    assert "saas-license" not in str(error)
