"""Server-side rate limiting for a fake vendor: budgets, ``X-Ratelimit-*`` headers and 429s.

Sliding windows over request arrivals, one per :class:`RateLimit`. Every API
answer carries ``X-Ratelimit-Limit``/``-Remaining``/``-Reset`` for the minute window; a refused
request gets 429 with ``Retry-After``. ``time_scale`` shrinks every window (benchmarks).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from ..http import RateLimit

__all__ = ["ServerRateLimiter"]


class ServerRateLimiter:
    """Admits or refuses each arriving request; refused requests do not use up the budget."""

    def __init__(
        self,
        limits: Sequence[RateLimit],
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limits = tuple(
            sorted((lim.scaled(time_scale) for lim in limits), key=lambda lim: -lim.per)
        )
        self.time_scale = time_scale
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._arrivals: list[deque[float]] = [deque() for _ in self.limits]
        self.refused = 0

    def _fmt(self, seconds: float) -> str:
        if self.time_scale == 1.0:
            return str(max(1, math.ceil(seconds)))  # whole seconds, as HTTP wants
        return f"{max(0.001, seconds):.3f}"

    def admit(self) -> tuple[bool, dict[str, str]]:
        """(admitted?, headers to send). Headers describe the longest window."""
        with self._lock:
            now = self._clock()
            wait = 0.0
            for limit, log in zip(self.limits, self._arrivals, strict=True):
                while log and log[0] <= now - limit.per:
                    log.popleft()
                if len(log) >= limit.requests:
                    wait = max(wait, log[0] + limit.per - now)
            admitted = wait <= 0
            if admitted:
                for log in self._arrivals:
                    log.append(now)
            else:
                self.refused += 1
            head, log = self.limits[0], self._arrivals[0]
            remaining = max(0, head.requests - len(log))
            reset_in = (log[0] + head.per - now) if log else 0.0
            reset_at = self._wall() + reset_in
            headers = {
                "X-Ratelimit-Limit": str(head.requests),
                "X-Ratelimit-Remaining": str(remaining),
                "X-Ratelimit-Reset": str(math.ceil(reset_at))
                if self.time_scale == 1.0
                else f"{reset_at:.3f}",
            }
            if not admitted:
                headers["Retry-After"] = self._fmt(wait)
            return admitted, headers
