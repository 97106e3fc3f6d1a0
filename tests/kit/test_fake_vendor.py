"""The fake-vendor kit: each pagination style read back by its paginator, auth styles, limits,
every fault knob, and the real HTTP server, all asserted on what the vendor holds and answers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license.http import (
    CursorPage,
    OffsetPage,
    Page,
    RateLimit,
    next_link,
    paginate,
    paginate_cursor,
    paginate_links,
    paginate_offsets,
    request_answer,
    request_json,
)
from saas_license.testing import (
    Cursors,
    FakeAuth,
    FakeTimeout,
    FakeVendor,
    Fault,
    ListingStyle,
    LostAnswer,
    NextLinks,
    Offsets,
    PageNumbers,
)


def _client(vendor: FakeVendor, **headers: str) -> httpx.Client:
    """A plain client (no retries: the tests see every answer the vendor gives)."""
    return httpx.Client(
        base_url="https://vendor.test",
        transport=vendor.transport(),
        headers=headers or {"Authorization": "Bearer test-key"},
    )


def _read_all(vendor: FakeVendor, client: httpx.Client, size: int) -> Iterator[dict[str, Any]]:
    """Every user through the paginator that matches the vendor's listing style."""
    style = vendor.listing
    key = lambda u: u["id"]  # noqa: E731
    if isinstance(style, PageNumbers):

        def page(n: int) -> Page[dict[str, Any]]:
            body = request_json(client, "GET", "/users", params={"page": n, "per_page": size})
            return Page(
                number=n,
                items=body["users"],
                total_pages=body["total_pages"],
                total_records=body["total_records"],
            )

        return paginate(page, key=key, workers=3)
    if isinstance(style, Offsets):

        def offsets(offset: int, limit: int) -> OffsetPage[dict[str, Any]]:
            body = request_json(client, "GET", "/users", params={"offset": offset, "limit": limit})
            return OffsetPage(items=body["users"], total_records=body.get("total"))

        return paginate_offsets(offsets, page_size=size, key=key)
    if isinstance(style, Cursors):

        def cursor(token: str | None) -> CursorPage[dict[str, Any]]:
            params: dict[str, Any] = {"limit": size}
            if token:
                params["cursor"] = token
            body = request_json(client, "GET", "/users", params=params)
            return CursorPage(items=body["users"], next=body["next_cursor"])

        return paginate_cursor(cursor, key=key)
    assert isinstance(style, NextLinks)

    def link(url: str | None) -> CursorPage[dict[str, Any]]:
        got = request_answer(client, "GET", url or f"/users?per_page={size}")
        following = next_link(got.headers) if style.in_header else got.body["next"]
        return CursorPage(items=got.body["users"], next=following)

    return paginate_links(link, key=key)


STYLES: list[ListingStyle] = [
    PageNumbers(),
    Offsets(),
    Offsets(with_total=False),
    Cursors(),
    NextLinks(),
    NextLinks(in_header=True),
]


@settings(max_examples=30)
@given(users=st.integers(1, 60), size=st.integers(1, 13), style=st.sampled_from(STYLES))
def test_every_style_lists_each_user_once(users: int, size: int, style: ListingStyle) -> None:
    vendor = FakeVendor(user_count=users, listing=style)
    with _client(vendor) as client:
        got = [u["id"] for u in _read_all(vendor, client, size)]
    assert got == vendor.user_ids()


@pytest.mark.parametrize("style", STYLES, ids=lambda s: type(s).__name__)
def test_drift_between_pages_is_caught_and_the_listing_read_again(style: ListingStyle) -> None:
    vendor = FakeVendor(user_count=30, listing=style, protected={"1"})
    vendor.inject(Fault.DRIFT_REMOVE, after=1)
    vendor.inject(Fault.DRIFT_ADD, after=2)
    with _client(vendor) as client:
        got = [u["id"] for u in _read_all(vendor, client, 7)]
    assert len(got) == len(set(got))  # never twice
    assert vendor.stats.drift_events == 2
    assert set(vendor.user_ids()) <= set(got)  # every user still there was read


def test_cursors_survive_a_removed_record() -> None:
    vendor = FakeVendor(user_count=10, listing=Cursors())
    with _client(vendor) as client:
        first = request_json(client, "GET", "/users", params={"limit": 3})
        vendor.remove_user("3")  # the record the cursor resumes after
        second = request_json(
            client, "GET", "/users", params={"limit": 3, "cursor": first["next_cursor"]}
        )
        bad = client.get("/users", params={"cursor": "not-a-cursor"})
    assert [u["id"] for u in second["users"]] == ["4", "5", "6"]
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]


def test_auth_styles() -> None:
    keyed = FakeVendor(auth=FakeAuth.api_key("k1", header="X-Api-Key", user="2"))
    with _client(keyed, **{"X-Api-Key": "k1"}) as ok, _client(keyed, **{"X-Api-Key": "no"}) as no:
        assert ok.get("/users").status_code == 200
        assert no.get("/users").status_code == 401
    assert keyed.caller(httpx.Request("GET", "https://v.test/", headers={"X-Api-Key": "k1"})) == "2"
    oauth = FakeVendor(auth=FakeAuth.oauth("app", "s3cret"))
    with _client(oauth) as client:
        assert client.get("/users").status_code == 401  # no static keys
        token = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "app",
                "client_secret": "s3cret",
            },
        ).json()["access_token"]
        denied = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "app", "client_secret": "x"},
        )
        assert denied.status_code == 401
        client.headers["Authorization"] = f"Bearer {token}"
        assert client.get("/users").status_code == 200


def test_rate_limits_answer_429_with_retry_after() -> None:
    vendor = FakeVendor(limits=(RateLimit(requests=2, per=60.0),))
    with _client(vendor) as client:
        statuses = [client.get("/users").status_code for _ in range(3)]
        last = client.get("/users")
    assert statuses == [200, 200, 429]
    assert float(last.headers["Retry-After"]) > 0 and last.headers["X-Ratelimit-Remaining"] == "0"
    assert vendor.stats.throttled == 2


def test_fault_knobs_in_process() -> None:
    vendor = FakeVendor(user_count=5, writable={"active"})
    vendor.set_faults(throttle_retry_after=2.0)
    with _client(vendor) as client:
        vendor.inject(Fault.THROTTLE)
        throttled = client.get("/users")
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
        vendor.inject(Fault.SERVER_ERROR)
        assert client.get("/users").status_code in (500, 502, 503)
        vendor.inject(Fault.MALFORMED)
        with pytest.raises(json.JSONDecodeError):
            json.loads(client.get("/users").content)
        vendor.inject(Fault.USER_READ_ERROR)
        assert client.get("/users").status_code == 200  # a listing cannot carry a read error
        assert client.get("/users/2").status_code == 503
        vendor.inject(Fault.TIMEOUT)
        with pytest.raises(FakeTimeout):
            client.get("/users")
        vendor.inject(Fault.LOST_ANSWER)
        with pytest.raises(LostAnswer):
            client.patch("/users/3", json={"active": False})
        refused = client.patch("/users/3", json={"plan": "basic"})
        vendor.set_faults(drop_fields={"email"}, field_users={"4"})
        four, five = client.get("/users/4").json(), client.get("/users/5").json()
    assert vendor.user("3")["active"] is False  # the lost answer's change was applied
    assert refused.status_code == 422 and "plan" in refused.json()["error"]
    assert "email" not in four and "email" in five and "email" in vendor.user("4")
    assert vendor.fault_plan.pending() == {}
    assert list(vendor.requests)[-2:] == [("GET", "/users/4"), ("GET", "/users/5")]


def test_custom_routes_and_405() -> None:
    vendor = FakeVendor(user_count=3)

    @vendor.route("POST", "/users/{id}/downgrade", kind="write")
    def downgrade(request: httpx.Request, caller: str, id: str) -> dict[str, Any]:
        return vendor.merge_user(id, {"plan": "basic"})

    with _client(vendor) as client:
        assert client.post("/users/2/downgrade").json()["plan"] == "basic"
        assert client.delete("/users/2").status_code == 405
        assert client.get("/nothing").status_code == 404
    assert vendor.user("2")["plan"] == "basic"


def test_the_real_http_server_serves_faults_and_the_log() -> None:
    vendor = FakeVendor(user_count=4, listing=NextLinks(in_header=True), writable={"active"})
    with (
        vendor.serve() as server,
        httpx.Client(
            base_url=server.base_url, headers={"Authorization": "Bearer test-key"}, timeout=5
        ) as client,
    ):
        assert server.base_url.startswith("http://127.0.0.1:")
        first = client.get("/users", params={"per_page": 3})
        assert first.headers["Link"] == f'<{server.base_url}/users?per_page=3&page=2>; rel="next"'
        vendor.inject(Fault.LOST_ANSWER)
        with pytest.raises(httpx.RemoteProtocolError):
            client.patch("/users/2", json={"active": False})
        vendor.set_faults(hang=0.2)
        vendor.inject(Fault.TIMEOUT)
        with pytest.raises(httpx.ReadTimeout):
            client.get("/users", timeout=0.05)
    assert vendor.user("2")["active"] is False
    assert [m for m, _ in vendor.requests] == ["GET", "PATCH", "GET"]


def test_the_docs_example_runs() -> None:
    """docs/testing-kit.md's complete example is real code: run it as written."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "testing-kit.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block is not None, "docs/testing-kit.md lost its example"
    code = compile(block.group(1), "docs/testing-kit.md", "exec")
    exec(code, {"__name__": "docs_example"})  # noqa: S102 (our own docs)
