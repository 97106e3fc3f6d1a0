"""``python -m benchmarks.reconcile``: reconcile 1,000,000 seats across profiles and models.

Each size gets a fresh SQLite workspace filled by :mod:`benchmarks._estate` (three profiles, four
models, pooled and scoped entitlements, exclusion rules of three kinds, candidates on 5% of the
seats). Timed (median of ``--repeat``): ``ws.finance``'s reconciliation as the store computes it
(SQL aggregates), against a floor measured on the same file in the same run: the bare aggregate
``SELECT software_model, profile, count(*) … GROUP BY`` over the active seats. Up to
``--reference-max`` seats the reference reconciliation (Python, one object per seat) is timed too
and both results are compared (they must be equal). Target (issue 13): 1,000,000 seats ≤ 1 s.

Issue 16's tiers: the same estate with rights allocated to a profile and to a group of users
(a principal-name pattern) is reconciled again (products, models and license metrics; the
floor is the same aggregate), and the seats' reconciled/unlicensed flags a saved
reconciliation writes are timed against the bare ``INSERT … SELECT`` of the active seats' ids.

``--unlicensed`` deletes every entitlement first, so every counted seat is unlicensed (the
memory benchmark's estate): the reconciliation lists the first ``--listed`` and counts the
rest; then the seat flags and a walk over every unlicensed seat (``unlicensed_store``, a page
at a time) are timed, with the walk's peak traced memory, instead of the tiers.

``--candidate-share 0.7`` puts candidates on 70% of the seats (two thirds of them open: the
engine estate's ~47% open), to show that the reconciliation's time and memory do not follow the
open candidates: they are counted in SQL and only the idlest ``--listed`` become records (peak
traced memory of the reconciliation is printed).

``--index-ingest N`` times what the reconciliation's index costs a first ingest: N seats of one
profile stored through the store's own staged merge into a fresh workspace, with the index as
finance migration 4 makes it (in blocks of seat ids), as migration 2 made it (model, profile,
last activity) and with no such index at all (the floor), interleaved ``--repeat`` times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _estate

TARGET_SECONDS = 1.0
FLOOR_SQL = (
    "SELECT software_model, profile, count(*) FROM subscriptions WHERE active = 1 GROUP BY 1, 2"
)
#: The floor of writing the seat flags: the same number of rows copied, with nothing computed.
FLAGS_FLOOR_SQL = (
    "INSERT INTO temp.flags_floor SELECT id, 0, 0 FROM subscriptions WHERE active = 1 "
    "AND software_model IS NOT NULL"
)


def _tiers(store: Any, counted: int, *, repeat: int, timezone: str, floor: float) -> dict[str, Any]:
    """Allocate rights to a profile and a group, reconcile again, and write the seat flags."""
    from saas_license._finance.allocations import Allocation
    from saas_license._finance.from_store import group_allocations, reconcile_store
    from saas_license._finance.reconciliation import unlicensed_units

    scale = max(1, counted // 1000)
    ents = {e.software_model: e for e in store.list_entitlements() if e.profile is None}
    store.add_allocation(
        Allocation(entitlement_id=ents["Roadmaps"].id, rights=100 * scale, profile="aha-us")
    )
    store.add_allocation(
        Allocation(entitlement_id=ents["Develop"].id, rights=50 * scale, users=["u1*@corp.example"])
    )
    tiers, tiers_runs, result = _median(
        lambda: reconcile_store(store, now=_estate.NOW, timezone=timezone), repeat
    )
    db = store._db
    db.execute("CREATE TEMP TABLE flags_floor (a INTEGER PRIMARY KEY, b INTEGER, c INTEGER)")

    def flags_floor() -> None:
        with store.transaction():
            db.execute("DELETE FROM temp.flags_floor")
            db.execute(FLAGS_FLOOR_SQL)

    def flags() -> int:
        return int(
            store.record_seat_status(
                exclusions=store.list_exclusion_rules(),
                profile_types={p.name: p.profile_type for p in store.list_profiles()},
                models=[r.software_model for r in result.models],
                unlicensed_units=[u[:4] for u in unlicensed_units(result)],
                reconciliation_id=1,
                groups=group_allocations(store, now=_estate.NOW, timezone=timezone),
            )
        )

    ffloor, _, _ = _median(flags_floor, repeat)
    fl, fl_runs, flagged = _median(flags, repeat)
    return {
        "tiers_seconds": round(tiers, 4),
        "tiers_runs": [round(r, 4) for r in tiers_runs],
        "tiers_ratio_to_floor": round(tiers / floor, 2),
        "products": len(result.products),
        "metrics": len(result.metrics),
        "allocated_in_use": sum(m.allocated_in_use for m in result.metrics),
        "flags_seconds": round(fl, 4),
        "flags_runs": [round(r, 4) for r in fl_runs],
        "flags_floor_seconds": round(ffloor, 4),
        "flags_ratio_to_floor": round(fl / ffloor, 2),
        "reconciled_seats": flagged,
    }


def _unlicensed(store: Any, result: Any, *, timezone: str) -> dict[str, Any]:
    """With no rights: the seat flags (each unit flagged in SQL) and a walk over every
    unlicensed seat, a page at a time, with its peak traced memory."""
    from saas_license._finance.from_store import group_allocations, unlicensed_store
    from saas_license._finance.reconciliation import unlicensed_units

    t0 = time.perf_counter()
    flagged = store.record_seat_status(
        exclusions=store.list_exclusion_rules(),
        profile_types={p.name: p.profile_type for p in store.list_profiles()},
        models=[r.software_model for r in result.models],
        unlicensed_units=[u[:4] for u in unlicensed_units(result)],
        reconciliation_id=1,
        groups=group_allocations(store, now=_estate.NOW, timezone=timezone),
    )
    flags = time.perf_counter() - t0
    tracemalloc.start()
    t0 = time.perf_counter()
    walked = sum(1 for _ in unlicensed_store(store, now=_estate.NOW, timezone=timezone, limit=None))
    walk = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "flags_seconds": round(flags, 3),
        "reconciled_seats": flagged,
        "unlicensed_walked": walked,
        "walk_seconds": round(walk, 2),
        "walk_peak_traced_mib": round(peak / 2**20, 1),
    }


def _median(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    runs, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs, out


def measure(
    seats: int,
    *,
    repeat: int,
    reference_max: int,
    timezone: str,
    candidate_share: float = 0.05,
    listed: int = 100,
    unlicensed: bool = False,
) -> dict[str, Any]:
    """Build an estate of ``seats`` seats and time its reconciliation against the floor."""
    from saas_license._finance.from_store import reconcile_store
    from saas_license._finance.reconciliation import reconcile
    from saas_license._store import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "estate.db"
        t0 = time.perf_counter()
        _estate.build(path, seats, candidate_share=candidate_share)
        built = time.perf_counter() - t0
        store = SqliteStore(path)
        if unlicensed:  # no rights at all: every counted seat is unlicensed
            with store.transaction():
                store._db.execute("DELETE FROM finance_allocations")
                store._db.execute("DELETE FROM finance_entitlements")
        try:
            counted = store._db.execute("SELECT count(*) FROM subscriptions").fetchone()[0]
            floor, floor_runs, _ = _median(lambda: store._db.execute(FLOOR_SQL).fetchall(), repeat)

            def run() -> Any:
                return reconcile_store(
                    store,
                    now=_estate.NOW,
                    timezone=timezone,
                    opportunity_limit=listed,
                    unlicensed_limit=listed,
                )

            sql, sql_runs, result = _median(run, repeat)
            tracemalloc.start()
            run()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            out: dict[str, Any] = {
                "seats": counted,
                "build_seconds": round(built, 2),
                "floor_seconds": round(floor, 4),
                "floor_runs": [round(r, 4) for r in floor_runs],
                "reconcile_seconds": round(sql, 4),
                "reconcile_runs": [round(r, 4) for r in sql_runs],
                "ratio_to_floor": round(sql / floor, 2),
                "opportunities": result.opportunity_count,
                "opportunities_listed": len(result.opportunities),
                "reconcile_peak_traced_mib": round(peak / 2**20, 1),
                "unlicensed": result.unlicensed_count,
                "unlicensed_listed": len(result.unlicensed),
                "models": len(result.models),
                "profile_rows": len(result.profiles),
            }
            if counted <= reference_max:
                thresholds = {
                    r.software_model: r.inactivity_days for r in store.list_reclamation_rules()
                }

                def python() -> Any:
                    return reconcile(
                        subscriptions=store.iter_subscriptions(),
                        entitlements=store.list_entitlements(),
                        candidates=store.list_candidates(),
                        models=store.list_software_models(),
                        exclusions=store.list_exclusion_rules(),
                        profile_types={p.name: p.profile_type for p in store.list_profiles()},
                        now=_estate.NOW,
                        timezone=timezone,
                        inactivity_days=thresholds,
                    )

                ref, _, want = _median(python, 1)
                out["reference_seconds"] = round(ref, 3)
                out["equal_to_reference"] = (
                    want.models == result.models
                    and want.profiles == result.profiles
                    and want.unlicensed[:listed] == result.unlicensed
                    and len(want.unlicensed) == result.unlicensed_count
                    and want.opportunities[:listed] == result.opportunities
                    and len(want.opportunities) == result.opportunity_count
                    and want.activity == result.activity
                    and want.unmapped == result.unmapped
                )
            if unlicensed:
                out.update(_unlicensed(store, result, timezone=timezone))
            else:
                out.update(_tiers(store, counted, repeat=repeat, timezone=timezone, floor=floor))
            return out
        finally:
            store.close()


#: The reconciliation's index in each shape the ``--index-ingest`` run compares.
INDEX_SHAPES = {
    "blocks (finance 4)": "CREATE INDEX finance_active_seats ON subscriptions "
    "(software_model, profile, (id >> 12), last_activity) WHERE active = 1",
    "last activity (finance 2)": "CREATE INDEX finance_active_seats ON subscriptions "
    "(software_model, profile, last_activity) WHERE active = 1",
    "none (floor)": "",
}


def index_ingest(seats: int, *, repeat: int) -> dict[str, list[float]]:
    """Seconds of a first ingest of ``seats`` seats with each index shape, interleaved."""
    from saas_license import IntegrationProfile, SoftwareModel
    from saas_license._store import SqliteStore

    records = list(_estate.records("aha-eu", seats, 7))
    out: dict[str, list[float]] = {name: [] for name in INDEX_SHAPES}
    for _ in range(repeat):
        for name, ddl in INDEX_SHAPES.items():
            with tempfile.TemporaryDirectory() as tmp:
                store = SqliteStore(Path(tmp) / "w.db")
                try:
                    store._db.execute("DROP INDEX finance_active_seats")
                    if ddl:
                        store._db.execute(ddl)
                    for model in ("Roadmaps", "Develop", "Ideas", "Viewer"):
                        store.ensure_software_model(
                            SoftwareModel(name=model, publisher="Aha! Labs", paid=True)
                        )
                    for ident, model in _estate.IDENTIFIERS.items():
                        store.map_identifier(ident, model)
                    store.save_profile(
                        IntegrationProfile(
                            name="aha-eu",
                            display_name="aha-eu",
                            spoke="aha",
                            profile_type="Aha! Subscription",
                            connection_alias="none",
                        )
                    )
                    t0 = time.perf_counter()
                    store.upsert_subscriptions(
                        "aha-eu", iter(records), run_id="r1", now=_estate.NOW
                    )
                    out[name].append(round(time.perf_counter() - t0, 3))
                finally:
                    store.close()
            print(
                f"  first ingest of {seats:,} seats, index {name}: {out[name][-1]:.2f} s",
                flush=True,
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reconcile", description=__doc__)
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="Comma-separated estate sizes (seats)."
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-max", type=int, default=100_000)
    parser.add_argument("--timezone", default="Europe/Berlin")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--candidate-share", type=float, default=0.05, help="Share of seats with a candidate."
    )
    parser.add_argument(
        "--listed", type=int, default=100, help="Opportunities (and unlicensed seats) listed."
    )
    parser.add_argument(
        "--unlicensed",
        action="store_true",
        help="Delete every entitlement first (every counted seat unlicensed); time the seat "
        "flags and a walk over every unlicensed seat instead of the tiers.",
    )
    parser.add_argument(
        "--index-ingest", type=int, default=0, help="Seats: time the index's cost to ingest."
    )
    args = parser.parse_args(argv)
    if args.index_ingest:
        runs = index_ingest(args.index_ingest, repeat=args.repeat)
        floor = statistics.median(runs["none (floor)"])
        for name, times in runs.items():
            med = statistics.median(times)
            print(f"index {name}: median {med:.2f} s ({times}) -> {med / floor:.2f}x the floor")
        if not args.sizes:
            return 0
    results = []
    for size in (int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()):
        res = measure(
            size,
            repeat=args.repeat,
            reference_max=args.reference_max,
            timezone=args.timezone,
            candidate_share=args.candidate_share,
            listed=args.listed,
            unlicensed=args.unlicensed,
        )
        results.append(res)
        if not args.json:
            ref = (
                f"; reference (Python) {res['reference_seconds']:.3f} s, "
                f"equal: {res['equal_to_reference']}"
                if "reference_seconds" in res
                else ""
            )
            print(
                f"{res['seats']:>9,} seats: reconcile {res['reconcile_seconds']:.3f} s "
                f"(runs {res['reconcile_runs']}), floor {res['floor_seconds']:.3f} s "
                f"-> {res['ratio_to_floor']:.1f}x the floor; {res['opportunities']:,} "
                f"opportunities ({res['opportunities_listed']} listed; peak traced memory "
                f"{res['reconcile_peak_traced_mib']} MiB), {res['unlicensed']:,} unlicensed{ref} "
                f"(estate built in {res['build_seconds']:.1f} s)",
                flush=True,
            )
            if args.unlicensed:
                print(
                    f"{'':>9}  no rights: {res['unlicensed']:,} unlicensed "
                    f"({res['unlicensed_listed']} listed); seat flags "
                    f"({res['reconciled_seats']:,} reconciled) {res['flags_seconds']:.3f} s; "
                    f"every unlicensed seat walked in {res['walk_seconds']:.2f} s "
                    f"(peak traced memory {res['walk_peak_traced_mib']} MiB)",
                    flush=True,
                )
                continue
            print(
                f"{'':>9}  tiers with allocations (product, model, metric): "
                f"{res['tiers_seconds']:.3f} s -> {res['tiers_ratio_to_floor']:.1f}x the floor "
                f"({res['allocated_in_use']:,} seats on allocated rights); seat flags "
                f"({res['reconciled_seats']:,} reconciled): {res['flags_seconds']:.3f} s, floor "
                f"{res['flags_floor_seconds']:.3f} s -> {res['flags_ratio_to_floor']:.1f}x",
                flush=True,
            )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        big = max(results, key=lambda r: r["seats"])
        met = big["reconcile_seconds"] <= TARGET_SECONDS
        print(
            f"target (1,000,000 seats <= {TARGET_SECONDS:.0f} s): "
            + (
                "met"
                if met and big["seats"] >= 1_000_000
                else "not met"
                if big["seats"] >= 1_000_000
                else "not measured at 1M"
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
