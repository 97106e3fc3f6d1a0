"""``python -m benchmarks.directory``: the user directory at scale.

Each size gets a fresh workspace of N seats (:mod:`benchmarks._estate`) and a directory CSV of
the people behind 90% of its distinct users (the rest stay unresolved). Timed, in one run:

- ``load``: reading, checking and storing the CSV (``ws.directory.load``);
- ``resolution``: every active seat resolved (``ws.directory.resolution()``);
- ``showback``: the breakdown by department (``ws.finance.showback``);
- ``reconcile + rule``: the SQL reconciliation with a cost exclusion on a directory fact, against
  the same reconciliation without it;
- ``evaluate``: the set-based evaluation of the largest profile without a directory, with one
  loaded, and with a reclaim exclusion on a directory fact.

The floor is measured on the same file in the same run: streaming every seat once
(``store.iter_subscriptions()``), which resolution and showback cannot avoid. Each figure is
printed with its ratio to the floor (or, for the rule, to the reconciliation without it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _estate


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    runs, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), out


def measure(seats: int, *, repeat: int) -> dict[str, Any]:
    """Build ``seats`` seats and a directory, and time the directory's work against the floor."""
    from saas_license import Workspace
    from saas_license._evaluation_sql import evaluate_profile
    from saas_license._finance.from_store import reconcile_store

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "estate.db"
        _estate.build(path, seats)
        with Workspace.open(path, clock=lambda: _estate.NOW) as ws:
            store = ws.store
            users = sorted(
                {s.user_principal_name for s in store.iter_subscriptions(active_only=False)}
            )
            known = [u for n, u in enumerate(users) if n % 10]
            csv = Path(tmp) / "people.csv"
            with csv.open("w", encoding="utf-8") as out:
                out.write(
                    "email,aliases,name,manager_email,department,cost_center,employment_status\n"
                )
                for n, upn in enumerate(known):
                    status = ("active", "active", "active", "contractor", "leaver")[n % 5]
                    out.write(f"{upn},,P{n},boss@corp.example,D{n % 12},CC-{n % 40},{status}\n")
            floor, _ = _median(lambda: sum(1 for _ in store.iter_subscriptions()), repeat)
            sizes = store.count_subscriptions(by="profile")
            profile = max(store.list_profiles(), key=lambda p: sizes.get(p.name, 0))

            def evaluation() -> Any:
                return evaluate_profile(
                    store,
                    profile.name,
                    now=_estate.NOW,
                    profile_type=profile.profile_type,
                    exclusions=store.list_exclusion_rules(),
                    rules=store.list_reclamation_rules(),
                    integration_user_id=None,
                )

            eval_plain, _ = _median(evaluation, repeat)
            load, loaded = _median(lambda: ws.directory.load(csv), 1)
            resolution, res = _median(ws.directory.resolution, repeat)
            showback, _ = _median(lambda: ws.finance.showback("department"), repeat)
            plain, _ = _median(
                lambda: reconcile_store(store, now=_estate.NOW, timezone="UTC"), repeat
            )
            ws.rules.add_exclusion(
                kind="attribute",
                attribute="directory.employment_status",
                value="contractor",
                effect="cost",
            )
            ruled, _ = _median(
                lambda: reconcile_store(store, now=_estate.NOW, timezone="UTC"), repeat
            )
            eval_directory, _ = _median(evaluation, repeat)
            ws.rules.add_exclusion(
                kind="attribute",
                attribute="directory.employment_status",
                value="contractor",
                effect="reclaim",
            )
            eval_rule, _ = _median(evaluation, repeat)
            return {
                "seats": res.seats,
                "people": loaded.people,
                "unresolved_seats": res.unresolved_seats,
                "floor_stream_seconds": round(floor, 3),
                "load_seconds": round(load, 3),
                "resolution_seconds": round(resolution, 3),
                "resolution_vs_floor": round(resolution / floor, 2),
                "showback_seconds": round(showback, 3),
                "showback_vs_floor": round(showback / floor, 2),
                "reconcile_seconds": round(plain, 3),
                "reconcile_with_directory_rule_seconds": round(ruled, 3),
                "rule_vs_plain": round(ruled / plain, 2),
                "evaluate_profile": profile.name,
                "evaluate_seconds": round(eval_plain, 3),
                "evaluate_with_directory_seconds": round(eval_directory, 3),
                "evaluate_with_directory_rule_seconds": round(eval_rule, 3),
            }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.directory")
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated seat counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = [measure(int(n), repeat=args.repeat) for n in args.sizes.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(
            f"{r['seats']:>8,} seats, {r['people']:,} people ({r['unresolved_seats']:,} seats "
            f"unresolved): floor (stream every seat) {r['floor_stream_seconds']}s; "
            f"load {r['load_seconds']}s; resolution {r['resolution_seconds']}s "
            f"({r['resolution_vs_floor']}x floor); showback {r['showback_seconds']}s "
            f"({r['showback_vs_floor']}x floor); reconcile {r['reconcile_seconds']}s, with a "
            f"directory rule {r['reconcile_with_directory_rule_seconds']}s "
            f"({r['rule_vs_plain']}x); evaluate {r['evaluate_profile']} "
            f"{r['evaluate_seconds']}s, with a directory {r['evaluate_with_directory_seconds']}s, "
            f"with a directory rule {r['evaluate_with_directory_rule_seconds']}s"
        )


if __name__ == "__main__":
    main()
