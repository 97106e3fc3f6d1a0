"""``python -m benchmarks.entitlements``: import an entitlements CSV of 100,000 rows.

Measures a full import (parse, check, store in one transaction, audit) and the refusal of the
same file with a bad last row, against a floor: a bare ``csv.reader`` pass over the file.
Both must stay linear in the rows; the target is 100,000 rows in 10 seconds or less.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

MODELS = ("Aha! Roadmaps", "Aha! Develop", "Aha! Ideas", "Aha! Whiteboards", "Aha! Knowledge")
TARGET_SECONDS = 10.0


def write_csv(path: Path, rows: int, *, bad_last: bool = False) -> None:
    """A CSV of ``rows`` valid entitlements (the last one broken with ``bad_last``)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["software_model", "purchased_rights", "unit_cost", "currency", "start"])
        for i in range(rows):
            rights = "ten" if bad_last and i == rows - 1 else str(1 + i % 500)
            writer.writerow(
                [MODELS[i % len(MODELS)], rights, f"{1 + i % 90}.50", "USD", "2026-01-01"]
            )


def _floor(path: Path) -> float:
    t0 = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        for _ in csv.reader(fh):
            pass
    return time.perf_counter() - t0


def measure(rows: int) -> dict[str, Any]:
    """Import ``rows`` entitlements into a fresh workspace; refuse a file with a bad last row."""
    from saas_license import CsvImportError, Workspace

    with tempfile.TemporaryDirectory() as tmp:
        good, bad = Path(tmp) / "good.csv", Path(tmp) / "bad.csv"
        write_csv(good, rows)
        write_csv(bad, rows, bad_last=True)
        floor = _floor(good)
        with Workspace.open(Path(tmp) / "bench.db") as ws:
            for name in MODELS:
                ws.add_software_model(name, publisher="Aha!")
            t0 = time.perf_counter()
            try:
                ws.import_entitlements(bad)
            except CsvImportError as exc:
                if len(exc.problems) != 1:
                    raise RuntimeError(f"expected one bad row: {exc.problems[:3]}") from None
            refused = time.perf_counter() - t0
            t0 = time.perf_counter()
            saved = ws.import_entitlements(good)
            imported = time.perf_counter() - t0
            assert len(saved) == rows
    return {
        "rows": rows,
        "import_seconds": round(imported, 2),
        "refuse_seconds": round(refused, 2),
        "csv_floor_seconds": round(floor, 3),
        "import_vs_floor": round(imported / floor, 1),
        "refuse_vs_floor": round(refused / floor, 1),
        "within_target": imported <= TARGET_SECONDS and refused <= TARGET_SECONDS,
    }


def main(argv: list[str] | None = None) -> None:
    """Print the figures for each size (JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = [measure(n) for n in args.rows]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(
            f"{r['rows']:>7,} rows: import {r['import_seconds']:.2f} s "
            f"({r['import_vs_floor']}x a bare csv parse of {r['csv_floor_seconds']} s), "
            f"refused for its last row in {r['refuse_seconds']:.2f} s "
            f"({r['refuse_vs_floor']}x); target <= {TARGET_SECONDS:.0f} s: "
            + ("met" if r["within_target"] else "MISSED")
        )


if __name__ == "__main__":
    main()
