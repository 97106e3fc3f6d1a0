"""When to try a request again, and how long to wait first: pure decisions, no I/O.

Reads (GET, HEAD, OPTIONS) are retried on 408, 429, 500, 502, 503 and 504 and on network
errors. Mutations (POST, PUT, PATCH, DELETE) are never retried blindly: only after a 429 (the
server refused to process it) or an error raised before the request left this machine.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping

import attrs

__all__ = [
    "IDEMPOTENT_METHODS",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "is_idempotent",
    "parse_retry_after",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Refused connections and DNS failures rarely heal within seconds: try twice more, then report.
_MAX_CONNECT_RETRIES = 2


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


def parse_retry_after(
    headers: Mapping[str, str], *, cap: float = 120.0, now: float | None = None
) -> float | None:
    """Seconds the server asked us to wait, in ``[0, cap]``; None when it did not say.

    Accepts ``retry-after-ms``, ``Retry-After`` / ``retry_after`` (seconds or an HTTP date) and,
    failing those, ``X-Ratelimit-Reset`` (epoch seconds when above 1e9, else seconds to wait).
    """
    clock = time.time() if now is None else now
    value: float | None = None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        ms = _seconds(raw_ms, clock)
        value = None if ms is None else ms / 1000.0
    for name in ("retry-after", "retry_after"):
        raw = headers.get(name)
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
class RetryPolicy:
    """Capped exponential backoff with jitter, honouring the server's ``Retry-After``.

    ``max_wait`` is the longest server-requested wait we accept; asked to wait longer, we give up
    and report it instead of hanging a daily job.
    """

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_wait: float = 120.0

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Delay before retry number ``attempt + 1``: ``base * 2**attempt`` capped, times 0.5-1.0."""
        raw = self.backoff_base * (2.0 ** min(attempt, 30))
        return min(self.backoff_cap, raw) * (0.5 + 0.5 * rand())

    def delay_for_status(
        self,
        method: str,
        status: int,
        headers: Mapping[str, str],
        attempt: int,
        *,
        now: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retrying after ``status``; None means do not retry."""
        if attempt >= self.max_retries or status not in RETRYABLE_STATUSES:
            return None
        if status != 429 and not is_idempotent(method):
            return None  # the server may have applied the mutation: never resend it blindly
        asked = parse_retry_after(headers, cap=math.inf, now=now)
        if asked is not None:
            return asked if asked <= self.max_wait else None
        return self.backoff(attempt, rand)

    def delay_for_error(
        self,
        method: str,
        attempt: int,
        *,
        sent: bool,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retrying after a network error; None means do not retry.

        ``sent`` is False when the error happened before the request left (connect failures):
        then even a mutation may be resent, at most twice.
        """
        if sent and not is_idempotent(method):
            return None
        if attempt >= (self.max_retries if sent else min(self.max_retries, _MAX_CONNECT_RETRIES)):
            return None
        return self.backoff(attempt, rand)
