"""``python -m benchmarks.subscriptions``: list every seat of a large workspace, streamed.

For each size a workspace is filled with that many seats (one profile, one exclusion rule so
each row is checked against it), then three passes are timed with tracemalloc on:

- **floor** — a bare ``SELECT`` over the subscriptions table, rows read and dropped;
- **rows** — ``ws.subscriptions.rows(inactive_days=30)``: pages from the store, inactive days and
  exclusion effects per row;
- **csv** — ``saas-license subscriptions --csv`` in-process, written to ``/dev/null``.

Printed: seconds and their ratio to the floor, and the peak traced memory of each pass. The
targets: the peak memory of the largest size within 1.25x of the smallest (streaming: memory does
not grow with the seats), and time linear in the seats.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
IDENTIFIERS = ("aha.roadmaps", "aha.develop", "aha.teamwork", "aha.viewer")


def _records(n: int) -> Iterator[Any]:
    from saas_license.spoke import SubscriptionRecord

    for i in range(n):
        yield SubscriptionRecord(
            external_user_id=str(1_000_000 + i),
            user_principal_name=f"user{i}@example.com",
            identifier=IDENTIFIERS[i % len(IDENTIFIERS)],
            display_name=f"User {i}",
            last_activity=NOW - dt.timedelta(days=i % 200, hours=i % 24),
            external_created=NOW - dt.timedelta(days=400),
            attributes={"administrator": False, "enabled": True},
        )


def _measure(fn: Callable[[], int]) -> tuple[float, int, int]:
    """Seconds, rows and peak traced bytes of one pass."""
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    rows = fn()
    seconds = time.perf_counter() - t0
    return seconds, rows, tracemalloc.get_traced_memory()[1] - base


def measure(size: int) -> dict[str, Any]:
    """Fill a workspace with ``size`` seats and time the three passes."""
    from saas_license import ExclusionRule, Workspace
    from saas_license.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        with Workspace.open(path, clock=lambda: NOW) as ws:
            ws.store.upsert_subscriptions("bench", _records(size), run_id="fill", now=NOW)
            ws.rules.add_exclusion(ExclusionRule(kind="user", value="user1*@example.com"))

            def floor() -> int:
                db = sqlite3.connect(path)
                try:
                    return sum(1 for _ in db.execute("SELECT * FROM subscriptions"))
                finally:
                    db.close()

            def rows() -> int:
                return sum(1 for _ in ws.subscriptions.rows(inactive_days=30))

            tracemalloc.start()
            try:
                f_s, f_n, f_mem = _measure(floor)
                r_s, r_n, r_mem = _measure(rows)
            finally:
                tracemalloc.stop()

        def csv_pass() -> int:
            with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
                try:
                    main(["--workspace", str(path), "subscriptions", "--csv"])
                except SystemExit as exc:
                    if exc.code:
                        raise
            return size

        os.environ["SAAS_LICENSE_NOW"] = NOW.isoformat()
        tracemalloc.start()
        try:
            c_s, _, c_mem = _measure(csv_pass)
        finally:
            tracemalloc.stop()
    return {
        "seats": size,
        "floor_seconds": round(f_s, 3),
        "rows_seconds": round(r_s, 3),
        "rows_matched": r_n,
        "rows_vs_floor": round(r_s / f_s, 1),
        "csv_seconds": round(c_s, 3),
        "csv_vs_floor": round(c_s / f_s, 1),
        "floor_rows": f_n,
        "floor_peak_mib": round(f_mem / 2**20, 2),
        "rows_peak_mib": round(r_mem / 2**20, 2),
        "csv_peak_mib": round(c_mem / 2**20, 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Print the figures per size and whether memory stayed flat (JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = [measure(n) for n in args.sizes]
    first, last = results[0], results[-1]
    flat = {
        "rows_peak_ratio": round(last["rows_peak_mib"] / max(first["rows_peak_mib"], 0.01), 2),
        "csv_peak_ratio": round(last["csv_peak_mib"] / max(first["csv_peak_mib"], 0.01), 2),
    }
    flat["memory_flat"] = max(flat["rows_peak_ratio"], flat["csv_peak_ratio"]) <= 1.25
    if args.json:
        print(json.dumps({"results": results, **flat}, indent=2))
        return
    for r in results:
        print(
            f"{r['seats']:>9,} seats: floor {r['floor_seconds']:.3f} s; rows {r['rows_seconds']:.3f} s "
            f"({r['rows_vs_floor']}x floor, {r['rows_matched']:,} matched, peak {r['rows_peak_mib']} MiB); "
            f"csv {r['csv_seconds']:.3f} s ({r['csv_vs_floor']}x floor, peak {r['csv_peak_mib']} MiB)"
        )
    print(
        f"peak memory {last['seats']:,} vs {first['seats']:,} seats: rows {flat['rows_peak_ratio']}x, "
        f"csv {flat['csv_peak_ratio']}x (target <= 1.25x: {'met' if flat['memory_flat'] else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
