"""The sandbox's one request handler: a fake of the Aha! v1 users API, shared by both transports."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

import httpx

from ._accounts import INTEGRATION_USER_ID, generate_users

__all__ = ["SandboxApp"]

_USER_PATH = re.compile(r"^/api/v1/users/([^/]+)$")
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 30


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


class SandboxApp:
    """A fake Aha! account. Call it with an ``httpx.Request`` to get the ``httpx.Response`` Aha! would send.

    Shapes follow the documented API: ``GET`` responses are wrapped (``{"user": …}``,
    ``{"users": […], "pagination": …}``), ``PUT`` responses are not; ``per_page`` is capped at 200;
    unknown ids give 404; a missing or wrong bearer token gives an HTML 401.
    """

    def __init__(
        self,
        users: Iterable[dict[str, Any]] | None = None,
        *,
        api_keys: Iterable[str] = ("sandbox-key",),
        user_count: int = 25,
        seed: int = 7,
    ) -> None:
        source = list(users) if users is not None else generate_users(user_count, seed=seed)
        self._users: dict[str, dict[str, Any]] = {str(u["id"]): dict(u) for u in source}
        self._api_keys = frozenset(api_keys)
        self._lock = threading.Lock()
        self.integration_user_id = (
            INTEGRATION_USER_ID if INTEGRATION_USER_ID in self._users else next(iter(self._users))
        )
        self.requests: list[tuple[str, str]] = []

    def __repr__(self) -> str:
        return f"SandboxApp(users={len(self._users)})"

    # -- test helpers -----------------------------------------------------------------------

    def user(self, user_id: str) -> dict[str, Any]:
        """A copy of one stored user."""
        with self._lock:
            return dict(self._users[user_id])

    def users(self) -> list[dict[str, Any]]:
        """Copies of all stored users, in listing order."""
        with self._lock:
            return [dict(u) for u in self._users.values()]

    def set_user(self, user: dict[str, Any]) -> None:
        """Add or replace a user (simulates changes in the account)."""
        with self._lock:
            self._users[str(user["id"])] = dict(user)

    def transport(self) -> httpx.MockTransport:
        """An in-process transport for ``httpx.Client(transport=…)``."""
        return httpx.MockTransport(self)

    # -- handler ----------------------------------------------------------------------------

    def _authorized(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token in self._api_keys

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._lock:
            self.requests.append((request.method, path))
        if not path.startswith("/api/v1/"):
            return _json(404, {"error": "Not found"})
        if not self._authorized(request):
            return httpx.Response(
                401,
                content=b"<html><body>You need to sign in</body></html>",
                headers={"Content-Type": "text/html"},
            )
        if path == "/api/v1/me" and request.method == "GET":
            with self._lock:
                return _json(200, {"user": dict(self._users[self.integration_user_id])})
        if path == "/api/v1/users" and request.method == "GET":
            return self._list(request)
        match = _USER_PATH.match(path)
        if match:
            if request.method == "GET":
                return self._get(match.group(1))
            if request.method == "PUT":
                return self._update(match.group(1), request)
            return _json(405, {"error": f"{request.method} is not allowed here"})
        return _json(404, {"error": "Not found"})

    def _int_param(self, request: httpx.Request, name: str, default: int) -> int | None:
        raw = request.url.params.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            return None
        return value if value >= 1 else None

    def _list(self, request: httpx.Request) -> httpx.Response:
        page = self._int_param(request, "page", 1)
        per_page = self._int_param(request, "per_page", DEFAULT_PER_PAGE)
        if page is None or per_page is None:
            return _json(
                400, {"errors": [{"message": "page and per_page must be positive integers"}]}
            )
        per_page = min(per_page, MAX_PER_PAGE)
        email = request.url.params.get("email")
        with self._lock:
            users = [u for u in self._users.values() if email is None or u["email"] == email]
            chunk = [dict(u) for u in users[(page - 1) * per_page : page * per_page]]
        total = len(users)
        pages = (total + per_page - 1) // per_page
        return _json(
            200,
            {
                "users": chunk,
                "pagination": {"total_records": total, "total_pages": pages, "current_page": page},
            },
        )

    def _get(self, user_id: str) -> httpx.Response:
        with self._lock:
            user = self._users.get(user_id)
            if user is None:
                return _json(404, {"error": "Record not found"})
            return _json(200, {"user": dict(user)})

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
            user = self._users.get(user_id)
            if user is None:
                return _json(404, {"error": "Record not found"})
            if "enabled" in fields:
                user["enabled"] = fields["enabled"]
            if "email" in fields:
                user["email"] = fields["email"]
            if "administrator" in fields:
                user["administrator"] = bool(fields["administrator"])
            return _json(200, dict(user))  # PUT answers unwrapped, as Aha! does
