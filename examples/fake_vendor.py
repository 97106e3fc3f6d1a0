"""A fake vendor built with the kit, read with the cursor paginator, through faults (docs/testing-kit.md)."""

from __future__ import annotations

import contextlib

import httpx

from saas_license.http import CursorPage, HttpOptions, make_client, paginate_cursor, request_json
from saas_license.testing import Cursors, FakeAuth, FakeVendor, Fault

# 1. The vendor: three users, cursor pagination, an API key, a PATCH that can change "plan".
vendor = FakeVendor(
    users=[
        {"id": "1", "email": "ada@example.test", "plan": "pro"},
        {"id": "2", "email": "ben@example.test", "plan": "pro"},
        {"id": "3", "email": "cho@example.test", "plan": "basic"},
    ],
    listing=Cursors(default_size=2),
    auth=FakeAuth.api_key("secret-key"),
    writable={"plan"},
)


# 2. The spoke's client code under test: read every user with the cursor paginator.
def all_users(client: httpx.Client) -> list[dict]:
    def fetch(cursor: str | None) -> CursorPage[dict]:
        params = {"cursor": cursor} if cursor else {}
        body = request_json(client, "GET", "/users", params=params, vendor="Acme")
        return CursorPage(items=body["users"], next=body["next_cursor"])

    return list(paginate_cursor(fetch, key=lambda u: u["id"], what="Acme users list"))


# 3. The test: in process, with a 429 burst and a lost answer on the way.
def test_downgrade_survives_a_throttle_and_a_lost_answer() -> None:
    options = HttpOptions(transport=vendor.transport(), rate_limit=False, backoff_base=0.0)
    with make_client("https://acme.test", options=options) as client:
        client.headers["X-Api-Key"] = "secret-key"
        vendor.set_faults(throttle_retry_after=0.0)
        vendor.inject(Fault.THROTTLE, 2)  # the first two requests get 429s
        assert [u["id"] for u in all_users(client)] == ["1", "2", "3"]
        vendor.inject(Fault.LOST_ANSWER)  # the change is applied, the answer lost
        with contextlib.suppress(httpx.RemoteProtocolError):
            client.patch("/users/2", json={"plan": "basic"})
    assert vendor.user("2")["plan"] == "basic"  # assert on the vendor's state
    assert ("PATCH", "/users/2") in vendor.requests


test_downgrade_survives_a_throttle_and_a_lost_answer()

# 4. The same vendor over real HTTP (for the CLI or another process).
with vendor.serve() as server:
    answer = httpx.get(f"{server.base_url}/users", headers={"X-Api-Key": "secret-key"})
    assert answer.status_code == 200 and len(answer.json()["users"]) == 2

print("fake vendor example: ok")
