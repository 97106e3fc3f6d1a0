"""OAuth2: authorize URL and state, token answers in every shape, refresh early and once on 401."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from saas_license import ConfigError, Secret
from saas_license._secrets import SecretStore
from saas_license.http import (
    AuthorizationCodeFlow,
    FileTokenStore,
    HttpOptions,
    LoopbackRedirect,
    MemoryTokenStore,
    OAuth2App,
    OAuth2Auth,
    OAuth2Endpoints,
    OAuth2Token,
    SecretTokenStore,
    TokenStore,
)
from saas_license.spoke import AuthenticationError, BadPayloadError

BASE = "https://acme.aha.io"
APP = OAuth2App.for_account(
    BASE,
    OAuth2Endpoints(authorize_path="/oauth/authorize", token_path="/oauth/token"),
    client_id="cid",
    client_secret="s3cret-client",
    redirect_uri="http://127.0.0.1:8976/callback",
)


def test_authorize_url_carries_client_redirect_and_a_fresh_state() -> None:
    one, two = AuthorizationCodeFlow(APP), AuthorizationCodeFlow(APP)
    url = urlsplit(one.authorization_url)
    query = parse_qs(url.query)
    assert url.scheme == "https" and url.path == "/oauth/authorize"
    assert query["client_id"] == ["cid"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8976/callback"]
    assert query["state"] == [one.state] and len(one.state) >= 20 and one.state != two.state
    assert "s3cret" not in one.authorization_url


def test_the_returned_state_is_checked() -> None:
    flow = AuthorizationCodeFlow(APP, state="expected")
    ok = "http://127.0.0.1:8976/callback?code=abc&state=expected"
    assert flow.code_from_redirect(ok) == "abc"
    for bad in ("?code=abc&state=forged", "?code=abc"):
        with pytest.raises(AuthenticationError, match="state does not match"):
            flow.code_from_redirect("http://127.0.0.1:8976/callback" + bad)
    with pytest.raises(AuthenticationError, match="access_denied"):
        flow.code_from_redirect("http://127.0.0.1:8976/callback?error=access_denied&state=expected")


@pytest.mark.parametrize("url", ["http://acme.aha.io/oauth/token", "ftp://x/y", "https:///nohost"])
def test_endpoints_must_be_https_except_on_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="oauth.token_url"):
        OAuth2App(client_id="c", client_secret="s", authorize_url=BASE + "/a", token_url=url)
    OAuth2App(
        client_id="c",
        client_secret="s",
        authorize_url="http://127.0.0.1:9/a",
        token_url="http://localhost:9/t",
    )


def _answer(status: int, body: object, ctype: str = "application/json") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status,
        content=content,
        headers={"Content-Type": ctype},
        request=httpx.Request("POST", APP.token_url),
    )


def test_token_answers_in_every_documented_shape() -> None:
    plain = APP.token_from_response(_answer(200, {"access_token": "a1", "token_type": "bearer"}))
    assert (
        plain.access_token.reveal() == "a1" and not plain.refreshable and plain.expires_at is None
    )
    untyped = APP.token_from_response(_answer(200, {"access_token": "a2"}))
    assert untyped.token_type == "Bearer"
    full = APP.token_from_response(
        _answer(
            200,
            {
                "access_token": "a3",
                "token_type": "Bearer",
                "refresh_token": "r3",
                "expires_in": 7200,
            },
        )
    )
    assert full.refreshable and full.expires_at == pytest.approx(time.time() + 7200, abs=5)
    rotated_without_refresh = APP.token_from_response(
        _answer(200, {"access_token": "a4", "expires_in": 60}), previous=full
    )
    assert rotated_without_refresh.refresh_token == full.refresh_token


@pytest.mark.parametrize(
    ("answer", "error", "fragment"),
    [
        (
            _answer(400, {"error": "invalid_grant", "error_description": "code used"}),
            AuthenticationError,
            "invalid_grant: code used",
        ),
        (_answer(401, {"error": "invalid_client"}), AuthenticationError, "invalid_client"),
        (_answer(500, b"<html>oops</html>", "text/html"), Exception, "failed on its side"),
        (_answer(200, b"<html>login</html>", "text/html"), BadPayloadError, "not a JSON object"),
        (_answer(200, {"token_type": "bearer"}), BadPayloadError, "no access_token"),
        (_answer(200, {"access_token": "x", "token_type": "mac"}), BadPayloadError, "only bearer"),
    ],
)
def test_bad_token_answers_are_clear(
    answer: httpx.Response, error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment) as info:
        APP.token_from_response(answer, vendor="Aha!")
    assert "s3cret" not in str(info.value)


@given(offset=st.integers(-(10**6), 10**6), leeway=st.integers(0, 10**4))
def test_expiry_maths(offset: int, leeway: int) -> None:
    now = 1_750_000_000.0
    token = OAuth2Token(access_token="a", expires_at=now + offset)
    assert token.expires_within(leeway, now=now) is (offset < leeway)
    assert OAuth2Token(access_token="a").expires_within(leeway, now=now) is False


class TokenServer:
    """A respx token endpoint + API that counts refreshes; tokens rotate on every refresh."""

    def __init__(self, *, valid: str = "fresh-1", stale: threading.Barrier | None = None) -> None:
        self.valid = valid
        self.stale = stale  # when set, every 401 waits here: the callers hold a dead token at once
        self.refreshes = 0
        self.lock = threading.Lock()
        self.router = respx.MockRouter(base_url=BASE)
        self.router.post("/oauth/token").mock(side_effect=self.token)
        self.router.get("/api/v1/me").mock(side_effect=self.api)

    def token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form["grant_type"] == ["refresh_token"] and form["client_secret"] == [
            "s3cret-client"
        ]
        if form["refresh_token"] != ["r-ok"]:
            return httpx.Response(400, json={"error": "invalid_grant"})
        with self.lock:
            self.refreshes += 1
            self.valid = f"fresh-{self.refreshes + 1}"
            return httpx.Response(
                200, json={"access_token": self.valid, "refresh_token": "r-ok", "expires_in": 3600}
            )

    def api(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.valid}":
            if self.stale is not None:
                self.stale.wait(timeout=10)
            return httpx.Response(401, content=b"", headers={"Content-Type": "text/html"})
        return httpx.Response(200, json={"ok": True})

    def client(self, auth: OAuth2Auth) -> httpx.Client:
        return httpx.Client(
            base_url=BASE, auth=auth, transport=httpx.MockTransport(self.router.handler)
        )


def test_a_401_refreshes_once_and_saves_the_rotated_token() -> None:
    server = TokenServer()
    store = MemoryTokenStore(OAuth2Token(access_token="stale", refresh_token="r-ok"))
    auth = OAuth2Auth(APP, store)
    with server.client(auth) as client:
        assert client.get("/api/v1/me").status_code == 200
        assert client.get("/api/v1/me").status_code == 200
    assert server.refreshes == 1 and auth.refreshes == 1
    saved = store.load()
    assert saved is not None and saved.access_token.reveal() == server.valid


def test_a_token_about_to_expire_is_refreshed_before_use() -> None:
    server = TokenServer(valid="never-matches")
    store = MemoryTokenStore(
        OAuth2Token(access_token="old", refresh_token="r-ok", expires_at=time.time() + 30)
    )
    with server.client(OAuth2Auth(APP, store, leeway=60)) as client:
        assert client.get("/api/v1/me").status_code == 200
    assert server.refreshes == 1


def test_concurrent_requests_share_one_refresh() -> None:
    server = TokenServer(stale=threading.Barrier(8))  # all 8 get their 401 before any refresh
    store = MemoryTokenStore(OAuth2Token(access_token="stale", refresh_token="r-ok"))
    auth = OAuth2Auth(APP, store)
    results: list[int] = []
    with server.client(auth) as client:
        threads = [
            threading.Thread(target=lambda: results.append(client.get("/api/v1/me").status_code))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [200] * 8 and server.refreshes == 1


def test_without_a_refresh_token_a_401_asks_to_reauthorize() -> None:
    server = TokenServer()
    auth = OAuth2Auth(
        APP,
        MemoryTokenStore(OAuth2Token(access_token="revoked")),
        reauthorize_hint="re-authorize aha (CLI `connect aha`, Python `ws.profiles.oauth_begin('aha')`)",
    )
    with server.client(auth) as client, pytest.raises(AuthenticationError) as info:
        client.get("/api/v1/me")
    assert "no refresh token" in str(info.value)
    assert "CLI `connect aha`" in str(info.value) and server.refreshes == 0


def test_the_default_reauthorize_hint_names_the_cli_and_the_python_action() -> None:
    server = TokenServer()
    auth = OAuth2Auth(APP, MemoryTokenStore(OAuth2Token(access_token="revoked")))
    with server.client(auth) as client, pytest.raises(AuthenticationError) as info:
        client.get("/api/v1/me")
    assert info.value.hint == (
        "re-authorize this profile (CLI `connect PROFILE`, "
        "Python `ws.profiles.oauth_begin` then `ws.profiles.oauth_complete`)"
    )
    assert "saas-license" not in str(info.value)


def test_a_refused_refresh_asks_to_reauthorize() -> None:
    server = TokenServer()
    auth = OAuth2Auth(APP, MemoryTokenStore(OAuth2Token(access_token="x", refresh_token="r-bad")))
    with server.client(auth) as client, pytest.raises(AuthenticationError, match="invalid_grant"):
        client.get("/api/v1/me")


def test_no_token_at_all_is_a_clear_error() -> None:
    with pytest.raises(AuthenticationError, match="no OAuth token"):
        next(OAuth2Auth(APP, MemoryTokenStore()).auth_flow(httpx.Request("GET", BASE)))


def test_secrets_stay_out_of_reprs() -> None:
    token = OAuth2Token(access_token="acc-XYZ", refresh_token="ref-XYZ")
    auth = OAuth2Auth(APP, MemoryTokenStore(token))
    for thing in (token, APP, auth, MemoryTokenStore(token), AuthorizationCodeFlow(APP)):
        text = repr(thing)
        assert "XYZ" not in text and "s3cret" not in text


def test_file_token_store_is_private_atomic_and_strict(tmp_path: Path) -> None:
    path = tmp_path / "tokens" / "aha.json"
    store = FileTokenStore(path)
    assert isinstance(store, TokenStore) and store.load() is None
    token = OAuth2Token(access_token="a", refresh_token="r", expires_at=123.0, scope=("x",))
    store.save(token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.load() == token
    assert [p.name for p in path.parent.iterdir()] == ["aha.json"]
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        store.load()
    os.chmod(path, 0o600)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        store.load()


def test_secret_token_store_round_trips_inside_the_secrets_file(tmp_path: Path) -> None:
    secrets = SecretStore(tmp_path / "s.json")
    store = SecretTokenStore(secrets, "alias/aha/oauth_token")
    assert store.load() is None
    store.save(OAuth2Token(access_token="a", refresh_token="r"))
    loaded = store.load()
    assert loaded is not None and loaded.refresh_token == Secret("r")
    assert "alias/aha/oauth_token" in list(secrets.names())


def test_loopback_listener_catches_the_redirect(tmp_path: Path) -> None:
    with LoopbackRedirect("http://127.0.0.1:0/callback") as rx:
        assert rx.redirect_uri.startswith("http://127.0.0.1:") and rx.redirect_uri.endswith(
            "/callback"
        )
        assert httpx.get(rx.redirect_uri.replace("/callback", "/other?code=1")).status_code == 404
        assert httpx.get(rx.redirect_uri + "?nothing=1").status_code == 404
        page = httpx.get(rx.redirect_uri + "?code=c0de&state=s")
        assert page.status_code == 200 and "close this tab" in page.text
        assert rx.wait(1) == rx.redirect_uri + "?code=c0de&state=s"


def test_loopback_listener_times_out_and_refuses_other_hosts() -> None:
    with (
        LoopbackRedirect("http://127.0.0.1:0/cb") as rx,
        pytest.raises(AuthenticationError, match="no authorization arrived"),
    ):
        rx.wait(0.05)
    with pytest.raises(ConfigError, match="oauth.redirect_uri"):
        LoopbackRedirect("https://example.com/cb")


def test_exchange_never_resends_a_code() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503)

    flow = AuthorizationCodeFlow(
        APP, state="s", options=HttpOptions(transport=httpx.MockTransport(handler), backoff_base=0)
    )
    with pytest.raises(Exception, match="503"):
        flow.exchange("http://127.0.0.1:8976/callback?code=once&state=s")
    assert len(calls) == 1
