"""OAuth2 authorization code flow (oauthlib builds and parses the messages) and its ``httpx.Auth``.

:class:`AuthorizationCodeFlow` makes the authorize URL (with a random ``state``), checks the
``state`` that comes back and exchanges the code. :class:`OAuth2Auth` sends the token, refreshes
it shortly before it expires and once after a 401 when the server gave a refresh token; without
one, a 401 is a clear "re-authorize this profile" error. Concurrent requests share one refresh.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import httpx

from .._errors import AuthenticationError, BadPayloadError, ConfigError
from .._secrets import Secret
from ._client import HttpOptions, make_client
from ._errors import error_from_response
from ._tokens import REAUTHORIZE_HINT, LockingTokenStore, OAuth2Token, TokenStore

if TYPE_CHECKING:  # oauthlib is imported on first use: a daily run never needs it
    from oauthlib.oauth2 import WebApplicationClient  # type: ignore[import-untyped]

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "AuthorizationCodeFlow",
    "OAuth2App",
    "OAuth2Auth",
    "OAuth2Endpoints",
    "is_loopback_url",
]

#: Where ``saas-license connect`` listens for the redirect unless told otherwise. Register this
#: exact URI as the redirect URI of the vendor's OAuth application.
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8976/callback"

_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


def is_loopback_url(url: str) -> bool:
    """True for ``http(s)://127.0.0.1…``, ``localhost`` or ``[::1]`` URLs."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str, field: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback_url(url):
        return url  # loopback only: sandboxes and the local redirect listener (RFC 8252)
    raise ConfigError(
        f"{url!r} must be an https:// URL (plain http is allowed only on 127.0.0.1/localhost)",
        field=field,
    )


def _as_https(url: str) -> str:
    """oauthlib insists on https; loopback URLs were checked above, so show it https ones."""
    parts = urlsplit(url)
    return url if parts.scheme == "https" else urlunsplit(parts._replace(scheme="https"))


def _back_to(original: str, built: str) -> str:
    scheme = urlsplit(original).scheme
    return urlunsplit(urlsplit(built)._replace(scheme=scheme))


def _to_secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


@attrs.frozen(kw_only=True)
class OAuth2Endpoints:
    """Where a vendor's OAuth2 endpoints live, relative to the account's base URL."""

    authorize_path: str
    token_path: str
    scopes: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class OAuth2App:
    """A registered OAuth2 application (client) and the endpoints it uses."""

    client_id: str
    client_secret: Secret = attrs.field(converter=_to_secret)
    authorize_url: str
    token_url: str
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scopes: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id.strip():
            raise ConfigError("the OAuth client id is empty", field="oauth.client_id")
        _check_url(self.authorize_url, "oauth.authorize_url")
        _check_url(self.token_url, "oauth.token_url")
        _check_url(self.redirect_uri, "oauth.redirect_uri")

    @classmethod
    def for_account(
        cls,
        base_url: str,
        endpoints: OAuth2Endpoints,
        *,
        client_id: str,
        client_secret: str | Secret,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
    ) -> OAuth2App:
        """The app's endpoints on one account (``https://<account>.example.com`` + paths)."""
        base = base_url.rstrip("/")
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            authorize_url=base + endpoints.authorize_path,
            token_url=base + endpoints.token_path,
            redirect_uri=redirect_uri,
            scopes=endpoints.scopes,
        )

    def _oauthlib(self) -> WebApplicationClient:
        from oauthlib.oauth2 import WebApplicationClient

        return WebApplicationClient(self.client_id, scope=list(self.scopes) or None)

    def refresh_request(self, token: OAuth2Token) -> httpx.Request:
        """The token request that trades ``token``'s refresh token for a new access token."""
        if token.refresh_token is None:
            raise ConfigError("this token has no refresh token", field="oauth.refresh_token")
        body = self._oauthlib().prepare_refresh_body(
            refresh_token=token.refresh_token.reveal(),
            client_id=self.client_id,
            client_secret=self.client_secret.reveal(),
        )
        return httpx.Request("POST", self.token_url, content=body.encode(), headers=_FORM)

    def code_request(self, code: str) -> httpx.Request:
        """The token request that trades an authorization ``code`` for a token."""
        body = self._oauthlib().prepare_request_body(
            code=code,
            redirect_uri=self.redirect_uri,
            client_secret=self.client_secret.reveal(),
            include_client_id=True,
        )
        return httpx.Request("POST", self.token_url, content=body.encode(), headers=_FORM)

    def token_from_response(
        self,
        response: httpx.Response,
        *,
        previous: OAuth2Token | None = None,
        vendor: str = "the vendor",
        hint: str = REAUTHORIZE_HINT,
    ) -> OAuth2Token:
        """Parse a token endpoint answer; an error answer raises :class:`AuthenticationError`.

        Handles every documented variant: ``token_type`` missing (bearer assumed), with or without
        ``refresh_token``/``expires_in``; a refresh that does not rotate keeps the old refresh token.
        """
        try:
            data: Any = json.loads(response.content) if response.content.strip() else None
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("error"):
            described = data.get("error_description") or data.get("message") or ""
            raise AuthenticationError(
                f"{vendor} refused the token request ({data['error']}{': ' + str(described) if described else ''})",
                hint=hint,
                status_code=response.status_code,
            )
        if not response.is_success:
            raise error_from_response(response, vendor=vendor)
        if not isinstance(data, dict):
            raise BadPayloadError(
                f"{vendor}'s token endpoint answered with a body that is not a JSON object",
                hint="check the account URL of the connection alias",
            )
        if not isinstance(data.get("access_token"), str) or not data["access_token"]:
            raise BadPayloadError(f"{vendor}'s token answer has no access_token")
        data.setdefault("token_type", "Bearer")
        from oauthlib.oauth2 import OAuth2Error

        try:
            params = self._oauthlib().parse_request_body_response(json.dumps(data))
        except OAuth2Error as exc:
            raise AuthenticationError(
                f"{vendor} refused the token request ({exc.error})", hint=hint
            ) from None
        except Warning as exc:  # oauthlib raises a bare Warning when the granted scope differs
            params = getattr(exc, "token", data)
        if str(params.get("token_type", "Bearer")).lower() != "bearer":
            raise BadPayloadError(
                f"{vendor} issued a {params['token_type']!r} token; only bearer is supported"
            )
        refresh = params.get("refresh_token") or (previous.refresh_token if previous else None)
        expires_at = params.get("expires_at")
        scope = params.get("scope") or []
        return OAuth2Token(
            access_token=params["access_token"],
            token_type="Bearer",  # noqa: S106 - a token type, not a password
            refresh_token=refresh,
            expires_at=float(expires_at) if isinstance(expires_at, (int, float)) else None,
            scope=tuple(scope) if isinstance(scope, list) else (),
            obtained_at=time.time(),
        )


class AuthorizationCodeFlow:
    """One authorization: the URL a person opens, then the exchange of what comes back."""

    def __init__(
        self,
        app: OAuth2App,
        *,
        state: str | None = None,
        options: HttpOptions | None = None,
        vendor: str = "the vendor",
    ) -> None:
        self.app = app
        self.state = state or secrets.token_urlsafe(24)
        self._options = options or HttpOptions()
        self._vendor = vendor
        url = app._oauthlib().prepare_request_uri(
            _as_https(app.authorize_url), redirect_uri=app.redirect_uri, state=self.state
        )
        self.authorization_url = _back_to(app.authorize_url, url)

    def __repr__(self) -> str:
        return f"AuthorizationCodeFlow(client_id={self.app.client_id!r}, authorize_url={self.app.authorize_url!r})"

    def code_from_redirect(self, redirected_url: str) -> str:
        """The code in the URL the browser was sent back to, after checking its ``state``."""
        from oauthlib.oauth2 import OAuth2Error

        try:
            params = self.app._oauthlib().parse_request_uri_response(
                _as_https(redirected_url.strip()), state=self.state
            )
        except OAuth2Error as exc:
            if exc.error == "mismatching_state":
                raise AuthenticationError(
                    "the redirect's state does not match this authorization; it may be forged "
                    "or from an older attempt",
                    hint="start the authorization again",
                ) from None
            detail = f"{exc.error}: {exc.description}" if exc.description else exc.error
            raise AuthenticationError(
                f"{self._vendor} did not authorize the application ({detail})",
                hint="approve the request in the browser, or check the OAuth application's settings",
            ) from None
        return str(params["code"])

    def exchange(self, redirected_url: str) -> OAuth2Token:
        """Check the redirect, trade its code for a token, and return the token (not stored)."""
        code = self.code_from_redirect(redirected_url)
        return self.exchange_code(code)

    def exchange_code(self, code: str) -> OAuth2Token:
        """Trade an authorization ``code`` for a token. Codes are single use: never retried."""
        origin = urlunsplit(urlsplit(self.app.token_url)._replace(path="", query="", fragment=""))
        request = self.app.code_request(code)
        with make_client(origin, options=self._options) as client:
            try:
                response = client.send(request)
            except httpx.TransportError as exc:
                raise AuthenticationError(
                    f"could not reach {self._vendor}'s token endpoint ({type(exc).__name__})",
                    hint="check the account URL and the network, then authorize again",
                ) from None
        return self.app.token_from_response(
            response, vendor=self._vendor, hint="start the authorization again"
        )


class OAuth2Auth(httpx.Auth):
    """Bearer auth from a :class:`TokenStore`, refreshing early and once after a 401.

    For sync clients (the toolkit is sync). A thread lock makes concurrent requests share one
    refresh; with a :class:`LockingTokenStore` (both file stores) the refresh also holds the
    store's OS lock and re-reads the stored token first, so when another process has already
    refreshed, its token is used instead of spending the rotated-away refresh token. Rotated
    tokens are saved back to the store.
    """

    requires_response_body = True

    def __init__(
        self,
        app: OAuth2App,
        store: TokenStore,
        *,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
        vendor: str = "the vendor",
        reauthorize_hint: str = REAUTHORIZE_HINT,
    ) -> None:
        self.app = app
        self.store = store
        self.leeway = leeway
        self._clock = clock
        self._vendor = vendor
        self._hint = reauthorize_hint
        self._lock = threading.Lock()
        self._current: OAuth2Token | None = None
        self.refreshes = 0
        self.adopted = 0  # tokens another process refreshed and this one picked up

    def __repr__(self) -> str:
        return f"OAuth2Auth(client_id={self.app.client_id!r}, store={self.store!r})"

    def _token(self) -> OAuth2Token:
        if self._current is None:
            self._current = self.store.load()
        if self._current is None:
            raise AuthenticationError(
                f"there is no OAuth token for {self._vendor} yet", hint=self._hint
            )
        return self._current

    def _store_lock(self) -> contextlib.AbstractContextManager[None]:
        if isinstance(self.store, LockingTokenStore):
            return self.store.refresh_lock()
        return contextlib.nullcontext()

    def _refresh(
        self, stale: OAuth2Token, *, force: bool
    ) -> Generator[httpx.Request, httpx.Response, OAuth2Token]:
        with self._lock:
            current = self._token()
            if current.access_token != stale.access_token:
                return current  # another request refreshed while we waited
            if not force and not current.expires_within(self.leeway, now=self._clock()):
                return current
            with self._store_lock():
                stored = self.store.load()  # another process may have refreshed meanwhile
                if stored is not None and stored.access_token != stale.access_token:
                    self._current = stored
                    self.adopted += 1
                    if force or not stored.expires_within(self.leeway, now=self._clock()):
                        return stored
                    current = stored
                response = yield self.app.refresh_request(current)
                token = self.app.token_from_response(
                    response, previous=current, vendor=self._vendor, hint=self._hint
                )
                self.store.save(token)
            self._current = token
            self.refreshes += 1
            return token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with the current token; refresh first if it is about to expire, and once on 401."""
        token = self._token()
        if token.refreshable and token.expires_within(self.leeway, now=self._clock()):
            token = yield from self._refresh(token, force=False)
        request.headers["Authorization"] = f"Bearer {token.access_token.reveal()}"
        response = yield request
        if response.status_code != 401:
            return
        if not token.refreshable:
            raise AuthenticationError(
                f"{self._vendor} rejected the OAuth token (401) and gave no refresh token",
                hint=self._hint,
                status_code=401,
            )
        token = yield from self._refresh(token, force=True)
        request.headers["Authorization"] = f"Bearer {token.access_token.reveal()}"
        response = yield request
        if response.status_code == 401:
            raise AuthenticationError(
                f"{self._vendor} rejected a freshly refreshed OAuth token (401)",
                hint=self._hint,
                status_code=401,
            )
