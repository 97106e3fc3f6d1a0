"""A fake vendor's OAuth2 server: ``authorize`` (auto-approves, echoes ``state``) and ``token``
(authorization_code, refresh_token and client_credentials grants).

With ``token_ttl=None`` tokens never expire and no refresh token is issued; with a TTL the
answer carries ``expires_in`` and a rotating ``refresh_token``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import httpx

__all__ = ["FakeOAuth"]


@attrs.define
class _Grant:
    client_id: str
    redirect_uri: str
    user_id: str
    expires: float


@attrs.define
class _Token:
    client_id: str
    user_id: str
    expires: float | None
    refresh: str | None


def _json(status: int, body: object) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"},
    )


def _html(status: int, text: str) -> httpx.Response:
    page = f"<!doctype html><html><body><h1>{text}</h1></body></html>".encode()
    return httpx.Response(status, content=page, headers={"Content-Type": "text/html"})


class FakeOAuth:
    """Registered clients (id → secret), issued codes and tokens, all in memory."""

    def __init__(
        self,
        clients: Mapping[str, str],
        *,
        user_id: str,
        token_ttl: float | None = None,
        redirect_uris: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = dict(clients)
        self.redirect_uris = dict(redirect_uris or {})
        self.user_id = user_id
        self.token_ttl = token_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, _Token] = {}
        self._refresh: dict[str, str] = {}  # refresh token → access token it belongs to
        self.issued = 0
        self.refreshed = 0

    # -- for the API and tests --------------------------------------------------------------

    def user_for(self, access_token: str) -> str | None:
        """The user an access token acts as, if it is valid and not expired."""
        with self._lock:
            token = self._tokens.get(access_token)
            if token is None:
                return None
            if token.expires is not None and self._clock() >= token.expires:
                return None
            return token.user_id

    def expire_all(self) -> None:
        """Make every issued access token expired (refresh tokens stay valid)."""
        with self._lock:
            for token in self._tokens.values():
                token.expires = self._clock() - 1

    def revoke_all(self) -> None:
        """Forget every access and refresh token (the user revoked the application)."""
        with self._lock:
            self._tokens.clear()
            self._refresh.clear()

    # -- endpoints --------------------------------------------------------------------------

    def authorize(self, request: httpx.Request) -> httpx.Response:
        """``GET /oauth/authorize``: approve at once and redirect back with ``code`` and ``state``."""
        params = request.url.params
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if client_id not in self.clients:
            return _html(400, "Unknown OAuth application (client_id)")
        registered = self.redirect_uris.get(client_id)
        if not redirect_uri or (registered is not None and redirect_uri != registered):
            return _html(400, "The redirect_uri does not match the application's settings")
        target = urlsplit(redirect_uri)
        reply: dict[str, str] = {}
        if params.get("response_type") != "code":
            reply["error"] = "unsupported_response_type"
        else:
            code = secrets.token_urlsafe(18)
            with self._lock:
                self._codes[code] = _Grant(
                    client_id=client_id,
                    redirect_uri=redirect_uri,
                    user_id=self.user_id,
                    expires=self._clock() + 600,
                )
            reply["code"] = code
        if "state" in params:
            reply["state"] = params["state"]
        query = "&".join(q for q in (target.query, urlencode(reply)) if q)
        location = urlunsplit(target._replace(query=query))
        return httpx.Response(302, headers={"Location": location})

    def _client(self, request: httpx.Request, form: dict[str, str]) -> str | None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
                client_id, _, secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
        if client_id is None or self.clients.get(client_id) != secret:
            return None
        return client_id

    def _issue(self, client_id: str, user_id: str) -> dict[str, object]:
        access = secrets.token_urlsafe(24)
        refresh = secrets.token_urlsafe(24) if self.token_ttl is not None else None
        expires = None if self.token_ttl is None else self._clock() + self.token_ttl
        self._tokens[access] = _Token(
            client_id=client_id, user_id=user_id, expires=expires, refresh=refresh
        )
        body: dict[str, object] = {
            "access_token": access,
            "token_type": "bearer",
            "created_at": int(time.time()),
        }
        if refresh is not None:
            self._refresh[refresh] = access
            body["refresh_token"] = refresh
            body["expires_in"] = self.token_ttl
        self.issued += 1
        return body

    def token(self, request: httpx.Request) -> httpx.Response:
        """``POST /oauth/token``: form or JSON body; errors are RFC 6749 JSON."""
        if request.method != "POST":
            return _json(405, {"error": "invalid_request", "error_description": "use POST"})
        raw = request.content.decode("utf-8", "replace")
        form: dict[str, str]
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                loaded = json.loads(raw or "{}")
            except ValueError:
                loaded = None
            form = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
        else:
            form = dict(parse_qsl(raw))
        client_id = self._client(request, form)
        if client_id is None:
            return _json(401, {"error": "invalid_client", "error_description": "unknown client"})
        grant = form.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)  # single use
                if code is None or code.client_id != client_id or self._clock() > code.expires:
                    return _json(400, {"error": "invalid_grant", "error_description": "bad code"})
                if form.get("redirect_uri") != code.redirect_uri:
                    return _json(
                        400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
                    )
                return _json(200, self._issue(client_id, code.user_id))
            if grant == "client_credentials":
                return _json(200, self._issue(client_id, self.user_id))
            if grant == "refresh_token":
                old_access = self._refresh.pop(form.get("refresh_token", ""), None)
                old = self._tokens.pop(old_access, None) if old_access else None
                if old is None or old.client_id != client_id:
                    return _json(
                        400, {"error": "invalid_grant", "error_description": "bad refresh token"}
                    )
                self.refreshed += 1
                return _json(200, self._issue(client_id, old.user_id))
        return _json(400, {"error": "unsupported_grant_type"})
