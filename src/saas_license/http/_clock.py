"""Time as the toolkit sees it: one object for "now" and "wait", so tests can simulate minutes.

The rate governor and the retry loop take a :class:`Clock`; :class:`SystemClock` is the real one
and :class:`SimulatedClock` advances instantly when asked to sleep (no real waiting in tests).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SimulatedClock", "SystemClock", "format_duration"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time for intervals, wall time for server dates, and a way to wait."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals, deadlines)."""

    def time(self) -> float:
        """Epoch seconds (to read ``Retry-After`` dates and ``X-Ratelimit-Reset`` epochs)."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock:
    """The real clock: :func:`time.monotonic`, :func:`time.time`, :func:`time.sleep`."""

    def __repr__(self) -> str:
        return "SystemClock()"

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def time(self) -> float:
        """``time.time()``."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``."""
        time.sleep(max(0.0, seconds))


class SimulatedClock:
    """Simulated time for tests: :meth:`sleep` advances the clock at once and records the wait.

    Thread-safe. ``wall`` is the epoch second at monotonic zero, so server dates line up.
    """

    def __init__(self, *, start: float = 0.0, wall: float = 1_750_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self._wall_offset = wall - start
        self.sleeps: list[float] = []

    def __repr__(self) -> str:
        return f"SimulatedClock(now={self._now:g})"

    def __call__(self) -> float:
        return self.monotonic()

    def monotonic(self) -> float:
        """Simulated seconds since the start."""
        with self._lock:
            return self._now

    def time(self) -> float:
        """Simulated epoch seconds."""
        with self._lock:
            return self._now + self._wall_offset

    def sleep(self, seconds: float) -> None:
        """Advance the clock by ``seconds`` (never backwards) without waiting."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass (the world moves on; nothing is recorded as a wait)."""
        with self._lock:
            self._now += max(0.0, seconds)

    @property
    def slept(self) -> float:
        """Total simulated seconds spent in :meth:`sleep`."""
        with self._lock:
            return sum(max(0.0, s) for s in self.sleeps)


def format_duration(seconds: float) -> str:
    """``0.4s``, ``12s``, ``2m31s``, ``1h05m``: short and readable in one-line errors."""
    if seconds < 10:
        return f"{max(0.0, seconds):.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
