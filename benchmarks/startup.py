"""``python -m benchmarks.startup``: what starting saas-license costs, against its dependencies alone.

Three figures, each the median wall time of several fresh interpreters (``python -c …``):

- **floor**: importing the runtime dependencies alone (httpx, attrs, cattrs, oauthlib, pluggy,
  click) — no saas-license code at all;
- **import**: ``import saas_license`` (the target: within 1.5x the floor);
- **help**: ``saas-license --help`` through the console entry point's code path (within 2x).

Interpreter start-up is included in all three, so the ratios are what a person feels.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

FLOOR = "import httpx, attrs, cattrs, oauthlib, pluggy, click"
IMPORT = "import saas_license"
HELP = (
    "import sys; sys.argv = ['saas-license', '--help']\n"
    "from saas_license.cli import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass"
)


def _median_seconds(code: str, runs: int) -> float:
    """Median wall time of ``runs`` fresh interpreters running ``code`` (output discarded)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, env=None
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    """Measure and print the floor, ``import saas_license`` and ``saas-license --help``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="interpreters per figure (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    _median_seconds("pass", 2)  # warm the file cache before measuring anything
    floor = _median_seconds(FLOOR, args.runs)
    imported = _median_seconds(IMPORT, args.runs)
    helped = _median_seconds(HELP, args.runs)
    figures = {
        "runs": args.runs,
        "floor_ms": round(floor * 1000, 1),
        "import_ms": round(imported * 1000, 1),
        "help_ms": round(helped * 1000, 1),
        "import_ratio": round(imported / floor, 2),
        "help_ratio": round(helped / floor, 2),
        "targets": {"import_ratio": 1.5, "help_ratio": 2.0},
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"dependencies alone (floor): {figures['floor_ms']:7.1f} ms   (median of {args.runs})")
    print(
        f"import saas_license:        {figures['import_ms']:7.1f} ms   {figures['import_ratio']:.2f}x floor (target <= 1.5x)"
    )
    print(
        f"saas-license --help:        {figures['help_ms']:7.1f} ms   {figures['help_ratio']:.2f}x floor (target <= 2x)"
    )


if __name__ == "__main__":
    main()
