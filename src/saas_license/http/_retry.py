"""When to try a request again, and how long to wait first: pure decisions, no I/O.

Reads (GET, HEAD, OPTIONS) are retried on 408, 429, 500, 502, 503 and 504, on network errors and
on a 2xx whose JSON body does not parse (a truncated answer). Mutations (POST, PUT, PATCH,
DELETE) are never retried blindly: only after a 429 (the server refused to process it) or an
error raised before the request left this machine.

Every request has a **budget** of waiting time (``RetryPolicy.budget``, 10 minutes by default):
the sum of its backoffs and server-requested pauses never exceeds it, so a ``Retry-After`` of a
few minutes is honoured while a daily job never hangs for hours.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._clock import format_duration

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "RetryDecision",
    "RetryPolicy",
    "is_idempotent",
    "parse_retry_after",
    "retry_after_in_body",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Refused connections and DNS failures rarely heal within seconds: try twice more, then report.
_MAX_CONNECT_RETRIES = 2
#: The longest wait :func:`parse_retry_after` reports unless told otherwise (one day).
_DEFAULT_CAP = 86_400.0


def is_idempotent(method: str) -> bool:
    """True for methods that may be sent twice without changing anything twice."""
    return method.upper() in IDEMPOTENT_METHODS


def _seconds(raw: str, now: float) -> float | None:
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        value = when.timestamp() - now
    if math.isnan(value):
        return None
    return value


def retry_after_in_body(body: bytes) -> str | None:
    """The ``retry_after`` of a JSON error body (``{"retry_after": 30}``), as header text."""
    if not body or len(body) > 65_536 or not body.lstrip().startswith(b"{"):
        return None
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("retry_after", "retryAfter"):
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return repr(float(value))
        if isinstance(value, str):
            return value
    return None


def parse_retry_after(
    headers: Mapping[str, str],
    *,
    cap: float = _DEFAULT_CAP,
    now: float | None = None,
    body: bytes = b"",
) -> float | None:
    """Seconds the server asked us to wait, in ``[0, cap]``; None when it did not say.

    Accepts ``retry-after-ms``, ``Retry-After`` / ``retry_after`` (seconds or an HTTP date), a
    JSON body's ``retry_after`` and, failing those, ``X-Ratelimit-Reset`` (epoch seconds when
    above 1e9, else seconds to wait). ``now`` is the wall clock (epoch seconds) for dates.
    """
    clock = time.time() if now is None else now
    value: float | None = None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        ms = _seconds(raw_ms, clock)
        value = None if ms is None else ms / 1000.0
    for raw in (headers.get("retry-after"), headers.get("retry_after"), retry_after_in_body(body)):
        if value is None and raw is not None:
            value = _seconds(raw, clock)
    if value is None:
        raw_reset = headers.get("x-ratelimit-reset")
        if raw_reset is not None:
            reset = _seconds(raw_reset, clock)
            if reset is not None:
                value = reset - clock if reset > 1e9 else reset
    if value is None:
        return None
    return min(max(0.0, value), max(0.0, cap))


@attrs.frozen(kw_only=True)
class RetryDecision:
    """Whether to try again: ``delay`` seconds first, or None with ``reason`` saying why not."""

    delay: float | None
    reason: str = ""
    asked: float | None = None  # what the server asked for (Retry-After), when it said


_NO = RetryDecision(delay=None)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, honouring the server's ``Retry-After``, in a budget.

    ``max_retries`` bounds retries after failures (5xx, 408, timeouts, dropped connections,
    truncated bodies); ``max_throttle_retries`` bounds retries after 429s, which are the server
    pacing us rather than failing. ``budget`` is the total waiting one request may do: a wait
    that would go past it is not taken, the request fails at once and says how long it was asked
    to wait.
    """

    max_retries: int = 4
    max_throttle_retries: int = 25
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    budget: float = 600.0

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Delay before retry number ``attempt + 1``: ``base * 2**attempt`` capped, times 0.5-1.0."""
        raw = self.backoff_base * (2.0 ** min(attempt, 30))
        return min(self.backoff_cap, raw) * (0.5 + 0.5 * rand())

    def _within_budget(self, delay: float, waited: float, asked: float | None) -> RetryDecision:
        left = max(0.0, self.budget - waited)
        # A spent budget stops retrying even when the next wait would be zero.
        if delay <= left and waited + delay <= self.budget:
            return RetryDecision(delay=delay, asked=asked)
        who = "the server asked to wait" if asked is not None else "the next backoff is"
        return RetryDecision(
            delay=None,
            asked=asked,
            reason=(
                f"{who} {format_duration(delay)}, more than the {format_duration(left)} left "
                f"of the {format_duration(self.budget)} retry budget"
            ),
        )

    def decide_status(
        self,
        method: str,
        status: int,
        headers: Mapping[str, str],
        *,
        retries: int = 0,
        throttles: int = 0,
        waited: float = 0.0,
        now: float | None = None,
        body: bytes = b"",
        rand: Callable[[], float] = random.random,
    ) -> RetryDecision:
        """Retry after an answer with ``status``? ``retries``/``throttles``: retries so far after
        failures / after 429s; ``waited``: seconds this request already waited."""
        if status not in RETRYABLE_STATUSES:
            return _NO
        if status != 429 and not is_idempotent(method):
            # the server may have applied the mutation: never resend it blindly
            return RetryDecision(delay=None, reason=f"a {method} is never resent after a {status}")
        asked = parse_retry_after(headers, cap=math.inf, now=now, body=body)
        if status == 429:
            if throttles >= self.max_throttle_retries:
                return RetryDecision(
                    delay=None,
                    asked=asked,
                    reason=f"still throttled after {throttles} retries",
                )
            attempt = throttles
        else:
            if retries >= self.max_retries:
                return RetryDecision(
                    delay=None, asked=asked, reason=f"{retries} retries allowed (max_retries)"
                )
            attempt = retries
        delay = asked if asked is not None else self.backoff(attempt, rand)
        return self._within_budget(delay, waited, asked)

    def delay_for_status(
        self,
        method: str,
        status: int,
        headers: Mapping[str, str],
        attempt: int,
        *,
        waited: float = 0.0,
        now: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retrying after ``status`` (``attempt`` retries so far of that
        kind); None means do not retry."""
        return self.decide_status(
            method,
            status,
            headers,
            retries=attempt,
            throttles=attempt,
            waited=waited,
            now=now,
            rand=rand,
        ).delay

    def decide_bad_body(
        self,
        method: str,
        *,
        retries: int = 0,
        waited: float = 0.0,
        rand: Callable[[], float] = random.random,
    ) -> RetryDecision:
        """Retry after a 2xx whose JSON body does not parse? Like a 5xx: reads only."""
        if not is_idempotent(method):
            return RetryDecision(delay=None, reason=f"a {method} is never resent")
        if retries >= self.max_retries:
            return RetryDecision(delay=None, reason=f"{retries} retries allowed (max_retries)")
        return self._within_budget(self.backoff(retries, rand), waited, None)

    def decide_error(
        self,
        method: str,
        *,
        sent: bool,
        retries: int = 0,
        waited: float = 0.0,
        rand: Callable[[], float] = random.random,
    ) -> RetryDecision:
        """Retry after a network error? ``sent`` is False when it happened before the request
        left (connect failures): then even a mutation may be resent, at most twice."""
        if sent and not is_idempotent(method):
            return RetryDecision(
                delay=None,
                reason=f"the {method} may have been applied, so it is never resent",
            )
        if sent and retries >= self.max_retries:
            return RetryDecision(delay=None, reason=f"{retries} retries allowed (max_retries)")
        if not sent and retries >= min(self.max_retries, _MAX_CONNECT_RETRIES):
            return RetryDecision(
                delay=None, reason="a connection that cannot be made is tried 3 times at most"
            )
        return self._within_budget(self.backoff(retries, rand), waited, None)

    def delay_for_error(
        self,
        method: str,
        attempt: int,
        *,
        sent: bool,
        waited: float = 0.0,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retrying after a network error; None means do not retry."""
        return self.decide_error(method, sent=sent, retries=attempt, waited=waited, rand=rand).delay
