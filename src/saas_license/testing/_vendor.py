"""A fake SaaS vendor for spoke tests: users, a paged users listing, auth, rate limits, faults.

One request handler (:class:`FakeVendor`), two ways to reach it: an in-process httpx transport
(:meth:`FakeVendor.transport`) and a real HTTP server on 127.0.0.1 (:meth:`FakeVendor.serve`,
a :class:`FakeServer`). Declare the vendor (users, paths, pagination style, auth, limits,
faults); add endpoints with :meth:`FakeVendor.route`. Users are stored as encoded JSON, so large
accounts stay small and pages are cheap to serve.

Every API request goes through the same steps: request log, latency, rate limit (429 with
``Retry-After``), auth (401), faults (drift before a listing page, then at most one of 429 burst,
5xx, timeout, lost answer, failing read, malformed body), then the route.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

import attrs
import httpx

from ..http import RateLimit
from ._faults import FakeTimeout, Fault, FaultPlan, Faults, LostAnswer
from ._limits import ServerRateLimiter
from ._listing import ListingStyle, PageNumbers
from ._oauth import FakeOAuth
from ._server import FakeServer

__all__ = [
    "FakeAuth",
    "FakeVendor",
    "LoggedRequest",
    "RouteKind",
    "VendorStats",
    "default_user",
    "json_response",
]

#: What a route does, for the faults that only some requests can carry: ``list`` (a users
#: listing page: drift), ``read`` (one user: failing read), ``write`` (one user: lost answer).
RouteKind = Literal["list", "read", "write", "other"]
_JSON = {"Content-Type": "application/json; charset=utf-8"}


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A JSON answer, the way route handlers build one."""
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={**_JSON, **(headers or {})}
    )


def _raw(status: int, content: bytes) -> httpx.Response:
    return httpx.Response(status, content=content, headers=_JSON)


def _encode(user: Mapping[str, Any]) -> bytes:
    return json.dumps(user, separators=(",", ":")).encode()


def default_user(number: int) -> dict[str, Any]:
    """A plain generated user (id, email, name, ``active``); the default for drift additions."""
    return {
        "id": str(number),
        "email": f"user{number}@example.test",
        "name": f"User {number}",
        "active": True,
    }


@attrs.frozen(kw_only=True)
class FakeAuth:
    """How callers prove who they are, and as which user they act.

    ``keys`` maps each accepted key or token to the id of the user it acts as (``""``: the
    vendor's first user). ``scheme="bearer"`` reads ``Authorization: Bearer <key>``;
    ``scheme="header"`` reads the raw value of ``header`` (e.g. ``X-Api-Key``). With
    ``oauth_clients`` (client id → secret) the vendor also runs an OAuth2 server at
    ``authorize_path``/``token_path`` (authorization code, refresh and client-credentials
    grants) whose access tokens work as bearer tokens; ``token_ttl`` makes them expire.
    """

    scheme: Literal["bearer", "header"] = "bearer"
    header: str = "Authorization"
    keys: Mapping[str, str] = attrs.field(factory=lambda: {"test-key": ""})
    oauth_clients: Mapping[str, str] | None = None
    redirect_uris: Mapping[str, str] | None = None
    token_ttl: float | None = None
    authorize_path: str = "/oauth/authorize"
    token_path: str = "/oauth/token"  # noqa: S105 (a path, not a secret)

    @classmethod
    def bearer(cls, *tokens: str, user: str = "") -> FakeAuth:
        """``Authorization: Bearer <token>`` with any of ``tokens``, acting as ``user``."""
        return cls(keys=dict.fromkeys(tokens or ("test-key",), user))

    @classmethod
    def api_key(cls, *keys: str, header: str = "X-Api-Key", user: str = "") -> FakeAuth:
        """The key itself in ``header`` (e.g. ``X-Api-Key: <key>``), acting as ``user``."""
        return cls(scheme="header", header=header, keys=dict.fromkeys(keys or ("test-key",), user))

    @classmethod
    def oauth(
        cls, client_id: str, client_secret: str, *, token_ttl: float | None = None
    ) -> FakeAuth:
        """OAuth2 only: tokens from the token endpoint, sent as bearer tokens."""
        return cls(keys={}, oauth_clients={client_id: client_secret}, token_ttl=token_ttl)


@attrs.define
class VendorStats:
    """What the fake vendor saw: requests, 429s from its rate limiter, statuses, drift, refusals."""

    requests: int = 0
    api_requests: int = 0
    throttled: int = 0
    drift_events: int = 0
    strict_refusals: int = 0
    by_status: Counter[int] = attrs.Factory(Counter)


class LoggedRequest(NamedTuple):
    """One request in :attr:`FakeVendor.requests`: method and path (query left out)."""

    method: str
    path: str


Handler = Callable[..., "httpx.Response | Any"]


@attrs.frozen
class _Route:
    method: str
    pattern: re.Pattern[str]
    kind: RouteKind
    handler: Handler


def _compile(path: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", path)
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


class FakeVendor:
    """A fake vendor API. Call it with an ``httpx.Request`` to get the ``httpx.Response``.

    Declared with keywords, all optional: ``users`` (dicts with an ``id``; ``user_count``
    generated by ``make_user`` when None), ``users_path`` (the listing), ``user_path`` (one
    user, ``{id}`` in it; None: none), ``items_key`` (the listing's items field), ``listing``
    (the pagination style), ``auth`` (:class:`FakeAuth`), ``limits`` (rate limits, enforced
    when ``rate_limit``; windows divided by ``time_scale``), ``faults`` (:class:`Faults`),
    ``writable`` (fields a ``PATCH`` of ``user_path`` may change; empty: no such endpoint),
    ``protected`` (user ids drift never removes), ``api_prefix`` (paths outside it are 404),
    ``seed`` (faults and drift are reproducible). Everything is thread-safe.
    """

    def __init__(
        self,
        users: Iterable[Mapping[str, Any]] | None = None,
        *,
        user_count: int = 25,
        make_user: Callable[[int], dict[str, Any]] = default_user,
        users_path: str = "/users",
        user_path: str | None = "/users/{id}",
        items_key: str = "users",
        listing: ListingStyle | None = None,
        auth: FakeAuth | None = None,
        limits: Sequence[RateLimit] = (),
        rate_limit: bool = True,
        time_scale: float = 1.0,
        faults: Faults | None = None,
        writable: Iterable[str] = (),
        protected: Iterable[str] = (),
        api_prefix: str = "/",
        email_field: str = "email",
        seed: int = 7,
    ) -> None:
        self._lock = threading.RLock()
        self._make_user = make_user
        self._email_field = email_field
        self._users: dict[str, bytes] = {}
        self._order: list[str] = []
        self._emails: dict[str, str] = {}
        source = users if users is not None else (make_user(i + 1) for i in range(user_count))
        for user in source:
            self._store(dict(user))
        if not self._users:
            raise ValueError("a fake vendor needs at least one user")
        self._next_id = max((int(i) for i in self._users if i.isdigit()), default=0) + 1
        self.seed = seed
        self._rng = random.Random(seed + 1)
        self.users_path, self.user_path, self.items_key = users_path, user_path, items_key
        self.listing: ListingStyle = listing or PageNumbers()
        self.auth = auth or FakeAuth()
        first = self._order[0]
        self._keys = {k: (v or first) for k, v in self.auth.keys.items()}
        self.oauth: FakeOAuth | None = (
            FakeOAuth(
                self.auth.oauth_clients,
                user_id=next(iter(self._keys.values()), first),
                token_ttl=self.auth.token_ttl,
                redirect_uris=self.auth.redirect_uris,
            )
            if self.auth.oauth_clients is not None
            else None
        )
        self._rate_limits = tuple(limits)
        self.time_scale = time_scale
        self.limiter: ServerRateLimiter | None = None
        self.enable_rate_limit(rate_limit and bool(self._rate_limits))
        self.fault_plan = FaultPlan(faults or Faults(), seed=seed)
        self.writable = frozenset(writable)
        self.protected = set(protected)
        self.api_prefix = api_prefix
        #: ``(method, path)`` of the newest 10,000 API requests, oldest first.
        self.requests: deque[LoggedRequest] = deque(maxlen=10_000)
        self.stats = VendorStats()
        self._routes: list[_Route] = []
        self.route("GET", users_path, kind="list")(self.list_users)
        if user_path is not None:
            self.route("GET", user_path, kind="read")(self._get_user)
            if self.writable:
                self.route("PATCH", user_path, kind="write")(self._patch_user)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(users={len(self._users)}, rate_limit={self.limiter is not None})"

    # -- declaring endpoints ----------------------------------------------------------------

    def route(
        self, method: str, path: str, *, kind: RouteKind = "other"
    ) -> Callable[[Handler], Handler]:
        """Register ``handler(request, caller, **path_params)`` for ``method path``
        (``{name}`` segments become keyword arguments). It returns an ``httpx.Response`` or any
        JSON value (sent as 200). Later registrations win over earlier ones."""

        def register(handler: Handler) -> Handler:
            self._routes.insert(0, _Route(method.upper(), _compile(path), kind, handler))
            return handler

        return register

    def _match(self, request: httpx.Request) -> tuple[_Route | None, dict[str, str], bool]:
        path, method = request.url.path, request.method
        path_known = False
        for route in self._routes:
            found = route.pattern.match(path)
            if found:
                path_known = True
                if route.method == method:
                    return route, found.groupdict(), True
        return None, {}, path_known

    # -- state ------------------------------------------------------------------------------

    def _store(self, user: dict[str, Any]) -> None:
        uid = str(user["id"])
        user["id"] = uid
        if uid not in self._users:
            self._order.append(uid)
        else:
            old = json.loads(self._users[uid])
            self._emails.pop(str(old.get(self._email_field)), None)
        self._users[uid] = _encode(user)
        self._emails[str(user.get(self._email_field))] = uid

    def _remove(self, user_id: str) -> None:
        raw = self._users.pop(user_id)
        self._order.remove(user_id)
        self._emails.pop(str(json.loads(raw).get(self._email_field)), None)

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

    def user_by_email(self, email: str) -> str | None:
        """The id of the user with this email, if any."""
        with self._lock:
            return self._emails.get(email)

    def set_user(self, user: Mapping[str, Any]) -> None:
        """Add or replace a user (simulates changes in the account)."""
        with self._lock:
            self._store(dict(user))

    def remove_user(self, user_id: str) -> None:
        """Delete a user from the account (simulates churn)."""
        with self._lock:
            self._remove(user_id)

    def add_generated_user(self) -> str:
        """Add one freshly generated user (``make_user``) at the end of the listing; its id."""
        with self._lock:
            return self._add_generated()

    def _add_generated(self) -> str:
        number = self._next_id
        self._next_id += 1
        user = dict(self._make_user(number))
        user.setdefault("id", str(number))
        self._store(user)
        return str(user["id"])

    def merge_user(self, user_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``fields`` into one stored user (created when absent); returns the stored user.

        Values are stored as given, so a test can make the account say anything a vendor might.
        """
        with self._lock:
            raw = self._users.get(user_id)
            user = json.loads(raw) if raw is not None else {"id": user_id}
            user.update(fields)
            user["id"] = user_id
            self._store(user)
            return dict(user)

    # -- knobs ------------------------------------------------------------------------------

    def inject(self, fault: Fault | str, count: int = 1, *, after: int = 0) -> None:
        """Make the next ``count`` API requests that can carry ``fault`` fail that way, once
        ``after`` of them have passed (drift: listing pages only; ``LOST_ANSWER``: writes of
        one user only; ``USER_READ_ERROR``: reads of one user only)."""
        self.fault_plan.queue(Fault(fault), count, after=after)

    @property
    def faults(self) -> Faults:
        """The fault knobs in force."""
        return self.fault_plan.faults

    def set_faults(self, **changes: Any) -> Faults:
        """Change fault knobs while the vendor runs, e.g. ``set_faults(latency=0.05)`` or
        ``set_faults(drop_fields={"email"}, field_users={"7"})``."""
        self.fault_plan.faults = attrs.evolve(self.fault_plan.faults, **changes)
        return self.fault_plan.faults

    def enable_rate_limit(self, on: bool = True) -> None:
        """Switch the declared rate limits on (fresh windows) or off."""
        self.limiter = (
            ServerRateLimiter(self._rate_limits, time_scale=self.time_scale)
            if on and self._rate_limits
            else None
        )

    # -- the two ways in --------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An in-process transport for ``httpx.Client(transport=…)`` (or ``HttpOptions``)."""
        return httpx.MockTransport(self)

    def serve(self, *, port: int = 0, verbose: bool = False) -> FakeServer:
        """A real HTTP server for this vendor on 127.0.0.1 (not started: use ``with``)."""
        return FakeServer(self, port=port, verbose=verbose)

    # -- hooks a subclass may override ------------------------------------------------------

    def outside(self, request: httpx.Request) -> httpx.Response | None:
        """Answer a request before anything else (a test control channel); None: not one."""
        return None

    def refusal(self, request: httpx.Request) -> str | None:
        """Why this API request is refused with 400 (a strict vendor); None: it is fine."""
        return None

    def error(self, status: int, message: str) -> httpx.Response:
        """The vendor's error body (default ``{"error": message}``)."""
        return json_response(status, {"error": message})

    def unauthorized(self, request: httpx.Request) -> httpx.Response:
        """The answer to a missing or wrong credential."""
        return self.error(401, "missing or invalid credentials")

    def throttled(self, headers: Mapping[str, str]) -> httpx.Response:
        """The answer to a request over the rate limit (``headers`` carry ``Retry-After``)."""
        return self.error(429, "rate limit exceeded")

    def server_error(self, status: int) -> httpx.Response:
        """The answer to an injected 5xx."""
        return self.error(status, "something went wrong on our side")

    def caller(self, request: httpx.Request) -> str | None:
        """The id of the user a request acts as (None: not authenticated)."""
        if self.auth.scheme == "header":
            return self._keys.get(request.headers.get(self.auth.header, ""))
        scheme, _, token = request.headers.get(self.auth.header, "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        if token in self._keys:
            return self._keys[token]
        return self.oauth.user_for(token) if self.oauth is not None else None

    # -- built-in endpoints -----------------------------------------------------------------

    def served(self, raw: bytes, *, drop: Iterable[str] = ()) -> bytes:
        """One stored user (encoded) as served: minus ``drop``, reshaped by the field faults."""
        faults = self.fault_plan.faults
        if not drop and not (faults.drop_fields or faults.null_fields):
            return raw
        user = json.loads(raw)
        for name in drop:
            user.pop(name, None)
        return _encode(faults.reshape(user))

    def page_body(
        self, items: Iterable[bytes], meta: Mapping[str, Any], *, items_key: str | None = None
    ) -> bytes:
        """``{"<items_key>": [items…], **meta}`` from already encoded items."""
        body = b'{"' + (items_key or self.items_key).encode() + b'":[' + b",".join(items) + b"]"
        for name, value in meta.items():
            body += b"," + json.dumps(name).encode() + b":" + json.dumps(value).encode()
        return body + b"}"

    def list_users(self, request: httpx.Request, caller: str) -> httpx.Response:
        """The users listing, paged by ``listing``; ``?email=`` narrows it to one address."""
        email = request.url.params.get(self._email_field)
        with self._lock:
            if email is not None:
                uid = self._emails.get(email)
                ids: Sequence[str] = [uid] if uid is not None else []
            else:
                ids = self._order
            chosen = self.listing.select(request, ids)
            if isinstance(chosen, str):
                return self.error(400, chosen)
            chunk = [self._users[u] for u in ids[chosen.start : chosen.stop]]
        response = _raw(200, self.page_body((self.served(raw) for raw in chunk), chosen.meta))
        response.headers.update(chosen.headers)
        return response

    def _get_user(self, request: httpx.Request, caller: str, id: str) -> httpx.Response:
        with self._lock:
            raw = self._users.get(id)
        if raw is None:
            return self.error(404, "not found")
        return _raw(200, self.served(raw))

    def _patch_user(self, request: httpx.Request, caller: str, id: str) -> httpx.Response:
        try:
            fields = json.loads(request.content or b"{}")
        except ValueError:
            return self.error(400, "the body is not JSON")
        if not isinstance(fields, dict):
            return self.error(422, "send a JSON object of fields")
        unknown = sorted(set(fields) - self.writable)
        if unknown:
            return self.error(422, f"field {unknown[0]!r} cannot be changed")
        with self._lock:
            if id not in self._users:
                return self.error(404, "not found")
            stored = self.merge_user(id, fields)
        return _raw(200, self.served(_encode(stored)))

    # -- the handler ------------------------------------------------------------------------

    def _count(self, response: httpx.Response) -> httpx.Response:
        with self._lock:
            self.stats.by_status[response.status_code] += 1
        return response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        outside = self.outside(request)
        if outside is not None:
            return outside
        path = request.url.path
        with self._lock:
            self.requests.append(LoggedRequest(request.method, path))
            self.stats.requests += 1
        delay = self.fault_plan.latency()
        if delay:
            time.sleep(delay)
        if self.oauth is not None:
            if path == self.auth.authorize_path and request.method == "GET":
                return self._count(self.oauth.authorize(request))
            if path == self.auth.token_path and (
                request.method == "POST" or self.refusal(request) is None
            ):
                return self._count(self.oauth.token(request))
        reason = self.refusal(request)
        if reason is not None:
            with self._lock:
                self.stats.strict_refusals += 1
            return self._count(self.refused(request, reason))
        if not path.startswith(self.api_prefix):
            return self._count(self.error(404, "not found"))
        return self._count(self._api(request))

    def refused(self, request: httpx.Request, reason: str) -> httpx.Response:
        """The 400 answer to a request :meth:`refusal` refused."""
        return self.error(400, reason)

    def _api(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.stats.api_requests += 1
        headers: dict[str, str] = {}
        if self.limiter is not None:
            admitted, headers = self.limiter.admit()
            if not admitted:
                with self._lock:
                    self.stats.throttled += 1
                response = self.throttled(headers)
                response.headers.update(headers)
                return response
        caller = self.caller(request)
        if caller is None:
            response = self.unauthorized(request)
            response.headers.update(headers)
            return response
        route, params, path_known = self._match(request)
        kind = route.kind if route is not None else "other"
        faults = self.fault_plan.next(
            users_page=kind == "list",
            is_get=request.method == "GET",
            user_get=kind == "read",
            user_write=kind == "write",
        )
        for fault in faults:
            if fault in (Fault.DRIFT_ADD, Fault.DRIFT_REMOVE):
                self._drift(fault)
        failure = next((f for f in faults if f not in (Fault.DRIFT_ADD, Fault.DRIFT_REMOVE)), None)
        if failure is Fault.THROTTLE:
            wait = self.fault_plan.faults.throttle_retry_after
            reset = time.time() + wait
            response = self.throttled(headers)
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
            return self.server_error(self.fault_plan.server_error_status())
        if failure is Fault.USER_READ_ERROR:
            return self.error(503, "service temporarily unavailable")
        if failure is Fault.TIMEOUT:
            raise FakeTimeout(request, self.fault_plan.faults.hang)
        if route is None:
            response = (
                self.error(405, f"{request.method} is not allowed here")
                if path_known
                else self.error(404, "not found")
            )
        else:
            answer = route.handler(request, caller, **params)
            response = answer if isinstance(answer, httpx.Response) else json_response(200, answer)
        if failure is Fault.LOST_ANSWER:
            raise LostAnswer(request)  # the change above was applied; its answer is lost
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
            choices = [u for u in self._order if u not in self.protected]
            if choices:
                self._remove(self._rng.choice(choices))
