"""``python -m benchmarks.plans``: storing and reading a reclaim plan of N candidates, per item.

One daily run of the seeded sandbox account (served over HTTP by this process, rate limits off)
fills a SQLite workspace with its candidates; then the plan of that profile is built and stored
(``stream_plan``, what a daily run and ``ws.plans.create`` do) ``--repeat`` times, and each stored
plan is walked item by item (what a review and apply read). Printed per item: wall and CPU
microseconds, and bytes of ``reclaim_plan_items`` (SQLite's ``dbstat``: pages, index included).

Floors measured in the same run, on the same workspace:

- **write floor**: a bare ``executemany`` INSERT of as many rows as the plan has items into a
  table of the stored plan's shape (ids and seq only), then a ``COMMIT``;
- **read floor**: reading the open candidates and their seats a page at a time, as the plan
  must (every decision needs the candidate and the seat with its attributes).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _plan_bytes(store: Any) -> int:
    row = store._q(
        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = 'reclaim_plan_items' "
        "OR name LIKE 'sqlite_autoindex_reclaim_plan_items%'"
    ).fetchone()
    return int(row[0])


def _floors(store: Any, profile: str, rows: int) -> dict[str, float]:
    from saas_license._candidates.records import OPEN_STATES

    store._q("DROP TABLE IF EXISTS temp.bench_floor")
    store._q(
        "CREATE TABLE temp.bench_floor (plan_id TEXT NOT NULL, part TEXT NOT NULL, "
        "seq INTEGER NOT NULL, candidate_id INTEGER, seat_id INTEGER, "
        "PRIMARY KEY (plan_id, part, seq))"
    )
    t0 = time.perf_counter()
    with store.transaction():
        store._db.executemany(
            "INSERT INTO temp.bench_floor VALUES (?, ?, ?, ?, ?)",
            [("floor", "items", i, i, i) for i in range(rows)],
        )
    write = time.perf_counter() - t0
    store._q("DROP TABLE temp.bench_floor")
    t0 = time.perf_counter()
    after = None
    while page := store.list_candidates(profile, states=OPEN_STATES, limit=500, after=after):
        store.subscriptions_by_id(sorted({c.subscription_id for c in page}))
        after = page[-1].id
    read = time.perf_counter() - t0
    return {"write": write, "read": read}


def _workspace(users: int, tmp: Path) -> Any:
    from saas_license import HttpOptions, Workspace
    from saas_license_aha.sandbox import SandboxApp, SandboxServer

    key = secrets.token_hex(16)
    app = SandboxApp(user_count=users, api_keys=[key], seed=1)
    with SandboxServer(app) as server:
        ws = Workspace.open(tmp / "bench.db", http=HttpOptions(rate_limit=False))
        ws.profiles.add_alias("a", spoke="aha", base_url=server.base_url, api_key=key)
        ws.profiles.create("p", spoke="aha", alias="a")
        ws.profiles.validate("p")
        ws.profiles.publish("p")
        ws.jobs.run("p")
    return ws


def measure(users: int, repeat: int, *, profile: bool = False) -> dict[str, Any]:
    """Build ``repeat`` stored plans of a ``users``-user workspace; per-item figures and floors."""
    import datetime as dt

    from saas_license._reclaim.planning import stream_plan

    with tempfile.TemporaryDirectory() as tmp:
        ws = _workspace(users, Path(tmp))
        store, prof = ws.store, ws.profiles.get("p")
        info = ws.profiles.spoke_for(prof).info()
        runs: list[dict[str, float]] = []
        floors: list[dict[str, float]] = []
        items = 0
        for n in range(repeat):
            now = ws.clock()
            before = _plan_bytes(store)
            prof_ = cProfile.Profile() if profile and n == repeat - 1 else None
            t0, c0 = time.perf_counter(), time.process_time()
            if prof_:
                prof_.enable()
            plan = stream_plan(
                store,
                prof,
                now=now,
                plan_id=secrets.token_hex(6),
                expires_at=now + dt.timedelta(days=1),
                action=info.reclaim_effect,
                policy=ws.policy,
                prices=ws.prices,
                integration_user_id=prof.integration_user_id,
                scope=info.reclaim_scope,
                protective_fields=info.protective_fields,
            )
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            t1 = time.perf_counter()
            walked = sum(1 for _ in plan.items) + sum(1 for _ in plan.held)
            review = time.perf_counter() - t1
            if prof_:
                prof_.disable()
                pstats.Stats(prof_).sort_stats("cumulative").print_stats(25)
            items = len(plan) + plan.held_count
            assert walked == items
            store._q("PRAGMA wal_checkpoint(TRUNCATE)")
            runs.append(
                {
                    "wall": wall,
                    "cpu": cpu,
                    "review": review,
                    "bytes": _plan_bytes(store) - before,
                }
            )
            floors.append(_floors(store, "p", items))
        ws.close()
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    floor = {k: statistics.median(f[k] for f in floors) for k in floors[0]}
    return {
        "users": users,
        "items": items,
        "runs": runs,
        "floors": floors,
        "plan_us": med["wall"] / items * 1e6,
        "plan_cpu_us": med["cpu"] / items * 1e6,
        "review_us": med["review"] / items * 1e6,
        "bytes_per_item": med["bytes"] / items,
        "write_floor_us": floor["write"] / items * 1e6,
        "read_floor_us": floor["read"] / items * 1e6,
        "x_floors": med["wall"] / (floor["write"] + floor["read"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.plans", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--users", type=int, default=20_000, help="Sandbox account size.")
    parser.add_argument("--repeat", type=int, default=3, help="Plans built and stored.")
    parser.add_argument("--profile", action="store_true", help="cProfile the last plan.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args(argv)
    r = measure(args.users, args.repeat, profile=args.profile)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(
        f"{r['users']:,} users, plan of {r['items']:,} items (acted on and held), "
        f"median of {args.repeat}: store {r['plan_us']:.1f} us/item wall "
        f"({r['plan_cpu_us']:.1f} CPU), {r['bytes_per_item']:.0f} bytes/item; "
        f"review (walk every item) {r['review_us']:.1f} us/item"
    )
    print(
        f"floors: bare INSERT {r['write_floor_us']:.2f} us/row, reading candidates and seats "
        f"{r['read_floor_us']:.1f} us/item; plan = {r['x_floors']:.2f}x (write + read floors)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
