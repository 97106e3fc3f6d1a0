"""An httpx transport that paces requests through a :class:`RateGovernor` and retries safely.

Reads have their whole body read inside the retry loop, so a connection dropped mid-body or a
truncated JSON answer is retried like a 5xx. Whatever the outcome, a :class:`RetryRecord` of the
request (tries, time, last cause) rides on the response or the exception, and the errors built
from them say what really happened.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import attrs
import httpx

from ._clock import Clock, SystemClock, format_duration
from ._ratelimit import RateGovernor
from ._retry import RetryDecision, RetryPolicy, is_idempotent

__all__ = [
    "GovernedTransport",
    "RetryRecord",
    "TransportStats",
    "parsed_json",
    "retry_record",
    "safe_url",
]

log = logging.getLogger("saas_license.http")

# Errors raised before the request reached the server: safe to resend even a mutation.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RECORD = "saas_license.retry"
_JSON = "saas_license.json"
_EXC_RECORD = "_saas_license_retry"


def safe_url(url: httpx.URL | str) -> str:
    """``scheme://host[:port]/path``: no user info, query or fragment (they may carry secrets)."""
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    return str(parsed.copy_with(query=None, fragment=None, userinfo=b""))


@attrs.frozen(kw_only=True)
class RetryRecord:
    """What one request went through: tries, seconds since the first, seconds waited between
    tries, the last cause, and why retrying stopped (empty when it did not need to)."""

    method: str
    url: str  # safe_url: no query, no credentials
    tries: int
    elapsed: float
    waited: float
    last_cause: str
    gave_up: str = ""

    def describe(self) -> str:
        """`` after 5 tries over 2m31s (last: 503; stopped: …)``; ``""`` after one clean try."""
        if self.tries <= 1:
            return f" (not retried: {self.gave_up})" if self.gave_up else ""
        text = f" after {self.tries} tries over {format_duration(self.elapsed)} (last: {self.last_cause}"
        if self.gave_up:
            text += f"; stopped: {self.gave_up}"
        return text + ")"


def retry_record(obj: httpx.Response | BaseException) -> RetryRecord | None:
    """The :class:`RetryRecord` a :class:`GovernedTransport` attached to a response or error."""
    if isinstance(obj, httpx.Response):
        record = obj.extensions.get(_RECORD)
    else:
        record = getattr(obj, _EXC_RECORD, None)
    return record if isinstance(record, RetryRecord) else None


def parsed_json(response: httpx.Response) -> tuple[Any] | None:
    """``(body,)`` when the transport already parsed this response's JSON body, else None.

    Hands it over once: the response forgets it (httpx responses sit in a reference cycle until
    the garbage collector runs, and a parsed page is far bigger than its bytes).
    """
    cached = response.extensions.pop(_JSON, None)
    return cached if isinstance(cached, tuple) and len(cached) == 1 else None


def _wants_json(response: httpx.Response) -> bool:
    return (
        response.is_success
        and bool(response.content.strip())
        and "json" in response.headers.get("content-type", "").lower()
    )


def _describe_error(exc: httpx.TransportError) -> str:
    detail = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {detail[:120]}" if detail and detail != name else name


@attrs.define
class TransportStats:
    """What one transport did: requests sent, retries, 429s and 5xx seen, truncated bodies,
    seconds spent waiting."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    bad_bodies: int = 0
    backoff_seconds: float = 0.0


@attrs.define
class _Attempts:
    """Per-request bookkeeping of the retry loop."""

    started: float
    tries: int = 0
    retries: int = 0
    throttles: int = 0
    waited: float = 0.0
    last: str = ""

    def record(self, method: str, url: str, now: float, gave_up: str = "") -> RetryRecord:
        return RetryRecord(
            method=method,
            url=url,
            tries=self.tries,
            elapsed=max(0.0, now - self.started),
            waited=self.waited,
            last_cause=self.last,
            gave_up=gave_up,
        )


class GovernedTransport(httpx.BaseTransport):
    """Wraps another transport: every attempt takes a governor lease; failures follow the policy.

    ``clock`` does all waiting and timing (a :class:`SimulatedClock` in tests: no real sleep).
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        governor: RateGovernor | None,
        policy: RetryPolicy,
        clock: Clock | None = None,
    ) -> None:
        self._inner = inner
        self.governor = governor
        self.policy = policy
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self.stats = TransportStats()

    def __repr__(self) -> str:
        return f"GovernedTransport(governor={self.governor!r}, policy={self.policy!r})"

    def _count(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _wait(self, state: _Attempts, decision: RetryDecision, *, everyone: bool) -> None:
        delay = decision.delay or 0.0
        state.waited += delay
        self._count(retries=1, backoff_seconds=delay)
        if everyone and self.governor is not None:
            self.governor.pause(delay)  # the next acquire() waits; every other caller too
        else:
            self.clock.sleep(delay)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, waiting for budget first and retrying only where it is safe."""
        governor, policy, clock = self.governor, self.policy, self.clock
        method = request.method
        url = safe_url(request.url)
        where = f"{method} {url}"
        read_body = is_idempotent(method)
        state = _Attempts(started=clock.monotonic())
        while True:
            lease = governor.acquire() if governor is not None else None
            state.tries += 1
            self._count(requests=1)
            try:
                response = self._inner.handle_request(request)
                if read_body:
                    try:
                        response.read()  # inside the loop: a body cut short is retried too
                    except BaseException:
                        response.close()
                        raise
            except httpx.TransportError as exc:
                if governor is not None and lease is not None:
                    governor.release(lease)
                state.last = _describe_error(exc)
                decision = policy.decide_error(
                    method,
                    sent=not isinstance(exc, _NOT_SENT),
                    retries=state.retries,
                    waited=state.waited,
                )
                if decision.delay is None:
                    setattr(
                        exc,
                        _EXC_RECORD,
                        state.record(method, url, clock.monotonic(), decision.reason),
                    )
                    raise
                log.info(
                    "%s failed (%s); retry %d in %.2fs",
                    where,
                    type(exc).__name__,
                    state.tries,
                    decision.delay,
                )
                state.retries += 1
                self._wait(state, decision, everyone=False)
                continue
            except BaseException:
                if governor is not None and lease is not None:
                    governor.release(lease)  # never leave a lease "in flight" forever
                raise
            if governor is not None and lease is not None:
                governor.release(lease)
                governor.observe(response.headers)
            status = response.status_code
            if read_body and _wants_json(response):
                try:
                    response.extensions[_JSON] = (json.loads(response.content),)
                except ValueError:
                    self._count(bad_bodies=1)
                    state.last = f"{status} with a JSON body that does not parse ({len(response.content)} bytes)"
                    decision = policy.decide_bad_body(
                        method, retries=state.retries, waited=state.waited
                    )
                    if decision.delay is None:
                        response.extensions[_RECORD] = state.record(
                            method, url, clock.monotonic(), decision.reason
                        )
                        return response
                    log.info(
                        "%s answered %d with a truncated body; retry %d in %.2fs",
                        where,
                        status,
                        state.tries,
                        decision.delay,
                    )
                    response.close()
                    state.retries += 1
                    self._wait(state, decision, everyone=False)
                    continue
            if status == 429:
                self._count(throttled=1)
            elif status >= 500:
                self._count(server_errors=1)
            state.last = str(status)
            body = b""
            if status in (429, 503):
                response.read()
                body = response.content
            decision = policy.decide_status(
                method,
                status,
                response.headers,
                retries=state.retries,
                throttles=state.throttles,
                waited=state.waited,
                now=clock.time(),
                body=body,
            )
            if decision.delay is None:
                if state.tries > 1 or decision.reason:
                    response.extensions[_RECORD] = state.record(
                        method, url, clock.monotonic(), decision.reason
                    )
                return response
            response.read()
            response.close()
            log.info(
                "%s answered %d; retry %d in %.2fs", where, status, state.tries, decision.delay
            )
            if status == 429:
                state.throttles += 1
            else:
                state.retries += 1
            self._wait(state, decision, everyone=status == 429)

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()
