"""``saas-license demo``: the whole product against a spoke's sandbox (the ``sandbox`` hook), nothing beyond 127.0.0.1."""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

import click

from .._candidates.records import OPEN_STATES
from .._errors import ProfileStateError
from .._finance.reconciliation import ACTIVITY_BUCKETS, activity_bucket
from .._pipeline import RunReport
from .._profiles import ProfileStatus
from .._sandbox import SandboxSettings
from .._time import days_between
from .._workspace import Workspace
from . import _State, cli
from ._output import echo_json, echo_table
from ._progress import StepProgress
from ._sandboxes import find_sandbox


def _summary(
    ws: Workspace, report: RunReport, profile: str, sandbox_url: str, users: int
) -> dict[str, Any]:
    now = ws.clock()
    per_model: dict[str, Counter[str]] = {}
    for sub in ws.store.iter_subscriptions(profile):
        model = sub.software_model or "(unrecognized)"
        counts = per_model.setdefault(model, Counter())
        counts["seats"] += 1
        days = (
            None
            if sub.last_activity is None
            else days_between(sub.last_activity, now, ws.policy.timezone)
        )
        counts[activity_bucket(days)] += 1
        if days is None or days >= 60:
            counts["inactive_60d"] += 1
    open_cands = ws.candidates.query(profile, states=set(OPEN_STATES))
    by_model = Counter(c.software_model or "(unrecognized)" for c in open_cands)
    plan = report.plan
    return {
        # a PostgreSQL workspace has no path: its URL, password masked
        "workspace": str(ws.path) if ws.path is not None else getattr(ws.store, "url", "None"),
        "profile": profile,
        "sandbox": {"base_url": sandbox_url, "users": users},
        "subscriptions": {
            "total": sum(c["seats"] for c in per_model.values()),
            "by_software_model": {
                m: {
                    "seats": c["seats"],
                    "inactive_60d": c["inactive_60d"],
                    "last_activity_days": {b: c[b] for b in ACTIVITY_BUCKETS},
                }
                for m, c in sorted(per_model.items())
            },
        },
        "verdicts": dict(sorted(report.verdicts.items())),
        "candidates": {
            "open": len(open_cands),
            "created_this_run": report.candidates_created,
            "by_software_model": dict(sorted(by_model.items())),
        },
        "plan": {
            "dry_run": plan.dry_run,
            "reclaim_enabled": plan.reclaim_enabled,
            "seats": len(plan),
            "reclaim": plan.reclaim_count,
            "notify": plan.notice_count,
            "held": len(plan.held),
            "action": plan.items[0].action if plan.items else None,
        },
        "jobs": [
            {"process": j.process, "status": j.status.value, "counts": j.counts}
            for j in report.jobs
        ],
    }


@cli.command("demo")
@click.option(
    "--users",
    type=click.IntRange(10, 200_000),
    default=1000,
    show_default=True,
    help="Size of the sandbox account.",
)
@click.option(
    "--spoke",
    "spoke_name",
    metavar="NAME",
    default=None,
    help="The spoke whose sandbox to run against [default: the first installed that offers one].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def demo(state: _State, users: int, spoke_name: str | None, as_json: bool) -> None:
    """Run one full daily cycle against a spoke's bundled sandbox and summarise it (dry run)."""
    ws = state.open()
    spoke, offer = find_sandbox(ws.spokes, spoke_name)
    alias, profile = f"{spoke.name}-sandbox", f"{spoke.name}-demo"
    server = offer.open(SandboxSettings(users=users, anchor=ws.clock()))
    server.start()
    try:
        ws.profiles.add_alias(
            alias, spoke=spoke.name, base_url=server.base_url, **server.credentials
        )
        existing = ws.store.get_profile(profile)
        if existing is None:
            ws.profiles.create(
                profile, spoke=spoke.name, alias=alias, display_name=f"{offer.title} (demo)"
            )
        elif not (existing.processes.activity and existing.processes.reclaim):
            # someone edited the demo profile: the demo always shows the full cycle
            ws.profiles.update(profile, activity=True, reclaim=True, actor="demo")
        report_v = ws.profiles.validate(profile)
        if not report_v.download_ok:
            raise ProfileStateError(
                "the sandbox profile did not validate: "
                + "; ".join(c.message for c in report_v.checks if not c.ok)
            )
        if ws.profiles.get(profile).status is not ProfileStatus.PUBLISHED:
            ws.profiles.publish(profile)
        with StepProgress(as_json=as_json) as progress:
            report = ws.jobs.run(profile, progress=progress)
        summary = _summary(ws, report, profile, server.base_url, users)
    finally:
        server.stop()
    if as_json:
        echo_json(summary)
        return
    click.echo(f"{offer.title}: {users} users at {summary['sandbox']['base_url']} (stopped)")
    click.echo(f"workspace:    {summary['workspace']}\n")
    click.echo("Jobs")
    echo_table(
        ["job", "status", "records", "seconds"],
        [
            (
                j.process,
                j.status.value,
                j.counts.get(
                    "records", sum(v for k, v in j.counts.items() if k.startswith("verdict_"))
                ),
                f"{j.duration_seconds:.2f}" if j.duration_seconds is not None else "",
            )
            for j in report.jobs
        ],
    )
    click.echo("\nSubscriptions per software model (days since last activity)")
    echo_table(
        ["software model", "seats", *ACTIVITY_BUCKETS, "inactive 60d+"],
        [
            (
                m,
                c["seats"],
                *(c["last_activity_days"][b] for b in ACTIVITY_BUCKETS),
                c["inactive_60d"],
            )
            for m, c in summary["subscriptions"]["by_software_model"].items()
        ],
    )
    click.echo(
        f"\nRemoval candidates: {summary['candidates']['open']} open "
        f"({summary['candidates']['created_this_run']} new this run)"
    )
    echo_table(
        ["software model", "open candidates"],
        sorted(summary["candidates"]["by_software_model"].items()),
    )
    click.echo("\nWhy seats were or were not proposed")
    echo_table(["verdict", "seats"], sorted(summary["verdicts"].items()))
    plan = report.plan
    spoke_action = ws.profiles.spoke_for(ws.profiles.get(profile)).info().reclaim_effect
    click.echo(
        f"\nReclaim plan (dry run — nothing was changed): {plan.reclaim_count} seats would be"
        f" reclaimed ({spoke_action}), {plan.notice_count} users notified first,"
        f" {len(plan.held)} held"
    )
    top = heapq.nsmallest(10, plan.items, key=lambda i: -i.candidate.inactive_days)
    echo_table(
        ["candidate", "user", "identifier", "inactive days"],
        [
            (
                i.candidate.id,
                i.subscription.user_principal_name,
                i.subscription.identifier,
                i.candidate.inactive_days,
            )
            for i in top
        ],
    )
    if len(plan) > len(top):
        click.echo(
            f"  … the {len(top)} longest idle of {len(plan)}; all: saas-license reclaim {profile} --plan"
        )
    click.echo(
        f"\nNext: saas-license --workspace {summary['workspace']} candidates --profile {profile}"
    )
