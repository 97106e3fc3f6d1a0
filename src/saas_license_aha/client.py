"""A small Aha! REST v1 client: users, me, audits, enable/disable. Errors come back as the core tree.

Every request goes through the toolkit's governor (Aha!: 300 requests per minute and 20 per
second per account) and retry policy; listings fetch pages concurrently inside that budget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

import httpx

from saas_license.http import (
    HttpOptions,
    Page,
    RateLimit,
    TransportStats,
    listing_workers,
    make_client,
    paginate,
    request_json,
    transport_stats,
)
from saas_license.spoke import BadPayloadError, format_instant

from ._payloads import (
    AhaAudit,
    AhaPagination,
    AhaUser,
    parse_audits_page,
    parse_user,
    parse_users_page,
    read_users_page,
)

__all__ = ["AHA_RATE_LIMITS", "MAX_PER_PAGE", "AhaClient"]

MAX_PER_PAGE = 200
VENDOR = "Aha!"
_NOTED_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
)

#: Aha!'s documented budget per account: 300 requests a minute and 20 a second.
T = TypeVar("T")

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
        #: Rate-limit and retry headers as last seen on any answer (for ``validate --explain``):
        #: Aha! publishes neither their presence nor the unit of ``X-Ratelimit-Reset``.
        self.seen_headers: dict[str, str] = {}
        hooks = dict(self._http.event_hooks)
        hooks["response"] = [*hooks.get("response", []), self._note_headers]
        self._http.event_hooks = hooks

    def _note_headers(self, response: httpx.Response) -> None:
        for name in _NOTED_HEADERS:
            value = response.headers.get(name)
            if value is not None:
                self.seen_headers[name] = value

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

    def _workers(self) -> int:
        """Pages a listing fetches at once: the options' choice, else sized from Aha!'s budget."""
        limits = self.options.rate_limits or AHA_RATE_LIMITS
        return listing_workers(limits, self.options.max_concurrency)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return request_json(self._http, method, path, vendor=VENDOR, **kwargs)

    # -- users ------------------------------------------------------------------------------

    def me(self) -> AhaUser:
        """The user the credentials act as.

        Aha!'s documented ``/me`` carries no administrator fields: read the roles with
        :meth:`get_user` (``me().id``) — the mapping reports them unknown here.
        """
        return parse_user(self._json("GET", "/api/v1/me"), where="me")

    def me_json(self) -> Any:
        """``/me`` exactly as Aha! sent it (for checks on the raw shape)."""
        return self._json("GET", "/api/v1/me")

    def find_user_by_email(self, email: str) -> list[AhaUser]:
        """Users whose email is ``email`` (the one filter Aha! documents on the users list)."""
        data = self._json("GET", "/api/v1/users", params={"email": email})
        return parse_users_page(data, page=1)[0]

    def users_page(
        self, page: int, *, per_page: int = MAX_PER_PAGE
    ) -> tuple[list[AhaUser], AhaPagination]:
        """One page of account users."""
        return parse_users_page(self.users_page_json(page, per_page=per_page), page=page)

    def users_page_json(self, page: int, *, per_page: int | None = MAX_PER_PAGE) -> Any:
        """One page of account users exactly as Aha! sent it (for checks on the raw shape);
        ``per_page=None`` leaves the page size to Aha!'s (unpublished) default."""
        params: dict[str, Any] = {"page": page}
        if per_page is not None:
            params["per_page"] = per_page
        return self._json("GET", "/api/v1/users", params=params)

    def iter_users(
        self, *, per_page: int = MAX_PER_PAGE, workers: int | None = None
    ) -> Iterator[AhaUser]:
        """Every account user exactly once, streamed (``per_page`` is capped at 200).

        Page 1 gives ``total_pages``; the others are fetched concurrently, ``workers`` in flight
        (default: the options' ``max_concurrency``, else sized from Aha!'s budget: 10), every
        request paced by the rate governor; a listing that changes while it is read is read again.
        """
        return self.iter_users_as(
            parse_user, key=lambda user: user.id, per_page=per_page, workers=workers
        )

    def iter_users_as(
        self,
        read: Callable[..., T],
        *,
        key: Callable[[T], Hashable],
        per_page: int = MAX_PER_PAGE,
        workers: int | None = None,
        expected: int | None = None,
    ) -> Iterator[T]:
        """As :meth:`iter_users`, each user object read by ``read(obj, where=…)`` in the page's
        thread (the download reads users straight into seats); ``key`` gives a read user's id.

        ``expected`` (e.g. the previous download's count) requests the pages it spans together
        with page 1, at most ``workers`` of them: one round trip instead of two. Page 1's
        ``total_pages`` still decides what is read (see :func:`~saas_license.http.paginate`).
        """
        size = max(1, min(per_page, MAX_PER_PAGE))

        def fetch(number: int) -> Page[T]:
            users, pagination = read_users_page(
                self.users_page_json(number, per_page=size), page=number, read=read
            )
            return Page(
                number=number,
                items=users,
                total_pages=pagination.total_pages,
                total_records=pagination.total_records,
            )

        return paginate(
            fetch,
            key=key,
            workers=self._workers() if workers is None else workers,
            what="Aha! users list",
            first_wave=1 if not expected else -(-expected // size),
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
        self,
        page: int = 1,
        *,
        since: dt.datetime | None = None,
        per_page: int = MAX_PER_PAGE,
        after_id: str | None = None,
    ) -> tuple[list[AhaAudit], AhaPagination]:
        """One page of audit records (writes only; Aha! keeps the last 12 months).

        With ``after_id`` only records with a larger id come back (Aha!'s recommended cursor).
        """
        params: dict[str, Any] = {"per_page": per_page}
        if after_id is None:
            params["page"] = page
        else:
            params["after_id"] = after_id
        if since is not None:
            params["created_since"] = format_instant(since)
        return parse_audits_page(self._json("GET", "/api/v1/audits", params=params), page=page)

    def iter_audits(
        self, *, since: dt.datetime | None = None, per_page: int = MAX_PER_PAGE
    ) -> Iterator[AhaAudit]:
        """Audit records created since ``since``, each once, walked with the ``after_id`` cursor.

        Aha! recommends ``after_id`` over pages for audits. The order of a cursor page is not
        published: a cursor page must come back in ascending id order (so the largest id is the
        next cursor); if one does not, the walk falls back to numbered pages for the rest
        rather than risk skipping records.
        """
        size = max(1, min(per_page, MAX_PER_PAGE))
        cursor = 0
        seen: set[str] = set()
        while True:
            audits, _ = self.audits_page(since=since, per_page=size, after_id=str(cursor))
            ids = [_audit_number(a.id) for a in audits]
            if ids != sorted(ids):
                yield from self._audit_pages(since=since, seen=seen)
                return
            for audit in audits:
                if audit.id not in seen:
                    seen.add(audit.id)
                    yield audit
            if not audits or len(audits) < size or ids[-1] <= cursor:
                return
            cursor = ids[-1]

    def _audit_pages(self, *, since: dt.datetime | None, seen: set[str]) -> Iterator[AhaAudit]:
        def fetch(number: int) -> Page[AhaAudit]:
            audits, pagination = self.audits_page(number, since=since)
            return Page(
                number=number,
                items=audits,
                total_pages=pagination.total_pages,
                total_records=pagination.total_records,
            )

        for audit in paginate(fetch, key=None, workers=self._workers(), what="Aha! audits"):
            if audit.id not in seen:
                seen.add(audit.id)
                yield audit


def _audit_number(audit_id: str) -> int:
    try:
        return int(audit_id)
    except ValueError:
        raise BadPayloadError(
            f"Aha! sent an audit id that is not a number ({audit_id!r}); the after_id cursor needs one"
        ) from None
