"""Connect an Aha! profile with OAuth2 in two calls, then validate and run it.

Run: python examples/aha_oauth.py  (no network: the Aha! sandbox answers in-process)

Against a real account, `url` is opened in a browser and the redirected address comes back
from it (or use `saas-license connect <profile>`, which does both for you).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from saas_license import HttpOptions, Workspace
from saas_license_aha.sandbox import DEFAULT_OAUTH_CLIENT, SandboxApp

sandbox = SandboxApp(user_count=200, token_ttl=3600)  # tokens expire and come with refresh tokens
http = HttpOptions(transport=sandbox.transport())
client_id, client_secret = DEFAULT_OAUTH_CLIENT

with tempfile.TemporaryDirectory() as tmp, Workspace.open(Path(tmp) / "ws.db", http=http) as ws:
    ws.profiles.add_alias("aha-main", spoke="aha", base_url="https://acme.aha.io")
    ws.profiles.create("aha", spoke="aha", alias="aha-main")

    # 1. the URL a person opens and approves
    url = ws.profiles.oauth_begin("aha", client_id=client_id, client_secret=client_secret)
    print("authorize:", url.split("?")[0], "(state and client id in the query)")

    # (the browser: the sandbox approves at once and redirects back with code and state)
    with httpx.Client(transport=sandbox.transport()) as browser:
        redirected = browser.get(url).headers["location"]

    # 2. the address the browser landed on: state checked, code exchanged, token stored
    token = ws.profiles.oauth_complete("aha", redirected)
    print(f"token stored (refreshable: {token.refreshable}); secrets: {sorted(ws.secrets.names())}")

    sandbox.oauth.expire_all()  # the access token expires: the next request refreshes it once
    report = ws.profiles.validate("aha")
    for check in report.checks:
        print(f"{check.process.value:9} {'ok' if check.ok else 'FAILED'}  {check.message}")
    print(f"refreshes so far: {sandbox.oauth.refreshed}")
    ws.profiles.publish("aha")
    run = ws.jobs.run("aha")
    print(f"run ok: {run.ok}; reclaim plan (dry run): {len(run.plan)} seats")
    assert run.ok and sandbox.oauth.refreshed == 1
