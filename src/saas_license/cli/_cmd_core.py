"""Everyday commands: spokes, aliases, profiles, validate, publish, run, candidates, plan, jobs, audit."""

from __future__ import annotations

import os
import sys

import click

from ..candidates import OPEN_STATES
from ..errors import ConfigError
from ..pipeline import RunReport
from ..profiles import Processes
from ..reclaim import ReclaimPlan
from ..secrets import Secret
from ..spokes import ValidationReport
from . import _State, cli
from ._output import echo_json, echo_table

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _state() -> _State:
    return click.get_current_context().find_object(_State)  # type: ignore[return-value]


@cli.command("spokes")
@json_option
def spokes_cmd(as_json: bool) -> None:
    """List installed spokes with the vendor permissions each process needs."""
    ws = _state().open()
    infos = [s.info() for s in ws.spokes]
    if as_json:
        echo_json({"spokes": infos, "problems": ws.spokes.problems})
        return
    for info in infos:
        click.echo(
            f"{info.name}: {info.display_name} — profile type {info.profile_type!r}, reclaim = {info.reclaim_effect}"
        )
        echo_table(
            ["process", "vendor role", "scopes", "note"],
            [
                (p.process.value, p.vendor_role, ", ".join(p.scopes) or "none", p.note)
                for p in info.permissions
            ],
        )
    for problem in ws.spokes.problems:
        click.echo(f"skipped spoke {problem.name} ({problem.target}): {problem.error}", err=True)


@cli.group("alias")
def alias_group() -> None:
    """Connection aliases: where a vendor account is and how to authenticate."""


@alias_group.command("add")
@click.argument("name")
@click.option("--spoke", required=True, help="Spoke name, e.g. aha.")
@click.option(
    "--url", "base_url", required=True, help="Account base URL, e.g. https://acme.aha.io."
)
@click.option(
    "--api-key-env", metavar="VAR", help="Read the API key from this environment variable."
)
@click.option("--api-key-stdin", is_flag=True, help="Read the API key from standard input.")
@click.option("--parent", help="Parent alias (makes this a child alias).")
def alias_add(
    name: str,
    spoke: str,
    base_url: str,
    api_key_env: str | None,
    api_key_stdin: bool,
    parent: str | None,
) -> None:
    """Create or update a connection alias. Keys are never taken as plain options (shell history)."""
    ws = _state().open()
    info = ws.spokes.get(spoke).info()
    click.echo(f"{info.display_name} needs these vendor permissions:")
    echo_table(
        ["process", "vendor role", "scopes"],
        [(p.process.value, p.vendor_role, ", ".join(p.scopes) or "none") for p in info.permissions],
    )
    key: Secret | None = None
    if api_key_env:
        value = os.environ.get(api_key_env)
        if not value:
            raise ConfigError(
                f"environment variable {api_key_env} is empty or unset", field="--api-key-env"
            )
        key = Secret(value)
    elif api_key_stdin:
        value = sys.stdin.readline().strip()
        if not value:
            raise ConfigError("no API key on standard input", field="--api-key-stdin")
        key = Secret(value)
    ws.add_alias(name, spoke=spoke, base_url=base_url, api_key=key, parent=parent)
    click.echo(
        f"alias {name} saved"
        + (" with its API key (in the owner-only secrets file)" if key else "")
    )


@cli.group("profile")
def profile_group() -> None:
    """Integration profiles: one vendor account each."""


@profile_group.command("create")
@click.argument("name")
@click.option("--spoke", required=True)
@click.option("--alias", "alias_name", required=True, help="Connection alias to use.")
@click.option("--display-name")
@click.option(
    "--activity/--no-activity", default=True, show_default=True, help="Pull user activity."
)
@click.option(
    "--reclaim/--no-reclaim",
    default=True,
    show_default=True,
    help="Allow reclaims (off = detect only: candidates are created, never acted on).",
)
def profile_create(
    name: str, spoke: str, alias_name: str, display_name: str | None, activity: bool, reclaim: bool
) -> None:
    """Create a profile (as draft)."""
    ws = _state().open()
    prof = ws.create_profile(
        name,
        spoke=spoke,
        alias=alias_name,
        display_name=display_name,
        processes=Processes(activity=activity, reclaim=reclaim),
    )
    click.echo(
        f"profile {prof.name} created ({prof.status.value}); next: saas-license validate {prof.name}"
    )


@profile_group.command("list")
@json_option
def profile_list(as_json: bool) -> None:
    """List profiles."""
    profiles = _state().open().profiles()
    if as_json:
        echo_json({"profiles": profiles})
        return
    echo_table(
        ["name", "spoke", "status", "alias", "processes"],
        [
            (
                p.name,
                p.spoke,
                p.status.value,
                p.connection_alias,
                ",".join(x.value for x in p.processes.enabled()),
            )
            for p in profiles
        ],
    )


def _echo_validation(report: ValidationReport) -> None:
    if report.identity:
        click.echo(
            f"identity: {report.identity.user_principal_name} "
            f"(administrator: {'yes' if report.identity.is_administrator else 'no'})"
        )
    echo_table(
        ["process", "ok", "message"],
        [(c.process.value, "yes" if c.ok else "NO", c.message) for c in report.checks],
    )


@cli.command("validate")
@click.argument("profile")
@json_option
def validate_cmd(profile: str, as_json: bool) -> None:
    """Check a profile's connection for each process (changes nothing at the vendor)."""
    ws = _state().open()
    report = ws.validate(profile)
    if as_json:
        echo_json(report)
    else:
        _echo_validation(report)
    if not report.download_ok:
        raise click.ClickException(
            "validation failed: the download process must pass before publishing"
        )


@cli.command("publish")
@click.argument("profile")
def publish_cmd(profile: str) -> None:
    """Publish a validated profile so its daily jobs run."""
    prof = _state().open().publish(profile)
    click.echo(f"profile {prof.name} is {prof.status.value}")


def _echo_run(report: RunReport) -> None:
    echo_table(
        ["job", "status", "counts"],
        [
            (j.process, j.status.value, ", ".join(f"{k}={v}" for k, v in sorted(j.counts.items())))
            for j in report.jobs
        ],
    )
    click.echo(
        f"candidates: {report.candidates_created} new, {report.candidates_canceled} canceled, "
        f"{report.candidates_skipped} skipped; plan: {len(report.plan)} seats (dry run)"
    )


@cli.command("run")
@click.argument("profile")
@json_option
def run_cmd(profile: str, as_json: bool) -> None:
    """Run one daily cycle of a published profile: download, activity, evaluate, plan (dry run)."""
    report = _state().open().run(profile)
    if as_json:
        echo_json(report)
    else:
        _echo_run(report)


@cli.command("candidates")
@click.option("--profile")
@click.option("--all", "show_all", is_flag=True, help="Include closed candidates.")
@json_option
def candidates_cmd(profile: str | None, show_all: bool, as_json: bool) -> None:
    """List removal candidates (open ones unless --all)."""
    states = None if show_all else set(OPEN_STATES)
    cands = _state().open().candidates(profile, states=states)
    if as_json:
        echo_json({"candidates": cands})
        return
    echo_table(
        ["id", "profile", "user", "identifier", "state", "inactive days", "last activity"],
        [
            (
                c.id,
                c.profile,
                c.user_principal_name,
                c.identifier,
                c.state.value,
                c.inactive_days,
                c.last_activity.date().isoformat() if c.last_activity else "never",
            )
            for c in cands
        ],
    )


def _echo_plan(plan: ReclaimPlan, *, limit: int | None = None) -> None:
    mode = "dry run — nothing was changed" if plan.dry_run else "applied"
    click.echo(f"reclaim plan for {plan.profile} ({mode}): {len(plan)} seats")
    if not plan.reclaim_enabled:
        click.echo(
            "  the profile's reclaim process is off: candidates are reported, never acted on"
        )
    items = plan.items if limit is None else plan.items[:limit]
    echo_table(
        ["candidate", "user", "identifier", "action", "inactive days"],
        [
            (
                i.candidate.id,
                i.subscription.user_principal_name,
                i.subscription.identifier,
                i.action,
                i.candidate.inactive_days,
            )
            for i in items
        ],
    )
    if limit is not None and len(plan) > limit:
        click.echo(f"  … and {len(plan) - limit} more (saas-license reclaim --plan {plan.profile})")


@cli.command("reclaim")
@click.argument("profile")
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    default=True,
    help="Show the plan (the default; nothing changes).",
)
@json_option
def reclaim_cmd(profile: str, plan_only: bool, as_json: bool) -> None:
    """Show exactly what would be reclaimed for a profile (dry run)."""
    plan = _state().open().plan(profile)
    if as_json:
        echo_json(plan)
    else:
        _echo_plan(plan)


@cli.command("jobs")
@click.option("--profile")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@json_option
def jobs_cmd(profile: str | None, limit: int, as_json: bool) -> None:
    """Recent job results, newest first."""
    jobs = _state().open().jobs(profile, limit=limit)
    if as_json:
        echo_json({"jobs": jobs})
        return
    echo_table(
        ["id", "profile", "process", "status", "started", "seconds", "error"],
        [
            (
                j.id,
                j.profile,
                j.process,
                j.status.value,
                j.started_at.replace(microsecond=0).isoformat(),
                f"{j.duration_seconds:.2f}" if j.duration_seconds is not None else "",
                j.error or "",
            )
            for j in jobs
        ],
    )


@cli.command("audit")
@click.option("--profile")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@json_option
def audit_cmd(profile: str | None, limit: int, as_json: bool) -> None:
    """The append-only audit log, oldest first."""
    entries = _state().open().audit(profile=profile, limit=limit)
    if as_json:
        echo_json({"audit": entries})
        return
    echo_table(
        ["id", "at", "actor", "action", "entity", "detail"],
        [
            (
                e.id,
                e.at.replace(microsecond=0).isoformat(),
                e.actor,
                e.action,
                f"{e.entity}:{e.entity_id}",
                e.detail,
            )
            for e in entries
        ],
    )
