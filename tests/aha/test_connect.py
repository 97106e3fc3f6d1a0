"""Connecting profiles: OAuth2 in two calls or through `saas-license connect`, API keys, and
two Aha! accounts side by side with nothing leaking between them."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from saas_license import HttpOptions, ProfileStateError, Workspace
from saas_license.cli import cli
from saas_license.http import MemoryTokenStore
from saas_license.spoke import AuthenticationError
from saas_license_aha.sandbox import DEFAULT_OAUTH_CLIENT, SandboxApp, SandboxServer

CLIENT_ID, CLIENT_SECRET = DEFAULT_OAUTH_CLIENT


def _approve(url: str, transport: httpx.BaseTransport | None = None) -> str:
    """What a browser does: open the authorize URL, get redirected; returns the redirect target."""
    with httpx.Client(transport=transport) as browser:
        answer = browser.get(url)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


@pytest.fixture
def app() -> SandboxApp:
    return SandboxApp(user_count=150, api_keys=["unused"], seed=5, token_ttl=3600)


@pytest.fixture
def ws(tmp_path: Path, app: SandboxApp) -> Iterator[Workspace]:
    workspace = Workspace.open(
        tmp_path / "ws.db", http=HttpOptions(transport=app.transport(), rate_limit=False)
    )
    workspace.profiles.add_alias("aha-main", spoke="aha", base_url="https://acme.aha.io")
    workspace.profiles.create("aha", spoke="aha", alias="aha-main")
    yield workspace
    workspace.close()


def test_two_call_oauth_then_validate_publish_run(ws: Workspace, app: SandboxApp) -> None:
    url = ws.profiles.oauth_begin("aha", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert url.startswith("https://acme.aha.io/oauth/authorize?")
    token = ws.profiles.oauth_complete("aha", _approve(url, app.transport()))
    assert token.refreshable and token.expires_at is not None
    assert ws.store.get_alias("aha-main").auth_type == "oauth2"  # type: ignore[union-attr]
    assert {
        "alias/aha-main/client_id",
        "alias/aha-main/client_secret",
        "alias/aha-main/oauth_token",
    } <= set(ws.secrets.names())
    assert ws.profiles.validate("aha").download_ok
    ws.profiles.publish("aha")
    report = ws.jobs.run("aha")
    assert report.ok and app.oauth.issued == 1


def test_an_expired_token_is_refreshed_and_the_rotation_is_saved(
    ws: Workspace, app: SandboxApp
) -> None:
    ws.profiles.oauth_complete(
        "aha",
        _approve(
            ws.profiles.oauth_begin("aha", client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
            app.transport(),
        ),
    )
    before = ws.secrets.get("alias/aha-main/oauth_token")
    app.oauth.expire_all()  # the server says 401 now
    assert ws.profiles.validate("aha").download_ok
    assert app.oauth.refreshed == 1
    assert ws.secrets.get("alias/aha-main/oauth_token") != before


def test_without_refresh_tokens_a_revoked_token_asks_to_reauthorize(tmp_path: Path) -> None:
    app = SandboxApp(user_count=20, api_keys=["unused"])  # no token_ttl: no refresh tokens
    with Workspace.open(
        tmp_path / "ws.db", http=HttpOptions(transport=app.transport(), rate_limit=False)
    ) as ws:
        ws.profiles.add_alias("aha-main", spoke="aha", base_url="https://acme.aha.io")
        ws.profiles.create("aha", spoke="aha", alias="aha-main")
        token = ws.profiles.oauth_complete(
            "aha",
            _approve(
                ws.profiles.oauth_begin("aha", client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
                app.transport(),
            ),
        )
        assert not token.refreshable and token.expires_at is None
        app.oauth.revoke_all()
        with pytest.raises(AuthenticationError) as info:
            list(ws.profiles.spoke_for(ws.profiles.get("aha")).download(ws.profiles.context("aha")))
        assert (
            "re-authorize profile 'aha' (CLI `connect aha`, Python `ws.profiles.oauth_begin`"
            in str(info.value)
        )


def test_a_forged_redirect_stores_nothing(ws: Workspace, app: SandboxApp) -> None:
    url = ws.profiles.oauth_begin("aha", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    redirected = _approve(url, app.transport())
    forged = redirected.split("&state=")[0] + "&state=attacker"
    with pytest.raises(AuthenticationError, match="state does not match"):
        ws.profiles.oauth_complete("aha", forged)
    assert list(ws.secrets.names()) == []
    assert ws.store.get_alias("aha-main").auth_type == "api_key"  # type: ignore[union-attr]
    assert app.oauth.issued == 0


def test_a_wrong_client_secret_is_clear_and_stores_nothing(ws: Workspace, app: SandboxApp) -> None:
    url = ws.profiles.oauth_begin("aha", client_id=CLIENT_ID, client_secret="not-it")
    with pytest.raises(AuthenticationError, match="invalid_client"):
        ws.profiles.oauth_complete("aha", _approve(url, app.transport()))
    assert list(ws.secrets.names()) == []


def test_publishing_is_refused_until_download_validates(ws: Workspace) -> None:
    ws.profiles.connect_api_key("aha", "not-a-valid-key")
    report = ws.profiles.validate("aha")
    assert not report.download_ok
    with pytest.raises(ProfileStateError, match="only a validated profile"):
        ws.profiles.publish("aha")


def _browser_thread(url: str) -> None:
    threading.Thread(target=_approve_real, args=(url,), daemon=True).start()


def _approve_real(url: str) -> None:
    with httpx.Client(follow_redirects=True, timeout=5) as browser:
        browser.get(url)


def test_connect_command_end_to_end_over_real_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = SandboxApp(user_count=120, api_keys=["unused"], token_ttl=600)
    workspace = str(tmp_path / "ws.db")
    runner = CliRunner()
    monkeypatch.setattr("webbrowser.open", lambda url, new=0: _browser_thread(url) or True)
    monkeypatch.setenv("AHA_CLIENT_SECRET", CLIENT_SECRET)
    with SandboxServer(app) as server, caplog.at_level(logging.DEBUG):
        for args in (
            ["alias", "add", "aha-main", "--spoke", "aha", "--url", server.base_url],
            ["profile", "create", "aha", "--spoke", "aha", "--alias", "aha-main"],
        ):
            assert runner.invoke(cli, ["--workspace", workspace, *args]).exit_code == 0
        result = runner.invoke(
            cli,
            [
                "--workspace",
                workspace,
                "connect",
                "aha",
                "--client-id",
                CLIENT_ID,
                "--client-secret-env",
                "AHA_CLIENT_SECRET",
                "--redirect-uri",
                "http://127.0.0.1:0/callback",
                "--timeout",
                "10",
            ],
        )
        assert result.exit_code == 0, result.output
        out = result.output
        assert out.index("vendor role") < out.index("/oauth/authorize?")  # permissions first
        assert "connected: token stored" in out and "refreshes automatically" in out
        validated = runner.invoke(cli, ["--workspace", workspace, "validate", "aha", "--json"])
        assert validated.exit_code == 0, validated.output
        assert (
            json.loads(validated.output)["identity"]["external_user_id"] == app.integration_user_id
        )
    secrets_text = (tmp_path / "ws.db.secrets.json").read_text()
    token = json.loads(json.loads(secrets_text)["alias/aha-main/oauth_token"])
    for secret in (CLIENT_SECRET, token["access_token"], token["refresh_token"]):
        assert secret not in out and secret not in validated.output and secret not in caplog.text
    audit = runner.invoke(cli, ["--workspace", workspace, "audit", "--json"]).output
    assert "alias.connected" in audit and token["access_token"] not in audit


def test_connect_with_an_api_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = SandboxApp(user_count=30, api_keys=["the-key"])
    workspace = str(tmp_path / "ws.db")
    runner = CliRunner()
    monkeypatch.setenv("AHA_KEY", "the-key")
    with SandboxServer(app) as server:
        for args in (
            ["alias", "add", "aha-main", "--spoke", "aha", "--url", server.base_url],
            ["profile", "create", "aha", "--spoke", "aha", "--alias", "aha-main"],
            ["connect", "aha", "--api-key-env", "AHA_KEY"],
            ["validate", "aha"],
        ):
            result = runner.invoke(cli, ["--workspace", workspace, *args])
            assert result.exit_code == 0, result.output
    assert "the-key" not in result.output
    missing = runner.invoke(cli, ["--workspace", workspace, "connect", "aha"])
    assert missing.exit_code == 2 and "--client-id" in missing.output


def test_two_accounts_two_profiles_nothing_leaks(tmp_path: Path) -> None:
    us = SandboxApp(user_count=90, api_keys=["us-key"], seed=1)
    eu = SandboxApp(user_count=60, api_keys=["never-used"], seed=2, token_ttl=3600)
    seen: dict[str, list[str]] = {"us": [], "eu": []}

    def route(request: httpx.Request) -> httpx.Response:
        name = "us" if request.url.host == "us.aha.io" else "eu"
        if request.url.path.startswith("/api/"):
            seen[name].append(request.headers.get("authorization", ""))
        return (us if name == "us" else eu)(request)

    transport = httpx.MockTransport(route)
    with Workspace.open(
        tmp_path / "ws.db", http=HttpOptions(transport=transport, rate_limit=False)
    ) as ws:
        ws.profiles.add_alias("aha-us", spoke="aha", base_url="https://us.aha.io", api_key="us-key")
        ws.profiles.add_alias("aha-eu", spoke="aha", base_url="https://eu.aha.io", parent="aha-us")
        ws.profiles.create("us", spoke="aha", alias="aha-us")
        ws.profiles.create("eu", spoke="aha", alias="aha-eu")
        # a child uses its parent's credentials until it has its own (issue 16)…
        assert ws.profiles.context("eu").credentials["api_key"].reveal() == "us-key"
        url = ws.profiles.oauth_begin("eu", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        ws.profiles.oauth_complete("eu", _approve(url, transport))
        # …and then only its own: credentials are never mixed
        assert "api_key" not in ws.profiles.context("eu").credentials
        assert ws.profiles.context("eu").alias.auth_type == "oauth2"
        for name in ("us", "eu"):
            assert ws.profiles.validate(name).download_ok
            ws.profiles.publish(name)
            assert ws.jobs.run(name).ok
        us_ids = {s.external_user_id for s in ws.subscriptions.query("us")}
        eu_ids = {s.external_user_id for s in ws.subscriptions.query("eu")}
    assert us_ids <= set(us.user_ids()) and eu_ids <= set(eu.user_ids())
    assert set(seen["us"]) == {"Bearer us-key"}
    assert seen["eu"] and all(a.startswith("Bearer ") for a in seen["eu"])
    assert "Bearer us-key" not in seen["eu"]


def test_tokens_can_live_in_a_store_of_your_own(ws: Workspace, app: SandboxApp) -> None:
    stores: dict[str, MemoryTokenStore] = {}
    ws.profiles.use_token_store(lambda alias: stores.setdefault(alias.name, MemoryTokenStore()))
    url = ws.profiles.oauth_begin("aha", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    ws.profiles.oauth_complete("aha", _approve(url, app.transport()))
    assert stores["aha-main"].load() is not None
    assert "alias/aha-main/oauth_token" not in set(ws.secrets.names())
    app.oauth.expire_all()
    assert ws.profiles.validate("aha").download_ok  # refreshed through the custom store
    refreshed = stores["aha-main"].load()
    assert refreshed is not None and app.oauth.user_for(refreshed.access_token.reveal())


def test_connect_paste_mode_for_headless_machines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = SandboxApp(user_count=20, api_keys=["unused"])
    workspace = str(tmp_path / "ws.db")
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, new=0: opened.append(url) or True)
    monkeypatch.setattr(
        "saas_license.cli._cmd_connect.click.prompt",
        lambda text, hide_input=False: _approve(opened[-1]) if hide_input else "",
    )
    runner = CliRunner()
    with SandboxServer(app) as server:
        for args in (
            ["alias", "add", "aha-main", "--spoke", "aha", "--url", server.base_url],
            ["profile", "create", "aha", "--spoke", "aha", "--alias", "aha-main"],
        ):
            assert runner.invoke(cli, ["--workspace", workspace, *args]).exit_code == 0
        result = runner.invoke(
            cli,
            [
                "--workspace",
                workspace,
                "connect",
                "aha",
                "--paste",
                "--client-id",
                CLIENT_ID,
                "--client-secret-stdin",
                "--redirect-uri",
                "https://example.com/aha/callback",
            ],
            input=CLIENT_SECRET + "\n",
        )
        assert result.exit_code == 0, result.output
        assert "does not expire" in result.output and len(opened) == 1
        assert runner.invoke(cli, ["--workspace", workspace, "validate", "aha"]).exit_code == 0
