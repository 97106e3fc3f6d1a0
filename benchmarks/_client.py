"""One measured download, run in its own process so its peak memory is its own.

``python -m benchmarks._client --base-url URL --key KEY --mode timed|memory`` streams every seat
of the sandbox account out of the Aha! spoke: ``timed`` (governor on) just counts them, ``memory``
(pacing off, tracemalloc on) writes them into a SQLite store in a temporary directory. Prints one
JSON line of figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from saas_license import ConnectionAlias, HttpOptions, IntegrationProfile, Secret
from saas_license._store import SqliteStore
from saas_license.http import TransportStats
from saas_license.spoke import SpokeContext, SubscriptionRecord
from saas_license_aha import AHA_RATE_LIMITS, AhaSpoke
from saas_license_aha.mapping import subscription_records


def peak_rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` restarts at exec, unlike ``ru_maxrss``
    (which would report the parent's size: the sandbox process forked us)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--mode", choices=["timed", "memory"], required=True)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    timed = args.mode == "timed"
    options = HttpOptions(
        rate_limit=timed,
        rate_limits=tuple(limit.scaled(args.time_scale) for limit in AHA_RATE_LIMITS),
        max_concurrency=args.workers,
    )
    ctx = SpokeContext(
        profile=IntegrationProfile(
            name="bench",
            display_name="benchmark",
            spoke="aha",
            profile_type="Aha! Subscription",
            connection_alias="bench",
        ),
        alias=ConnectionAlias(name="bench", spoke="aha", base_url=args.base_url),
        credentials={"api_key": Secret(args.key)},
        http=options,
    )
    spoke = AhaSpoke()
    users = 0
    stats: TransportStats | None = None

    def records() -> Iterator[SubscriptionRecord]:
        nonlocal users, stats
        with spoke.client(ctx) as client:
            for user in client.iter_users():
                users += 1
                yield from subscription_records(user)
            stats = client.stats

    spoke.client(ctx).close()  # process warm-up (imports, TLS context) is not the download
    if timed:  # the download itself: every seat streamed out of the spoke, nothing kept
        start = time.perf_counter()
        seats = sum(1 for _ in records())
        wall = time.perf_counter() - start
        traced_peak = None
    else:  # the same stream into a SQLite store, as the daily pipeline does, under tracemalloc
        with tempfile.TemporaryDirectory(prefix="saas-license-bench-") as tmp:
            store = SqliteStore(Path(tmp) / "bench.db")
            tracemalloc.start()
            start = time.perf_counter()
            seats = store.upsert_subscriptions(
                "bench", records(), run_id="bench", now=dt.datetime.now(dt.timezone.utc)
            )
            wall = time.perf_counter() - start
            traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            store.close()
    assert stats is not None
    print(
        json.dumps(
            {
                "users": users,
                "seats": seats,
                "wall": wall,
                "requests": stats.requests,
                "throttled": stats.throttled,
                "retries": stats.retries,
                "rss_peak_mb": peak_rss_mb(),
                "traced_peak_mb": None if traced_peak is None else traced_peak / 2**20,
            }
        )
    )


if __name__ == "__main__":
    main()
