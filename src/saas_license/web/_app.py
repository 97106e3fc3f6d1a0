"""The web application: the console's routes, sign-in, security headers, CSRF, flash messages.

Every page handler is a plain function run in Starlette's thread pool; they share one
workspace, so they take turns through a lock (SQLite serialises writers anyway).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ._auth import CSRF_COOKIE, SESSION_COOKIE, Authenticator, Keys, PasswordAuth, ProxyHeaderAuth
from ._users import Role, Users, WebUser

if TYPE_CHECKING:
    from .._workspace import Workspace

__all__ = ["Console", "create_app"]

HERE = Path(__file__).resolve().parent
FLASH_COOKIE = "sl_flash"

#: Headers on every response: no script at all, nothing framed, no referrer (answer links carry
#: a token in their path), nothing cached.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cache-control": "no-store",
}


class _SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` (and HSTS over https) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                extra = dict(SECURITY_HEADERS)
                if https:
                    extra["strict-transport-security"] = "max-age=31536000"
                for key, value in extra.items():
                    if key.encode() not in have:
                        headers.append((key.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: Where the middleware below keeps the address of the proxy a request came through.
PEER_KEY = "saas_license.peer"


class _ForwardedByProxy:
    """ASGI middleware trusting ``X-Forwarded-For`` / ``-Proto`` only from ``trusted`` peers.

    A request from a trusted reverse proxy gets the browser's scheme and address (so cookies are
    ``Secure`` over https and sign-in throttling counts people, not the proxy); the proxy's own
    address is kept under :data:`PEER_KEY`, which is what :class:`ProxyHeaderAuth` checks.
    """

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...]) -> None:
        self.app, self.trusted = app, trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client and client[0] in self.trusted:
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            scope = {**scope, PEER_KEY: client[0]}
            proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
            forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
            if forwarded:
                scope["client"] = (forwarded, 0)
        await self.app(scope, receive, send)


class Forbidden(Exception):
    """The signed-in person's role does not allow this."""


class Console:
    """The state the handlers share: the workspace (behind a lock), its users, keys, templates."""

    def __init__(self, ws: Workspace, auth: Authenticator) -> None:
        self.ws = ws
        self.auth = auth
        self.lock = threading.RLock()
        self.users = Users(ws)
        self.keys = Keys(ws)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _when
        self.env.filters["money"] = _money
        self.env.globals["version"] = __version__

    # -- who is asking ---------------------------------------------------------------------
    def identify(self, request: Request) -> WebUser | None:
        """The signed-in person, or None."""
        if isinstance(self.auth, (PasswordAuth, ProxyHeaderAuth)):
            return self.auth.identify(request, self.keys, self.users)
        return self.auth(request)

    @property
    def has_sign_in(self) -> bool:
        """True when the app shows its own sign-in form."""
        return isinstance(self.auth, PasswordAuth)

    # -- CSRF --------------------------------------------------------------------------------
    @staticmethod
    def browser_nonce(request: Request) -> str:
        """The browser's CSRF cookie value (a fresh one is set on the response when missing)."""
        found = request.cookies.get(CSRF_COOKIE, "")
        if not found:
            found = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(18))
        return found

    def csrf_ok(self, request: Request, form: Mapping[str, Any]) -> bool:
        """True when the form's token matches the browser's cookie and the origin is ours."""
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin.rstrip("/") != _origin(request):
            return False
        nonce = request.cookies.get(CSRF_COOKIE, "")
        token = str(form.get("csrf", ""))
        return bool(nonce and token) and self.keys.check("csrf", nonce, token)

    # -- pages -------------------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        user: WebUser | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Render a page with the shared context (user, CSRF token, flash, links)."""
        root = request.scope.get("root_path", "")
        flash = self._take_flash(request)
        html = self.env.get_template(template).render(
            user=user,
            csrf=self.keys.csrf_token(self.browser_nonce(request)),
            flash=flash,
            root=root,
            path=request.url.path,
            sign_in=self.has_sign_in,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        self._finish(request, response)
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path=root or "/")
        return response

    def redirect(
        self, request: Request, to: str, *, message: str = "", error: bool = False
    ) -> Response:
        """303 to ``to`` (a path inside the app) with an optional one-time message."""
        root = request.scope.get("root_path", "")
        response = RedirectResponse(root + to, status_code=303)
        if message:
            body = json.dumps({"m": message[:600], "e": error})
            text = base64.urlsafe_b64encode(body.encode()).decode()
            response.set_cookie(
                FLASH_COOKIE,
                f"{text}.{self.keys.sign('flash', text)}",
                httponly=True,
                samesite="lax",
                path=root or "/",
                secure=request.url.scheme == "https",
            )
        self._finish(request, response)
        return response

    def _take_flash(self, request: Request) -> dict[str, Any] | None:
        raw = request.cookies.get(FLASH_COOKIE, "")
        text, _, mac = raw.partition(".")
        if not text or not self.keys.check("flash", text, mac):
            return None
        try:
            found: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text.encode()))
        except ValueError:
            return None
        return found

    def _finish(self, request: Request, response: Response) -> None:
        new = request.state.__dict__.get("new_csrf")
        if new:
            response.set_cookie(
                CSRF_COOKIE,
                new,
                httponly=True,
                samesite="lax",
                path=request.scope.get("root_path", "") or "/",
                secure=request.url.scheme == "https",
            )

    def start_session(self, request: Request, user: WebUser, to: str) -> Response:
        """Signed in: set the session cookie and go on."""
        assert isinstance(self.auth, PasswordAuth)
        response = self.redirect(request, to)
        secure = self.auth.secure_cookies
        response.set_cookie(
            SESSION_COOKIE,
            self.auth.session_value(self.keys, self.users, user, now=time.time()),
            max_age=self.auth.session_seconds,
            httponly=True,
            samesite="strict",
            path=request.scope.get("root_path", "") or "/",
            secure=request.url.scheme == "https" if secure is None else secure,
        )
        return response


def _origin(request: Request) -> str:
    url = request.url
    return f"{url.scheme}://{url.netloc}"


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _money(value: Any, currency: str | None = None) -> str:
    if value is None:
        return "—"
    return f"{currency + ' ' if currency else ''}{value:,.2f}"


Handler = Callable[[Request], Awaitable[Response]]


def page(console: Console, need: Role | None) -> Callable[[Callable[..., Response]], Handler]:
    """Wrap a handler: require a signed-in person with role ``need`` (None: anyone), check the
    CSRF token of every POST, run it under the workspace lock, turn library errors into a
    message on the page it came from."""

    def wrap(func: Callable[..., Response]) -> Handler:
        async def handler(request: Request) -> Response:
            form: Mapping[str, Any] = {}
            if request.method == "POST":
                form = await request.form()
            return await _run_sync(console, request, func, need, form)

        handler.__name__ = func.__name__
        return handler

    return wrap


async def _run_sync(
    console: Console,
    request: Request,
    func: Callable[..., Response],
    need: Role | None,
    form: Mapping[str, Any],
) -> Response:
    from starlette.concurrency import run_in_threadpool

    def call() -> Response:
        with console.lock:
            user = console.identify(request) if need is not None else None
            if need is not None and user is None:
                if console.has_sign_in:
                    nxt = request.url.path[len(request.scope.get("root_path", "")) :]
                    return console.redirect(request, "/signin?" + urlencode({"next": nxt}))
                return console.render(request, "forbidden.html", status=401, user=None)
            if need is not None and user is not None and not user.role.allows(need):
                return console.render(request, "forbidden.html", status=403, user=user)
            if request.method == "POST" and not console.csrf_ok(request, form):
                return console.render(request, "csrf.html", status=403, user=user)
            return func(request, user=user, form=form)

    return await run_in_threadpool(call)


def create_app(
    workspace: Workspace,
    *,
    auth: Authenticator | None = None,
    trusted_proxies: tuple[str, ...] = (),
) -> Starlette:
    """The console and answer pages for ``workspace`` as an ASGI app (mount it anywhere).

    ``auth`` is :class:`PasswordAuth` (the default: the workspace's users sign in),
    :class:`ProxyHeaderAuth` (a trusted reverse proxy names the person), or a callable taking the
    request and returning a :class:`WebUser` or None (an application's own authentication).
    ``trusted_proxies``: addresses of reverse proxies whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` are believed (none by default).
    """
    from . import _answers, _pages

    console = Console(workspace, auth if auth is not None else PasswordAuth())
    routes = [
        Route("/healthz", lambda r: PlainTextResponse("ok"), name="healthz"),
        Route("/static/console.css", _css, name="css"),
        *_pages.routes(console),
        *_answers.routes(console),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    app.add_middleware(_SecurityHeaders)
    if trusted_proxies:
        app.add_middleware(_ForwardedByProxy, trusted=tuple(trusted_proxies))
    return app


def _css(request: Request) -> Response:
    return Response(
        (HERE / "static" / "console.css").read_text(encoding="utf-8"),
        media_type="text/css",
        headers={"cache-control": "max-age=3600"},
    )


def markup(svg: str) -> Markup:
    """Trusted SVG from :mod:`saas_license.reports` (which escapes every label itself)."""
    return Markup(svg)  # noqa: S704 - the chart builders escape every text they place
