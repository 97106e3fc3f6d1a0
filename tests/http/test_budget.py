"""Budgeted retries in simulated time: minutes of Retry-After honoured, budgets kept, truncated
bodies retried, and errors that say what really happened. No test here waits for real."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator

import attrs
import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from saas_license import (
    BadPayloadError,
    RateLimitedError,
    Secret,
    ServerError,
    VendorConnectionError,
    VendorTimeoutError,
)
from saas_license.http import (
    BearerAuth,
    HttpOptions,
    Page,
    RateGovernor,
    RateLimit,
    RetryPolicy,
    SimulatedClock,
    format_duration,
    make_client,
    paginate,
    request_json,
    retry_record,
    safe_url,
    transport_stats,
)

BASE = "https://acme.example.com"
LIMITS = (RateLimit(requests=300, per=60.0), RateLimit(requests=20, per=1.0))


def _options(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> HttpOptions:
    defaults: dict[str, object] = {"clock": SimulatedClock(), "rate_limit": True}
    defaults.update(kw)
    return HttpOptions(transport=httpx.MockTransport(handler), **defaults)  # type: ignore[arg-type]


def _client(options: HttpOptions) -> httpx.Client:
    return make_client(
        BASE, auth=BearerAuth(Secret("tok-123")), options=options, rate_limits=LIMITS
    )


def _clock(options: HttpOptions) -> SimulatedClock:
    assert isinstance(options.clock, SimulatedClock)
    return options.clock


def test_minutes_of_retry_after_are_honoured_in_simulated_time() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.get("/x").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "240"}),
            httpx.Response(503, headers={"Retry-After": "180"}),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    options = _options(router.handler)
    started = time.monotonic()
    with _client(options) as client:
        assert request_json(client, "GET", "/x") == {"ok": True}
        stats = transport_stats(client)
    assert time.monotonic() - started < 5  # seven simulated minutes, no real ones
    assert route.call_count == 3 and stats.retries == 2 and stats.backoff_seconds == 420
    assert _clock(options).monotonic() == pytest.approx(420, abs=1.0)


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "90"}, {}, 90.0),
        ({"retry_after": "75"}, {}, 75.0),
        ({}, {"error": "Rate limit exceeded", "retry_after": 45}, 45.0),
        ({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "EPOCH+130"}, {}, 130.0),
        ({"X-Ratelimit-Reset": "20"}, {}, 20.0),
    ],
)
def test_every_aha_retry_hint_is_waited_for(
    headers: dict[str, str], body: dict[str, object], expected: float
) -> None:
    clock = SimulatedClock()
    wall = clock.time()
    headers = {k: v.replace("EPOCH+130", f"{wall + 130:.0f}") for k, v in headers.items()}
    answers = iter([httpx.Response(429, headers=headers, json=body), httpx.Response(200, json=1)])
    options = _options(lambda r: next(answers), clock=clock)
    with _client(options) as client:
        assert request_json(client, "GET", "/x") == 1
    assert clock.monotonic() == pytest.approx(expected, abs=1.0)


def test_the_budget_is_total_waiting_per_request_and_the_error_says_so() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.get("/users").respond(
        429, headers={"Retry-After": "400"}, json={"error": "Rate limit exceeded"}
    )
    options = _options(router.handler)
    with (
        _client(options) as client,
        pytest.raises(RateLimitedError) as info,
    ):
        request_json(client, "GET", "/users", params={"page": 2, "access_token": "leak"})
    message = str(info.value)
    assert route.call_count == 2  # waited 400 s once; a second 400 s would pass the 600 s budget
    assert _clock(options).monotonic() == pytest.approx(400, abs=1.0)
    assert "429" in message and "GET https://acme.example.com/users" in message
    assert "after 2 tries over 6m40s" in message
    assert "the server asked to wait 6m40s, more than the 3m20s left of the 10m00s" in message
    assert "leak" not in message and "page=" not in message and "tok-123" not in message
    assert info.value.retry_after == 400.0


def test_the_budget_and_429_retries_are_configurable() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "100"})] * 5 + [httpx.Response(200)]
    it = iter(answers)
    options = _options(lambda r: next(it), retry_budget=3600.0, max_throttle_retries=5)
    with _client(options) as client:
        request_json(client, "GET", "/x")
    assert _clock(options).monotonic() == pytest.approx(500, abs=1.0)
    it = iter(answers)
    options = _options(lambda r: next(it), max_throttle_retries=2)
    with _client(options) as client, pytest.raises(RateLimitedError, match="still throttled"):
        request_json(client, "GET", "/x")


class _Flaky:
    """A vendor answering 429 (Retry-After ``wait``) to ``rate`` of requests, from a seed."""

    def __init__(self, rate: float, *, wait: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rate, self.wait = rate, wait
        self.calls = self.throttled = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.rng.random() < self.rate:
            self.throttled += 1
            return httpx.Response(429, headers={"Retry-After": f"{self.wait:g}"})
        page = int(request.url.params["page"])
        items = list(range((page - 1) * 10, min(page * 10, 2000)))
        body = {"items": items, "total_pages": 200, "total_records": 2000}
        return httpx.Response(200, json=body)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_whole_listing_completes_under_a_10_percent_429_rate(seed: int) -> None:
    print(f"seed={seed}")
    vendor = _Flaky(0.10, wait=30.0, seed=seed)
    options = _options(vendor, max_concurrency=1)
    with _client(options) as client:

        def fetch(number: int) -> Page[int]:
            body = request_json(client, "GET", "/items", params={"page": number})
            return Page(
                number=number,
                items=body["items"],
                total_pages=body["total_pages"],
                total_records=body["total_records"],
            )

        seen = list(paginate(fetch, key=lambda i: str(i), workers=1))
        stats = transport_stats(client)
    assert sorted(seen) == list(range(2000))
    assert vendor.throttled > 10 and stats.throttled == vendor.throttled
    assert vendor.calls == 200 + vendor.throttled
    # every 429 cost its 30 s pause, and nothing else was waited beyond the budgets
    assert _clock(options).monotonic() >= 30 * vendor.throttled


def test_truncated_json_on_a_read_is_retried_like_a_5xx() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.get("/x").mock(
        side_effect=[
            httpx.Response(200, content=b'{"users": [{"id": 1', headers=_JSON),
            httpx.Response(200, json={"users": []}),
        ]
    )
    options = _options(router.handler)
    with _client(options) as client:
        assert request_json(client, "GET", "/x") == {"users": []}
        stats = transport_stats(client)
    assert route.call_count == 2 and stats.bad_bodies == 1 and stats.retries == 1


_JSON = {"Content-Type": "application/json; charset=utf-8"}


def test_truncated_json_that_persists_is_reported_with_its_history() -> None:
    router = respx.MockRouter(base_url=BASE)
    router.get("/x").respond(200, content=b'{"users": [', headers=_JSON)
    options = _options(router.handler, max_retries=2)
    with _client(options) as client, pytest.raises(BadPayloadError) as info:
        request_json(client, "GET", "/x?api_key=hidden")
    message = str(info.value)
    assert "GET https://acme.example.com/x (200) with a body that is not JSON" in message
    assert "after 3 tries over" in message and "JSON body that does not parse (11 bytes)" in message
    assert "hidden" not in message


def test_a_truncated_answer_to_a_mutation_is_never_resent() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.put("/users/1").respond(200, content=b'{"id": "1", "ena', headers=_JSON)
    with _client(_options(router.handler)) as client, pytest.raises(BadPayloadError):
        request_json(client, "PUT", "/users/1", json={"user": {"enabled": False}})
    assert route.call_count == 1


def test_an_html_page_with_200_is_not_retried() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.get("/x").respond(
        200, text="<html>login</html>", headers={"Content-Type": "text/html"}
    )
    with (
        _client(_options(router.handler)) as client,
        pytest.raises(BadPayloadError, match="login page"),
    ):
        request_json(client, "GET", "/x")
    assert route.call_count == 1


class _CutStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b'{"users": ['
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )


def test_a_connection_dropped_mid_body_is_retried_for_reads() -> None:
    answers = iter(
        [httpx.Response(200, headers=_JSON, stream=_CutStream()), httpx.Response(200, json=[1])]
    )
    options = _options(lambda r: next(answers))
    with _client(options) as client:
        assert request_json(client, "GET", "/x") == [1]
        assert transport_stats(client).retries == 1


def test_server_errors_and_timeouts_say_how_many_tries_over_how_long() -> None:
    router = respx.MockRouter(base_url=BASE)
    router.get("/5xx").respond(503, json={"error": "maintenance"})
    router.get("/slow").mock(side_effect=httpx.ReadTimeout("read timed out"))
    router.get("/down").mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    options = _options(router.handler, backoff_base=1.0)
    with _client(options) as client:
        with pytest.raises(ServerError) as five:
            request_json(client, "GET", "/5xx")
        with pytest.raises(VendorTimeoutError) as slow:
            request_json(client, "GET", "/slow")
        with pytest.raises(VendorConnectionError) as down:
            request_json(client, "GET", "/down")
    assert "(503) on GET https://acme.example.com/5xx after 5 tries over" in str(five.value)
    assert "(last: 503; stopped: 4 retries allowed" in str(five.value)
    assert "maintenance" in str(five.value)
    assert "after 5 tries" in str(slow.value) and "last: ReadTimeout" in str(slow.value)
    assert "after 3 tries" in str(down.value) and "Connection refused" in str(down.value)
    assert retry_record(five.value) is None  # records ride on responses, not on our errors


def test_a_mutation_is_never_resent_after_a_lost_answer_and_says_why() -> None:
    router = respx.MockRouter(base_url=BASE)
    route = router.put("/users/1").mock(side_effect=httpx.ReadTimeout("lost"))
    with _client(_options(router.handler)) as client, pytest.raises(VendorTimeoutError) as info:
        request_json(client, "PUT", "/users/1", json={})
    assert route.call_count == 1
    assert "not retried: the PUT may have been applied, so it is never resent" in str(info.value)


@given(
    method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]),
    status=st.integers(100, 599).filter(lambda s: s != 429),
    retries=st.integers(0, 10),
    waited=st.floats(0, 1000),
    budget=st.floats(0, 10_000),
)
def test_mutations_are_never_resent_whatever_the_budget(
    method: str, status: int, retries: int, waited: float, budget: float
) -> None:
    policy = RetryPolicy(budget=budget)
    decision = policy.decide_status(method, status, {}, retries=retries, waited=waited)
    assert decision.delay is None
    assert policy.decide_error(method, sent=True, retries=retries, waited=waited).delay is None
    assert policy.decide_bad_body(method, retries=retries, waited=waited).delay is None


@given(
    asked=st.floats(0, 5000),
    waited=st.floats(0, 5000),
    budget=st.floats(0, 5000),
    throttles=st.integers(0, 30),
)
def test_no_decision_ever_waits_past_the_budget(
    asked: float, waited: float, budget: float, throttles: int
) -> None:
    decision = RetryPolicy(budget=budget).decide_status(
        "GET", 429, {"retry-after": repr(asked)}, throttles=throttles, waited=waited
    )
    if decision.delay is not None:
        assert waited + decision.delay <= budget + 1e-9
        assert decision.delay == pytest.approx(asked)
    else:
        assert decision.reason


def test_the_governor_runs_on_the_injected_clock() -> None:
    clock = SimulatedClock()
    governor = RateGovernor.with_clock([RateLimit(requests=20, per=1.0)], clock)
    for _ in range(60):
        governor.release(governor.acquire())
    assert clock.monotonic() == pytest.approx(2.0, abs=0.05)
    governor.pause(300)
    before = clock.monotonic()
    governor.release(governor.acquire())
    assert clock.monotonic() - before == pytest.approx(300)
    governor.observe(
        httpx.Headers({"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": f"{clock.time() + 45}"})
    )
    before = clock.monotonic()
    governor.release(governor.acquire())
    assert clock.monotonic() - before == pytest.approx(45)


def test_clients_from_one_options_share_the_clock_through_their_governor() -> None:
    options = _options(lambda r: httpx.Response(200, json=1))
    with _client(options) as a, _client(options) as b:
        for _ in range(30):
            request_json(a, "GET", "/x")
            request_json(b, "GET", "/x")
    # 60 requests at 20 a second: the third second starts at t=2 on the simulated clock
    assert _clock(options).monotonic() == pytest.approx(2.0, abs=0.05)


def test_safe_url_and_durations() -> None:
    assert (
        safe_url("https://u:p@acme.example.com:8443/a/b?token=x#f")
        == "https://acme.example.com:8443/a/b"
    )
    assert [format_duration(s) for s in (0.42, 12, 151, 3900)] == ["0.4s", "12s", "2m31s", "1h05m"]


def test_options_stay_comparable_and_hide_the_clock() -> None:
    one, two = HttpOptions(), HttpOptions()
    assert one == two and "clock" not in repr(one) and one.retry_budget == 600.0
    assert attrs.evolve(one, retry_budget=60).retry_policy.budget == 60
    assert json.dumps(one.retry_policy.budget) == "600.0"


def test_an_unexpected_error_never_leaves_a_lease_in_flight() -> None:
    calls = iter([RuntimeError("bug in a fake transport"), httpx.Response(200, json=1)])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(calls)
        if isinstance(answer, Exception):
            raise answer
        return answer

    options = _options(handler, rate_limits=(RateLimit(requests=1, per=1.0),))
    with _client(options) as client:
        with pytest.raises(RuntimeError):
            request_json(client, "GET", "/x")
        governor = client._transport.governor  # type: ignore[attr-defined]
        assert all(lease.end is not None for lease in governor._leases)
        assert request_json(client, "GET", "/x") == 1  # the budget frees up after 1 s
    assert _clock(options).monotonic() == pytest.approx(1.0, abs=0.05)
