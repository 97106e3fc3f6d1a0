"""Rotated OAuth tokens are never lost when several processes refresh the same one.

The sandbox rotates refresh tokens (a refresh spends the old one and voids the old access
token), so two processes refreshing the same token without coordination leave one of them with a
spent refresh token. The file stores serialise the refresh with an OS lock and re-read the token.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
import respx

from saas_license._secrets import SecretStore
from saas_license.http import (
    AuthorizationCodeFlow,
    FileTokenStore,
    HttpOptions,
    LockingTokenStore,
    MemoryTokenStore,
    OAuth2App,
    OAuth2Auth,
    OAuth2Token,
    SecretTokenStore,
    TokenStore,
    file_lock,
    make_client,
    request_json,
)
from saas_license_aha.sandbox import SandboxApp, SandboxFaults, SandboxServer

CLIENT = ("sandbox-client", "sandbox-secret")


def _app(base_url: str) -> OAuth2App:
    return OAuth2App(
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
        authorize_url=f"{base_url}/oauth/authorize",
        token_url=f"{base_url}/oauth/token",
        redirect_uri="http://127.0.0.1:8976/callback",
    )


def _sandbox() -> SandboxApp:
    # latency widens the window in which two refreshes could overlap
    return SandboxApp(user_count=5, token_ttl=3600, faults=SandboxFaults(latency=0.03))


def _authorize(sandbox: SandboxApp, app: OAuth2App, options: HttpOptions) -> OAuth2Token:
    flow = AuthorizationCodeFlow(app, options=options)
    redirect = sandbox.oauth.authorize(httpx.Request("GET", flow.authorization_url))
    return flow.exchange(redirect.headers["location"])


def _stores(kind: str, tmp_path: Path) -> list[TokenStore]:
    if kind == "file":
        return [FileTokenStore(tmp_path / "token.json") for _ in range(4)]
    return [
        SecretTokenStore(SecretStore(tmp_path / "ws.secrets.json"), "alias/a/oauth_token")
        for _ in range(4)
    ]


@pytest.mark.parametrize("kind", ["file", "secrets"])
def test_threads_with_their_own_store_instance_spend_one_refresh(kind: str, tmp_path: Path) -> None:
    sandbox = _sandbox()
    base = "http://127.0.0.1:9"
    options = HttpOptions(transport=sandbox.transport(), rate_limit=False)
    app = _app(base)
    stores = _stores(kind, tmp_path)
    assert all(isinstance(s, LockingTokenStore) for s in stores)
    stores[0].save(_authorize(sandbox, app, options))
    loaded = threading.Barrier(len(stores) + 1)
    go = threading.Barrier(len(stores) + 1)
    results: list[str] = []
    auths: list[OAuth2Auth] = []

    def worker(store: TokenStore) -> None:
        auth = OAuth2Auth(app, store)
        auths.append(auth)
        with make_client(base, auth=auth, options=options) as client:
            request_json(client, "GET", "/api/v1/me")  # works: the token is still valid
            loaded.wait()
            go.wait()
            try:
                results.append(request_json(client, "GET", "/api/v1/me")["user"]["id"])
            except Exception as exc:  # reported below with the others
                results.append(f"failed: {exc}")

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    loaded.wait(timeout=30)
    sandbox.oauth.expire_all()  # every worker's access token now gets a 401
    go.wait(timeout=30)
    for t in threads:
        t.join(timeout=30)
    assert results == [sandbox.integration_user_id] * len(stores), results
    assert sandbox.oauth.refreshed == 1  # one refresh; the other three adopted its token
    assert sum(a.refreshes for a in auths) == 1 and sum(a.adopted for a in auths) == 3
    final = stores[0].load()
    assert final is not None and sandbox.oauth.user_for(final.access_token.reveal())


_CHILD = textwrap.dedent(
    """
    import sys
    from saas_license.http import FileTokenStore, HttpOptions, OAuth2App, OAuth2Auth
    from saas_license.http import make_client, request_json

    base, token_path = sys.argv[1], sys.argv[2]
    app = OAuth2App(client_id="sandbox-client", client_secret="sandbox-secret",
                    authorize_url=base + "/oauth/authorize", token_url=base + "/oauth/token")
    auth = OAuth2Auth(app, FileTokenStore(token_path))
    with make_client(base, auth=auth, options=HttpOptions(rate_limit=False)) as client:
        request_json(client, "GET", "/api/v1/me")  # works; the token is about to be voided
        print("ready", flush=True)
        sys.stdin.readline()  # the parent says go once the token is voided
        me = request_json(client, "GET", "/api/v1/me")
    print(me["user"]["id"], auth.refreshes, auth.adopted)
    """
)


def test_two_real_processes_refreshing_the_same_rotated_token_both_keep_working(
    tmp_path: Path,
) -> None:
    sandbox = _sandbox()
    with SandboxServer(sandbox) as server:
        app = _app(server.base_url)
        token_path = tmp_path / "token.json"
        FileTokenStore(token_path).save(_authorize(sandbox, app, HttpOptions(rate_limit=False)))
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        procs = [
            subprocess.Popen(  # noqa: S603 - fixed argv
                [sys.executable, "-c", _CHILD, server.base_url, str(token_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(3)
        ]
        for proc in procs:  # each child says "ready" once its first request has worked
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        sandbox.oauth.expire_all()  # all three now hold a dead access token
        for proc in procs:  # release all three together
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            outputs.append(out.split())
    assert [o[0] for o in outputs] == [sandbox.integration_user_id] * 3
    assert sandbox.oauth.refreshed == 1  # one process refreshed; the others adopted its token
    assert sorted(int(o[1]) for o in outputs) == [0, 0, 1]
    assert sorted(int(o[2]) for o in outputs) == [0, 1, 1]
    final = FileTokenStore(token_path).load()
    assert final is not None and sandbox.oauth.user_for(final.access_token.reveal())
    assert oct(token_path.with_name("token.json.lock").stat().st_mode & 0o777) == "0o600"


def test_a_token_another_process_refreshed_is_adopted_without_a_token_request(
    tmp_path: Path,
) -> None:
    base = "https://acme.aha.io"
    app = _app(base)
    store = FileTokenStore(tmp_path / "t.json")
    old = OAuth2Token(access_token="old", refresh_token="r-old", expires_at=time.time() + 10)
    store.save(old)
    auth = OAuth2Auth(app, store, leeway=60)
    auth._token()  # this process read the old token, about to expire
    new = OAuth2Token(access_token="new", refresh_token="r-new", expires_at=time.time() + 3600)
    FileTokenStore(tmp_path / "t.json").save(new)  # another process refreshed meanwhile
    router = respx.MockRouter(base_url=base)
    token_route = router.post("/oauth/token").respond(500)
    me = router.get("/me").mock(
        side_effect=lambda r: httpx.Response(
            200 if r.headers["authorization"] == "Bearer new" else 401, json={}
        )
    )
    options = HttpOptions(transport=httpx.MockTransport(router.handler), rate_limit=False)
    with make_client(base, auth=auth, options=options) as client:
        assert request_json(client, "GET", "/me") == {}
    assert token_route.call_count == 0 and me.call_count == 1
    assert auth.adopted == 1 and auth.refreshes == 0


def test_memory_stores_need_no_lock_and_the_file_lock_excludes_other_holders(
    tmp_path: Path,
) -> None:
    assert not isinstance(MemoryTokenStore(), LockingTokenStore)
    lock = tmp_path / "sub" / "x.lock"
    order: list[str] = []
    trying = threading.Event()
    with file_lock(lock):
        t = threading.Thread(target=lambda: _take(lock, order, trying))
        t.start()
        assert trying.wait(10)  # the second holder is at the lock, which is still held here
        assert order == []
        order.append("first released")
    t.join(timeout=10)
    assert order == ["first released", "second acquired"]
    assert oct(lock.parent.stat().st_mode & 0o777) == "0o700"


def _take(lock: Path, order: list[str], trying: threading.Event) -> None:
    trying.set()
    with file_lock(lock):
        order.append("second acquired")
