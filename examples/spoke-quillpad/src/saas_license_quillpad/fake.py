"""A fake Quillpad built with the fake-vendor kit (``saas_license.testing``): for tests and demos.

Members are listed with cursors (``Cursors``), read one by one, changed by a ``PATCH`` that
answers ``204 No Content`` (a route of our own), and ``/api/v2/me`` says who the key acts as.
Every kit knob works: ``vendor.inject(Fault.SERVER_ERROR)``, latency, 429 bursts, drift.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from saas_license.spoke import SandboxOffer, SandboxSettings, format_instant, utcnow
from saas_license.testing import (
    Cursors,
    FakeAuth,
    FakeVendor,
    Faults,
    ServedSandbox,
    json_response,
)

__all__ = ["API_KEY", "OFFER", "OWNER_ID", "quillpad_vendor"]

API_KEY = "quillpad-test-key"
#: The workspace owner: the member the API key acts as.
OWNER_ID = "m1"


def _member(number: int, anchor: dt.datetime) -> dict[str, Any]:
    """Member ``m<number>``: 1 is the owner, every 9th an admin, every 4th on basic, every 7th
    never signed in, every 11th deactivated; the rest idle for ``3 * number`` days."""
    role = "owner" if number == 1 else "admin" if number % 9 == 0 else "member"
    seen = None if number % 7 == 0 else format_instant(anchor - dt.timedelta(days=3 * number))
    return {
        "id": f"m{number}",
        "email": f"member{number}@quillpad.example",
        "name": f"Member {number}",
        "role": role,
        "plan": "basic" if number % 4 == 0 else "pro",
        "deactivated": number % 11 == 0,
        "created_at": format_instant(anchor - dt.timedelta(days=400 + number)),
        "last_seen_at": seen,
    }


def quillpad_vendor(
    members: int = 60, *, anchor: dt.datetime | None = None, faults: Faults | None = None
) -> FakeVendor:
    """A fake Quillpad workspace of ``members`` members, its dates counting back from ``anchor``."""
    when = anchor or utcnow()
    vendor = FakeVendor(
        [_member(i, when) for i in range(1, members + 1)],
        users_path="/api/v2/members",
        user_path="/api/v2/members/{id}",
        items_key="members",
        listing=Cursors(default_size=50, max_size=200),
        auth=FakeAuth.bearer(API_KEY, user=OWNER_ID),
        faults=faults,
        api_prefix="/api/v2/",
    )

    @vendor.route("GET", "/api/v2/me", kind="read")
    def me(request: httpx.Request, caller: str) -> Any:
        return vendor.user(caller)

    @vendor.route("PATCH", "/api/v2/members/{id}", kind="write")
    def patch(request: httpx.Request, caller: str, id: str) -> httpx.Response:
        try:
            fields = json.loads(request.content or b"{}")
        except ValueError:
            return json_response(400, {"error": "the body is not JSON"})
        if set(fields) != {"plan"} or fields["plan"] not in ("pro", "basic"):
            return json_response(422, {"error": "only plan (pro or basic) can be changed"})
        if id not in vendor.user_ids():
            return json_response(404, {"error": "no such member"})
        vendor.merge_user(id, {"plan": fields["plan"]})
        return httpx.Response(204)

    return vendor


def _open(settings: SandboxSettings) -> ServedSandbox:
    """A fake Quillpad on 127.0.0.1 for ``demo`` and ``sandbox serve`` (bound, not started)."""
    vendor = quillpad_vendor(settings.users, anchor=settings.anchor)
    server = vendor.serve(port=settings.port, verbose=settings.log_requests)
    return ServedSandbox(
        server,
        credentials={"api_key": API_KEY},
        banner=[f"API key:  {API_KEY} (Authorization: Bearer)", "members:  cursor pages of 50"],
    )


#: What the spoke's ``saas_license_sandbox`` hook offers.
OFFER = SandboxOffer(
    title="Quillpad sandbox",
    description="a fake Quillpad workspace (owner, admins, members on pro and basic)",
    open=_open,
)
