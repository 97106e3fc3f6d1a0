"""``python -m benchmarks.locks``: how long a big download holds the workspace's write lock.

Streams N synthetic seats (default 1,000,000) through the staged download exactly as the daily
pipeline does (stage outside the lock, merge and close in short transactions, then the activity
stamp), into a SQLite file in a temporary directory, twice: a first download, then one where a
tenth of the seats vanished. Prints the longest single write transaction of each phase, which is
what a concurrent `jobs`, `rules exclude` or second run waits for at most.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from saas_license._time import utcnow
from saas_license.store import SqliteStore
from saas_license.subscriptions import SubscriptionRecord


def _records(n: int, *, skip_every: int = 0) -> Iterator[SubscriptionRecord]:
    start = utcnow() - dt.timedelta(days=400)
    for i in range(n):
        if skip_every and i % skip_every == 0:
            continue
        yield SubscriptionRecord(
            external_user_id=str(1_000_000 + i),
            user_principal_name=f"user{i}@example.com",
            identifier=("aha.roadmaps", "aha.develop", "aha.reviewer")[i % 3],
            display_name=f"User {i}",
            last_activity=start + dt.timedelta(minutes=i % 500_000),
            external_created=start,
            attributes={"enabled": True, "administrator": False, "role": "member"},
        )


def _phase(store: SqliteStore, name: str, fn: Any) -> dict[str, Any]:
    store.write_stats.longest_seconds = 0.0
    store.write_stats.transactions = 0
    t0 = time.perf_counter()
    result = fn()
    return {
        "phase": name,
        "seconds": round(time.perf_counter() - t0, 2),
        "write_transactions": store.write_stats.transactions,
        "longest_write_ms": round(store.write_stats.longest_seconds * 1000, 1),
        "result": result,
    }


def measure(n: int) -> list[dict[str, Any]]:
    """Two downloads of ``n`` seats (the second with a tenth vanished); figures per phase."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        for run, skip in (("first", 0), ("second", 10)):
            run_id = f"bench{run}"
            now = utcnow()
            with store.stage_download("p", run_id=run_id) as stage:
                out.append(
                    _phase(
                        store,
                        f"{run}: stage",
                        lambda s=stage, k=skip: s.add(_records(n, skip_every=k)),
                    )
                )
                out.append(_phase(store, f"{run}: merge", lambda s=stage, t=now: s.merge(now=t)))
                out.append(_phase(store, f"{run}: close", lambda s=stage: len(s.close_unseen())))
            out.append(
                _phase(
                    store,
                    f"{run}: activity stamp",
                    lambda r=run_id, t=now: store.stamp_activity_checked("p", run_id=r, now=t),
                )
            )
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.seats)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.seats:,} seats")
    for f in figures:
        print(
            f"  {f['phase']:<24} {f['seconds']:>7.2f} s  {f['write_transactions']:>5} write "
            f"transactions, longest {f['longest_write_ms']:>7.1f} ms  ({f['result']})"
        )


if __name__ == "__main__":
    main()
