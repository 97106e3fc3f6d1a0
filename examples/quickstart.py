"""Quickstart from Python: a workspace, an Aha! profile against the in-process sandbox, one daily run.

Run: python examples/quickstart.py  (no network: the sandbox answers in-process)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from saas_license import HttpOptions, Workspace
from saas_license_aha.sandbox import SandboxApp

sandbox = SandboxApp(user_count=300, api_keys=["example-key"])
http = HttpOptions(transport=sandbox.transport())  # replace with HttpOptions() for a real account

with tempfile.TemporaryDirectory() as tmp, Workspace.open(Path(tmp) / "ws.db", http=http) as ws:
    ws.profiles.add_alias(
        "aha-main", spoke="aha", base_url="https://acme.aha.io", api_key="example-key"
    )
    ws.profiles.create("aha", spoke="aha", alias="aha-main")
    for check in ws.profiles.validate("aha").checks:
        print(f"{check.process.value:9} {'ok' if check.ok else 'FAILED'}  {check.message}")
    ws.profiles.publish("aha")
    report = ws.jobs.run("aha")
    print(f"seats by model: {ws.store.count_subscriptions('aha', by='software_model')}")
    print(f"verdicts: {report.verdicts}")
    print(f"reclaim plan (dry run): {len(report.plan)} seats")
    for item in report.plan.items[:5]:
        sub = item.subscription
        print(
            f"  {sub.user_principal_name:32} {sub.identifier:13} idle {item.candidate.inactive_days} days"
        )
    assert len(report.plan) > 0
