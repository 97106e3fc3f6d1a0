"""``python -m benchmarks``: download 10,000 and 100,000 Aha! users under Aha!'s rate limits.

For each size a sandbox account is served over real HTTP on 127.0.0.1 with Aha!'s limits
enforced (300 requests/minute, 20/second; ``--time-scale`` shrinks both windows alike). A child
process downloads it through the Aha! spoke into a SQLite store (timed run: governor on), then a
second child does the same with tracemalloc on and pacing off (memory run). Figures are printed.

With ``--throttle-rate R`` (default 0.1) a third child times the same download against a second
account of the same size where a share R of requests starts a burst of three 429s with
``Retry-After`` (``--throttle-retry-after``, scaled like the windows): the run must complete,
and its wall time is compared with the same rate-limit floor.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import time
from typing import Any

from saas_license.http import rate_limit_floor
from saas_license_aha import AHA_RATE_LIMITS, MAX_PER_PAGE
from saas_license_aha.sandbox import SandboxApp, SandboxFaults, SandboxServer


def _child(base_url: str, key: str, mode: str, scale: float, workers: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks._client",
            f"--base-url={base_url}",
            f"--key={key}",
            f"--mode={mode}",
            f"--time-scale={scale}",
            f"--workers={workers}",
        ],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"the {mode} run failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure_throttled(
    size: int, *, scale: float, workers: int, rate: float, retry_after: float, floor: float
) -> dict[str, Any]:
    """A timed run against an account where ``rate`` of requests start a burst of 429s."""
    key = secrets.token_urlsafe(16)
    faults = SandboxFaults(throttle_rate=rate, throttle_retry_after=retry_after / scale)
    app = SandboxApp(
        user_count=size, api_keys=[key], rate_limit=True, time_scale=scale, faults=faults
    )
    with SandboxServer(app) as server:
        timed = _child(server.base_url, key, "timed", scale, workers)
    sent = app.stats.api_requests
    floor_sent = rate_limit_floor(sent, [limit.scaled(scale) for limit in AHA_RATE_LIMITS])
    return {
        "rate": rate,
        "retry_after": retry_after / scale,
        "users": timed["users"],
        "requests": app.stats.api_requests,
        "throttled": app.stats.by_status[429],
        "retries": timed["retries"],
        "wall": timed["wall"],
        "ratio": timed["wall"] / floor if floor else float("nan"),
        # refused requests count against the budget too: the floor of what was really sent
        "floor_sent": floor_sent,
        "ratio_sent": timed["wall"] / floor_sent if floor_sent else float("nan"),
    }


def measure(size: int, *, scale: float, workers: int) -> dict[str, Any]:
    """Timed and memory runs against one sandbox account of ``size`` users."""
    key = secrets.token_urlsafe(16)
    built = time.perf_counter()
    app = SandboxApp(user_count=size, api_keys=[key], rate_limit=True, time_scale=scale)
    built = time.perf_counter() - built
    pages = -(-size // MAX_PER_PAGE)
    with SandboxServer(app) as server:
        timed = _child(server.base_url, key, "timed", scale, workers)
        served, refused = app.stats.api_requests, app.stats.throttled
        app.enable_rate_limit(False)
        memory = _child(server.base_url, key, "memory", scale, workers)
    floor = rate_limit_floor(pages, [limit.scaled(scale) for limit in AHA_RATE_LIMITS])
    return {
        "size": size,
        "pages": pages,
        "users": timed["users"],
        "seats": timed["seats"],
        "requests": served,
        "throttled": refused,
        "client_429s": timed["throttled"],
        "wall": timed["wall"],
        "floor": floor,
        "ratio": timed["wall"] / floor if floor else float("nan"),
        "rss_peak_mb": timed["rss_peak_mb"],
        "memory_rss_peak_mb": memory["rss_peak_mb"],
        "traced_peak_mb": memory["traced_peak_mb"],
        "memory_wall": memory["wall"],
        "account_build_s": built,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes", default="10000,100000", help="Comma-separated account sizes (users)."
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="Run the rate-limit clock N times faster (1 = Aha!'s real minute and second).",
    )
    parser.add_argument("--workers", type=int, default=8, help="Concurrent page fetches.")
    parser.add_argument(
        "--throttle-rate",
        type=float,
        default=0.1,
        help="Share of requests starting a burst of three 429s in the throttled run (0: skip).",
    )
    parser.add_argument(
        "--throttle-retry-after",
        type=float,
        default=1.0,
        help="Retry-After of those 429s, in seconds of Aha!'s clock (divided by --time-scale).",
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    minute, second = 60 / args.time_scale, 1 / args.time_scale
    if not args.json:
        print(
            f"Aha! limits: 300 requests per {minute:g}s and 20 per {second:g}s "
            f"(time scale {args.time_scale:g}); {args.workers} workers; per_page {MAX_PER_PAGE}"
        )
    rows = []
    for size in sizes:
        row = measure(size, scale=args.time_scale, workers=args.workers)
        if args.throttle_rate > 0:
            row["throttled_run"] = measure_throttled(
                size,
                scale=args.time_scale,
                workers=args.workers,
                rate=args.throttle_rate,
                retry_after=args.throttle_retry_after,
                floor=row["floor"],
            )
        rows.append(row)
        if not args.json:
            print(
                f"{row['size']:>8,} users: {row['requests']} requests ({row['pages']} pages), "
                f"429s {row['throttled']}, wall {row['wall']:.2f}s, floor {row['floor']:.2f}s, "
                f"wall/floor {row['ratio']:.3f}, peak RSS {row['rss_peak_mb']:.1f} MB, "
                f"peak traced {row['traced_peak_mb']:.2f} MB "
                f"({row['seats']:,} seats stored)",
                flush=True,
            )
            bad = row.get("throttled_run")
            if bad is not None:
                print(
                    f"{'':>8}  with {bad['rate']:.0%} of requests starting 429 bursts "
                    f"(Retry-After {bad['retry_after']:g}s): {bad['throttled']} 429s, "
                    f"{bad['requests']} requests, {bad['users']:,} users, "
                    f"wall {bad['wall']:.2f}s, wall/floor {bad['ratio']:.3f}; floor of the "
                    f"{bad['requests']} requests sent {bad['floor_sent']:.2f}s, "
                    f"wall/that floor {bad['ratio_sent']:.3f}",
                    flush=True,
                )
    summary: dict[str, Any] = {"rows": rows}
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        summary["rss_ratio"] = large["rss_peak_mb"] / small["rss_peak_mb"]
        summary["traced_ratio"] = large["traced_peak_mb"] / small["traced_peak_mb"]
    worst = max((r["ratio"] for r in rows), default=float("nan"))
    summary["targets"] = {
        "wall_within_1.10x_floor": worst <= 1.10,
        "zero_429s": all(r["throttled"] == 0 for r in rows),
        "complete_under_429s": all(
            r["throttled_run"]["users"] == r["users"] for r in rows if "throttled_run" in r
        ),
        "memory_within_1.25x": summary.get("traced_ratio", 0) <= 1.25
        and summary.get("rss_ratio", 0) <= 1.25,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    if len(rows) >= 2:
        print(
            f"peak memory {rows[-1]['size']:,} vs {rows[0]['size']:,} users: "
            f"RSS {summary['rss_ratio']:.3f}x, traced {summary['traced_ratio']:.3f}x"
        )
    print(
        "targets: "
        + ", ".join(
            f"{name} {'met' if ok else 'MISSED'}" for name, ok in summary["targets"].items()
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
