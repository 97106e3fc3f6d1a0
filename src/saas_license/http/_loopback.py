"""Catch an OAuth redirect on 127.0.0.1: a one-shot listener for ``saas-license connect``.

It answers only the redirect path, keeps the first request that carries ``code`` or ``error``,
and logs nothing (the query holds a one-time code).
"""

from __future__ import annotations

import errno
import http.server
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ..errors import AuthenticationError, ConfigError
from ._oauth import is_loopback_url

__all__ = ["LoopbackRedirect"]

_DONE_PAGE = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>saas-license</title></head>"
    b"<body><h1>Authorization received</h1><p>You can close this tab and return to the "
    b"terminal.</p></body></html>"
)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path != self.server.expected_path or not ({"code", "error"} & set(query)):
            self.send_error(404)
            return
        if self.server.received is None:
            self.server.received = self.path
            self.server.arrived.set()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_DONE_PAGE)))
        self.end_headers()
        self.wfile.write(_DONE_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line carries the authorization code."""


class _Server(http.server.HTTPServer):
    expected_path: str
    received: str | None
    arrived: threading.Event


def _bind(host: str, port: int | None) -> _Server:
    """Listen on ``host:port``; for port 0 try again when the kernel picks a port just taken."""
    tries = 5 if port == 0 else 1
    for attempt in range(tries):
        try:
            return _Server((host, 80 if port is None else port), _Handler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or attempt == tries - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


class LoopbackRedirect:
    """Listen on the loopback ``redirect_uri`` (port 0 picks a free port) until the redirect comes.

    >>> with LoopbackRedirect("http://127.0.0.1:0/callback") as rx:  # doctest: +SKIP
    ...     open_browser(flow_for(rx.redirect_uri).authorization_url)
    ...     redirected = rx.wait(timeout=300)
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or not is_loopback_url(redirect_uri):
            raise ConfigError(
                f"{redirect_uri!r} is not an http://127.0.0.1 (or localhost) address",
                field="oauth.redirect_uri",
                hint="the local listener only works on loopback; use the paste mode for other redirect URIs",
            )
        host = parts.hostname or "127.0.0.1"
        try:
            self._server = _bind(host, parts.port)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{parts.port}: {exc.strerror}",
                field="oauth.redirect_uri",
                hint="pick another port (it must match the redirect URI registered with the vendor)",
            ) from None
        self._server.expected_path = parts.path or "/"
        self._server.received = None
        self._server.arrived = threading.Event()
        port = self._server.server_address[1]
        netloc = f"{parts.hostname}:{port}" if ":" not in host else f"[{host}]:{port}"
        self.redirect_uri = urlunsplit(parts._replace(netloc=netloc))
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"LoopbackRedirect({self.redirect_uri!r})"

    def __enter__(self) -> LoopbackRedirect:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oauth-redirect", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait(self, timeout: float) -> str:
        """The full URL the browser was redirected to; raises if nothing came in ``timeout`` s."""
        if not self._server.arrived.wait(timeout):
            raise AuthenticationError(
                f"no authorization arrived at {self.redirect_uri} within {timeout:g} seconds",
                hint="open the printed URL in a browser and approve the request, then try again",
            )
        received = self._server.received or ""
        base = urlsplit(self.redirect_uri)
        return urlunsplit(base._replace(path="", query="")) + received
