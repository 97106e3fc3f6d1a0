"""Every page with hostile names: seat holders, software models, rules, entitlements, notes and
the signed-in person's own name carry markup, and no page lets any of it through unescaped."""

from __future__ import annotations

import html
import re

import markupsafe
import pytest
from starlette.testclient import TestClient

from saas_license import Workspace
from saas_license.web import Role, WebUser, create_app
from saas_license_aha.sandbox import SandboxApp

from .conftest import PUBLIC_URL, csrf_of, link_of

HOSTILE = "<script>alert(1)</script>"
#: Each hostile value, as it would appear if a page let it through.
MARKUP = re.compile(r"<script>alert\(\d\)</script>|<img src=x onerror=alert\(\d\)>|\"><b x=\"")


@pytest.fixture
def hostile(published: Workspace, sandbox: SandboxApp) -> Workspace:
    """A workspace whose vendor data and whose people's inputs are full of markup."""
    ws = published
    for uid in sandbox.user_ids()[:40]:
        user = sandbox.user(uid)
        sandbox.merge_user(uid, {"name": f"<img src=x onerror=alert(2)> {user['name']}"})
    first = sandbox.user_ids()[5]
    sandbox.merge_user(first, {"email": 'a"><b x="@example.com'})
    ws.jobs.run("aha")
    ws.settings.set("public_url", PUBLIC_URL)
    ws.subscriptions.add_model(
        f"{HOSTILE} Suite", publisher="<img src=x onerror=alert(3)>", paid=True
    )
    ws.rules.add_exclusion(
        kind="attribute", attribute="department", value=HOSTILE, description=HOSTILE
    )
    for model in (m for m in ws.subscriptions.models() if m.paid and m.name.startswith("Aha!")):
        ws.rules.set_reclamation(
            model.name, notify_user=True, days_before_auto_reclaim=5, approver="boss@example.com"
        )
    ws.finance.add_entitlement(
        f"{HOSTILE} Suite",
        purchased_rights=3,
        unit_cost="1",
        currency="USD",
        start="2026-01-01",
        name=HOSTILE,
    )
    ws.plans.apply(ws.plans.create("aha").id or "")
    waiting = ws.candidates.query("aha")
    ws.candidates.skip(waiting[-1].id or 0, note=HOSTILE, actor="<img src=x onerror=alert(4)>")
    return ws


def test_no_page_lets_markup_through(hostile: Workspace) -> None:
    def who(request: object) -> WebUser:
        return WebUser(name="<script>alert(5)</script>", role=Role.ADMIN)

    pages = [
        "/",
        "/profiles",
        "/candidates",
        "/candidates?state=all",
        "/plans",
        "/audit",
        "/entitlements",
    ]
    pages += [f"/candidates/{c.id}" for c in hostile.candidates.query("aha")[:8]]
    with TestClient(create_app(hostile, auth=who)) as client:
        made = client.post(
            "/plans", data={"profile": "aha", "csrf": csrf_of(client.get("/plans").text)}
        )
        pages.append(str(made.url).replace("http://testserver", ""))
        pages += [f"/candidates?q={HOSTILE}", f"/audit?action={HOSTILE}"]
        notice = hostile.outbox.query()[0]
        pages.append(link_of(notice.body).split("?")[0] + "?choice=" + HOSTILE)
        seen = ""
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, path
            found = MARKUP.search(response.text)
            assert found is None, f"{path} lets {found.group(0)!r} through"
            seen += response.text
    # …and the hostile values were on the pages, escaped (so the test looked at something)
    for value in (
        HOSTILE,
        "<script>alert(5)</script>",
        'a"><b x="@example.com',
        "<img src=x onerror=alert(4)>",
    ):
        assert str(markupsafe.escape(value)) in seen or html.escape(value, quote=False) in seen, (
            value
        )
