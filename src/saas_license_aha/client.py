"""A small Aha! REST v1 client: users, me, enable/disable. Errors come back as the core error tree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from saas_license.http import HttpOptions, make_client, request_json

from ._payloads import AhaPagination, AhaUser, parse_user, parse_users_page

__all__ = ["MAX_PER_PAGE", "AhaClient"]

MAX_PER_PAGE = 200
VENDOR = "Aha!"


class AhaClient:
    """Talks to ``https://<account>.aha.io/api/v1`` (or a sandbox) with the given auth."""

    def __init__(
        self, base_url: str, *, auth: httpx.Auth, options: HttpOptions | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = make_client(self.base_url, auth=auth, options=options)
        self._http.headers["Content-Type"] = "application/json"

    def __repr__(self) -> str:
        return f"AhaClient(base_url={self.base_url!r})"

    def __enter__(self) -> AhaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return request_json(self._http, method, path, vendor=VENDOR, **kwargs)

    def me(self) -> AhaUser:
        """The user the credentials act as."""
        return parse_user(self._json("GET", "/api/v1/me"), where="me")

    def users_page(
        self, page: int, *, per_page: int = MAX_PER_PAGE
    ) -> tuple[list[AhaUser], AhaPagination]:
        """One page of account users."""
        data = self._json("GET", "/api/v1/users", params={"page": page, "per_page": per_page})
        return parse_users_page(data, page=page)

    def iter_users(self, *, per_page: int = MAX_PER_PAGE) -> Iterator[AhaUser]:
        """Every account user exactly once, page by page (``per_page`` is capped at 200)."""
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        seen: set[str] = set()
        page = 1
        while True:
            users, pagination = self.users_page(page, per_page=per_page)
            for user in users:
                if user.id not in seen:
                    seen.add(user.id)
                    yield user
            if not users or page >= pagination.total_pages:
                return
            page += 1

    def get_user(self, user_id: str) -> AhaUser:
        """One user by id (404 → :class:`~saas_license.NotFoundError`)."""
        return parse_user(self._json("GET", f"/api/v1/users/{user_id}"), where=f"user {user_id}")

    def set_enabled(self, user_id: str, enabled: bool) -> AhaUser:
        """Enable or disable a user; disabling frees the paid seat."""
        data = self._json("PUT", f"/api/v1/users/{user_id}", json={"user": {"enabled": enabled}})
        return parse_user(data, where=f"user {user_id}")
