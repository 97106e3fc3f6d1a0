"""The sandbox's one request handler: a fake of the Aha! v1 API subset, shared by both transports.

Shapes follow the documented API: ``GET`` responses are wrapped (``{"user": …}``,
``{"users": […], "pagination": …}``), ``PUT`` answers are not; ``per_page`` is capped at 200;
unknown ids give 404; a missing or wrong bearer token gives an HTML 401. Users are kept as
encoded JSON, so large accounts stay small and pages are cheap to serve.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import httpx

from saas_license._time import format_instant, parse_instant
from saas_license.http import RateLimit

from ._accounts import INTEGRATION_USER_ID, generate_audits, iter_users
from ._faults import Fault, FaultPlan, SandboxFaults, SandboxTimeout
from ._limits import AHA_LIMITS, ServerRateLimiter
from ._oauth import SandboxOAuth

__all__ = ["DEFAULT_OAUTH_CLIENT", "SandboxApp", "SandboxStats"]

_USER_PATH = re.compile(r"^/api/v1/users/([^/]+)$")
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 30
#: The OAuth application every sandbox knows unless told otherwise: (client id, client secret).
DEFAULT_OAUTH_CLIENT = ("sandbox-client", "sandbox-secret")
_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=_JSON)


def _raw(status: int, content: bytes) -> httpx.Response:
    return httpx.Response(status, content=content, headers=_JSON)


def _encode(user: Mapping[str, Any]) -> bytes:
    return json.dumps(user, separators=(",", ":")).encode()


@attrs.define
class SandboxStats:
    """What the sandbox saw: requests, 429s from the rate limiter, statuses, drift events."""

    requests: int = 0
    api_requests: int = 0
    throttled: int = 0
    drift_events: int = 0
    by_status: Counter[int] = attrs.Factory(Counter)


class SandboxApp:
    """A fake Aha! account. Call it with an ``httpx.Request`` to get the ``httpx.Response`` Aha! would send.

    Knobs (all keyword, all off by default so tests and the demo run at full speed):
    ``rate_limit`` enforces Aha!'s budgets (``rate_limits``, windows divided by ``time_scale``);
    ``faults`` adds latency and failures; ``oauth_clients`` (id → secret) are the registered OAuth
    applications and ``token_ttl`` makes tokens expire and come with refresh tokens.
    """

    def __init__(
        self,
        users: Iterable[dict[str, Any]] | None = None,
        *,
        api_keys: Iterable[str] = ("sandbox-key",),
        user_count: int = 25,
        seed: int = 7,
        rate_limit: bool = False,
        rate_limits: Sequence[RateLimit] = AHA_LIMITS,
        time_scale: float = 1.0,
        faults: SandboxFaults | None = None,
        oauth_clients: Mapping[str, str] | None = None,
        oauth_redirect_uris: Mapping[str, str] | None = None,
        token_ttl: float | None = None,
    ) -> None:
        source = users if users is not None else iter_users(user_count, seed=seed)
        self._users: dict[str, bytes] = {}
        self._order: list[str] = []
        self._emails: dict[str, str] = {}
        for user in source:
            self._store(dict(user))
        if not self._users:
            raise ValueError("a sandbox account needs at least one user")
        self._api_keys = frozenset(api_keys)
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed + 1)
        self._next_id = max((int(i) for i in self._users if i.isdigit()), default=1_000_000_000) + 1
        self.integration_user_id = (
            INTEGRATION_USER_ID if INTEGRATION_USER_ID in self._users else self._order[0]
        )
        self._rate_limits = tuple(rate_limits)
        self.time_scale = time_scale
        self.limiter: ServerRateLimiter | None = None
        self.enable_rate_limit(rate_limit)
        self.fault_plan = FaultPlan(faults or SandboxFaults(), seed=seed)
        self.oauth = SandboxOAuth(
            dict([DEFAULT_OAUTH_CLIENT]) if oauth_clients is None else oauth_clients,
            user_id=self.integration_user_id,
            token_ttl=token_ttl,
            redirect_uris=oauth_redirect_uris,
        )
        self._audits: list[dict[str, Any]] | None = None
        self.requests: deque[tuple[str, str]] = deque(maxlen=10_000)
        self.stats = SandboxStats()

    def __repr__(self) -> str:
        return f"SandboxApp(users={len(self._users)}, rate_limit={self.limiter is not None})"

    # -- state ------------------------------------------------------------------------------

    def _store(self, user: dict[str, Any]) -> None:
        uid = str(user["id"])
        user["id"] = uid
        if uid not in self._users:
            self._order.append(uid)
        else:
            old = json.loads(self._users[uid])
            self._emails.pop(str(old.get("email")), None)
        self._users[uid] = _encode(user)
        self._emails[str(user.get("email"))] = uid

    def _remove(self, user_id: str) -> None:
        raw = self._users.pop(user_id)
        self._order.remove(user_id)
        self._emails.pop(str(json.loads(raw).get("email")), None)

    # -- test helpers -----------------------------------------------------------------------

    def user(self, user_id: str) -> dict[str, Any]:
        """A copy of one stored user (KeyError if there is none)."""
        with self._lock:
            return dict(json.loads(self._users[user_id]))

    def users(self) -> list[dict[str, Any]]:
        """Copies of all stored users, in listing order."""
        with self._lock:
            return [json.loads(self._users[uid]) for uid in self._order]

    def user_ids(self) -> list[str]:
        """The ids of all stored users, in listing order."""
        with self._lock:
            return list(self._order)

    def set_user(self, user: dict[str, Any]) -> None:
        """Add or replace a user (simulates changes in the account)."""
        with self._lock:
            self._store(dict(user))

    def remove_user(self, user_id: str) -> None:
        """Delete a user from the account (simulates churn; Aha!'s API itself cannot delete)."""
        with self._lock:
            self._remove(user_id)

    def add_generated_user(self) -> str:
        """Add one freshly generated user at the end of the listing; returns its id."""
        with self._lock:
            return self._add_generated()

    def _add_generated(self) -> str:
        uid = self._next_id
        self._next_id += 1
        user = next(iter_users(1, seed=self._seed + uid, first_id=uid))
        self._store(user)
        return str(uid)

    def inject(self, fault: Fault | str, count: int = 1, *, after: int = 0) -> None:
        """Make the next ``count`` API requests that can carry ``fault`` fail that way, once
        ``after`` of them have passed (drift faults count users-page requests only)."""
        self.fault_plan.queue(Fault(fault), count, after=after)

    def enable_rate_limit(self, on: bool = True) -> None:
        """Switch Aha!'s rate limits on (fresh windows) or off."""
        self.limiter = (
            ServerRateLimiter(self._rate_limits, time_scale=self.time_scale) if on else None
        )

    def audits(self) -> list[dict[str, Any]]:
        """The account's audit records, newest first (generated on first use)."""
        with self._lock:
            return [dict(a) for a in self._audit_log()]

    def set_audits(self, audits: Iterable[dict[str, Any]]) -> None:
        """Replace the audit log (kept newest first)."""
        with self._lock:
            self._audits = sorted(
                (dict(a) for a in audits), key=lambda a: str(a["created_at"]), reverse=True
            )

    def _audit_log(self) -> list[dict[str, Any]]:
        if self._audits is None:
            self._audits = generate_audits(
                (json.loads(self._users[u]) for u in self._order), seed=self._seed
            )
        return self._audits

    def transport(self) -> httpx.MockTransport:
        """An in-process transport for ``httpx.Client(transport=…)``."""
        return httpx.MockTransport(self)

    # -- handler ----------------------------------------------------------------------------

    def _caller(self, request: httpx.Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        if token in self._api_keys:
            return self.integration_user_id
        return self.oauth.user_for(token)

    def _count(self, response: httpx.Response) -> httpx.Response:
        with self._lock:
            self.stats.by_status[response.status_code] += 1
        return response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._lock:
            self.requests.append((request.method, path))
            self.stats.requests += 1
        delay = self.fault_plan.latency()
        if delay:
            time.sleep(delay)
        if path == "/oauth/authorize" and request.method == "GET":
            return self._count(self.oauth.authorize(request))
        if path == "/oauth/token":
            return self._count(self.oauth.token(request))
        if not path.startswith("/api/v1/"):
            return self._count(_json(404, {"error": "Not found"}))
        return self._count(self._api(request))

    def _api(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.stats.api_requests += 1
        headers: dict[str, str] = {}
        if self.limiter is not None:
            admitted, headers = self.limiter.admit()
            if not admitted:
                with self._lock:
                    self.stats.throttled += 1
                response = _json(429, {"error": "Rate limit exceeded. Please slow down."})
                response.headers.update(headers)
                return response
        caller = self._caller(request)
        if caller is None:
            return httpx.Response(
                401,
                content=b"<html><body>You need to sign in or sign up before continuing.</body></html>",
                headers={"Content-Type": "text/html", **headers},
            )
        path, method = request.url.path, request.method
        faults = self.fault_plan.next(
            users_page=path == "/api/v1/users" and method == "GET", is_get=method == "GET"
        )
        for fault in faults:
            if fault in (Fault.DRIFT_ADD, Fault.DRIFT_REMOVE):
                self._drift(fault)
        failure = next((f for f in faults if f not in (Fault.DRIFT_ADD, Fault.DRIFT_REMOVE)), None)
        if failure is Fault.THROTTLE:
            wait = self.fault_plan.faults.throttle_retry_after
            reset = time.time() + wait
            response = _json(429, {"error": "Rate limit exceeded"})
            response.headers.update(
                {
                    **headers,
                    "Retry-After": f"{wait:g}",
                    "X-Ratelimit-Remaining": "0",
                    "X-Ratelimit-Reset": f"{reset:.3f}",
                }
            )
            return response
        if failure is Fault.SERVER_ERROR:
            status = self.fault_plan.server_error_status()
            if status == 502:
                return httpx.Response(
                    502,
                    content=b"<html><body>502 Bad Gateway</body></html>",
                    headers={"Content-Type": "text/html"},
                )
            return _json(status, {"error": "Something went wrong on our side"})
        if failure is Fault.TIMEOUT:
            raise SandboxTimeout(request, self.fault_plan.faults.hang)
        response = self._route(request, caller)
        if failure is Fault.MALFORMED and response.status_code == 200:
            body = response.content
            response = _raw(200, body[: max(1, len(body) // 2)])
        response.headers.update(headers)
        return response

    def _drift(self, fault: Fault) -> None:
        with self._lock:
            self.stats.drift_events += 1
            if fault is Fault.DRIFT_ADD:
                self._add_generated()
                return
            choices = [u for u in self._order if u != self.integration_user_id]
            if choices:
                self._remove(self._rng.choice(choices))

    def _route(self, request: httpx.Request, caller: str) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/api/v1/me" and method == "GET":
            with self._lock:
                raw = self._users.get(caller)
            if raw is None:
                return _json(404, {"error": "Record not found"})
            return _raw(200, b'{"user":' + raw + b"}")
        if path == "/api/v1/users" and method == "GET":
            return self._list(request)
        if path == "/api/v1/audits" and method == "GET":
            return self._audits_page(request)
        match = _USER_PATH.match(path)
        if match:
            if method == "GET":
                return self._get(match.group(1))
            if method == "PUT":
                return self._update(match.group(1), request)
            return _json(405, {"error": f"{method} is not allowed here"})
        return _json(404, {"error": "Not found"})

    def _paging(self, request: httpx.Request) -> tuple[int, int] | httpx.Response:
        values = []
        for name, default in (("page", 1), ("per_page", DEFAULT_PER_PAGE)):
            raw = request.url.params.get(name)
            try:
                value = default if raw is None else int(raw)
            except ValueError:
                value = 0
            if value < 1:
                return _json(
                    400, {"errors": [{"message": "page and per_page must be positive integers"}]}
                )
            values.append(value)
        return values[0], min(values[1], MAX_PER_PAGE)

    @staticmethod
    def _pagination(total: int, page: int, per_page: int) -> bytes:
        pages = (total + per_page - 1) // per_page
        return json.dumps(
            {"total_records": total, "total_pages": pages, "current_page": page}
        ).encode()

    def _list(self, request: httpx.Request) -> httpx.Response:
        paging = self._paging(request)
        if isinstance(paging, httpx.Response):
            return paging
        page, per_page = paging
        email = request.url.params.get("email")
        with self._lock:
            if email is not None:
                uid = self._emails.get(email)
                ids = [uid] if uid is not None else []
            else:
                ids = self._order
            total = len(ids)
            chunk = [self._users[u] for u in ids[(page - 1) * per_page : page * per_page]]
        body = (
            b'{"users":['
            + b",".join(chunk)
            + b'],"pagination":'
            + self._pagination(total, page, per_page)
            + b"}"
        )
        return _raw(200, body)

    def _audits_page(self, request: httpx.Request) -> httpx.Response:
        paging = self._paging(request)
        if isinstance(paging, httpx.Response):
            return paging
        page, per_page = paging
        params = request.url.params
        bounds: dict[str, dt.datetime] = {}
        for name in ("created_since", "created_before"):
            if name in params:
                try:
                    bounds[name] = parse_instant(params[name])
                except ValueError:
                    return _json(400, {"errors": [{"message": f"{name} must be an ISO-8601 time"}]})
        since = format_instant(bounds["created_since"]) if "created_since" in bounds else None
        before = format_instant(bounds["created_before"]) if "created_before" in bounds else None
        with self._lock:
            selected = []
            for audit in self._audit_log():
                created = audit[
                    "created_at"
                ]  # same fixed-width ISO format: strings compare as times
                if since is not None and created < since:
                    continue
                if before is not None and created >= before:
                    continue
                if "user_id" in params and (audit.get("user") or {}).get("id") != params["user_id"]:
                    continue
                if "audit_action" in params and audit.get("audit_action") != params["audit_action"]:
                    continue
                if (
                    "auditable_type" in params
                    and audit.get("auditable_type") != params["auditable_type"]
                ):
                    continue
                selected.append(audit)
        chunk = selected[(page - 1) * per_page : page * per_page]
        body = (
            b'{"audits":'
            + json.dumps(chunk).encode()
            + b',"pagination":'
            + self._pagination(len(selected), page, per_page)
            + b"}"
        )
        return _raw(200, body)

    def _get(self, user_id: str) -> httpx.Response:
        with self._lock:
            raw = self._users.get(user_id)
        if raw is None:
            return _json(404, {"error": "Record not found"})
        return _raw(200, b'{"user":' + raw + b"}")

    def _update(self, user_id: str, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            return _json(400, {"error": "Request body is not valid JSON"})
        fields = body.get("user") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return _json(422, {"errors": [{"message": 'Body must be {"user": {...}}'}]})
        allowed = {"first_name", "last_name", "email", "enabled", "administrator"}
        unknown = set(fields) - allowed
        if unknown:
            return _json(422, {"errors": [{"message": f"Unknown attribute {sorted(unknown)[0]}"}]})
        if "enabled" in fields and not isinstance(fields["enabled"], bool):
            return _json(422, {"errors": [{"message": "enabled must be true or false"}]})
        with self._lock:
            raw = self._users.get(user_id)
            if raw is None:
                return _json(404, {"error": "Record not found"})
            user = json.loads(raw)
            if "enabled" in fields:
                user["enabled"] = fields["enabled"]
            if "email" in fields:
                user["email"] = fields["email"]
            if "administrator" in fields:
                user["administrator"] = bool(fields["administrator"])
            if "first_name" in fields or "last_name" in fields:
                first, _, last = str(user.get("name", "")).partition(" ")
                user["name"] = (
                    f"{fields.get('first_name', first)} {fields.get('last_name', last)}".strip()
                )
            user["updated_at"] = format_instant(dt.datetime.now(dt.timezone.utc))
            self._store(user)
            return _raw(200, _encode(user))  # PUT answers unwrapped, as Aha! does
