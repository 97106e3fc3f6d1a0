"""``python -m benchmarks.web``: how long each console page takes, against the workspace calls
behind it (the floor), on a seeded sandbox account of 2,000 and 10,000 users.

The page is requested in-process through Starlette's TestClient (no network), signed in as an
admin; the floor is the same workspace calls made directly, without routing, templates or HTML.
The ratio is what the web layer costs on top of the library. Medians of five.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
KEY = "bench-key-0123456789"
PASSWORD = "bench passphrase"


def _median(func: Callable[[], Any], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(users: int) -> list[tuple[str, float, float]]:
    from saas_license import HttpOptions, Workspace
    from saas_license._candidates.records import OPEN_STATES
    from saas_license.web import Users, create_app
    from saas_license_aha.sandbox import SandboxApp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    sandbox = SandboxApp(user_count=users, api_keys=[KEY], seed=7, anchor=NOW)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(
            Path(tmp) / "bench.db",
            http=HttpOptions(transport=sandbox.transport(), rate_limit=False),
            clock=lambda: NOW,
        )
        ws.profiles.add_alias("a", spoke="aha", base_url="https://acme.aha.io", api_key=KEY)
        ws.profiles.create("aha", spoke="aha", alias="a")
        ws.profiles.validate("aha")
        ws.profiles.publish("aha")
        ws.jobs.run("aha")
        Users(ws).add("admin", role="admin", password=PASSWORD)
        plan_id = ws.plans.create("aha").id
        with TestClient(create_app(ws)) as client:
            form = client.get("/signin").text.split('name="csrf" value="')[1].split('"')[0]
            client.post("/signin", data={"name": "admin", "password": PASSWORD, "csrf": form})
            pages: list[tuple[str, Callable[[], Any]]] = [
                ("/", lambda: (ws.finance.reconcile(), ws.audit.verify())),
                ("/candidates", lambda: ws.candidates.query(states=set(OPEN_STATES))),
                (f"/plans/{plan_id}", lambda: ws.store.get_plan(plan_id or "")),
                ("/audit", lambda: (ws.audit.query(limit=200, last=True), ws.audit.verify())),
            ]
            out = []
            for path, floor in pages:
                assert client.get(path).status_code == 200, path
                out.append((path, _median(lambda p=path: client.get(p)), _median(floor)))
        ws.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="*", default=[2_000, 10_000])
    args = parser.parse_args()
    for users in args.users:
        print(f"\n{users:,} users")
        print(f"  {'page':<22} {'page ms':>9} {'floor ms':>9} {'ratio':>6}")
        for path, page, floor in measure(users):
            print(f"  {path:<22} {page * 1000:9.1f} {floor * 1000:9.1f} {page / floor:6.2f}")


if __name__ == "__main__":
    main()
