"""Two Aha! accounts through a parent and a child alias, then the seats idle for 90 days or more.

Run: python examples/aliases_and_seats.py  (no network: the sandboxes answer in-process)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from saas_license import HttpOptions, Workspace
from saas_license_aha.sandbox import SandboxApp

# One service key opens both accounts (e.g. a gateway in front of them); each account is a host.
accounts = {
    "us.aha.io": SandboxApp(user_count=80, api_keys=["shared-key"], seed=1),
    "eu.aha.io": SandboxApp(user_count=50, api_keys=["shared-key"], seed=2),
}
transport = httpx.MockTransport(lambda request: accounts[request.url.host](request))
http = HttpOptions(transport=transport, rate_limit=False)

with tempfile.TemporaryDirectory() as tmp, Workspace.open(Path(tmp) / "ws.db", http=http) as ws:
    ws.profiles.add_alias("aha", spoke="aha", base_url="https://us.aha.io", api_key="shared-key")
    # the child inherits the spoke and the key; it gets its own URL
    ws.profiles.add_alias("aha-eu", parent="aha", base_url="https://eu.aha.io")
    for name, alias in (("us", "aha"), ("eu", "aha-eu")):
        ws.profiles.create(name, spoke="aha", alias=alias)
        assert ws.profiles.validate(name).download_ok
        ws.profiles.publish(name)
        ws.jobs.run(name, trigger="publish")
        job = ws.jobs.next_run(name)
        assert job is not None
        print(f"{name}: next '{job.name}' at {job.next_run_at:%Y-%m-%d %H:%M} UTC")

    details = ws.profiles.describe_alias("aha-eu")
    for cred in details.credentials:  # whether a credential is set and where from, never its value
        print(f"aha-eu uses {cred.kind} from {cred.alias} (inherited: {cred.inherited})")

    idle = 0
    for row in ws.subscriptions.rows(inactive_days=90, excluded=False):  # streamed
        idle += 1
        if idle <= 5:
            sub = row.subscription
            print(f"  {sub.profile:3} {sub.user_principal_name:32} {row.inactive_days:4} days idle")
    print(f"{idle} seats idle for 90 days or more")
    assert idle > 0
