"""A daily run pays for no OAuth, loopback server or TLS trust roots it does not use."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

from saas_license.http import HttpOptions, make_client
from saas_license.http import _client as client_module


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def plain_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_plain_http_needs_no_tls_context_and_https_still_verifies(plain_server: str) -> None:
    client_module._ssl_context.cache_clear()
    with make_client(f"http://{plain_server}", options=HttpOptions(rate_limit=False)) as client:
        assert client.get("/hello").json() == {"ok": True}
        assert client_module._ssl_context.cache_info().currsize == 0
        # an absolute https URL goes through the verified transport, built on first use
        with pytest.raises(httpx.ConnectError):
            client.get(f"https://{plain_server}/hello")
        assert client_module._ssl_context.cache_info().currsize == 1


def test_importing_the_http_toolkit_and_the_spoke_loads_no_oauthlib_or_http_server() -> None:
    code = (
        "import sys, saas_license.http, saas_license_aha, saas_license._pipeline\n"
        "print(sorted(m for m in ('oauthlib', 'http.server') if m in sys.modules))\n"
        "from saas_license.http import LoopbackRedirect, AuthorizationCodeFlow\n"
        "print(LoopbackRedirect.__name__, 'http.server' in sys.modules)\n"
    )
    out = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "LoopbackRedirect True"
