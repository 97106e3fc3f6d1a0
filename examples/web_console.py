"""The web console inside your own application: mount ``create_app`` with your own authentication.

Run: python examples/web_console.py  (needs the server extra: pip install 'saas-license[server]';
no network: the sandbox answers in-process and the pages are requested in-process too)
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from saas_license import HttpOptions, Workspace
from saas_license.web import Role, WebUser, create_app
from saas_license_aha.sandbox import SandboxApp

with warnings.catch_warnings():  # starlette's TestClient prefers the httpx2 fork; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

sandbox = SandboxApp(user_count=200, api_keys=["example-key"])
http = HttpOptions(transport=sandbox.transport())


def who(request: Request) -> WebUser | None:
    """Your application's authentication: here, everyone is the approver "ana"."""
    return WebUser(name="ana@example.com", role=Role.APPROVER)


with tempfile.TemporaryDirectory() as tmp, Workspace.open(Path(tmp) / "ws.db", http=http) as ws:
    ws.profiles.add_alias(
        "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key="example-key"
    )
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    ws.jobs.run("aha")

    app = Starlette(routes=[Mount("/licenses", app=create_app(ws, auth=who))])
    with TestClient(app) as browser:
        for path in ("/licenses/", "/licenses/candidates", "/licenses/audit"):
            page = browser.get(path)
            print(f"GET {path:22} {page.status_code}  {len(page.text):,} bytes")
        first = ws.candidates.query("aha")[0]
        page = browser.get(f"/licenses/candidates/{first.id}")
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        browser.post(f"/licenses/candidates/{first.id}", data={"action": "skip", "csrf": token})
    entry = ws.candidates.history(first.id or 0)[-1]
    print(f"candidate {first.id}: {ws.candidates.get(first.id or 0).state.value}, by {entry.actor}")
