"""Downloading an Aha! account: concurrent, inside the rate limits, complete under drift and faults."""

from __future__ import annotations

import threading

import attrs
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license import HttpOptions, Secret
from saas_license.http import BearerAuth
from saas_license.spoke import BadPayloadError, RateLimitedError
from saas_license_aha import AHA_RATE_LIMITS, AhaClient
from saas_license_aha.sandbox import Fault, SandboxApp, SandboxFaults

BASE = "https://acme.aha.io"
FAST = HttpOptions(rate_limit=False, backoff_base=0.0)


def _client(transport: httpx.BaseTransport, options: HttpOptions = FAST) -> AhaClient:
    return AhaClient(
        BASE, auth=BearerAuth(Secret("k")), options=attrs.evolve(options, transport=transport)
    )


class Watch(httpx.BaseTransport):
    """Counts requests in flight at once.

    Every request after the first (which is fetched alone, to learn the page count) is held
    until a second one is in flight too, so the overlap is certain rather than a matter of
    timing; a client that never overlaps times out here with ``peak == 1``.
    """

    def __init__(self, app: SandboxApp) -> None:
        self.app, self.inflight, self.peak, self.seen = app, 0, 0, 0
        self.cond = threading.Condition()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.cond:
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
            self.seen += 1
            first = self.seen == 1
            self.cond.notify_all()
            if not first:
                self.cond.wait_for(lambda: self.peak >= 2, timeout=10)
        try:
            return self.app(request)
        finally:
            with self.cond:
                self.inflight -= 1


def test_pages_after_the_first_are_fetched_concurrently() -> None:
    app = SandboxApp(user_count=2000, api_keys=["k"], strict_shapes=True)
    watch = Watch(app)
    options = HttpOptions(rate_limit=False, max_concurrency=4)
    with _client(watch, options) as client:
        ids = [u.id for u in client.iter_users()]
    assert len(ids) == len(set(ids)) == 2000
    assert 2 <= watch.peak <= 4


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(5, 700),
    drifts=st.lists(st.sampled_from([Fault.DRIFT_ADD, Fault.DRIFT_REMOVE]), max_size=4),
    workers=st.integers(1, 4),
)
def test_users_changing_between_pages_are_neither_missed_nor_repeated(
    size: int, drifts: list[Fault], workers: int
) -> None:
    app = SandboxApp(user_count=size, api_keys=["k"], seed=size)
    before = set(app.user_ids())
    for fault in drifts:
        app.inject(fault)
    options = HttpOptions(rate_limit=False, max_concurrency=workers)
    with _client(app.transport(), options) as client:
        got = [u.id for u in client.iter_users(per_page=50)]
    after = set(app.user_ids())
    assert len(got) == len(set(got))
    assert before & after <= set(got)  # everyone there throughout was read
    assert set(got) <= before | after


def test_the_governor_keeps_a_fast_client_inside_the_sandbox_limits() -> None:
    scale = 50.0  # 300 per 1.2 s and 20 per 0.02 s: the minute window is hit within the test
    app = SandboxApp(user_count=700, api_keys=["k"], rate_limit=True, time_scale=scale)
    options = HttpOptions(
        rate_limits=tuple(limit.scaled(scale) for limit in AHA_RATE_LIMITS), max_concurrency=6
    )
    with _client(app.transport(), options) as client:
        for _ in range(3):  # 3 x 140 pages of 5 = 420 requests > 300 per (scaled) minute
            assert sum(1 for _ in client.iter_users(per_page=5)) == 700
        assert client.stats is not None and client.stats.throttled == 0
    assert app.stats.throttled == 0 and app.stats.api_requests == 420


def test_without_the_governor_429s_are_retried_and_nothing_is_lost() -> None:
    app = SandboxApp(user_count=400, api_keys=["k"], rate_limit=True, time_scale=20.0)
    options = HttpOptions(rate_limit=False, max_concurrency=4, max_retries=50)
    with _client(app.transport(), options) as client:
        assert len({u.id for u in client.iter_users(per_page=5)}) == 400
        assert client.stats is not None and client.stats.throttled > 0
    assert app.stats.throttled > 0


def test_transient_faults_during_download_are_retried() -> None:
    app = SandboxApp(user_count=600, api_keys=["k"], faults=SandboxFaults(throttle_retry_after=0))
    app.inject(Fault.SERVER_ERROR, 3)
    app.inject(Fault.TIMEOUT, 2)
    app.inject(Fault.THROTTLE, 1)
    options = HttpOptions(rate_limit=False, backoff_base=0.0, max_retries=6)
    with _client(app.transport(), options) as client:
        assert len({u.id for u in client.iter_users(per_page=100)}) == 600
        assert client.stats is not None and client.stats.retries == 6


def test_too_many_429s_end_in_a_clear_error() -> None:
    app = SandboxApp(user_count=10, api_keys=["k"], faults=SandboxFaults(throttle_retry_after=0))
    app.inject(Fault.THROTTLE, 10)
    with (
        _client(
            app.transport(), HttpOptions(rate_limit=False, backoff_base=0, max_throttle_retries=2)
        ) as c,
        pytest.raises(RateLimitedError, match="rate limit"),
    ):
        list(c.iter_users())


def test_malformed_json_fails_the_download_clearly() -> None:
    app = SandboxApp(user_count=300, api_keys=["k"], strict_shapes=True)
    app.inject(Fault.MALFORMED, 10)  # truncated bodies are retried like a 5xx: 1 + 4 tries fail
    with (
        _client(app.transport(), HttpOptions(rate_limit=False, backoff_base=0.0)) as client,
        pytest.raises(BadPayloadError, match="not JSON after 5 tries"),
    ):
        list(client.iter_users())


def test_the_download_fetches_pages_in_one_wave_within_the_budget() -> None:
    """Default concurrency comes from Aha!'s 20-a-second budget: 10 pages in flight, never more."""
    app = SandboxApp(user_count=2_400)
    gate = threading.Condition()
    state = {"now": 0, "peak": 0, "open": False}

    def slow(request: httpx.Request) -> httpx.Response:
        # Each request waits (up to 5 s, for a loaded machine) until 10 are in flight at once, so
        # the peak measures the concurrency, not how fast threads happen to be scheduled.
        with gate:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            if state["now"] >= 10:
                state["open"] = True
                gate.notify_all()
            if request.url.params.get("page", "1") != "1":  # page 1 is read alone, first
                gate.wait_for(lambda: state["open"], timeout=5)
        try:
            return app(request)
        finally:
            with gate:
                state["now"] -= 1

    options = HttpOptions(transport=httpx.MockTransport(slow))
    with AhaClient(
        "https://sandbox.aha.io", auth=BearerAuth(Secret("sandbox-key")), options=options
    ) as client:
        ids = [u.id for u in client.iter_users(per_page=200)]
    assert sorted(ids) == sorted(app.user_ids())
    assert state["peak"] == 10  # 11 pages of 200: page 1, then 10 at once
