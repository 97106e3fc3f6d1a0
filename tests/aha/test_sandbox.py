"""The sandbox is faithful: documented shapes, rate limits with Aha!'s headers, OAuth, audits, faults."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saas_license import ConfigError
from saas_license.http import RateLimit
from saas_license_aha.sandbox import (
    DEFAULT_OAUTH_CLIENT,
    Fault,
    SandboxApp,
    SandboxFaults,
    SandboxServer,
    ServerRateLimiter,
    generate_users,
)

KEY = "k"


def _client(app: SandboxApp, key: str | None = KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url="https://acme.aha.io", transport=app.transport(), headers=headers)


def test_documented_shapes() -> None:
    app = SandboxApp(user_count=450, api_keys=[KEY])
    with _client(app) as c:
        page = c.get("/api/v1/users", params={"page": 2, "per_page": 500}).json()
        assert set(page) == {"users", "pagination"}
        assert page["pagination"] == {"total_records": 450, "total_pages": 3, "current_page": 2}
        assert len(page["users"]) == 200  # per_page capped at 200
        assert c.get("/api/v1/users").json()["pagination"]["total_pages"] == 15  # default 30
        uid = page["users"][0]["id"]
        assert set(c.get(f"/api/v1/users/{uid}").json()) == {"user"}  # GET is wrapped
        put = c.put(f"/api/v1/users/{uid}", json={"user": {"enabled": False}}).json()
        assert put["id"] == uid and put["enabled"] is False and "user" not in put  # PUT is not
        assert c.get("/api/v1/users/999").status_code == 404
        assert c.get("/api/v1/users", params={"page": 0}).status_code == 400
        assert c.put(f"/api/v1/users/{uid}", json={"enabled": False}).status_code == 422
        assert c.get("/api/v1/me").json()["user"]["id"] == app.integration_user_id
        email = app.users()[5]["email"]
        found = c.get("/api/v1/users", params={"email": email}).json()
        assert [u["email"] for u in found["users"]] == [email]
    with _client(app, key="wrong") as c:
        denied = c.get("/api/v1/me")
        assert denied.status_code == 401 and denied.headers["content-type"] == "text/html"


def test_rate_limiter_enforces_both_windows_with_aha_headers() -> None:
    now = [100.0]
    limiter = ServerRateLimiter(clock=lambda: now[0], wall=lambda: 1_700_000_000.0 + now[0])
    admitted = [limiter.admit() for _ in range(21)]
    assert all(ok for ok, _ in admitted[:20])
    ok, headers = admitted[20]
    assert not ok and headers["Retry-After"] == "1"
    assert headers["X-Ratelimit-Limit"] == "300" and headers["X-Ratelimit-Remaining"] == "280"
    assert int(headers["X-Ratelimit-Reset"]) == 1_700_000_000 + 160
    for _second in range(14):  # 20 per second, until the minute's 300 are spent
        now[0] += 1.0
        assert all(limiter.admit()[0] for _ in range(20))
    now[0] += 1.0
    ok, headers = limiter.admit()
    assert not ok and headers["X-Ratelimit-Remaining"] == "0"
    assert 40 <= float(headers["Retry-After"]) <= 46
    now[0] = 160.01
    assert limiter.admit()[0]


def test_time_scale_shrinks_the_windows() -> None:
    now = [0.0]
    limiter = ServerRateLimiter(
        (RateLimit(requests=2, per=1.0),), time_scale=10, clock=lambda: now[0]
    )
    assert limiter.admit()[0] and limiter.admit()[0]
    ok, headers = limiter.admit()
    assert not ok and float(headers["Retry-After"]) == pytest.approx(0.1)
    now[0] = 0.1
    assert limiter.admit()[0]


def test_rate_limit_is_off_by_default_and_on_when_asked() -> None:
    quick = SandboxApp(user_count=5, api_keys=[KEY])
    with _client(quick) as c:
        assert all(c.get("/api/v1/me").status_code == 200 for _ in range(30))
    limited = SandboxApp(user_count=5, api_keys=[KEY], rate_limit=True)
    with _client(limited) as c:
        codes = [c.get("/api/v1/me").status_code for _ in range(25)]
    assert codes.count(429) == 5 and limited.stats.throttled == 5


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (Fault.THROTTLE, lambda r: r.status_code == 429 and r.headers["Retry-After"] == "1"),
        (Fault.SERVER_ERROR, lambda r: r.status_code in (500, 502, 503)),
        (Fault.MALFORMED, lambda r: r.status_code == 200 and _not_json(r.content)),
    ],
)
def test_queued_faults(fault: Fault, check: Any) -> None:
    app = SandboxApp(user_count=5, api_keys=[KEY])
    app.inject(fault)
    with _client(app) as c:
        assert check(c.get("/api/v1/users"))
        assert c.get("/api/v1/users").status_code == 200  # only the next request
    assert app.fault_plan.injected[fault] == 1


def _not_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return True
    return False


def test_timeout_fault_and_latency() -> None:
    app = SandboxApp(user_count=5, api_keys=[KEY], faults=SandboxFaults(latency=0.05))
    app.inject("timeout")
    with _client(app) as c:
        with pytest.raises(httpx.ReadTimeout):
            c.get("/api/v1/me")
        start = time.monotonic()
        c.get("/api/v1/me")
        assert time.monotonic() - start >= 0.05


def test_drift_faults_change_the_account_between_pages() -> None:
    app = SandboxApp(user_count=50, api_keys=[KEY])
    app.inject(Fault.DRIFT_REMOVE)
    app.inject(Fault.DRIFT_ADD, 2)
    with _client(app) as c:
        totals = [
            c.get("/api/v1/users", params={"page": p}).json()["pagination"]["total_records"]
            for p in (1, 1, 1, 1)
        ]
    assert totals == [49, 50, 51, 51] and app.stats.drift_events == 3
    assert app.integration_user_id in app.user_ids()
    app.inject(Fault.DRIFT_REMOVE, after=2)  # leaves two users pages alone
    with _client(app) as c:
        later = [c.get("/api/v1/users").json()["pagination"]["total_records"] for _ in range(4)]
    assert later == [51, 51, 50, 50]


def test_fault_rates_are_validated() -> None:
    with pytest.raises(ConfigError, match="faults.server_error_rate"):
        SandboxFaults(server_error_rate=1.5)


def test_oauth_authorize_and_token_endpoints() -> None:
    app = SandboxApp(user_count=5, api_keys=[KEY], token_ttl=3600)
    client_id, secret = DEFAULT_OAUTH_CLIENT
    with _client(app, key=None) as c:
        assert (
            c.get(
                "/oauth/authorize",
                params={"client_id": "nope", "redirect_uri": "http://127.0.0.1/cb"},
            ).status_code
            == 400
        )
        r = c.get(
            "/oauth/authorize",
            params={
                "client_id": client_id,
                "redirect_uri": "http://127.0.0.1:1/cb",
                "response_type": "code",
                "state": "xyz",
            },
        )
        assert r.status_code == 302
        query = parse_qs(urlsplit(r.headers["location"]).query)
        assert query["state"] == ["xyz"] and urlsplit(r.headers["location"]).port == 1
        form = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": "http://127.0.0.1:1/cb",
            "client_id": client_id,
            "client_secret": secret,
        }
        token = c.post("/oauth/token", data=form).json()
        assert token["token_type"] == "bearer" and token["expires_in"] == 3600
        assert c.post("/oauth/token", data=form).json()["error"] == "invalid_grant"  # single use
        bad = c.post("/oauth/token", data={**form, "client_secret": "x"})
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
        me = c.get("/api/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert me.status_code == 200
        refreshed = c.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": token["refresh_token"],
                "client_id": client_id,
                "client_secret": secret,
            },
        ).json()
        assert refreshed["refresh_token"] != token["refresh_token"]
        old = c.get("/api/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert old.status_code == 401  # the old access token is gone
        app.oauth.expire_all()
        expired = c.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {refreshed['access_token']}"}
        )
        assert expired.status_code == 401


def test_audits_endpoint_filters_and_pages() -> None:
    app = SandboxApp(user_count=300, api_keys=[KEY])
    audits = app.audits()
    assert audits and audits == sorted(audits, key=lambda a: a["created_at"], reverse=True)
    someone = audits[0]["user"]["id"]
    with _client(app) as c:
        body = c.get("/api/v1/audits", params={"user_id": someone, "per_page": 200}).json()
        assert body["audits"] and {a["user"]["id"] for a in body["audits"]} == {someone}
        since = audits[len(audits) // 2]["created_at"]
        recent = c.get("/api/v1/audits", params={"created_since": since, "per_page": 1}).json()
        assert recent["pagination"]["total_records"] == sum(
            a["created_at"] >= since for a in audits
        )
        assert c.get("/api/v1/audits", params={"created_since": "yesterday"}).status_code == 400


def test_a_third_party_client_reads_every_user_over_real_http_under_the_limits() -> None:
    app = SandboxApp(user_count=450, api_keys=["third-party"], rate_limit=True)
    with SandboxServer(app) as server:
        ids: list[str] = []
        page = 1
        while True:  # a plain urllib client: API key, page/per_page, nothing of ours
            req = urllib.request.Request(  # noqa: S310 - loopback only
                f"{server.base_url}/api/v1/users?page={page}&per_page=100",
                headers={"Authorization": "Bearer third-party", "Accept": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
                body = json.loads(resp.read())
                assert resp.headers["X-Ratelimit-Limit"] == "300"
            ids += [u["id"] for u in body["users"]]
            if page >= body["pagination"]["total_pages"]:
                break
            page += 1
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{server.base_url}/api/v1/me", timeout=5)  # noqa: S310
        assert info.value.code == 401
    assert len(ids) == len(set(ids)) == 450


def test_sandbox_serve_flags(tmp_path: Any) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from saas_license.cli import main; main()",
            "sandbox",
            "serve",
            "--users",
            "30",
            "--port",
            "0",
            "--rate-limit",
            "off",
            "--latency",
            "40",
            "--strict-shapes",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(7)]
        assert any(line.startswith("control:") and "strict shapes on" in line for line in lines)
        base = next(line.split()[-1] for line in lines if line.startswith("base URL"))
        assert any(line.startswith("limits:   off") for line in lines)
        assert any("/oauth/authorize" in line for line in lines)
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer sandbox-key"}) as c:
            start = time.monotonic()
            codes = [c.get("/api/v1/me").status_code for _ in range(25)]
            elapsed = time.monotonic() - start
        assert codes == [200] * 25  # limits off: 25 quick requests, no 429
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer sandbox-key"}) as c:
            refused = c.get("/api/v1/users", params={"fields": "*"})
            assert refused.status_code == 400 and "strict shapes" in refused.text
        assert elapsed >= 25 * 0.04
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_me_carries_only_the_documented_fields() -> None:
    app = SandboxApp(user_count=5, api_keys=[KEY])
    with _client(app) as c:
        me = c.get("/api/v1/me").json()["user"]
    assert set(me) == {
        "id",
        "name",
        "email",
        "timezone",
        "created_at",
        "updated_at",
        "accessed_at",
        "product_roles",
        "preferences",
        "accounts",
    }
    assert me["id"] == app.integration_user_id


def test_put_follows_the_documented_attributes_and_permissions() -> None:
    users = generate_users(6, seed=3)
    plain = next(u for u in users[1:] if not u["administrator"])
    billing = {
        **users[2],
        "id": "77",
        "email": "billing@example.com",
        "administrator": True,
        "administrator_roles": {
            "administer_account": False,
            "administer_billing": True,
            "administer_configuration": False,
        },
    }
    config = {
        **billing,
        "id": "78",
        "email": "config@example.com",
        "administrator_roles": {
            "administer_account": False,
            "administer_billing": False,
            "administer_configuration": True,
        },
    }
    app = SandboxApp(
        [*users, billing, config],
        api_keys={"admin": users[0]["id"], "plain": plain["id"], "bill": "77", "conf": "78"},
    )
    target = next(u["id"] for u in users[1:] if u["id"] != plain["id"])
    path = f"/api/v1/users/{target}"
    with _client(app, key="plain") as c:
        denied = c.put(path, json={"user": {"enabled": False}})
    assert denied.status_code == 403 and app.user(target)["enabled"] is True
    with _client(app, key="conf") as c:  # configuration only: our documented assumption
        assert c.put(path, json={"user": {"enabled": False}}).status_code == 403
    with _client(app, key="bill") as c:
        assert c.put(path, json={"user": {"enabled": "false"}}).json()["enabled"] is False
        assert c.put(path, json={"user": {"enabled": "true"}}).json()["enabled"] is True
        assert c.put(path, json={"user": {"enabled": "nope"}}).status_code == 422
    with _client(app, key="admin") as c:
        promoted = c.put(path, json={"user": {"administrator": "true"}}).json()
        assert promoted["administrator"] is True
        assert set(promoted["administrator_roles"].values()) == {True}
        demoted = c.put(path, json={"user": {"administrator": "false"}}).json()
        assert demoted["administrator"] is False  # "false" is not truthy here
        one = c.put(
            path, json={"user": {"administrator_roles": {"administer_billing": "true"}}}
        ).json()
        assert one["administrator"] is True and one["administrator_roles"] == {
            "administer_account": False,
            "administer_billing": True,
            "administer_configuration": False,
        }
        assert "user_roles" not in one  # as in Aha!'s PUT example


def test_field_faults_drop_or_null_fields_in_every_record_served() -> None:
    app = SandboxApp(user_count=10, api_keys=[KEY])
    some, other = app.user_ids()[3], app.user_ids()[4]
    app.set_faults(drop_fields={"email"}, null_fields=["enabled"], field_users=[some])
    with _client(app) as c:
        listed = {u["id"]: u for u in c.get("/api/v1/users").json()["users"]}
        one = c.get(f"/api/v1/users/{some}").json()["user"]
    assert "email" not in listed[some] and listed[some]["enabled"] is None
    assert "email" not in one and one["enabled"] is None
    assert "email" in listed[other] and isinstance(listed[other]["enabled"], bool)
    assert "email" in app.user(some)  # stored state untouched
    app.set_faults(drop_fields=(), null_fields=(), field_users=None)
    with _client(app) as c:
        assert "email" in c.get(f"/api/v1/users/{some}").json()["user"]


def test_audits_after_id_walks_ids_upwards() -> None:
    app = SandboxApp(user_count=300, api_keys=[KEY])
    ids = sorted(int(a["id"]) for a in app.audits())
    walked: list[int] = []
    cursor = 0
    with _client(app) as c:
        while True:
            page = c.get("/api/v1/audits", params={"after_id": cursor, "per_page": 7}).json()
            got = [int(a["id"]) for a in page["audits"]]
            if not got:
                break
            assert got == sorted(got) and got[0] > cursor
            walked += got
            cursor = got[-1]
        assert c.get("/api/v1/audits", params={"after_id": "x"}).status_code == 400
    assert walked == ids


def test_control_channel_over_real_http() -> None:
    app = SandboxApp(user_count=20, api_keys=[KEY])
    uid = app.user_ids()[5]
    with SandboxServer(app) as server, httpx.Client(base_url=server.base_url) as c:
        raw = c.get(f"/__sandbox/users/{uid}").json()
        assert raw["id"] == uid and "enabled" in raw
        merged = c.post(f"/__sandbox/users/{uid}", json={"enabled": False, "email": None}).json()
        assert merged["enabled"] is False and merged["email"] is None
        assert app.user(uid)["enabled"] is False
        state = c.post(
            "/__sandbox/faults",
            json={
                "drop_fields": ["administrator"],
                "field_users": [uid],
                "inject": {"lost_answer": 1, "user_read_error": 2},
            },
        ).json()
        assert state["faults"]["drop_fields"] == ["administrator"]
        assert state["queued"] == {"lost_answer": 1, "user_read_error": 2}
        api = {"Authorization": f"Bearer {KEY}"}
        assert c.get(f"/api/v1/users/{uid}", headers=api).status_code == 503
        assert c.get("/__sandbox/faults").json()["queued"] == {
            "lost_answer": 1,
            "user_read_error": 1,
        }
        assert c.post("/__sandbox/faults", json={"clear": True}).json()["queued"] == {}
        assert c.post("/__sandbox/faults", json={"bogus": 1}).status_code == 400
        assert c.post("/__sandbox/faults", json={"server_error_rate": 2}).status_code == 400
        assert "administrator" not in c.get(f"/api/v1/users/{uid}", headers=api).json()["user"]
        seen = c.get("/__sandbox/requests").json()["requests"]
        assert ["GET", f"/api/v1/users/{uid}"] in seen
        assert c.get("/__sandbox/users/424242").status_code == 404
        assert c.post("/__sandbox/users/555", json={"name": "New"}).json()["id"] == "555"
        assert c.delete("/__sandbox/users/555").status_code == 204
        assert c.get("/__sandbox/nothing").status_code == 404
