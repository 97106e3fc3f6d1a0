"""Fault knobs for a fake vendor: latency, 429 bursts, 5xx, timeouts, malformed JSON, drifting
users, odd user records, lost update answers and failing user reads.

Rates are probabilities per API request, drawn from a seeded generator; :meth:`FaultPlan.queue`
forces the next few requests to fail a given way (deterministic tests). ``drop_fields`` and
``null_fields`` change every user record served until they are switched off.
"""

from __future__ import annotations

import enum
import random
import threading
from collections import deque

import attrs
import httpx

from .._errors import ConfigError

__all__ = ["FakeTimeout", "Fault", "FaultPlan", "Faults", "LostAnswer"]


class Fault(str, enum.Enum):
    """One way a request can go wrong."""

    THROTTLE = "throttle"  # 429 with Retry-After
    SERVER_ERROR = "server_error"  # 500/502/503
    TIMEOUT = "timeout"  # no answer in time
    MALFORMED = "malformed"  # 200 with a truncated JSON body
    DRIFT_ADD = "drift_add"  # a user appears before this users page is served
    DRIFT_REMOVE = "drift_remove"  # a user disappears before this users page is served
    #: Writes to one user only: the update IS applied, then the answer is lost (the HTTP
    #: server drops the connection; in process :class:`LostAnswer` is raised).
    LOST_ANSWER = "lost_answer"
    #: Reads of one user only: answered 503 (a failing read, e.g. the confirming read
    #: after an update; with ``LOST_ANSWER`` it makes "lost answer, failing confirmation").
    USER_READ_ERROR = "user_read_error"


class FakeTimeout(httpx.ReadTimeout):
    """Raised in process for a timeout fault; the HTTP server hangs instead."""

    def __init__(self, request: httpx.Request, hang: float) -> None:
        super().__init__("fake vendor fault: the server did not answer in time", request=request)
        self.hang = hang


class LostAnswer(httpx.RemoteProtocolError):
    """Raised in process after applying an update whose answer is lost; the HTTP server
    closes the connection without an answer instead."""

    def __init__(self, request: httpx.Request) -> None:
        super().__init__(
            "fake vendor fault: the server closed the connection without an answer", request=request
        )


def _fields(value: object) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(str(v) for v in value)  # type: ignore[attr-defined]


def _optional_ids(value: object) -> frozenset[str] | None:
    return None if value is None else _fields(value)


def _rate(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{value!r} is not a rate between 0 and 1", field=f"faults.{attr.name}")


def _non_negative(_inst: object, attr: attrs.Attribute[float], value: float) -> None:
    if not value >= 0:
        raise ConfigError(f"{value!r} must be zero or more", field=f"faults.{attr.name}")


@attrs.frozen(kw_only=True)
class Faults:
    """Per-request fault rates (0 to 1), the latency added to every request (seconds) and the
    reshaping of served user records. Frozen: change them with ``FakeVendor.set_faults``."""

    latency: float = attrs.field(default=0.0, validator=_non_negative)
    latency_jitter: float = attrs.field(default=0.0, validator=_non_negative)
    throttle_rate: float = attrs.field(default=0.0, validator=_rate)
    throttle_burst: int = 3
    throttle_retry_after: float = attrs.field(default=1.0, validator=_non_negative)
    server_error_rate: float = attrs.field(default=0.0, validator=_rate)
    timeout_rate: float = attrs.field(default=0.0, validator=_rate)
    hang: float = attrs.field(default=30.0, validator=_non_negative)
    malformed_rate: float = attrs.field(default=0.0, validator=_rate)
    drift_rate: float = attrs.field(default=0.0, validator=_rate)
    #: Field names removed from every user record served (lists, one-user reads, update
    #: answers), e.g. ``{"administrator", "administrator_roles"}``.
    drop_fields: frozenset[str] = attrs.field(default=frozenset(), converter=_fields)
    #: Field names set to null in every user record served, e.g. ``{"enabled"}``.
    null_fields: frozenset[str] = attrs.field(default=frozenset(), converter=_fields)
    #: Limit ``drop_fields``/``null_fields`` to these user ids (None: every user).
    field_users: frozenset[str] | None = attrs.field(default=None, converter=_optional_ids)

    def reshape(self, user: dict[str, object]) -> dict[str, object]:
        """``user`` as served under ``drop_fields``/``null_fields`` (the stored user is untouched)."""
        if not (self.drop_fields or self.null_fields):
            return user
        if self.field_users is not None and str(user.get("id")) not in self.field_users:
            return user
        out = {k: v for k, v in user.items() if k not in self.drop_fields}
        out.update(dict.fromkeys(self.null_fields))
        return out


@attrs.define
class _Queued:
    fault: Fault
    skip: int


class FaultPlan:
    """Decides, request by request, which fault (if any) to inject: seeded rates plus a queue."""

    def __init__(self, faults: Faults, *, seed: int = 7) -> None:
        self.faults = faults
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._queued: deque[_Queued] = deque()
        self._burst = 0
        self.injected: dict[Fault, int] = dict.fromkeys(Fault, 0)

    def queue(self, fault: Fault, count: int = 1, *, after: int = 0) -> None:
        """The next ``count`` requests that can carry ``fault`` get it, once ``after`` such
        requests have passed untouched."""
        with self._lock:
            self._queued.extend([_Queued(fault, after)] + [_Queued(fault, 0)] * (count - 1))

    def pending(self) -> dict[str, int]:
        """Queued faults not yet injected, per fault."""
        with self._lock:
            out: dict[str, int] = {}
            for entry in self._queued:
                out[entry.fault.value] = out.get(entry.fault.value, 0) + 1
            return out

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._queued.clear()

    def latency(self) -> float:
        """Seconds to delay this request."""
        f = self.faults
        if not f.latency and not f.latency_jitter:
            return 0.0
        with self._lock:
            return max(0.0, f.latency + self._rng.uniform(-f.latency_jitter, f.latency_jitter))

    def _take(self, allowed: set[Fault]) -> Fault | None:
        for i, entry in enumerate(self._queued):
            if entry.fault not in allowed:
                continue
            if entry.skip > 0:
                entry.skip -= 1
                return None
            del self._queued[i]
            return entry.fault
        return None

    def next(
        self,
        *,
        users_page: bool,
        is_get: bool,
        user_get: bool = False,
        user_write: bool = False,
    ) -> list[Fault]:
        """Faults for one API request (drift first, then at most one failure)."""
        allowed = {Fault.THROTTLE, Fault.SERVER_ERROR, Fault.TIMEOUT}
        if is_get:
            allowed.add(Fault.MALFORMED)
        if user_get:
            allowed.add(Fault.USER_READ_ERROR)
        if user_write:
            allowed.add(Fault.LOST_ANSWER)
        out: list[Fault] = []
        with self._lock:
            if users_page:
                drift = self._take({Fault.DRIFT_ADD, Fault.DRIFT_REMOVE})
                if (
                    drift is None
                    and self.faults.drift_rate
                    and self._rng.random() < self.faults.drift_rate
                ):
                    drift = self._rng.choice([Fault.DRIFT_ADD, Fault.DRIFT_REMOVE])
                if drift is not None:
                    out.append(drift)
            failure = self._take(allowed)
            if failure is None and self._burst > 0:
                self._burst -= 1
                failure = Fault.THROTTLE
            if failure is None:
                f = self.faults
                roll = self._rng.random()
                for fault, rate in (
                    (Fault.THROTTLE, f.throttle_rate),
                    (Fault.SERVER_ERROR, f.server_error_rate),
                    (Fault.TIMEOUT, f.timeout_rate),
                    (Fault.MALFORMED, f.malformed_rate if is_get else 0.0),
                ):
                    if roll < rate:
                        failure = fault
                        if fault is Fault.THROTTLE:
                            self._burst = max(0, f.throttle_burst - 1)
                        break
                    roll -= rate
            if failure is not None:
                out.append(failure)
            for fault in out:
                self.injected[fault] += 1
        return out

    def server_error_status(self) -> int:
        """Which 5xx to send."""
        with self._lock:
            return self._rng.choice([500, 502, 503])
