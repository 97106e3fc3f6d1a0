"""``python -m benchmarks.memory``: peak RSS of a whole daily cycle at N seats, with few or many
candidates, against the floor of a bare interpreter importing the dependencies.

For each size the parent serves a seeded sandbox account from its own process (``saas-license
sandbox serve --rate-limit off``, so the vendor's data is not in the measured process), then
measures each mode in a fresh child process:

1. a first daily cycle (``ws.jobs.run``: download, activity, evaluate, plan; dry run), which
   creates the software models and their reclamation rules;
2. every reclamation rule set to ``--few-days`` (few candidates: the ``few`` mode) or
   ``--many-days`` (many: the ``many`` mode) days of inactivity;
3. the measured part, with the peak reset first (``/proc/self/clear_refs``): a second whole
   cycle (download again, evaluate with the new rules, plan), a saved plan for review
   (``ws.plans.create``) and a walk over every item of the run's plan (kept alive, as a
   caller holding its ``RunReport`` would), a reconciliation (``ws.finance.reconcile``), a
   saved one (``save=True``: each seat's reconciled/unlicensed flags), a walk over every
   unlicensed seat (``ws.finance.iter_unlicensed``; the estate has no entitlements, so every
   counted seat is unlicensed) and a walk over every open candidate (``ws.candidates.iter``),
   each phase's peak RSS (``VmHWM``) read after it.

The floor is a bare interpreter importing httpx, attrs, cattrs, click, pluggy and sqlite3.
Targets (issue 13): ≤ 300 MiB at 1,000,000 seats, and the same with few or many candidates.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._proc import SandboxProcess, child_env

TARGET_MIB = 300.0
FLOOR = "import httpx, attrs, cattrs, click, pluggy, sqlite3"


def _status(field: str) -> float:
    """A ``/proc/self/status`` figure in MiB (VmHWM: peak RSS since start or the last reset)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    """Start a new peak-RSS window (Linux: writing 5 to clear_refs resets VmHWM to VmRSS)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _child(base_url: str, key: str, days: int) -> dict[str, Any]:
    from saas_license import HttpOptions, Workspace
    from saas_license._candidates.records import OPEN_STATES

    out: dict[str, Any] = {"after_imports_mib": _status("VmHWM")}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "bench.db", http=HttpOptions(rate_limit=False))
        ws.profiles.add_alias("a", spoke="aha", base_url=base_url, api_key=key)
        ws.profiles.create("p", spoke="aha", alias="a")
        ws.profiles.validate("p")
        ws.profiles.publish("p")
        t0 = time.perf_counter()
        ws.jobs.run("p")
        out["first_cycle_s"] = round(time.perf_counter() - t0, 2)
        out["first_cycle_peak_mib"] = _status("VmHWM")
        for rule in ws.rules.reclamation():
            ws.rules.set_reclamation(
                rule.software_model,
                inactivity_days=days,
                new_account_grace_days=0,
                allow_big_change=True,
            )
        phases: dict[str, float] = {}
        _reset_peak()
        out["rss_before_mib"] = _status("VmRSS")
        t0 = time.perf_counter()
        report = ws.jobs.run("p")
        phases["cycle"] = _status("VmHWM")
        out["created_this_cycle"] = report.candidates_created
        out["run_plan_items"] = len(report.plan) + report.plan.held_count
        # the report is kept (its plan is a stored summary): a second plan for review, and
        # a walk over every item of the run's plan, a page at a time
        plan = ws.plans.create("p")
        planned = len(plan) + plan.held_count
        out["walked_plan_items"] = sum(1 for _ in report.plan.items) + sum(
            1 for _ in report.plan.held
        )
        phases["plan"] = _status("VmHWM")
        result = ws.finance.reconcile()
        out["unlicensed_count"] = result.unlicensed_count
        out["unlicensed_listed"] = len(result.unlicensed)
        del result
        phases["reconcile"] = _status("VmHWM")
        ws.finance.reconcile(save=True)  # and each seat's reconciled/unlicensed flags
        phases["reconcile_saved"] = _status("VmHWM")
        out["unlicensed_walked"] = sum(1 for _ in ws.finance.iter_unlicensed())
        phases["unlicensed"] = _status("VmHWM")
        walked = sum(1 for _ in ws.candidates.iter("p"))  # every candidate, any state
        phases["candidates"] = _status("VmHWM")
        out["measured_s"] = round(time.perf_counter() - t0, 2)
        out["phases_peak_mib"] = {k: round(v, 1) for k, v in phases.items()}
        out["peak_mib"] = round(max(phases.values()), 1)
        out["seats"] = ws.store.count_subscriptions("p")["total"]
        out["candidates"] = walked
        out["open_candidates"] = ws.store.count_candidates("p", states=OPEN_STATES)
        out["plan_items"] = planned
        del report
        ws.close()
    return out


def _floor() -> float:
    code = (
        FLOOR + "\nfor l in open('/proc/self/status'):\n"
        "    if l.startswith('VmHWM:'): print(int(l.split()[1]) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def measure(users: int, modes: dict[str, int]) -> dict[str, Any]:
    """Both modes at one size, each in its own child process, against one served account."""
    key = secrets.token_hex(16)  # never starts with "-" (an argparse option)
    rows: dict[str, Any] = {"users": users, "floor_mib": round(_floor(), 1)}
    env = child_env()
    with SandboxProcess(users=users, latency_ms=0, api_key=key, env=env) as sandbox:
        for mode, days in modes.items():
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.memory",
                    "--child",
                    sandbox.base_url,
                    key,
                    str(days),
                ],
                capture_output=True,
                text=True,
                env=env,
                cwd=Path(__file__).resolve().parents[1],
                check=False,
            )
            if proc.returncode:
                raise RuntimeError(f"{mode} child failed: {proc.stderr[-2000:]}")
            rows[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.memory", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes", default="10000,100000", help="Comma-separated account sizes (users)."
    )
    parser.add_argument(
        "--few-days", type=int, default=3650, help="inactivity days for few candidates"
    )
    parser.add_argument(
        "--many-days", type=int, default=1, help="inactivity days for many candidates"
    )
    parser.add_argument(
        "--modes", default="few,many", help="which modes to run (few, many or both)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("URL", "KEY", "DAYS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        url, key, days = args.child
        print(json.dumps(_child(url, key, int(days))))
        return 0
    modes = {m: d for m, d in (("few", args.few_days), ("many", args.many_days)) if m in args.modes}
    rows = [measure(int(s.replace("_", "")), modes) for s in args.sizes.split(",") if s.strip()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        "peak RSS of a whole cycle (second run: download, evaluate, plan; then plan, reconcile, candidates)"
    )
    for r in rows:
        parts = [f"{r['users']:>9,} users: floor {r['floor_mib']:.0f} MiB"]
        for mode in modes:
            m = r[mode]
            parts.append(
                f"{mode} ({m['seats']:,} seats, {m['open_candidates']:,} open candidates, "
                f"{m['plan_items']:,} plan items) {m['peak_mib']:.0f} MiB "
                f"({m['peak_mib'] / r['floor_mib']:.1f}x floor; phases {m['phases_peak_mib']}; "
                f"{m['measured_s']:.1f} s)"
            )
        if "few" in r and "many" in r:
            few, many = r["few"], r["many"]
            parts.append(
                f"many/few {many['peak_mib'] / few['peak_mib']:.2f}x "
                f"({many['open_candidates'] - few['open_candidates']:+,} open candidates)"
            )
        print("; ".join(parts))
    big = max(rows, key=lambda r: r["users"])
    measured = [big[m] for m in modes]
    worst = max(m["peak_mib"] for m in measured)
    print(
        f"target (<= {TARGET_MIB:.0f} MiB at 1,000,000 seats, independent of candidates): "
        + (
            "not measured at 1M"
            if measured[0]["seats"] < 1_000_000
            else ("met" if worst <= TARGET_MIB else "not met") + f" (worst {worst:.0f} MiB)"
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
