"""An httpx transport that paces requests through a :class:`RateGovernor` and retries safely."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import attrs
import httpx

from ._ratelimit import RateGovernor
from ._retry import RetryPolicy

__all__ = ["GovernedTransport", "TransportStats"]

log = logging.getLogger("saas_license.http")

# Errors raised before the request reached the server: safe to resend even a mutation.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@attrs.define
class TransportStats:
    """What one transport did: requests sent, retries, 429s and 5xx seen, seconds spent waiting."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    backoff_seconds: float = 0.0


class GovernedTransport(httpx.BaseTransport):
    """Wraps another transport: every attempt takes a governor lease; failures follow the policy."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        governor: RateGovernor | None,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._inner = inner
        self.governor = governor
        self.policy = policy
        self._sleep = sleep
        self._lock = threading.Lock()
        self.stats = TransportStats()

    def __repr__(self) -> str:
        return f"GovernedTransport(governor={self.governor!r}, policy={self.policy!r})"

    def _count(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _wait(self, delay: float, *, everyone: bool) -> None:
        self._count(backoff_seconds=delay)
        if everyone and self.governor is not None:
            self.governor.pause(delay)  # the next acquire() waits; every other caller too
        else:
            self._sleep(delay)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, waiting for budget first and retrying only where it is safe."""
        governor = self.governor
        attempt = 0
        where = f"{request.method} {request.url.copy_with(query=None)}"
        while True:
            lease = governor.acquire() if governor is not None else None
            self._count(requests=1)
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError as exc:
                if governor is not None and lease is not None:
                    governor.release(lease)
                delay = self.policy.delay_for_error(
                    request.method, attempt, sent=not isinstance(exc, _NOT_SENT)
                )
                if delay is None:
                    raise
                log.info(
                    "%s failed (%s); retry %d in %.2fs",
                    where,
                    type(exc).__name__,
                    attempt + 1,
                    delay,
                )
                self._count(retries=1)
                self._wait(delay, everyone=False)
                attempt += 1
                continue
            if governor is not None and lease is not None:
                governor.release(lease)
                governor.observe(response.headers)
            status = response.status_code
            if status == 429:
                self._count(throttled=1)
            elif status >= 500:
                self._count(server_errors=1)
            delay = self.policy.delay_for_status(request.method, status, response.headers, attempt)
            if delay is None:
                return response
            response.read()
            response.close()
            log.info("%s answered %d; retry %d in %.2fs", where, status, attempt + 1, delay)
            self._count(retries=1)
            self._wait(delay, everyone=status == 429)
            attempt += 1

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()
