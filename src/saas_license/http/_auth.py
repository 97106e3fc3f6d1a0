"""API-key bearer authentication as an ``httpx.Auth``."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from .._secrets import Secret

__all__ = ["BearerAuth"]


class BearerAuth(httpx.Auth):
    """Sends ``Authorization: Bearer <key>``; the key stays a :class:`Secret` until the last moment."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth(token=Secret('********'))"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request
