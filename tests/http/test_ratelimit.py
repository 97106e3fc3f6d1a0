"""The rate governor keeps every window inside its budget, in simulated and in real time."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license import ConfigError
from saas_license.http import GovernorRegistry, Lease, RateGovernor, RateLimit, rate_limit_floor

AHA = (RateLimit(requests=300, per=60.0), RateLimit(requests=20, per=1.0))


class SimClock:
    """Simulated time: sleeping advances the clock instantly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def _server_view_ok(
    leases: list[Lease], limits: tuple[RateLimit, ...], arrivals: list[float]
) -> bool:
    """No window of any limit holds more arrivals than its budget (a sliding-window server)."""
    times = sorted(arrivals)
    for limit in limits:
        for i in range(len(times) - limit.requests):
            if times[i + limit.requests] - times[i] < limit.per - 1e-9:
                return False
    return True


@settings(max_examples=60)
@given(
    work=st.lists(
        st.tuples(
            st.floats(0, 0.5, allow_nan=False),  # idle time before the request
            st.floats(0, 2.0, allow_nan=False),  # how long the request takes
            st.floats(0, 1, allow_nan=False),  # where in [start, end] the server sees it
        ),
        min_size=1,
        max_size=400,
    ),
    limits=st.sampled_from(
        [
            AHA,
            (RateLimit(requests=3, per=1.0),),
            (RateLimit(requests=5, per=0.5), RateLimit(requests=12, per=2.0)),
        ]
    ),
)
def test_governor_never_exceeds_any_budget_in_simulated_time(
    work: list[tuple[float, float, float]], limits: tuple[RateLimit, ...]
) -> None:
    clock = SimClock()
    governor = RateGovernor(limits, clock=clock, sleep=clock.sleep)
    leases, arrivals = [], []
    for idle, duration, where in work:
        clock.sleep(idle)
        lease = governor.acquire()
        clock.sleep(duration)
        governor.release(lease)
        leases.append(lease)
        arrivals.append(lease.start + where * duration)
    for limit in limits:  # the governor's own invariant: N+1 starts span end + per
        for j in range(limit.requests, len(leases)):
            earlier = leases[j - limit.requests]
            assert earlier.end is not None
            assert leases[j].start >= earlier.end + limit.per - 1e-9
    assert _server_view_ok(leases, limits, arrivals)


def test_governor_does_not_wait_when_budget_is_free_and_waits_exactly_when_full() -> None:
    clock = SimClock()
    governor = RateGovernor([RateLimit(requests=20, per=1.0)], clock=clock, sleep=clock.sleep)
    for _ in range(20):
        governor.release(governor.acquire())
    assert clock.now == 0.0
    governor.release(governor.acquire())
    assert clock.now == pytest.approx(1.0)
    assert governor.granted == 21 and governor.waited == pytest.approx(1.0)


def test_pause_holds_every_caller_and_observe_reads_ratelimit_headers() -> None:
    clock = SimClock()
    wall = [1_700_000_000.0]
    governor = RateGovernor(
        [RateLimit(requests=100, per=1.0)], clock=clock, sleep=clock.sleep, wall=lambda: wall[0]
    )
    governor.pause(5)
    governor.release(governor.acquire())
    assert clock.now == pytest.approx(5.0)
    governor.observe({"x-ratelimit-remaining": "3", "x-ratelimit-reset": str(wall[0] + 30)})
    governor.release(governor.acquire())
    assert clock.now == pytest.approx(5.0)  # budget left: no pause
    governor.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(wall[0] + 7)})
    governor.release(governor.acquire())
    assert clock.now == pytest.approx(12.0)  # epoch reset honoured
    governor.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"})
    governor.release(governor.acquire())
    assert clock.now == pytest.approx(14.0)  # seconds-from-now reset honoured
    for junk in (
        {"x-ratelimit-remaining": "zero"},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "nan"},
    ):
        governor.observe(junk)
    governor.release(governor.acquire())
    assert clock.now == pytest.approx(14.0)


def test_pause_is_capped() -> None:
    clock = SimClock()
    governor = RateGovernor(
        [RateLimit(requests=5, per=1)], clock=clock, sleep=clock.sleep, max_pause=10
    )
    governor.pause(10_000)
    governor.release(governor.acquire())
    assert clock.now == pytest.approx(10.0)


def test_threads_share_one_budget_in_real_time() -> None:
    limit = RateLimit(requests=5, per=0.1)
    governor = RateGovernor([limit])
    leases: list[Lease] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(6):
            lease = governor.acquire()
            time.sleep(0.002)  # the request's duration on the real clock: what this test is about
            governor.release(lease)
            with lock:
                leases.append(lease)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    leases.sort(key=lambda lease: lease.start)
    ends = sorted(lease.end for lease in leases if lease.end is not None)
    assert len(leases) == 24
    for j in range(limit.requests, len(leases)):
        # at the start of request j, at most `requests - 1` earlier requests ended less than
        # `per` ago or are still running
        start = leases[j].start
        busy = [
            lease
            for lease in leases[:j]
            if lease.end is None or lease.end > start - limit.per + 1e-6
        ]
        assert len(busy) < limit.requests, (j, len(busy))
    assert ends[-1] - leases[0].start >= 0.4  # 24 requests at 5 per 0.1 s need 4 full windows


def test_rate_limit_floor() -> None:
    assert rate_limit_floor(1, AHA) == 0.0
    assert rate_limit_floor(20, AHA) == 0.0
    assert rate_limit_floor(21, AHA) == 1.0
    assert rate_limit_floor(50, AHA) == 2.0
    assert rate_limit_floor(300, AHA) == 14.0
    assert rate_limit_floor(301, AHA) == 60.0
    assert rate_limit_floor(500, AHA) == 69.0
    assert rate_limit_floor(500, [lim.scaled(10) for lim in AHA]) == pytest.approx(6.9)


@given(n=st.integers(1, 2000))
def test_floor_is_monotone_and_respects_each_budget(n: int) -> None:
    assert rate_limit_floor(n + 1, AHA) >= rate_limit_floor(n, AHA)
    for limit in AHA:
        assert rate_limit_floor(n, AHA) >= ((n - 1) // limit.requests) * limit.per


def test_bad_limits_name_the_field() -> None:
    with pytest.raises(ConfigError, match="rate_limit.requests"):
        RateLimit(requests=0, per=1)
    with pytest.raises(ConfigError, match="rate_limit.per"):
        RateLimit(requests=1, per=-1)


def test_registry_shares_one_governor_per_account() -> None:
    registry = GovernorRegistry()
    a = registry.get("https://a.aha.io:", AHA)
    assert registry.get("https://a.aha.io:", AHA) is a
    assert registry.get("https://b.aha.io:", AHA) is not a
    assert "2 accounts" in repr(registry)
