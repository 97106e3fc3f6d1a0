"""The Aha! spoke: mapping, activity signals, reclaim and undo safety, validation per process."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import httpx
import pytest

from saas_license import (
    ConfigError,
    ConnectionAlias,
    HttpOptions,
    IntegrationProfile,
    Process,
    Processes,
    Secret,
    Subscription,
    Workspace,
)
from saas_license.spoke import ReclaimStatus, SpokeContext
from saas_license_aha import AUDITS_OPTION, INFO, AhaSpoke, identifiers_for
from saas_license_aha._payloads import parse_user
from saas_license_aha.mapping import attributes_for
from saas_license_aha.sandbox import SandboxApp

UTC = dt.timezone.utc


def _ctx(
    app: SandboxApp | httpx.BaseTransport,
    *,
    key: str = "k",
    options: dict[str, Any] | None = None,
    processes: Processes | None = None,
    integration_user_id: str | None = None,
) -> SpokeContext:
    transport = app.transport() if isinstance(app, SandboxApp) else app
    return SpokeContext(
        profile=IntegrationProfile(
            name="aha",
            display_name="Aha!",
            spoke="aha",
            profile_type=INFO.profile_type,
            connection_alias="main",
            options=options or {},
            processes=processes or Processes(),
        ),
        alias=ConnectionAlias(name="main", spoke="aha", base_url="https://acme.aha.io"),
        credentials={"api_key": Secret(key)},
        http=HttpOptions(transport=transport, rate_limit=False, backoff_base=0.0),
        now=dt.datetime.now(UTC),
        integration_user_id=integration_user_id,
    )


def _sub(user_id: str) -> Subscription:
    return Subscription(
        id=1,
        profile="aha",
        external_user_id=user_id,
        user_principal_name=f"{user_id}@example.com",
        identifier="aha.roadmaps",
        software_model="Aha! Roadmaps",
    )


def _ordinary(app: SandboxApp) -> dict[str, Any]:
    return next(
        u
        for u in app.users()
        if u["enabled"] and not u["administrator"] and u["id"] != app.integration_user_id
    )


class Spy(httpx.BaseTransport):
    """Records method and path of every request, then lets the sandbox answer."""

    def __init__(self, app: SandboxApp) -> None:
        self.app, self.calls = app, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        return self.app(request)


def test_permissions_table_and_auth_types() -> None:
    assert {p.process for p in INFO.permissions} == set(Process)
    assert all(p.vendor_role == "administrator" and p.scopes == () for p in INFO.permissions)
    assert set(INFO.auth_types) == {"api_key", "oauth2"} and INFO.oauth is not None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"paid_seat": True, "teamwork_seat": True}, ["aha.teamwork"]),
        ({"paid_seat": False, "product_roles": []}, ["aha.viewer"]),
        # paid_seat is the arbiter: a Roadmaps seat flag without paid_seat is not a paid seat
        ({"paid_seat": False, "roadmaps_seat": True}, ["aha.viewer"]),
        ({"enabled": False, "paid_seat": False, "product_roles": [{"role": 40}]}, []),
    ],
)
def test_more_identifier_cases(fields: dict[str, Any], expected: list[str]) -> None:
    assert identifiers_for(parse_user({"id": "1", "email": "a@b.c", **fields})) == expected


def test_attributes_for_rules() -> None:
    user = parse_user(
        {
            "id": "1",
            "email": "a@b.c",
            "administrator": True,
            "administrator_roles": {"administer_billing": True},
            "product_roles": [
                {"role": 20, "role_description": "Owner"},
                {"role": 35, "role_description": "Developer"},
            ],
            "user_roles": [{"role_id": 4, "name": "Project scoped role 1"}],
            "identity_provider": {"type": "saml", "name": "Okta"},
        }
    )
    attrs_ = attributes_for(user)
    assert attrs_["administrator"] and attrs_["administer_billing"]
    assert not attrs_["administer_account"]
    assert attrs_["product_roles"] == ["Developer", "Owner"]
    assert attrs_["product_role_codes"] == [20, 35]
    assert attrs_["custom_roles"] == ["Project scoped role 1"]
    assert (attrs_["identity_provider"], attrs_["identity_provider_name"]) == ("saml", "Okta")


def test_activity_comes_with_the_download_and_the_hook_adds_only_extra_signals(
    tmp_path: Any,
) -> None:
    assert INFO.activity_from_download
    app = SandboxApp(user_count=200, api_keys=["k"], strict_shapes=True)
    since = dt.datetime.now(UTC) - dt.timedelta(days=60)
    assert list(AhaSpoke().activity(_ctx(app), since)) == []  # no second listing of users
    ws = Workspace.open(
        tmp_path / "ws.db", http=HttpOptions(transport=app.transport(), rate_limit=False)
    )
    ws.profiles.add_alias("a", spoke="aha", base_url="https://acme.aha.io", api_key="k")
    ws.profiles.create("p", spoke="aha", alias="a")
    ws.profiles.validate("p")
    ws.profiles.publish("p")
    app.requests.clear()
    report = ws.jobs.run("p")
    listings = [path for method, path in app.requests if path == "/api/v1/users"]
    assert len(listings) == 1  # 200 users: one page, read once for seats and activity
    activity = next(j for j in report.jobs if j.process == "activity")
    subs = ws.subscriptions.query("p")
    assert activity.counts["from_download"] == len(subs)
    enabled = {u["id"]: u for u in app.users() if u["enabled"]}
    assert all(s.activity_checked_at is not None for s in subs)
    never = [s for s in subs if enabled[s.external_user_id]["accessed_at"] is None]
    assert never and all(s.last_activity is None for s in never)
    ws.close()


def test_audits_add_write_activity_when_the_profile_asks() -> None:
    app = SandboxApp(user_count=50, api_keys=["k"], strict_shapes=True)
    quiet = _ordinary(app)
    now = dt.datetime.now(UTC)
    wrote = (now - dt.timedelta(days=3)).isoformat().replace("+00:00", "Z")
    older = (now - dt.timedelta(days=90)).isoformat().replace("+00:00", "Z")
    app.set_user({**quiet, "accessed_at": None})
    actor = {"id": quiet["id"], "email": quiet["email"]}
    app.set_audits(
        [
            {"id": "1", "created_at": wrote, "user": actor, "audit_action": "update"},
            {"id": "2", "created_at": older, "user": actor, "audit_action": "create"},
            {"id": "3", "created_at": wrote, "user": None, "audit_action": "update"},
        ]
    )
    since = now - dt.timedelta(days=60)
    off = list(AhaSpoke().activity(_ctx(app), since))
    assert not [r for r in off if r.source == "aha.audits"]
    on = list(AhaSpoke().activity(_ctx(app, options={AUDITS_OPTION: True}), since))
    audit = [r for r in on if r.source == "aha.audits"]
    assert [(r.external_user_id, r.last_activity) for r in audit] == [
        (quiet["id"], dt.datetime.fromisoformat(wrote.replace("Z", "+00:00")))
    ]


def test_reclaim_disables_reads_before_and_after_and_is_idempotent() -> None:
    app = SandboxApp(user_count=60, api_keys=["k"], strict_shapes=True)
    spy = Spy(app)
    user = _ordinary(app)
    first = AhaSpoke().reclaim(_ctx(spy), _sub(user["id"]))
    assert first.status is ReclaimStatus.SUCCESS, first.message
    assert first.before["enabled"] is True and first.after["enabled"] is False
    assert app.user(user["id"])["enabled"] is False
    path = f"/api/v1/users/{user['id']}"
    assert [c for c in spy.calls if c[1] == path] == [("GET", path), ("PUT", path), ("GET", path)]
    again = AhaSpoke().reclaim(_ctx(spy), _sub(user["id"]))
    assert again.status is ReclaimStatus.ALREADY_DONE
    assert sum(1 for c in spy.calls if c[0] == "PUT") == 1


def test_administrators_and_the_integration_user_are_never_reclaimed() -> None:
    app = SandboxApp(user_count=120, api_keys=["k"], strict_shapes=True)
    spy = Spy(app)
    admin = next(
        u
        for u in app.users()
        if u["administrator"] and u["enabled"] and u["id"] != app.integration_user_id
    )
    refused = AhaSpoke().reclaim(_ctx(spy), _sub(admin["id"]))
    assert refused.status is ReclaimStatus.REFUSED and "administrator" in refused.message
    # the integration's own user, even if it were not an administrator
    me = app.user(app.integration_user_id)
    roles = dict.fromkeys(me["administrator_roles"], False)
    app.set_user({**me, "administrator": False, "administrator_roles": roles})
    own = AhaSpoke().reclaim(_ctx(spy), _sub(app.integration_user_id))
    assert own.status is ReclaimStatus.REFUSED and "own user" in own.message
    assert not [c for c in spy.calls if c[0] == "PUT"]
    assert app.user(admin["id"])["enabled"] and app.user(app.integration_user_id)["enabled"]


class AppliedThenTimedOut(httpx.BaseTransport):
    """Delivers the PUT, then loses the answer (the worst case for a mutation)."""

    def __init__(self, app: SandboxApp) -> None:
        self.app, self.puts = app, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.app(request)
        if request.method == "PUT":
            self.puts += 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def test_an_applied_disable_whose_answer_was_lost_is_confirmed_by_reading() -> None:
    app = SandboxApp(user_count=60, api_keys=["k"], strict_shapes=True)
    lossy = AppliedThenTimedOut(app)
    user = _ordinary(app)
    result = AhaSpoke().reclaim(_ctx(lossy), _sub(user["id"]))
    assert lossy.puts == 1
    assert result.status is ReclaimStatus.SUCCESS and "confirmed by reading" in result.message


class RejectPut(httpx.BaseTransport):
    def __init__(self, app: SandboxApp, status: int) -> None:
        self.app, self.status, self.puts = app, status, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            self.puts += 1
            return httpx.Response(self.status, content=b"<html>oops</html>")
        return self.app(request)


@pytest.mark.parametrize(("status", "fragment"), [(500, "did not apply"), (403, "refused")])
def test_a_rejected_disable_fails_without_a_retry(status: int, fragment: str) -> None:
    app = SandboxApp(user_count=60, api_keys=["k"], strict_shapes=True)
    reject = RejectPut(app, status)
    user = _ordinary(app)
    result = AhaSpoke().reclaim(_ctx(reject), _sub(user["id"]))
    assert result.status is ReclaimStatus.FAILED and fragment in result.message
    assert reject.puts == 1 and app.user(user["id"])["enabled"] is True


def test_undo_re_enables_and_is_idempotent() -> None:
    app = SandboxApp(user_count=60, api_keys=["k"], strict_shapes=True)
    user = _ordinary(app)
    spoke = AhaSpoke()
    assert spoke.reclaim(_ctx(app), _sub(user["id"])).status is ReclaimStatus.SUCCESS
    undone = spoke.restore(_ctx(app), _sub(user["id"]))
    assert undone.status is ReclaimStatus.SUCCESS and app.user(user["id"])["enabled"] is True
    assert spoke.restore(_ctx(app), _sub(user["id"])).status is ReclaimStatus.ALREADY_DONE


def test_unknown_user_is_a_clear_failure() -> None:
    app = SandboxApp(user_count=10, api_keys=["k"], strict_shapes=True)
    result = AhaSpoke().reclaim(_ctx(app), _sub("424242"))
    assert result.status is ReclaimStatus.FAILED and "404" in result.message


def test_validate_reports_each_process() -> None:
    app = SandboxApp(user_count=40, api_keys=["k"], strict_shapes=True)
    report = AhaSpoke().validate(_ctx(app, options={AUDITS_OPTION: True}))
    assert report.download_ok and report.identity is not None
    assert report.identity.external_user_id == app.integration_user_id
    checks = {c.process: c for c in report.checks}
    assert "40 users" in checks[Process.DOWNLOAD].message
    assert checks[Process.ACTIVITY].ok and "audits" in checks[Process.ACTIVITY].message
    assert (
        checks[Process.RECLAIM].ok
        and "without changing anything" in checks[Process.RECLAIM].message
    )
    assert not [m for m, _ in app.requests if m != "GET"]  # nothing was changed


def test_validate_flags_a_token_that_cannot_reclaim() -> None:
    app = SandboxApp(user_count=40, api_keys=["k"], strict_shapes=True)
    me = app.user(app.integration_user_id)
    app.set_user(
        {
            **me,
            "administrator": False,
            "administrator_roles": dict.fromkeys(me["administrator_roles"], False),
        }
    )
    report = AhaSpoke().validate(_ctx(app))
    assert report.download_ok
    reclaim = report.check(Process.RECLAIM)
    assert (
        reclaim is not None
        and not reclaim.ok
        and "not an Aha! account or billing" in reclaim.message
    )
    off = AhaSpoke().validate(_ctx(app, processes=Processes(activity=False, reclaim=False)))
    assert [c.process for c in off.checks] == [Process.DOWNLOAD]


def test_validate_fails_download_on_bad_credentials_or_missing_rights() -> None:
    app = SandboxApp(user_count=10, api_keys=["k"], strict_shapes=True)
    bad = AhaSpoke().validate(_ctx(app, key="wrong"))
    assert not bad.download_ok and "rejected the credentials" in bad.checks[0].message
    forbidden = httpx.MockTransport(
        lambda r: (
            app(r)
            if r.url.path == "/api/v1/me"
            else httpx.Response(403, json={"error": "Admins only"})
        )
    )
    denied = AhaSpoke().validate(_ctx(forbidden))
    assert not denied.download_ok and "must be an Aha! administrator" in denied.checks[0].message


def test_missing_credentials_name_the_field_and_the_fix() -> None:
    app = SandboxApp(user_count=5, api_keys=["k"], strict_shapes=True)
    ctx = attrs.evolve(_ctx(app), credentials={})
    with pytest.raises(
        ConfigError, match=r"alias\.api_key.*CLI `connect aha`.*Python `ws\.profiles\."
    ):
        AhaSpoke().client(ctx)
    oauth = attrs.evolve(ctx, alias=attrs.evolve(ctx.alias, auth_type="oauth2"))
    with pytest.raises(ConfigError, match=r"alias\.client_id"):
        AhaSpoke().client(oauth)
    with pytest.raises(ConfigError, match=r"alias\.oauth_token"):
        AhaSpoke().client(
            attrs.evolve(
                oauth, credentials={"client_id": Secret("c"), "client_secret": Secret("s")}
            )
        )


def test_validate_reads_the_integration_users_roles_from_users_id() -> None:
    app = SandboxApp(user_count=40, api_keys=["k"], strict_shapes=True)
    spy = Spy(app)
    report = AhaSpoke().validate(_ctx(spy))
    me = app.integration_user_id
    assert ("GET", f"/api/v1/users/{me}") in spy.calls
    assert report.identity is not None and report.identity.is_administrator
    reclaim = report.check(Process.RECLAIM)
    assert reclaim is not None and reclaim.ok and f"GET /api/v1/users/{me}" in reclaim.message
    assert app.stats.strict_refusals == 0


def test_validate_falls_back_to_the_users_list_by_email() -> None:
    app = SandboxApp(user_count=40, api_keys=["k"], strict_shapes=True)
    me = app.integration_user_id
    hidden = httpx.MockTransport(
        lambda r: (
            httpx.Response(404, json={"error": "Record not found"})
            if r.url.path == f"/api/v1/users/{me}"
            else app(r)
        )
    )
    report = AhaSpoke().validate(_ctx(hidden))
    reclaim = report.check(Process.RECLAIM)
    assert reclaim is not None and reclaim.ok and "?email=" in reclaim.message
    assert report.identity is not None and report.identity.is_administrator


def test_validate_does_not_guess_unreadable_roles() -> None:
    app = SandboxApp(user_count=40, api_keys=["k"], strict_shapes=True)
    app.set_faults(drop_fields={"administrator", "administrator_roles"})
    report = AhaSpoke().validate(_ctx(app))
    reclaim = report.check(Process.RECLAIM)
    assert report.download_ok and reclaim is not None and not reclaim.ok
    assert "roles readably" in reclaim.message
    assert report.identity is not None and not report.identity.is_administrator


def test_validate_explains_every_unpublished_behaviour() -> None:
    app = SandboxApp(user_count=45, api_keys=["k"], rate_limit=True)
    report = AhaSpoke().validate(_ctx(app))
    text = "\n".join(report.explain)
    assert len(report.explain) == 6
    assert "/me documents none" in text and "no administrator fields" in text
    assert "administrator role a disable needs" in text and "administer_billing" in text
    assert "default per_page" in text and "30 users on a page" in text  # the sandbox's 30
    assert "x-ratelimit-reset=" in text and "epoch seconds" in text
    assert "an API key is in use" in text
    assert "seat flags" in text and "roadmaps_seat, develop_seat, teamwork_seat" in text


def test_validate_explain_on_the_command_line(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from saas_license.cli import main
    from saas_license_aha.sandbox import SandboxServer

    app = SandboxApp(user_count=20, api_keys=["k"], strict_shapes=True)
    ws_path = tmp_path / "ws.db"
    with SandboxServer(app) as server:
        ws = Workspace.open(ws_path)
        ws.profiles.add_alias("a", spoke="aha", base_url=server.base_url, api_key="k")
        ws.profiles.create("p", spoke="aha", alias="a")
        ws.close()
        code = 0
        try:
            main(["--workspace", str(ws_path), "validate", "p", "--explain"])
        except SystemExit as exc:
            code = int(exc.code or 0)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "unpublished vendor behaviour" in out
    assert "- default per_page" in out and "- OAuth2 refresh tokens" in out
