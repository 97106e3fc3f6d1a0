"""Aha!'s published examples are the contract: the client parses them, the mapping reads them as
expected, and the sandbox answers with the same keys, nesting and types (see README.md here)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from saas_license import ConnectionAlias, HttpOptions, IntegrationProfile, Secret, Subscription
from saas_license.http import BearerAuth
from saas_license.spoke import AuthenticationError, SpokeContext
from saas_license_aha import AUDITS_OPTION, INFO, AhaClient, AhaSpoke, subscription_records
from saas_license_aha.mapping import unknown_of
from saas_license_aha.sandbox import SandboxApp

HERE = Path(__file__).parent
BASE = "https://company.aha.io"


def published(name: str) -> Any:
    """One published example, as stored here."""
    return json.loads((HERE / name).read_text(encoding="utf-8"))


# -- shapes ---------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@attrs.define
class Shape:
    """What the published samples of one place in a payload look like."""

    kinds: set[str] = attrs.Factory(set)
    objects: int = 0
    seen: Counter[str] = attrs.Factory(Counter)
    keys: dict[str, Shape] = attrs.Factory(dict)
    items: Shape | None = None

    def learn(self, value: Any) -> Shape:
        self.kinds.add(_kind(value))
        if isinstance(value, dict):
            self.objects += 1
            for key, sub in value.items():
                self.seen[key] += 1
                self.keys.setdefault(key, Shape()).learn(sub)
        elif isinstance(value, list):
            for item in value:
                self.items = (self.items or Shape()).learn(item)
        return self

    def widen(self, other: Shape) -> Shape:
        """Take the value kinds ``other`` saw for the same keys (no new keys)."""
        self.kinds |= other.kinds
        for key, sub in self.keys.items():
            if key in other.keys:
                sub.widen(other.keys[key])
        if other.items is not None:
            self.items = other.items if self.items is None else self.items.widen(other.items)
        return self

    def problems(self, value: Any, path: str = "$") -> list[str]:
        """Where ``value`` differs: a kind never published, a key missing from every sample's
        set of always-present keys, or a key Aha! never sends there."""
        kind = _kind(value)
        if kind not in self.kinds:
            return [f"{path}: {kind}, published as {sorted(self.kinds)}"]
        out: list[str] = []
        if isinstance(value, dict):
            always = {k for k, n in self.seen.items() if n == self.objects}
            out += [f"{path}.{k}: missing" for k in sorted(always - set(value))]
            out += [
                f"{path}.{k}: never published here" for k in sorted(set(value) - set(self.keys))
            ]
            for key in set(value) & set(self.keys):
                out += self.keys[key].problems(value[key], f"{path}.{key}")
        elif isinstance(value, list) and self.items is not None:
            for i, item in enumerate(value):
                out += self.items.problems(item, f"{path}[{i}]")
        return out


def shape_of(*samples: Any) -> Shape:
    shape = Shape()
    for sample in samples:
        shape.learn(sample)
    return shape


def _every_user_record() -> Shape:
    """The value kinds of every published user field, whatever the endpoint."""
    return shape_of(
        *published("users_list_with_seat_flags.json")["users"],
        published("user_get.json")["user"],
        published("user_put_response.json"),
    )


def test_the_shape_check_itself_finds_differences() -> None:
    shape = shape_of(published("user_get.json"))
    good = published("user_get.json")
    assert shape.problems(good) == []
    bad = json.loads(json.dumps(good))
    bad["user"]["enabled"] = "true"
    bad["user"]["extra"] = 1
    del bad["user"]["email"]
    found = shape.problems(bad)
    assert "$.user.enabled: string, published as ['boolean']" in found
    assert "$.user.extra: never published here" in found and "$.user.email: missing" in found


# -- the client parses every example; the mapping reads them as expected ---------------------


def _serve(routes: dict[tuple[str, str], tuple[int, Any]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        status, body = routes[(request.method, request.url.path)]
        if isinstance(body, dict) and body.get("content_type") == "text/html":
            return httpx.Response(status, headers={"Content-Type": "text/html"})
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


def _client(transport: httpx.BaseTransport) -> AhaClient:
    return AhaClient(
        BASE,
        auth=BearerAuth(Secret("k")),
        options=HttpOptions(transport=transport, rate_limit=False, backoff_base=0.0),
    )


ADMINS_NEW = {"37063167", "82352673", "373433676", "530313708", "1049303076"}


@pytest.mark.parametrize(
    ("name", "identifier", "admins"),
    [
        ("users_list_with_seat_flags.json", "aha.roadmaps", ADMINS_NEW),
        (
            "users_list_without_seat_flags.json",
            "aha.paid",
            {"37063167", "82352673", "373433676", "1049303076"},
        ),
    ],
)
def test_users_lists_parse_and_map(name: str, identifier: str, admins: set[str]) -> None:
    page = published(name)
    with _client(_serve({("GET", "/api/v1/users"): (200, page)})) as client:
        users, pagination = client.users_page(1)  # abridged: the pagination still says 21
    assert [u.id for u in users] == [u["id"] for u in page["users"]]
    assert pagination.total_records == 21
    records = [r for u in users for r in subscription_records(u)]
    # every published user is enabled with paid_seat: true → one paid seat each, nothing unknown
    assert [(r.external_user_id, r.identifier) for r in records] == [
        (u.id, identifier) for u in users
    ]
    assert all(r.unknown == frozenset() for r in records)
    assert {r.external_user_id for r in records if r.attributes["administrator"]} == admins
    bob = next(r for r in records if r.external_user_id == "82352673")
    assert bob.attributes["administer_account"] and bob.attributes["administer_billing"] is False
    assert bob.attributes["paid_seat_group"] == "Group 2"
    assert all(r.last_activity is None for r in records if r.external_user_id != "689956296")


def test_user_get_and_the_unwrapped_put_answer_parse_and_map() -> None:
    routes = {
        ("GET", "/api/v1/users/1049303076"): (200, published("user_get.json")),
        ("PUT", "/api/v1/users/1020675218"): (200, published("user_put_response.json")),
    }
    with _client(_serve(routes)) as client:
        george = client.get_user("1049303076")
        sarah = client.set_enabled("1020675218", False)
    assert [r.identifier for r in subscription_records(george)] == ["aha.roadmaps"]
    assert subscription_records(george)[0].attributes["administrator"] is True
    # disabled users keep paid_seat: true in Aha!'s example, yet hold no billable seat
    assert sarah.enabled is False and sarah.paid_seat is True
    assert subscription_records(sarah) == []
    request = published("user_put_request.json")
    assert set(request["user"]) <= {
        "first_name",
        "last_name",
        "email",
        "enabled",
        "administrator",
        "administrator_roles",
    }


def test_me_parses_but_carries_no_administrator_fields() -> None:
    with _client(_serve({("GET", "/api/v1/me"): (200, published("me.json"))})) as client:
        me = client.me()
    assert (me.id, me.email) == ("1020675218", "no-reply@aha.io")
    # why the spoke reads roles from /users/:id: from /me alone they are unknown
    assert {"administrator", "enabled", "paid_seat"} <= unknown_of(me)


def test_audits_parse_through_the_cursor() -> None:
    seen: list[httpx.Request] = []
    body = published("audits.json")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=body)

    with _client(httpx.MockTransport(handler)) as client:
        audits = list(client.iter_audits())
    assert [(a.id, a.user.id if a.user else None) for a in audits] == [
        ("6776757454428206157", "1049303076"),
        ("6776757454436663266", "1049303076"),
    ]
    assert seen[0].url.params["after_id"] == "0" and "page" not in seen[0].url.params
    empty = published("audits_empty.json")
    with _client(httpx.MockTransport(lambda r: httpx.Response(200, json=empty))) as client:
        assert list(client.iter_audits()) == []


def test_the_published_401_is_an_authentication_error() -> None:
    error = published("error_401.json")
    with (
        _client(_serve({("GET", "/api/v1/me"): (error["status"], error)})) as client,
        pytest.raises(AuthenticationError),
    ):
        client.me()


# -- the sandbox answers with the same shapes ------------------------------------------------


@pytest.fixture
def sandbox() -> SandboxApp:
    return SandboxApp(user_count=120, api_keys=["k"], seed=11, strict_shapes=True)


def _http(app: SandboxApp, key: str | None = "k") -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=BASE, transport=app.transport(), headers=headers)


def test_sandbox_me_has_the_published_shape(sandbox: SandboxApp) -> None:
    with _http(sandbox) as c:
        me = c.get("/api/v1/me").json()
    assert shape_of(published("me.json")).problems(me) == []
    assert "administrator" not in me["user"] and "administrator_roles" not in me["user"]


def test_sandbox_users_list_has_the_published_shape(sandbox: SandboxApp) -> None:
    shape = shape_of(published("users_list_with_seat_flags.json"))
    shape.keys["users"].items.widen(_every_user_record())  # type: ignore[union-attr]
    with _http(sandbox) as c:
        pages = [
            c.get("/api/v1/users", params={"page": p, "per_page": 50}).json() for p in (1, 2, 3)
        ]
    for page in pages:
        assert shape.problems(page) == []
    kinds = {_kind(u["accessed_at"]) for page in pages for u in page["users"]}
    assert kinds == {"string", "null"}  # both forms Aha! publishes are exercised


def test_sandbox_user_get_and_put_have_the_published_shapes(sandbox: SandboxApp) -> None:
    users = _every_user_record()
    get_shape = shape_of(published("user_get.json"))
    get_shape.keys["user"].widen(users)
    put_shape = shape_of(published("user_put_response.json")).widen(users)
    target = next(
        u for u in sandbox.users() if u["enabled"] and not u["administrator"] and u["accessed_at"]
    )
    with _http(sandbox) as c:
        got = c.get(f"/api/v1/users/{target['id']}").json()
        put = c.put(f"/api/v1/users/{target['id']}", json=published("user_put_request.json"))
    assert get_shape.problems(got) == []
    assert put.status_code == 200 and put_shape.problems(put.json()) == []
    assert put.json()["enabled"] is False and put.json()["name"].startswith("Sarah ")


def test_sandbox_audits_have_the_published_shape(sandbox: SandboxApp) -> None:
    shape = shape_of(published("audits.json"), published("audits_empty.json"))
    with _http(sandbox) as c:
        paged = c.get("/api/v1/audits", params={"per_page": 20}).json()
        cursor = c.get("/api/v1/audits", params={"after_id": "0", "per_page": 20}).json()
        none = c.get("/api/v1/audits", params={"after_id": "9" * 19}).json()
    assert paged["audits"] and shape.problems(paged) == [] and shape.problems(cursor) == []
    assert shape_of(published("audits_empty.json")).problems(none) == []


def test_sandbox_401_matches_the_published_error(sandbox: SandboxApp) -> None:
    error = published("error_401.json")
    with _http(sandbox, key=None) as c:
        answer = c.get("/api/v1/me")
    assert answer.status_code == error["status"]
    assert answer.headers["content-type"].startswith(error["content_type"])


def test_strict_shapes_refuse_what_aha_does_not_document(sandbox: SandboxApp) -> None:
    uid = next(u["id"] for u in sandbox.users() if not u["administrator"])
    with _http(sandbox) as c:
        refused = [
            c.get("/api/v1/users", params={"fields": "*"}),
            c.get(f"/api/v1/users/{uid}/licenses"),
            c.delete(f"/api/v1/users/{uid}"),
            c.put(f"/api/v1/users/{uid}", json={"user": {"paid_seat": False}}),
            c.put(f"/api/v1/users/{uid}", json={"user": {"enabled": "no"}}),
            c.put(f"/api/v1/users/{uid}", json={"enabled": False}),
            c.put(f"/api/v1/users/{uid}", content=b'{"user":{"enabled":false}}'),  # no JSON type
            c.put(
                f"/api/v1/users/{uid}",
                json={"user": {"administrator_roles": {"administer_everything": "true"}}},
            ),
        ]
        accepted = [
            c.put(f"/api/v1/users/{uid}", json={"user": {"enabled": "false"}}),
            c.put(
                f"/api/v1/users/{uid}",
                json={"user": {"administrator_roles": {"administer_billing": "false"}}},
            ),
            c.get("/api/v1/audits", params={"after_id": "0", "user_id": uid, "per_page": 5}),
            c.get("/__sandbox/users/" + uid),  # the control channel stays open
        ]
    assert [r.status_code for r in refused] == [400] * len(refused)
    assert all(r.headers["X-Sandbox-Refused"] == "strict-shapes" for r in refused)
    assert [r.status_code for r in accepted] == [200] * len(accepted)
    assert sandbox.stats.strict_refusals == len(refused) == len(sandbox.refusals)
    assert sandbox.user(uid)["enabled"] is False  # 'false', the documented string form


def test_the_whole_spoke_sends_only_documented_requests(sandbox: SandboxApp) -> None:
    """Validate, download, audits activity, the fresh read, reclaim and undo: nothing refused."""
    ctx = SpokeContext(
        profile=IntegrationProfile(
            name="aha",
            display_name="Aha!",
            spoke="aha",
            profile_type=INFO.profile_type,
            connection_alias="main",
            options={AUDITS_OPTION: True},
        ),
        alias=ConnectionAlias(name="main", spoke="aha", base_url=BASE),
        credentials={"api_key": Secret("k")},
        http=HttpOptions(transport=sandbox.transport(), rate_limit=False, backoff_base=0.0),
        now=dt.datetime.now(dt.timezone.utc),
    )
    spoke = AhaSpoke()
    assert spoke.validate(ctx).download_ok
    records = list(spoke.download(ctx))
    list(spoke.activity(ctx, dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90)))
    target = next(
        r for r in records if not r.attributes["administrator"] and r.identifier != "aha.viewer"
    )
    assert spoke.current_user(ctx, target.external_user_id).seats
    sub = Subscription(
        id=1,
        profile="aha",
        external_user_id=target.external_user_id,
        user_principal_name=target.user_principal_name,
        identifier=target.identifier,
        software_model=None,
    )
    assert spoke.reclaim(ctx, sub).status.ok and spoke.restore(ctx, sub).status.ok
    assert sandbox.stats.strict_refusals == 0, list(sandbox.refusals)
