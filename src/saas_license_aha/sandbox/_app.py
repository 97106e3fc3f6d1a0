"""The sandbox's one request handler: a fake of the Aha! v1 API subset, shared by both transports.

Built on the fake-vendor kit (:class:`saas_license.testing.FakeVendor`): routing, the users
listing and its page-number pagination, auth, rate limits, faults and serving come from there;
this module adds what is Aha!'s own (payload shapes, ``/me``, audits, ``PUT`` semantics, strict
shapes, the ``/__sandbox/…`` control channel).

Shapes follow Aha!'s published examples (checked by ``tests/aha/contract``): ``GET`` responses
are wrapped (``{"user": …}``, ``{"users": […], "pagination": …}``), ``PUT`` answers are not;
``/me`` carries only its documented fields (no administrator fields); ``/users/:id`` and ``PUT``
answers carry no ``user_roles``; ``per_page`` is capped at 200; unknown ids give 404; a missing
or wrong bearer token gives an HTML 401; a caller who is not an account or billing
administrator gets 403 on ``PUT``. Users are kept as encoded JSON, so large accounts stay
small and pages are cheap to serve.

``strict_shapes=True`` refuses (400) every request Aha! does not document: other paths,
methods, query parameters, ``PUT`` attributes or value types. The control channel
(``/__sandbox/…``, see :meth:`SandboxApp.control`) lives outside ``/api/v1`` and always answers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import httpx

from saas_license.http import RateLimit
from saas_license.spoke import ConfigError, format_instant, parse_instant, utcnow
from saas_license.testing import FakeAuth, FakeVendor, PageNumbers, VendorStats

from ._accounts import INTEGRATION_USER_ID, generate_audits, iter_users
from ._faults import Fault, SandboxFaults
from ._limits import AHA_LIMITS

__all__ = ["DEFAULT_OAUTH_CLIENT", "SandboxApp", "SandboxStats"]

_USER_PATH = re.compile(r"^/api/v1/users/([^/]+)$")
_CONTROL_USER = re.compile(r"^/__sandbox/users/([^/]+)$")
CONTROL_PREFIX = "/__sandbox/"
#: Documented attributes of ``PUT /api/v1/users/:id`` and the administrator roles.
PUT_ATTRIBUTES = frozenset(
    {"first_name", "last_name", "email", "enabled", "administrator", "administrator_roles"}
)
ADMIN_ROLES = ("administer_account", "administer_billing", "administer_configuration")
#: Query parameters Aha! documents per endpoint (``page``/``per_page`` on every list).
_DOCUMENTED_PARAMS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/me"): frozenset(),
    ("GET", "/api/v1/users"): frozenset({"page", "per_page", "email"}),
    ("GET", "/api/v1/users/:id"): frozenset(),
    ("PUT", "/api/v1/users/:id"): frozenset(),
    ("GET", "/api/v1/audits"): frozenset(
        {
            "page",
            "per_page",
            "auditable_id",
            "auditable_type",
            "associated_id",
            "associated_type",
            "audit_action",
            "created_since",
            "created_before",
            "after_id",
            "user_id",
        }
    ),
}
#: The fields of Aha!'s documented ``/me`` user (no administrator fields, no seat flags).
ME_FIELDS = (
    "id",
    "name",
    "email",
    "timezone",
    "created_at",
    "updated_at",
    "accessed_at",
    "product_roles",
)
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


def _flag(value: Any) -> bool | None:
    """A boolean, or Aha!'s documented ``'true'``/``'false'`` string form; None otherwise."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    return None


def _may_update_users(user: Mapping[str, Any]) -> bool:
    """The sandbox's choice for an unpublished rule: account or billing administrators may
    update (enable, disable) users; older records with only the flag fall back to it."""
    roles = user.get("administrator_roles")
    if isinstance(roles, dict) and roles:
        return bool(
            _flag(roles.get("administer_account")) or _flag(roles.get("administer_billing"))
        )
    return _flag(user.get("administrator")) is True


def _refuse(reason: str) -> httpx.Response:
    response = _json(400, {"errors": [{"message": f"sandbox strict shapes: {reason}"}]})
    response.headers["X-Sandbox-Refused"] = "strict-shapes"
    return response


#: What the sandbox saw (the kit's counters): requests, 429s, statuses, drift, refusals.
SandboxStats = VendorStats


class SandboxApp(FakeVendor):
    """A fake Aha! account. Call it with an ``httpx.Request`` to get the ``httpx.Response`` Aha! would send.

    Knobs (all keyword, all off by default so tests and the demo run at full speed):
    ``api_keys`` are the bearer keys (a list: all act as the integration user; a mapping: key →
    user id, e.g. a non-administrator's key); ``rate_limit`` enforces Aha!'s budgets
    (``rate_limits``, windows divided by ``time_scale``); ``faults`` adds latency, failures and
    odd records (:class:`SandboxFaults`, changeable later with :meth:`set_faults`);
    ``strict_shapes`` refuses every request Aha! does not document; ``oauth_clients`` (id →
    secret) are the registered OAuth applications and ``token_ttl`` makes tokens expire and
    come with refresh tokens. ``anchor`` fixes the instant the generated account's dates count
    back from (default: now), so tests can assert exact counts; ``clock`` stamps changes.
    """

    def __init__(
        self,
        users: Iterable[dict[str, Any]] | None = None,
        *,
        api_keys: Iterable[str] | Mapping[str, str] = ("sandbox-key",),
        user_count: int = 25,
        seed: int = 7,
        rate_limit: bool = False,
        rate_limits: Sequence[RateLimit] = AHA_LIMITS,
        time_scale: float = 1.0,
        faults: SandboxFaults | None = None,
        oauth_clients: Mapping[str, str] | None = None,
        oauth_redirect_uris: Mapping[str, str] | None = None,
        token_ttl: float | None = None,
        strict_shapes: bool = False,
        anchor: dt.datetime | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        #: The instant generated dates count back from (default: now); tests pass a fixed one.
        self._anchor = anchor
        #: What "now" is for ``updated_at`` stamps (default: the anchor if given, else real time).
        self._clock = clock or ((lambda: anchor) if anchor is not None else utcnow)
        self._today = anchor.astimezone(dt.timezone.utc).date() if anchor is not None else None
        self._seed = seed
        source = (
            users if users is not None else iter_users(user_count, seed=seed, today=self._today)
        )
        source = list(source)
        ids = [str(u["id"]) for u in source]
        integration = INTEGRATION_USER_ID if INTEGRATION_USER_ID in ids else (ids or [""])[0]
        if isinstance(api_keys, Mapping):
            keys = {str(k): str(v) for k, v in api_keys.items()}
        else:
            keys = dict.fromkeys(api_keys, integration)
        super().__init__(
            source,
            make_user=self._generated_user,
            users_path="/api/v1/users",
            user_path=None,
            listing=PageNumbers(
                default_size=DEFAULT_PER_PAGE, max_size=MAX_PER_PAGE, meta=_aha_pagination
            ),
            auth=FakeAuth(
                keys=keys,
                oauth_clients=dict([DEFAULT_OAUTH_CLIENT])
                if oauth_clients is None
                else oauth_clients,
                redirect_uris=oauth_redirect_uris,
                token_ttl=token_ttl,
            ),
            limits=rate_limits,
            rate_limit=rate_limit,
            time_scale=time_scale,
            faults=faults,
            protected=[integration],
            api_prefix="/api/v1/",
            seed=seed,
        )
        if self._next_id == 1:
            self._next_id = 1_000_000_001
        self.integration_user_id = integration
        assert self.oauth is not None
        self.oauth.user_id = integration
        self.strict_shapes = strict_shapes
        #: Why each refused request was refused (strict shapes), newest last.
        self.refusals: deque[str] = deque(maxlen=1000)
        self._audits: list[dict[str, Any]] | None = None
        self.route("GET", "/api/v1/me")(self._me)
        self.route("GET", "/api/v1/audits")(self._audits_page)
        self.route("GET", "/api/v1/users/{id}", kind="read")(self._get)
        self.route("PUT", "/api/v1/users/{id}", kind="write")(self._update)

    def __repr__(self) -> str:
        return f"SandboxApp(users={len(self._users)}, rate_limit={self.limiter is not None})"

    def _generated_user(self, uid: int) -> dict[str, Any]:
        return next(iter_users(1, seed=self._seed + uid, first_id=uid, today=self._today))

    # -- test helpers -----------------------------------------------------------------------

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
                (json.loads(self._users[u]) for u in self._order), seed=self._seed, now=self._anchor
            )
        return self._audits

    # -- Aha!'s answers to the kit's hooks --------------------------------------------------

    def outside(self, request: httpx.Request) -> httpx.Response | None:
        """The ``/__sandbox/…`` control channel (see :meth:`control`)."""
        if request.url.path.startswith(CONTROL_PREFIX):
            return self.control(request)
        return None

    def refusal(self, request: httpx.Request) -> str | None:
        """Strict shapes: why Aha! would not document this request."""
        return self._undocumented(request) if self.strict_shapes else None

    def refused(self, request: httpx.Request, reason: str) -> httpx.Response:
        """A 400 marked ``X-Sandbox-Refused: strict-shapes``, the reason remembered."""
        with self._lock:
            self.refusals.append(f"{request.method} {request.url.path}: {reason}")
        return _refuse(reason)

    def error(self, status: int, message: str) -> httpx.Response:
        """Aha!'s error bodies: ``{"errors": [{"message": …}]}`` for 400/422, else ``{"error": …}``."""
        if status in (400, 422):
            return _json(status, {"errors": [{"message": message}]})
        return _json(status, {"error": message[:1].upper() + message[1:]})

    def unauthorized(self, request: httpx.Request) -> httpx.Response:
        """Aha!'s sign-in page as an HTML 401."""
        return httpx.Response(
            401,
            content=b"<html><body>You need to sign in or sign up before continuing.</body></html>",
            headers={"Content-Type": "text/html"},
        )

    def throttled(self, headers: Mapping[str, str]) -> httpx.Response:
        """Aha!'s 429 body."""
        return _json(429, {"error": "Rate limit exceeded. Please slow down."})

    def server_error(self, status: int) -> httpx.Response:
        """A 502 is an HTML gateway page, other 5xx JSON."""
        if status == 502:
            return httpx.Response(
                502,
                content=b"<html><body>502 Bad Gateway</body></html>",
                headers={"Content-Type": "text/html"},
            )
        return _json(status, {"error": "Something went wrong on our side"})

    # -- strict shapes ----------------------------------------------------------------------

    def _undocumented(self, request: httpx.Request) -> str | None:
        """Why Aha! would not document this request (None: it does)."""
        method, path = request.method, request.url.path
        key = (method, "/api/v1/users/:id" if _USER_PATH.match(path) else path)
        if key not in _DOCUMENTED_PARAMS:
            return f"{method} {path} is not a documented endpoint of this API subset"
        extra = sorted(set(request.url.params) - _DOCUMENTED_PARAMS[key])
        if extra:
            return f"query parameter {extra[0]!r} is not documented for {method} {key[1]}"
        if method == "PUT":
            return self._undocumented_put(request)
        if request.content:
            return f"{method} {key[1]} takes no body"
        return None

    @staticmethod
    def _undocumented_put(request: httpx.Request) -> str | None:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("application/json"):
            return "PUT bodies are JSON (Content-Type: application/json)"
        try:
            body = json.loads(request.content or b"")
        except ValueError:
            return "the PUT body is not JSON"
        if (
            not isinstance(body, dict)
            or set(body) != {"user"}
            or not isinstance(body["user"], dict)
        ):
            return 'the PUT body must be {"user": {...}}'
        fields = body["user"]
        unknown = sorted(set(fields) - PUT_ATTRIBUTES)
        if unknown:
            return f"PUT attribute {unknown[0]!r} is not documented"
        for name in ("enabled", "administrator"):
            if name in fields and _flag(fields[name]) is None:
                return f"{name} must be true/false or 'true'/'false'"
        for name in ("first_name", "last_name", "email"):
            if name in fields and not isinstance(fields[name], str):
                return f"{name} must be a string"
        if "administrator_roles" in fields:
            roles = fields["administrator_roles"]
            if not isinstance(roles, dict):
                return "administrator_roles must be an object of roles"
            for role, value in roles.items():
                if role not in ADMIN_ROLES:
                    return f"administrator role {role!r} is not documented"
                if _flag(value) is None:
                    return f"administrator_roles.{role} must be true/false or 'true'/'false'"
        return None

    # -- the API ----------------------------------------------------------------------------

    def _me(self, request: httpx.Request, caller: str) -> httpx.Response:
        """Aha!'s documented ``/me``: the user's profile and accounts, no administrator fields."""
        with self._lock:
            raw = self._users.get(caller)
        if raw is None:
            return _json(404, {"error": "Record not found"})
        user = self.fault_plan.faults.reshape(json.loads(raw))
        me: dict[str, Any] = {k: user[k] for k in ME_FIELDS if k in user}
        me["preferences"] = {"current_product_id": 131414752}
        me["accounts"] = [
            {
                "account": {
                    "name": "Sandbox account",
                    "domain": "sandbox",
                    "logo": None,
                    "alt_logo": None,
                    "enabled": True,
                }
            }
        ]
        return _json(200, {"user": me})

    def _audits_page(self, request: httpx.Request, caller: str) -> httpx.Response:
        params = request.url.params
        bounds: dict[str, dt.datetime] = {}
        for name in ("created_since", "created_before"):
            if name in params:
                try:
                    bounds[name] = parse_instant(params[name])
                except ValueError:
                    return _json(400, {"errors": [{"message": f"{name} must be an ISO-8601 time"}]})
        after: int | None = None
        if "after_id" in params:
            try:
                after = int(params["after_id"])
            except ValueError:
                return _json(400, {"errors": [{"message": "after_id must be a numeric id"}]})
        since = format_instant(bounds["created_since"]) if "created_since" in bounds else None
        before = format_instant(bounds["created_before"]) if "created_before" in bounds else None
        filters = ("user_id", "audit_action", "auditable_type", "auditable_id", "associated_type")
        with self._lock:
            selected = []
            for audit in self._audit_log():
                created = audit["created_at"]  # same fixed-width ISO format: compares as times
                if since is not None and created < since:
                    continue
                if before is not None and created >= before:
                    continue
                if after is not None and int(audit["id"]) <= after:
                    continue
                if any(
                    name in params and str(_audit_field(audit, name)) != params[name]
                    for name in filters
                ):
                    continue
                selected.append(audit)
        if after is not None:  # the cursor walks ids upwards (the sandbox's choice)
            selected.sort(key=lambda a: int(a["id"]))
        chosen = self.listing.select(request, [str(a["id"]) for a in selected])
        if isinstance(chosen, str):
            return self.error(400, chosen)
        chunk = selected[chosen.start : chosen.stop]
        items = (json.dumps(a).encode() for a in chunk)
        return _raw(200, self.page_body(items, chosen.meta, items_key="audits"))

    def _get(self, request: httpx.Request, caller: str, id: str) -> httpx.Response:
        with self._lock:
            raw = self._users.get(id)
        if raw is None:
            return _json(404, {"error": "Record not found"})
        return _raw(200, b'{"user":' + self.served(raw, drop=("user_roles",)) + b"}")

    def _update(self, request: httpx.Request, caller: str, id: str) -> httpx.Response:
        user_id = id
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            return _json(400, {"error": "Request body is not valid JSON"})
        fields = body.get("user") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return _json(422, {"errors": [{"message": 'Body must be {"user": {...}}'}]})
        unknown = set(fields) - PUT_ATTRIBUTES
        if unknown:
            return _json(422, {"errors": [{"message": f"Unknown attribute {sorted(unknown)[0]}"}]})
        flags: dict[str, bool] = {}
        for name in ("enabled", "administrator"):
            if name in fields:
                value = _flag(fields[name])
                if value is None:
                    return _json(422, {"errors": [{"message": f"{name} must be true or false"}]})
                flags[name] = value
        roles: dict[str, bool] = {}
        if "administrator_roles" in fields:
            given = fields["administrator_roles"]
            if not isinstance(given, dict):
                return _json(
                    422, {"errors": [{"message": "administrator_roles must be an object"}]}
                )
            for role, raw_value in given.items():
                value = _flag(raw_value)
                if role not in ADMIN_ROLES or value is None:
                    return _json(
                        422, {"errors": [{"message": f"Invalid administrator role {role}"}]}
                    )
                roles[role] = value
        with self._lock:
            acting = self._users.get(caller)
            if acting is None or not _may_update_users(json.loads(acting)):
                return _json(
                    403,
                    {"error": "You must be an account or billing administrator to update users"},
                )
            raw = self._users.get(user_id)
            if raw is None:
                return _json(404, {"error": "Record not found"})
            user = json.loads(raw)
            if "enabled" in flags:
                user["enabled"] = flags["enabled"]
            if "email" in fields:
                user["email"] = fields["email"]
            current = user.get("administrator_roles")
            current = dict(current) if isinstance(current, dict) else {}
            if "administrator" in flags:  # sets every administrator role at once
                current = dict.fromkeys(ADMIN_ROLES, flags["administrator"])
            current.update(roles)
            if "administrator" in flags or roles:
                user["administrator_roles"] = current
                user["administrator"] = any(_flag(v) for v in current.values())
            if "first_name" in fields or "last_name" in fields:
                first, _, last = str(user.get("name") or "").partition(" ")
                user["name"] = (
                    f"{fields.get('first_name', first)} {fields.get('last_name', last)}".strip()
                )
            user["updated_at"] = format_instant(self._clock())
            self._store(user)
            stored = self._users[user_id]
        # PUT answers unwrapped, as Aha! does, and without user_roles (as its example)
        return _raw(200, self.served(stored, drop=("user_roles",)))

    # -- control channel --------------------------------------------------------------------

    def control(self, request: httpx.Request) -> httpx.Response:
        """The test control channel, outside Aha!'s namespace (``/__sandbox/…``; the HTTP server
        answers it on loopback only). Never rate-limited, never faulted, allowed in strict mode.

        - ``GET /__sandbox/users/<id>``: the stored user, raw (e.g. ``enabled``);
        - ``POST /__sandbox/users/<id>`` with a JSON object: merge it into the user (created
          if absent), as :meth:`merge_user`; ``DELETE``: remove the user;
        - ``GET /__sandbox/faults``: the knobs and the queued faults;
        - ``POST /__sandbox/faults`` with ``{"drop_fields": [...], "null_fields": [...],
          "field_users": [...] | null, <any other SandboxFaults knob>: …, "inject":
          {"lost_answer": 1, "user_read_error": 2, …}, "clear": true}``: change knobs, queue
          faults (as :meth:`inject`), or forget the queued ones;
        - ``GET /__sandbox/requests``: ``[method, path]`` of the API requests seen.
        """
        path, method = request.url.path, request.method
        match = _CONTROL_USER.match(path)
        try:
            if match:
                user_id = match.group(1)
                if method == "GET":
                    return _json(200, self.user(user_id))
                if method == "POST":
                    fields = json.loads(request.content or b"{}")
                    if not isinstance(fields, dict):
                        return _json(400, {"error": "send a JSON object of fields to merge"})
                    return _json(200, self.merge_user(user_id, fields))
                if method == "DELETE":
                    self.remove_user(user_id)
                    return httpx.Response(204)
            elif path == "/__sandbox/faults":
                if method == "POST":
                    changes = json.loads(request.content or b"{}")
                    if not isinstance(changes, dict):
                        return _json(400, {"error": "send a JSON object of knobs"})
                    self._control_faults(changes)
                if method in ("GET", "POST"):
                    return _json(200, self._faults_state())
            elif path == "/__sandbox/requests" and method == "GET":
                with self._lock:
                    return _json(200, {"requests": [list(r) for r in self.requests]})
            else:
                return _json(404, {"error": f"no control endpoint {path}"})
        except KeyError:
            return _json(404, {"error": "no such user"})
        except (ValueError, TypeError, ConfigError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(405, {"error": f"{method} is not allowed on {path}"})

    def _control_faults(self, changes: dict[str, Any]) -> None:
        changes = dict(changes)
        inject = changes.pop("inject", None) or {}
        if changes.pop("clear", False):
            self.fault_plan.clear()
        known = {a.name for a in attrs.fields(SandboxFaults)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(
                f"unknown fault knob {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        if changes:
            self.set_faults(**changes)
        if not isinstance(inject, dict):
            raise ValueError('"inject" is an object of fault name → count')
        for name, count in inject.items():
            self.inject(Fault(name), int(count))

    def _faults_state(self) -> dict[str, Any]:
        knobs = attrs.asdict(self.fault_plan.faults)
        for name in ("drop_fields", "null_fields", "field_users"):
            if knobs[name] is not None:
                knobs[name] = sorted(knobs[name])
        return {"faults": knobs, "queued": self.fault_plan.pending()}


def _audit_field(audit: Mapping[str, Any], name: str) -> Any:
    if name == "user_id":
        return (audit.get("user") or {}).get("id")
    return audit.get(name)


def _aha_pagination(total: int, page: int, per_page: int) -> dict[str, Any]:
    """Aha!'s ``pagination`` object (no ``per_page`` echo, no next page)."""
    pages = (total + per_page - 1) // per_page
    return {"pagination": {"total_records": total, "total_pages": pages, "current_page": page}}
