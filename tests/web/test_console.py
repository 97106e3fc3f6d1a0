"""The console through Starlette's TestClient, as each role would use it: every route, every
role, CSRF, sign-in throttling, sessions that end, and the changes landing with the person as
the actor of their audit entry (and at the sandbox, for an applied plan)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from saas_license import CandidateState, Workspace
from saas_license.web import (
    PasswordAuth,
    ProxyHeaderAuth,
    Role,
    Throttle,
    Users,
    WebUser,
    create_app,
)
from saas_license_aha.sandbox import SandboxApp

from .conftest import PASSWORD, csrf_of, sign_in

Client = Callable[[str | None], TestClient]

PAGES = [
    "/",
    "/profiles",
    "/candidates",
    "/candidates?state=all",
    "/candidates/1",
    "/plans",
    "/audit",
    "/entitlements",
]


def _open(ws: Workspace) -> list[int]:
    return [c.id or 0 for c in ws.candidates.query("aha", states={CandidateState.READY})]


# -- signed out ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_pages_send_you_to_sign_in(client_for: Client, path: str) -> None:
    response = client_for(None).get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


def test_signed_out_posts_change_nothing(client_for: Client, console_ws: Workspace) -> None:
    client = client_for(None)
    csrf = csrf_of(client.get("/signin").text)
    cid = _open(console_ws)[0]
    response = client.post(
        f"/candidates/{cid}", data={"action": "skip", "csrf": csrf}, follow_redirects=False
    )
    assert response.status_code == 303 and "/signin" in response.headers["location"]
    assert console_ws.candidates.get(cid).state is CandidateState.READY


def test_health_and_security_headers(client_for: Client) -> None:
    response = client_for(None).get("/healthz")
    assert response.text == "ok"
    headers = response.headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"]  # no script at all
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


# -- signing in -----------------------------------------------------------------------------


def test_sign_in_sets_a_strict_http_only_session_and_audits_it(
    client_for: Client, console_ws: Workspace
) -> None:
    client = client_for(None)
    csrf = csrf_of(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={"name": "viewer", "password": PASSWORD, "csrf": csrf, "next": "/audit"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/audit"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert PASSWORD not in response.headers["set-cookie"]
    entry = console_ws.audit.query(action="web.signed_in", last=True, limit=1)[0]
    assert entry.actor == "viewer"


def test_sign_in_never_redirects_off_site(client_for: Client) -> None:
    client = client_for(None)
    csrf = csrf_of(client.get("/signin").text)
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = client.post(
            "/signin",
            data={"name": "viewer", "password": PASSWORD, "csrf": csrf, "next": evil},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"


def test_wrong_passwords_are_refused_then_throttled(console_ws: Workspace) -> None:
    app = create_app(console_ws, auth=PasswordAuth(throttle=Throttle(per_name=3, window=600)))
    with TestClient(app) as client:
        csrf = csrf_of(client.get("/signin").text)

        def attempt(password: str, name: str = "admin") -> int:
            return client.post(
                "/signin",
                data={"name": name, "password": password, "csrf": csrf},
                follow_redirects=False,
            ).status_code

        assert [attempt("wrong password!") for _ in range(3)] == [401, 401, 401]
        # now even the right password waits: the attacker learns nothing
        response = client.post(
            "/signin", data={"name": "admin", "password": PASSWORD, "csrf": csrf}
        )
        assert response.status_code == 429 and "Too many failed attempts" in response.text
        assert "sl_session" not in response.cookies
        # another name is not blocked by admin's failures
        assert attempt("x", name="approver") == 401
        ok = client.post(
            "/signin",
            data={"name": "viewer", "password": PASSWORD, "csrf": csrf},
            follow_redirects=False,
        )
        assert ok.status_code == 303


def test_an_unknown_name_reads_like_a_wrong_password(client_for: Client) -> None:
    client = client_for(None)
    csrf = csrf_of(client.get("/signin").text)
    unknown = client.post("/signin", data={"name": "nobody", "password": PASSWORD, "csrf": csrf})
    wrong = client.post(
        "/signin", data={"name": "admin", "password": "not the password", "csrf": csrf}
    )
    assert unknown.status_code == wrong.status_code == 401
    assert "Wrong name or password." in unknown.text and "Wrong name or password." in wrong.text


def test_sessions_expire(console_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(console_ws, auth=PasswordAuth(session_hours=1))
    with TestClient(app) as client:
        sign_in(client, "viewer")
        assert client.get("/", follow_redirects=False).status_code == 200
        later = time.time() + 3601
        monkeypatch.setattr("saas_license.web._auth.time.time", lambda: later)
        assert client.get("/", follow_redirects=False).status_code == 303


def test_a_password_or_role_change_ends_open_sessions(
    client_for: Client, console_ws: Workspace
) -> None:
    client = client_for("approver")
    assert client.get("/", follow_redirects=False).status_code == 200
    Users(console_ws).set_password("approver", "a brand new passphrase")
    assert client.get("/", follow_redirects=False).status_code == 303
    other = client_for("viewer")
    Users(console_ws).set_role("viewer", Role.ADMIN)
    assert other.get("/", follow_redirects=False).status_code == 303


def test_a_forged_session_cookie_is_ignored(client_for: Client) -> None:
    client = client_for(None)
    client.cookies.set("sl_session", "eyJ1IjoiYWRtaW4iLCJlIjoiIiwieCI6OTk5OTk5OTk5OX0.forged")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(client_for: Client) -> None:
    client = client_for("viewer")
    page = client.get("/")
    client.post("/signout", data={"csrf": csrf_of(page.text)})
    assert client.get("/", follow_redirects=False).status_code == 303


# -- every page, every role ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "approver", "viewer"])
def test_every_page_renders_for_every_role(client_for: Client, role: str) -> None:
    client = client_for(role)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert f"{role} <small>({role})</small>" in response.text
    overview = client.get("/").text
    assert overview.count('<svg class="chart"') == 4  # the report's charts
    assert "verified" in client.get("/audit").text


def test_missing_things_are_404(client_for: Client) -> None:
    client = client_for("viewer")
    assert client.get("/candidates/99999").status_code == 404
    assert client.get("/plans/nope").status_code == 404


def test_viewers_see_no_action_buttons(client_for: Client) -> None:
    client = client_for("viewer")
    assert 'name="ids"' not in client.get("/candidates").text
    assert "Run now" not in client.get("/profiles").text
    assert "Make a plan" not in client.get("/plans").text


#: Each change, the least role it needs, and the form it posts (besides the CSRF token).
CHANGES: list[tuple[str, Role, dict[str, str]]] = [
    ("/candidates/{cid}", Role.APPROVER, {"action": "skip"}),
    ("/candidates/bulk", Role.APPROVER, {"action": "skip", "ids": "{cid}"}),
    ("/profiles/aha/run", Role.ADMIN, {}),
    ("/plans", Role.ADMIN, {"profile": "aha"}),
    (
        "/entitlements",
        Role.ADMIN,
        {
            "software_model": "Aha! Roadmaps",
            "purchased_rights": "10",
            "unit_cost": "59",
            "currency": "USD",
            "period": "monthly",
            "start": "2026-01-01",
        },
    ),
]


@pytest.mark.parametrize(("path", "need", "form"), CHANGES)
@pytest.mark.parametrize("role", ["viewer", "approver", "admin"])
def test_each_change_needs_its_role_and_is_audited_as_the_person(
    client_for: Client,
    console_ws: Workspace,
    path: str,
    need: Role,
    form: dict[str, str],
    role: str,
) -> None:
    client = client_for(role)
    cid = _open(console_ws)[0]
    before = len(console_ws.audit.query(limit=100_000))
    data = {k: v.format(cid=cid) for k, v in form.items()}
    data["csrf"] = csrf_of(client.get("/profiles").text)
    response = client.post(path.format(cid=cid), data=data, follow_redirects=False)
    entries = console_ws.audit.query(limit=100_000)[before:]
    if Role(role).allows(need):
        assert response.status_code == 303, response.text[:500]
        assert entries, "a change must leave an audit entry"
        assert role in {e.actor for e in entries}
    else:
        assert response.status_code == 403
        assert entries == []  # nothing changed
        assert console_ws.candidates.get(cid).state is CandidateState.READY


def test_a_post_without_a_csrf_token_or_from_another_site_changes_nothing(
    client_for: Client, console_ws: Workspace
) -> None:
    client = client_for("admin")
    cid = _open(console_ws)[0]
    assert client.post(f"/candidates/{cid}", data={"action": "skip"}).status_code == 403
    token = csrf_of(client.get("/").text)
    response = client.post(
        f"/candidates/{cid}",
        data={"action": "skip", "csrf": token},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403
    other = client_for(None)  # a token from another browser does not fit this one's cookie
    foreign = csrf_of(other.get("/signin").text)
    assert (
        client.post(f"/candidates/{cid}", data={"action": "skip", "csrf": foreign}).status_code
        == 403
    )
    assert console_ws.candidates.get(cid).state is CandidateState.READY


# -- what the actions do --------------------------------------------------------------------------


def test_keep_then_approve_from_the_candidate_page(
    client_for: Client, console_ws: Workspace
) -> None:
    client = client_for("approver")
    cid = _open(console_ws)[0]
    page = client.get(f"/candidates/{cid}")
    response = client.post(
        f"/candidates/{cid}",
        data={"action": "skip", "note": "left the company", "csrf": csrf_of(page.text)},
    )
    assert response.status_code == 200
    assert "skip done; now closed_skipped" in response.text  # the flash message
    assert console_ws.candidates.get(cid).state is CandidateState.CLOSED_SKIPPED
    entry = console_ws.candidates.history(cid)[-1]
    assert entry.actor == "approver"
    # the flash shows once
    assert "skip done" not in client.get(f"/candidates/{cid}").text


def test_a_refused_action_says_why_and_changes_nothing(
    client_for: Client, console_ws: Workspace
) -> None:
    client = client_for("approver")
    cid = _open(console_ws)[0]
    page = client.get(f"/candidates/{cid}")
    response = client.post(
        f"/candidates/{cid}", data={"action": "approve", "csrf": csrf_of(page.text)}
    )
    assert 'class="flash error"' in response.text
    assert console_ws.candidates.get(cid).state is CandidateState.READY


def test_bulk_skip_filters_and_counts(client_for: Client, console_ws: Workspace) -> None:
    client = client_for("approver")
    ids = _open(console_ws)[:3]
    listing = client.get("/candidates?profile=aha&state=ready")
    assert all(f'value="{i}"' in listing.text for i in ids)
    response = client.post(
        "/candidates/bulk",
        data={
            "action": "skip",
            "ids": [str(i) for i in ids] + ["999999"],
            "csrf": csrf_of(listing.text),
            "back": "state=ready",
        },
    )
    assert "skip: 3 of 4 candidates done" in response.text
    assert "999999" in response.text
    assert {console_ws.candidates.get(i).state for i in ids} == {CandidateState.CLOSED_SKIPPED}
    searched = client.get(
        "/candidates?state=all&q=" + console_ws.candidates.get(ids[0]).user_principal_name
    )
    assert f'href="/candidates/{ids[0]}"' in searched.text


def test_profile_validate_publish_run(client_for: Client, console_ws: Workspace) -> None:
    client = client_for("admin")
    token = csrf_of(client.get("/profiles").text)
    assert (
        "Validated aha: download: ok"
        in client.post("/profiles/aha/validate", data={"csrf": token}).text
    )
    assert "Published aha" in client.post("/profiles/aha/publish", data={"csrf": token}).text
    ran = client.post("/profiles/aha/run", data={"csrf": token})
    assert "Ran aha: download complete" in ran.text
    jobs = console_ws.jobs.query("aha", limit=1)
    assert jobs[0].trigger == "console:admin"
    assert "unknown action" in client.post("/profiles/aha/explode", data={"csrf": token}).text


def test_review_and_apply_a_capped_plan(
    client_for: Client, console_ws: Workspace, sandbox: SandboxApp
) -> None:
    client = client_for("admin")
    made = client.post(
        "/plans", data={"profile": "aha", "csrf": csrf_of(client.get("/plans").text)}
    )
    assert made.status_code == 200 and "made (dry run)" in made.text
    plan_id = str(made.url).rsplit("/", 1)[1]
    plan = console_ws.store.get_plan(plan_id)
    assert plan is not None and len(plan[0].reclaims) >= 3
    token = csrf_of(made.text)
    # no cap, or no confirmation: refused, nothing reclaimed
    assert (
        "Give a cap"
        in client.post(f"/plans/{plan_id}/apply", data={"csrf": token, "confirm": "yes"}).text
    )

    def disabled() -> set[str]:
        return {u["id"] for u in sandbox.users() if not u["enabled"]}

    before = disabled()
    assert (
        "Tick the confirmation"
        in client.post(f"/plans/{plan_id}/apply", data={"csrf": token, "cap": "2"}).text
    )
    assert disabled() == before
    applied = client.post(
        f"/plans/{plan_id}/apply", data={"csrf": token, "cap": "2", "confirm": "yes"}
    )
    assert "Applied plan" in applied.text and "reclaimed 2" in applied.text
    newly = disabled() - before
    reclaimed = console_ws.candidates.query("aha", states={CandidateState.CLOSED_COMPLETE})
    assert len(reclaimed) == 2  # the cap: two seats (Aha! frees a user's seats in one call)
    # the sandbox's state, not only our records: exactly those users lost their seats
    assert newly == {c.external_user_id for c in reclaimed}
    actions = console_ws.plans.actions("aha")
    assert {a.actor for a in actions} == {"admin"}
    assert {a.external_user_id for a in actions} == newly
    assert "applied" in client.get(f"/plans/{plan_id}").text
    assert plan_id in client.get("/plans").text


def test_entitlements_add_and_retire(client_for: Client, console_ws: Workspace) -> None:
    client = client_for("admin")
    token = csrf_of(client.get("/entitlements").text)
    bad = client.post(
        "/entitlements",
        data={
            "csrf": token,
            "software_model": "Aha! Roadmaps",
            "purchased_rights": "-1",
            "unit_cost": "5",
            "currency": "USD",
            "start": "2026-01-01",
        },
    )
    assert 'class="flash error"' in bad.text and console_ws.finance.entitlements() == []
    client.post(
        "/entitlements",
        data={
            "csrf": token,
            "software_model": "Aha! Roadmaps",
            "purchased_rights": "10",
            "unit_cost": "59",
            "currency": "USD",
            "period": "monthly",
            "start": "2026-01-01",
        },
    )
    (ent,) = console_ws.finance.entitlements()
    response = client.post(f"/entitlements/{ent.id}/retire", data={"csrf": token})
    assert f"Retired entitlement {ent.id}" in response.text
    assert console_ws.finance.entitlement(ent.id or 0).retired_on is not None


# -- other ways in --------------------------------------------------------------------------------


def test_a_trusted_proxy_header_signs_people_in(console_ws: Workspace) -> None:
    app = create_app(console_ws, auth=ProxyHeaderAuth("X-Forwarded-User", trusted=("testclient",)))
    with TestClient(app) as client:
        assert client.get("/", headers={"X-Forwarded-User": "approver"}).status_code == 200
        assert client.get("/", headers={"X-Forwarded-User": "stranger"}).status_code == 401
        assert client.get("/").status_code == 401
    untrusted = create_app(console_ws, auth=ProxyHeaderAuth("X-Forwarded-User"))
    with TestClient(untrusted) as client:  # the header from anyone but the proxy counts for nothing
        assert client.get("/", headers={"X-Forwarded-User": "admin"}).status_code == 401


def test_an_application_brings_its_own_authentication_and_mounts_the_app(
    console_ws: Workspace,
) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    def who(request: object) -> WebUser | None:
        return WebUser(name="app-user", role=Role.APPROVER)

    outer = Starlette(routes=[Mount("/licenses", app=create_app(console_ws, auth=who))])
    with TestClient(outer) as client:
        page = client.get("/licenses/candidates")
        assert page.status_code == 200
        assert (
            'href="/licenses/candidates/' in page.text
            and 'href="/licenses/static/console.css"' in page.text
        )
        cid = _open(console_ws)[0]
        response = client.post(
            f"/licenses/candidates/{cid}", data={"action": "skip", "csrf": csrf_of(page.text)}
        )
        assert response.status_code == 200 and str(response.url).endswith(
            f"/licenses/candidates/{cid}"
        )
    assert console_ws.candidates.history(cid)[-1].actor == "app-user"


def test_no_page_shows_a_secret(client_for: Client, console_ws: Workspace) -> None:
    secrets = [
        s.reveal() for s in (console_ws.secrets.get(n) for n in console_ws.secrets.names()) if s
    ]
    assert len(secrets) >= 2  # the API key, the session signing key…
    client = client_for("admin")
    for path in [*PAGES, "/signin"]:
        response = client.get(path)
        shown = response.text + str(response.headers)
        for secret in secrets:
            assert secret not in shown, path


def test_behind_a_trusted_proxy_the_browser_scheme_and_address_count(console_ws: Workspace) -> None:
    proxy = ("testclient",)  # the TestClient's peer address plays the reverse proxy
    app = create_app(
        console_ws,
        auth=ProxyHeaderAuth("X-Forwarded-User", trusted=proxy),
        trusted_proxies=proxy,
    )
    forwarded = {"X-Forwarded-For": "10.0.0.5", "X-Forwarded-Proto": "https"}
    with TestClient(app) as client:
        page = client.get("/", headers={**forwarded, "X-Forwarded-User": "approver"})
        assert page.status_code == 200
        assert "max-age" in page.headers["strict-transport-security"]  # the browser came over https
    sso_elsewhere = create_app(
        console_ws,
        auth=ProxyHeaderAuth("X-Forwarded-User", trusted=("10.9.9.9",)),
        trusted_proxies=proxy,
    )
    with TestClient(sso_elsewhere) as client:  # the name counts only from the proxy itself
        assert (
            client.get("/", headers={**forwarded, "X-Forwarded-User": "admin"}).status_code == 401
        )
    throttled = create_app(
        console_ws,
        auth=PasswordAuth(throttle=Throttle(per_name=99, per_address=2)),
        trusted_proxies=proxy,
    )
    with TestClient(throttled) as client:
        csrf = csrf_of(client.get("/signin").text)

        def attempt(address: str) -> int:
            return client.post(
                "/signin",
                data={"name": "viewer", "password": "wrong password", "csrf": csrf},
                headers={"X-Forwarded-For": address},
            ).status_code

        assert [attempt("10.0.0.1"), attempt("10.0.0.1"), attempt("10.0.0.1")] == [401, 401, 429]
        assert attempt("10.0.0.2") == 401  # another person behind the same proxy is not blocked
