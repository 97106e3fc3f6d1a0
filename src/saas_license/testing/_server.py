"""Serve a fake vendor (any ``httpx.Request`` → ``httpx.Response`` callable) over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from ._faults import FakeTimeout, LostAnswer

__all__ = ["FakeServer", "ServedSandbox"]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, every small answer would
    # wait ~40 ms for a delayed ACK, a latency no real vendor adds.
    disable_nagle_algorithm = True
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = httpx.Request(
            self.command,
            f"{self.server.base_url}{self.path}",
            headers=list(self.headers.items()),
            content=body,
        )
        prefix = self.server.control_prefix
        if prefix and self.path.startswith(prefix) and not _loopback(self.client_address[0]):
            self.send_error(403, "the control channel answers loopback only")
            return
        try:
            response = self.server.app(request)
        except FakeTimeout as exc:  # hang, then drop the connection without an answer
            time.sleep(exc.hang)
            self.close_connection = True
            return
        except LostAnswer:  # the change was applied; the answer never leaves
            self.close_connection = True
            return
        payload = response.content
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:  # keep tokens and noise out of stderr
        if self.server.verbose:
            super().log_message(format, *args)


def _loopback(host: str) -> bool:
    return host == "::1" or host.startswith("127.") or host == "localhost"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    app: Callable[[httpx.Request], httpx.Response]
    verbose: bool
    control_prefix: str | None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class FakeServer:
    """A real, threaded HTTP server on ``host`` (loopback only) serving ``app``; port 0 picks a
    free one. Use as a context manager (serves in a background thread), or :meth:`serve_forever`.

    ``app`` is a :class:`FakeVendor` or any callable from ``httpx.Request`` to ``httpx.Response``;
    :class:`FakeTimeout` makes the server hang then drop the connection, :class:`LostAnswer`
    drops it at once. Paths under ``control_prefix`` are refused to non-loopback clients.
    ``verbose`` logs each request to stderr (the standard library's access-log format).
    """

    def __init__(
        self,
        app: Callable[[httpx.Request], httpx.Response],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        control_prefix: str | None = None,
        name: str = "fake-vendor",
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("a fake vendor only listens on loopback (127.0.0.1, localhost or ::1)")
        self.app = app
        self._server = _Server((host, port), _Handler)
        self._server.app = app
        self._server.verbose = verbose
        self._server.control_prefix = control_prefix
        self._name = name
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Where clients should point, e.g. ``http://127.0.0.1:8123``."""
        return self._server.base_url

    def start(self) -> FakeServer:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self._name, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServedSandbox:
    """A bound :class:`FakeServer` seen as the core's ``RunningSandbox``: what a spoke's
    ``SandboxOffer.open`` returns, so ``demo`` and ``sandbox serve`` can use its fake vendor.

    ``credentials`` are the keyword arguments of ``ws.profiles.add_alias`` that let the spoke in
    (e.g. ``{"api_key": key}``); ``banner`` the lines ``sandbox serve`` prints (keys, limits).
    """

    def __init__(
        self,
        server: FakeServer,
        *,
        credentials: Mapping[str, str],
        banner: Sequence[str] = (),
    ) -> None:
        self.server = server
        self._credentials = dict(credentials)
        self._banner = list(banner)

    @property
    def base_url(self) -> str:
        """Where a connection alias should point."""
        return self.server.base_url

    @property
    def credentials(self) -> Mapping[str, str]:
        """Keyword arguments for ``ws.profiles.add_alias`` (never printed by the core)."""
        return self._credentials

    def banner(self) -> list[str]:
        """Lines ``sandbox serve`` prints after the base URL."""
        return list(self._banner)

    def start(self) -> None:
        """Serve in a background thread (the demo)."""
        self.server.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (``sandbox serve``)."""
        self.server.serve_forever()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.server.stop()
