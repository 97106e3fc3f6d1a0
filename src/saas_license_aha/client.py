"""A small Aha! REST v1 client: users, me, audits, enable/disable. Errors come back as the core tree.

Every request goes through the toolkit's governor (Aha!: 300 requests per minute and 20 per
second per account) and retry policy; listings fetch pages concurrently inside that budget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx

from saas_license._time import format_instant
from saas_license.http import (
    HttpOptions,
    Page,
    RateLimit,
    TransportStats,
    make_client,
    paginate,
    request_json,
    transport_stats,
)

from ._payloads import (
    AhaAudit,
    AhaPagination,
    AhaUser,
    parse_audits_page,
    parse_user,
    parse_users_page,
)

__all__ = ["AHA_RATE_LIMITS", "MAX_PER_PAGE", "AhaClient"]

MAX_PER_PAGE = 200
VENDOR = "Aha!"

#: Aha!'s documented budget per account: 300 requests a minute and 20 a second.
AHA_RATE_LIMITS: tuple[RateLimit, ...] = (
    RateLimit(requests=300, per=60.0),
    RateLimit(requests=20, per=1.0),
)


class AhaClient:
    """Talks to ``https://<account>.aha.io/api/v1`` (or a sandbox) with the given auth."""

    def __init__(
        self, base_url: str, *, auth: httpx.Auth, options: HttpOptions | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.options = options or HttpOptions()
        self._http = make_client(
            self.base_url, auth=auth, options=self.options, rate_limits=AHA_RATE_LIMITS
        )
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

    @property
    def stats(self) -> TransportStats | None:
        """Requests, retries, 429s and 5xx seen by this client."""
        result: TransportStats | None = transport_stats(self._http)
        return result

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return request_json(self._http, method, path, vendor=VENDOR, **kwargs)

    # -- users ------------------------------------------------------------------------------

    def me(self) -> AhaUser:
        """The user the credentials act as."""
        return parse_user(self._json("GET", "/api/v1/me"), where="me")

    def users_page(
        self, page: int, *, per_page: int = MAX_PER_PAGE
    ) -> tuple[list[AhaUser], AhaPagination]:
        """One page of account users."""
        return parse_users_page(self.users_page_json(page, per_page=per_page), page=page)

    def users_page_json(self, page: int, *, per_page: int = MAX_PER_PAGE) -> Any:
        """One page of account users exactly as Aha! sent it (for checks on the raw shape)."""
        return self._json("GET", "/api/v1/users", params={"page": page, "per_page": per_page})

    def iter_users(
        self, *, per_page: int = MAX_PER_PAGE, workers: int | None = None
    ) -> Iterator[AhaUser]:
        """Every account user exactly once, streamed (``per_page`` is capped at 200).

        Pages after the first are fetched ``workers`` at a time (default: the options'
        ``max_concurrency``); a listing that changes while it is read is read again.
        """
        size = max(1, min(per_page, MAX_PER_PAGE))

        def fetch(number: int) -> Page[AhaUser]:
            users, pagination = self.users_page(number, per_page=size)
            return Page(
                number=number,
                items=users,
                total_pages=pagination.total_pages,
                total_records=pagination.total_records,
            )

        return paginate(
            fetch,
            key=lambda user: user.id,
            workers=self.options.max_concurrency if workers is None else workers,
            what="Aha! users list",
        )

    def get_user(self, user_id: str) -> AhaUser:
        """One user by id (404 → :class:`~saas_license.NotFoundError`)."""
        return parse_user(self._json("GET", f"/api/v1/users/{user_id}"), where=f"user {user_id}")

    def set_enabled(self, user_id: str, enabled: bool) -> AhaUser:
        """Enable or disable a user; disabling frees the paid seat. Sent once, never retried blindly."""
        data = self._json("PUT", f"/api/v1/users/{user_id}", json={"user": {"enabled": enabled}})
        return parse_user(data, where=f"user {user_id}")

    # -- audits -----------------------------------------------------------------------------

    def audits_page(
        self, page: int, *, since: dt.datetime | None = None, per_page: int = MAX_PER_PAGE
    ) -> tuple[list[AhaAudit], AhaPagination]:
        """One page of audit records (writes only; Aha! keeps the last 12 months)."""
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if since is not None:
            params["created_since"] = format_instant(since)
        return parse_audits_page(self._json("GET", "/api/v1/audits", params=params), page=page)

    def iter_audits(self, *, since: dt.datetime | None = None) -> Iterator[AhaAudit]:
        """Audit records created since ``since``, streamed (duplicates possible while it grows)."""

        def fetch(number: int) -> Page[AhaAudit]:
            audits, pagination = self.audits_page(number, since=since)
            return Page(
                number=number,
                items=audits,
                total_pages=pagination.total_pages,
                total_records=pagination.total_records,
            )

        return paginate(fetch, key=None, workers=self.options.max_concurrency, what="Aha! audits")
