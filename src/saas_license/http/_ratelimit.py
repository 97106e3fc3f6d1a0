"""A shared rate governor: keep every request to one vendor account inside its budgets.

A budget is "at most N requests in any window of S seconds" (Aha!: 300 per 60 s and 20 per 1 s).
The governor counts a request from the moment it is sent until ``S`` seconds after its response
arrived, so the server sees the budget kept whatever the network latency. It also honours the
vendor's own signals: ``Retry-After`` after a 429 and ``X-Ratelimit-Remaining: 0`` pause every
caller until the window resets. No httpx here: it is plain, thread-safe bookkeeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from ..errors import ConfigError
from ._clock import Clock

__all__ = ["GovernorRegistry", "Lease", "RateGovernor", "RateLimit", "rate_limit_floor"]

#: How long a blocked caller waits before looking again when only in-flight requests block it.
_POLL = 0.02


def _positive_int(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{value!r} is not a positive whole number", field=f"rate_limit.{attr.name}"
        )


def _positive_float(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{value!r} is not a positive number", field=f"rate_limit.{attr.name}")


@attrs.frozen(kw_only=True)
class RateLimit:
    """At most ``requests`` requests in any window of ``per`` seconds."""

    requests: int = attrs.field(validator=_positive_int)
    per: float = attrs.field(validator=_positive_float)

    def scaled(self, factor: float) -> RateLimit:
        """The same budget on a clock running ``factor`` times faster (benchmarks, sandboxes)."""
        return RateLimit(requests=self.requests, per=self.per / factor)


@attrs.define(eq=False)
class Lease:
    """One request's claim on the budget: from ``start`` until ``per`` seconds after ``end``."""

    start: float
    end: float | None = None


def rate_limit_floor(requests: int, limits: Sequence[RateLimit]) -> float:
    """The earliest moment (seconds after the first) the last of ``requests`` requests may start.

    This is the rate-limit floor for a job of that many requests: no client can finish sooner
    without breaking a budget. Zero-latency requests, sliding windows.
    """
    if requests <= 1 or not limits:
        return 0.0
    starts: list[float] = []
    for i in range(requests):
        t = starts[-1] if starts else 0.0
        for limit in limits:
            if i >= limit.requests:
                t = max(t, starts[i - limit.requests] + limit.per)
        starts.append(t)
    return starts[-1]


class RateGovernor:
    """Hands out leases so that no window of any :class:`RateLimit` ever holds too many requests.

    Thread-safe; blocked callers sleep outside the lock. ``clock`` (monotonic), ``wall`` (epoch)
    and ``sleep`` are injectable so tests can run it in simulated time; :meth:`with_clock` takes
    all three from one :class:`~saas_license.http.Clock`. ``max_pause`` caps any one pause.
    """

    def __init__(
        self,
        limits: Iterable[RateLimit],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_pause: float = 600.0,
    ) -> None:
        self.limits = tuple(sorted(limits, key=lambda lim: lim.per))
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._max_pause = max_pause
        self._cond = threading.Condition()
        self._leases: deque[Lease] = deque()
        self._paused_until = 0.0
        self.waited = 0.0  # total seconds callers spent blocked (for reports)
        self.granted = 0

    @classmethod
    def with_clock(
        cls, limits: Iterable[RateLimit], clock: Clock, *, max_pause: float = 600.0
    ) -> RateGovernor:
        """A governor whose time and waiting come from ``clock`` (simulated in tests)."""
        return cls(
            limits, clock=clock.monotonic, wall=clock.time, sleep=clock.sleep, max_pause=max_pause
        )

    def __repr__(self) -> str:
        budgets = ", ".join(f"{lim.requests}/{lim.per:g}s" for lim in self.limits)
        return f"RateGovernor({budgets})"

    # -- bookkeeping (call with the lock held) ----------------------------------------------

    def _prune(self, now: float) -> None:
        longest = self.limits[-1].per if self.limits else 0.0
        self._leases = deque(
            lease for lease in self._leases if lease.end is None or lease.end + longest > now
        )

    def _wait_needed(self, now: float) -> float | None:
        """Seconds until a new request may start; None when only in-flight requests block it."""
        wait = max(0.0, self._paused_until - now)
        for limit in self.limits:
            active = [
                lease for lease in self._leases if lease.end is None or lease.end + limit.per > now
            ]
            excess = len(active) - limit.requests + 1
            if excess <= 0:
                continue
            expiries = sorted(lease.end + limit.per for lease in active if lease.end is not None)
            if len(expiries) < excess:
                return None
            wait = max(wait, expiries[excess - 1] - now)
        return wait

    # -- public -----------------------------------------------------------------------------

    def acquire(self) -> Lease:
        """Block until a request may start inside every budget; the caller must :meth:`release`."""
        with self._cond:
            while True:
                now = self._clock()
                self._prune(now)
                wait = self._wait_needed(now)
                if wait is not None and wait <= 0:
                    lease = Lease(start=now)
                    self._leases.append(lease)
                    self.granted += 1
                    return lease
                if wait is None:
                    self._cond.wait(_POLL)
                    self.waited += _POLL
                    continue
                self._cond.release()
                try:
                    self._sleep(wait)
                finally:
                    self._cond.acquire()
                self.waited += wait

    def release(self, lease: Lease) -> None:
        """The request of ``lease`` is answered (or failed); its window starts counting down now."""
        with self._cond:
            lease.end = self._clock()
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (capped), e.g. after a 429 with ``Retry-After``."""
        seconds = min(max(0.0, seconds), self._max_pause)
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read ``X-Ratelimit-Remaining``/``-Reset``: none left means pause until the reset."""
        remaining = _number(headers.get("x-ratelimit-remaining"))
        if remaining is None or remaining > 0:
            return
        reset = _number(headers.get("x-ratelimit-reset"))
        if reset is None:
            return
        delay = reset - self._wall() if reset > 1e9 else reset  # epoch seconds, or seconds left
        if delay > 0:
            self.pause(delay)


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


class GovernorRegistry:
    """One governor per vendor account (key), shared by every client that talks to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._governors: dict[tuple[str, tuple[RateLimit, ...]], RateGovernor] = {}

    def __repr__(self) -> str:
        return f"GovernorRegistry({len(self._governors)} accounts)"

    def get(
        self,
        key: str,
        limits: Sequence[RateLimit],
        *,
        clock: Clock | None = None,
        max_pause: float = 600.0,
    ) -> RateGovernor:
        """The governor of account ``key`` for these budgets, created on first use (with
        ``clock``, when given, for its time and waiting)."""
        ident = (key, tuple(limits))
        with self._lock:
            governor = self._governors.get(ident)
            if governor is None:
                governor = (
                    RateGovernor(limits, max_pause=max_pause)
                    if clock is None
                    else RateGovernor.with_clock(limits, clock, max_pause=max_pause)
                )
                self._governors[ident] = governor
            return governor
