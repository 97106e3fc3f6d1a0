"""Everyday commands: spokes, aliases, profiles, validate, publish, run, candidates, reclaim,
undo, jobs, audit."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from .._candidates.records import OPEN_STATES, CandidateState, RemovalCandidate
from .._errors import ConfigError, RunInProgressError, SaasLicenseError
from .._jobs import ScheduledJob
from .._pipeline import RunReport
from .._plugins import SpokeRegistry
from .._profiles import Processes
from .._reclaim.records import ReclaimPlan
from .._reclaim.stored import StoredPlan
from .._spokes import ValidationReport
from .._workspace import Workspace
from .._workspace.candidates import Candidates

if TYPE_CHECKING:
    from .._reclaim.apply import ApplyReport
from . import EXIT_BUSY, _State, cli
from ._output import (
    DEFAULT_LIMIT,
    echo_json,
    echo_stream_table,
    echo_table,
    limit_options,
    safe,
    to_jsonable,
)
from ._progress import StepProgress

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _state() -> _State:
    return click.get_current_context().find_object(_State)  # type: ignore[return-value]


@cli.command("spokes")
@json_option
def spokes_cmd(as_json: bool) -> None:
    """List installed spokes with the vendor permissions each process needs."""
    registry = SpokeRegistry()  # no workspace needed to list what is installed
    infos = [s.info() for s in registry]
    if as_json:
        echo_json({"spokes": infos, "problems": registry.problems})
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
        if info.options:
            click.echo("  profile options (saas-license profile edit NAME --option KEY=VALUE):")
            for o in info.options:
                click.echo(f"    {o.key} ({o.allowed()}, default {json.dumps(o.default)}): {o.doc}")
    for problem in registry.problems:
        click.echo(f"skipped spoke {problem.name} ({problem.target}): {problem.error}", err=True)


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
    prof = ws.profiles.create(
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
    profiles = _state().open().profiles.all()
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
            safe(
                f"identity: {report.identity.user_principal_name} "
                f"(administrator: {'yes' if report.identity.is_administrator else 'no'})"
            )
        )
    echo_table(
        ["process", "ok", "message"],
        [(c.process.value, "yes" if c.ok else "NO", c.message) for c in report.checks],
    )


@cli.command("validate")
@click.argument("profile")
@click.option(
    "--explain",
    is_flag=True,
    help="Also print what was found for each vendor behaviour that is not published.",
)
@json_option
def validate_cmd(profile: str, explain: bool, as_json: bool) -> None:
    """Check a profile's connection for each process (changes nothing at the vendor)."""
    ws = _state().open()
    report = ws.profiles.validate(profile)
    if as_json:
        echo_json(report)
    else:
        _echo_validation(report)
        if explain:
            click.echo("unpublished vendor behaviour, and what this account showed:")
            for line in report.explain or ("(the spoke explains nothing)",):
                click.echo(f"- {line}")
        click.echo(ws.jobs.preview_auto_reclaim(profile).describe())
    if not report.download_ok:
        raise click.ClickException(
            "validation failed: the download process must pass before publishing"
        )


@cli.command("publish")
@click.argument("profile")
@click.option(
    "--run", "run_now", is_flag=True, help="Run the first download (the daily cycle) at once."
)
def publish_cmd(profile: str, run_now: bool) -> None:
    """Publish a validated profile so its daily jobs run."""
    ws = _state().open()
    prof = ws.profiles.publish(profile)
    click.echo(f"profile {prof.name} is {prof.status.value}")
    if run_now:
        with StepProgress(as_json=False) as progress:
            _echo_run(ws.jobs.run(profile, progress=progress, trigger="publish"))
    _echo_next_run(ws, profile)


def _echo_next_run(ws: Workspace, profile: str) -> None:
    """When the profile's first scheduled job falls due (what `run --due` will pick up)."""
    job = ws.jobs.next_run(profile)
    if job is None:
        return
    at = job.next_run_at.replace(microsecond=0)
    when = "now" if at <= ws.clock() else f"at {at.isoformat()}"
    click.echo(
        f"next scheduled run: {job.name} {when} (every {_every(job.interval)}; "
        f"`saas-license run --due` from cron or a timer runs it)"
    )


def _actor() -> str:
    """Who is acting, for the audit log: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


@profile_group.command("show")
@click.argument("name")
@json_option
def profile_show(name: str, as_json: bool) -> None:
    """Show one profile with its schedule."""
    ws = _state().open()
    prof = ws.profiles.get(name)
    schedule = ws.jobs.schedules(name)
    permissions = ws.profiles.spoke_for(prof).info().permissions
    alias = ws.profiles.describe_alias(prof.connection_alias)
    if as_json:
        echo_json(
            {
                "profile": prof,
                "connection": {
                    "alias": alias.alias.name,
                    "base_url": alias.base_url,
                    "credentials": [c.kind for c in alias.credentials],
                },
                "processes": _process_config(prof.processes, permissions),
                "schedule": [_schedule_json(j) for j in schedule],
            }
        )
        return
    click.echo(f"{prof.name}: {prof.display_name}")
    click.echo(f"  status: {prof.status.value}; spoke {prof.spoke}; alias {prof.connection_alias}")
    click.echo(
        "  processes: "
        + ", ".join(p.value for p in prof.processes.enabled())
        + f"; activity look-back {prof.activity_look_back_days} days"
    )
    creds = ", ".join(c.kind for c in alias.credentials) or "NOT set"
    click.echo(
        safe(f"  connection: {alias.base_url} (credentials: {creds}; `alias show` for more)")
    )
    click.echo("  vendor configuration (what each process needs at the vendor):")
    echo_table(
        ["process", "on", "vendor role", "scopes", "note"],
        [
            (
                c["process"],
                "yes" if c["enabled"] else "no",
                c["vendor_role"],
                c["scopes"],
                c["note"],
            )
            for c in _process_config(prof.processes, permissions)
        ],
    )
    _echo_schedule(schedule)


def _process_config(processes: Processes, permissions: Any) -> list[dict[str, Any]]:
    """Each process of a profile: on or off, and the vendor role and scopes it needs."""
    enabled = set(processes.enabled())
    return [
        {
            "process": p.process.value,
            "enabled": p.process in enabled,
            "vendor_role": p.vendor_role,
            "scopes": ", ".join(p.scopes) or "none",
            "note": p.note,
        }
        for p in permissions
    ]


@profile_group.command("edit")
@click.argument("name")
@click.option("--display-name")
@click.option(
    "--activity/--no-activity",
    default=None,
    help="Pull user activity (switching it off sends a published profile back to draft).",
)
@click.option("--reclaim/--no-reclaim", default=None, help="Allow reclaims (off = detect only).")
@click.option("--look-back-days", type=int, help="Activity look-back, 1-365 days.")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a spoke option (VALUE as JSON, else text; empty VALUE removes it).",
)
def profile_edit(
    name: str,
    display_name: str | None,
    activity: bool | None,
    reclaim: bool | None,
    look_back_days: int | None,
    options: tuple[str, ...],
) -> None:
    """Edit a profile."""
    ws = _state().open()
    before = ws.profiles.get(name)
    parsed = _key_values(options, field="--option", empty_is_none=True) if options else None
    prof = ws.profiles.update(
        name,
        display_name=display_name,
        activity=activity,
        reclaim=reclaim,
        activity_look_back_days=look_back_days,
        options=parsed,
        actor=_actor(),
    )
    click.echo(f"profile {prof.name} saved ({prof.status.value})")
    if prof.status is not before.status:
        click.echo(
            f"  activity is off, so the profile is back to draft: "
            f"saas-license validate {name} && saas-license publish {name}"
        )


@profile_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def profile_delete(name: str, yes: bool) -> None:
    """Delete a profile: its seats, jobs and schedule go; open candidates close as skipped;
    reclamation rules stay."""
    ws = _state().open()
    ws.profiles.get(name)
    if not yes:
        click.confirm(f"Delete profile {name} and all its subscriptions?", abort=True)
    counts = ws.profiles.delete(name, actor=_actor())
    click.echo(
        f"profile {name} deleted: {counts['subscriptions']} subscriptions, {counts['jobs']} job "
        f"results removed; {counts['candidates_skipped']} open candidates closed as skipped"
    )


def _key_values(
    pairs: tuple[str, ...], *, field: str, empty_is_none: bool = False
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{pair!r} is not KEY=VALUE", field=field)
        if raw == "" and empty_is_none:
            out[key.strip()] = None
            continue
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


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
        f"{report.candidates_skipped} skipped, {report.timeouts} timed out; "
        f"plan: {len(report.plan)} seats (dry run)"
    )
    if report.unknown_protection:
        click.echo(
            f"  {report.unknown_protection} seat(s) with unknown protective data "
            "(unknown_protection): neither proposed nor reclaimed"
        )
    if report.quarantined:
        click.echo(f"  {report.quarantined} spoke record(s) quarantined: see `saas-license jobs`")
    for seat in report.verification.reappeared:
        click.echo(safe(f"  reappeared: {seat} (not counted as saved)"))
    if report.recovered and (report.recovered.abandoned_jobs or report.recovered.resolved):
        click.echo(
            f"  recovered first: {report.recovered.abandoned_jobs} abandoned job(s), "
            f"{len(report.recovered.resolved)} reclaim(s) of unknown outcome read at the vendor"
        )


#: Exit code when a run is refused because another run of the profile holds the lock
#: (EX_TEMPFAIL: "try again later", which cron and systemd understand).
EXIT_IN_PROGRESS = EXIT_BUSY


@cli.command("run")
@click.argument("profile", required=False)
@click.option("--due", is_flag=True, help="Run every published profile whose jobs are due.")
@click.option("--all", "run_all", is_flag=True, help="Run every published profile now.")
@json_option
def run_cmd(profile: str | None, due: bool, run_all: bool, as_json: bool) -> None:
    """Run the daily cycle (download, activity, evaluate, plan; dry run) of one profile, of
    every due profile (--due: for cron or a systemd timer) or of all published ones (--all).

    A profile that is already running is left alone and named on stderr; the exit code is then
    75 ("try again later") unless a profile failed (1): 0 means everything asked for ran."""
    if sum((profile is not None, due, run_all)) != 1:
        raise click.UsageError("give a PROFILE, --due or --all (exactly one)")
    ws = _state().open()
    if profile is not None:
        try:
            with StepProgress(as_json=as_json) as progress:
                report = ws.jobs.run(profile, progress=progress)
        except RunInProgressError as exc:
            click.echo(f"skipped: {exc}", err=True)
            sys.exit(EXIT_IN_PROGRESS)
        if as_json:
            echo_json(report)
        else:
            _echo_run(report)
        return
    with StepProgress(as_json=as_json) as progress:
        results = ws.jobs.run_due(all_published=run_all, progress=progress)
    if as_json:
        echo_json({"runs": results})
    else:
        if not results:
            click.echo("nothing is due")
        for r in results:
            if r.report is not None:
                click.echo(f"{r.profile}: complete")
                _echo_run(r.report)
            elif r.status == "in_progress":
                click.echo(f"{r.profile}: skipped, another run is in progress")
            elif r.status == "taken":
                click.echo(f"{r.profile}: already run this period by another worker")
            else:
                click.echo(safe(f"{r.profile}: FAILED: {r.error}"), err=True)
    busy = [r.profile for r in results if r.status == "in_progress"]
    if busy:
        click.echo(
            f"busy: skipped {', '.join(busy)} (another run holds the lock); try again later",
            err=True,
        )
    if any(r.status == "failed" for r in results):
        sys.exit(1)
    if busy:
        sys.exit(EXIT_BUSY)


def _money(values: dict[str, Decimal]) -> str:
    return ", ".join(f"{v} {c}".strip() for c, v in sorted(values.items())) or "unknown"


_STATE_NAMES = sorted(s.value for s in CandidateState)


@cli.group("candidates", invoke_without_command=True)
@click.option("--profile")
@click.option("--all", "show_all", is_flag=True, help="Include closed candidates.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(_STATE_NAMES),
    help="Only these states (repeatable).",
)
@click.option(
    "--limit",
    type=click.IntRange(0, None),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Rows to print (0 = every row, read a page at a time; --json is always complete).",
)
@click.option(
    "--after",
    type=click.IntRange(0, None),
    default=None,
    help="Start after this candidate id (the last id of the previous page).",
)
@json_option
@click.pass_context
def candidates_cmd(
    ctx: click.Context,
    profile: str | None,
    show_all: bool,
    states: tuple[str, ...],
    limit: int,
    after: int | None,
    as_json: bool,
) -> None:
    """List removal candidates (open ones unless --all or --state), or act on them.

    Candidates are read from the workspace a page at a time (oldest first), never all at once;
    --limit and --after page through them, and the footer gives the command for the next page.
    """
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    if profile is not None:
        ws.profiles.get(profile)  # an unknown profile is an error, not an empty list
    wanted = (
        {CandidateState(s) for s in states} if states else (None if show_all else set(OPEN_STATES))
    )
    if as_json:
        _candidates_json(ws, profile, wanted, after)
        return
    total = ws.candidates.count(profile, states=wanted)
    headers = [
        "id",
        "profile",
        "user",
        "identifier",
        "state",
        "inactive days",
        "last activity",
        "savings",
    ]
    page = (
        ws.candidates.iter(profile, states=wanted, after=after)
        if not limit
        else iter(ws.candidates.query(profile, states=wanted, limit=limit, after=after))
    )
    _shown, last_id = echo_stream_table(headers, (_candidate_row(c) for c in page))
    rest = 0 if last_id is None else ws.candidates.count(profile, states=wanted, after=last_id)
    if rest > 0:
        click.echo(
            f"  … and {rest:,} more of {total:,} (next page: --after {last_id}; "
            "every row: --limit 0 or --json)"
        )
    savings = ws.finance.savings(profile)
    click.echo(
        f"potential savings ({savings.open_candidates} open): {_money(savings.potential)}; "
        f"actual ({savings.reclaimed_seats} reclaimed): {_money(savings.actual)}"
        + (
            f"; {savings.reappeared} reclaimed seat(s) reappeared (not counted as saved)"
            if savings.reappeared
            else ""
        )
    )


def _candidate_row(c: RemovalCandidate) -> tuple[Any, ...]:
    return (
        c.id,
        c.profile,
        c.user_principal_name,
        c.identifier,
        c.state.value,
        c.inactive_days,
        c.last_activity.date().isoformat() if c.last_activity else "never",
        _seat_money(c),
    )


def _candidates_json(
    ws: Workspace, profile: str | None, wanted: set[CandidateState] | None, after: int | None
) -> None:
    """``{"candidates": [...], "savings": {...}}`` written as the candidates are read."""
    click.echo('{\n  "candidates": [', nl=False)
    first = True
    for cand in ws.candidates.iter(profile, states=wanted, after=after):
        item = json.dumps(to_jsonable(cand), indent=2).replace("\n", "\n    ")
        click.echo(("\n    " if first else ",\n    ") + item, nl=False)
        first = False
    savings = json.dumps(to_jsonable(ws.finance.savings(profile)), indent=2).replace("\n", "\n  ")
    click.echo(("]" if first else "\n  ]") + ',\n  "savings": ' + savings + "\n}")


def _seat_money(c: RemovalCandidate) -> str:
    amount = c.actual_savings if c.actual_savings is not None else c.potential_savings
    return "" if amount is None else f"{amount} {c.currency or ''}".strip()


def _echo_candidate(c: RemovalCandidate) -> None:
    click.echo(
        safe(
            f"candidate {c.id}: {c.state.value} — {c.user_principal_name} {c.identifier} "
            f"({c.profile})" + (f": {c.message}" if c.message else "")
        )
    )


@candidates_cmd.command("show")
@click.argument("candidate_id", type=int)
@json_option
def candidates_show(candidate_id: int, as_json: bool) -> None:
    """One candidate with its full history from the audit log."""
    ws = _state().open()
    cand = ws.candidates.get(candidate_id)
    history = ws.candidates.history(candidate_id)
    if as_json:
        echo_json({"candidate": cand, "history": history})
        return
    _echo_candidate(cand)
    for name in (
        "recipient",
        "approver",
        "approver_source",
        "respond_by",
        "keep_until",
        "undo_until",
        "undone_at",
    ):
        value = getattr(cand, name)
        if value is not None:
            click.echo(safe(f"  {name.replace('_', ' ')}: {value}"))
    echo_table(
        ["at", "actor", "action", "from", "to", "detail"],
        [
            (
                e.at.replace(microsecond=0).isoformat(),
                e.actor,
                e.action,
                (e.before or {}).get("state", ""),
                (e.after or {}).get("state", ""),
                e.detail,
            )
            for e in history
        ],
    )


def _candidate_action(name: str, help_text: str, call: Any, *, note: bool = True) -> None:
    @candidates_cmd.command(name, help=help_text)
    @click.argument("candidate_ids", type=int, nargs=-1, required=True)
    @click.option("--by", "actor", help="Who acts (default: cli:<login>).")
    @click.option("--note", default="", help="Why, for the audit log.")
    def action(candidate_ids: tuple[int, ...], actor: str | None, note: str) -> None:
        ws = _state().open()
        failed = 0
        for cid in candidate_ids:
            try:
                _echo_candidate(call(ws.candidates, cid, actor=actor or _actor(), note=note))
            except SaasLicenseError as exc:
                failed += 1
                click.echo(safe(f"candidate {cid}: error: {exc}"), err=True)
        if failed:
            sys.exit(1)


_candidate_action("keep", "The user keeps the seat (to the approver, or kept).", Candidates.keep)
_candidate_action(
    "forego", "The user does not need the seat (on to revocation).", Candidates.forego
)
_candidate_action(
    "approve", "Approve the reclaim despite the user's keep request.", Candidates.approve
)
_candidate_action("decline", "Let the user keep the seat (a cooldown starts).", Candidates.decline)
_candidate_action(
    "close-complete",
    "Close as complete: the seat was freed by hand at the vendor.",
    Candidates.close_complete,
)


@candidates_cmd.command("resolve")
@click.argument("candidate_ids", type=int, nargs=-1, required=True)
@click.option("--recipient", help="Who gets the notice (an email address).")
@click.option("--by", "actor", help="Who acts (default: cli:<login>).")
@click.option("--note", default="")
def candidates_resolve(
    candidate_ids: tuple[int, ...], recipient: str | None, actor: str | None, note: str
) -> None:
    """Attention required → ready (the error was fixed or a recipient set)."""
    ws = _state().open()
    for cid in candidate_ids:
        _echo_candidate(
            ws.candidates.resolve(cid, recipient=recipient, actor=actor or _actor(), note=note)
        )


@candidates_cmd.command("skip")
@click.argument("candidate_ids", type=int, nargs=-1, required=True)
@click.option("--cooldown-days", type=click.IntRange(0, 3650), help="No new candidate before.")
@click.option("--by", "actor", help="Who acts (default: cli:<login>).")
@click.option("--note", default="")
def candidates_skip(
    candidate_ids: tuple[int, ...], cooldown_days: int | None, actor: str | None, note: str
) -> None:
    """Close candidates without reclaiming."""
    ws = _state().open()
    for cid in candidate_ids:
        _echo_candidate(
            ws.candidates.skip(cid, actor=actor or _actor(), note=note, cooldown_days=cooldown_days)
        )


@candidates_cmd.command("propose")
@click.argument("subscription_id", type=int)
@click.option("--note", default="", help="Why, for the audit log.")
@click.option(
    "--justification",
    type=click.Choice(["manual", "low_usage", "unallocated", "unlicensed", "restricted_software"]),
    default="manual",
    show_default=True,
    help="The reason recorded on the candidate.",
)
def candidates_propose(subscription_id: int, note: str, justification: str) -> None:
    """Open a candidate by hand for one subscription (safety checks still apply)."""
    _echo_candidate(
        _state()
        .open()
        .candidates.propose(
            subscription_id, actor=_actor(), reason=note, justification=justification
        )
    )


def _plan_json(plan: StoredPlan) -> None:
    """A stored plan as JSON (its summary, ``items``, ``held``, ``potential_savings``), the
    items written as they are read from the store a page at a time."""
    head = json.dumps(to_jsonable(plan), indent=2)[:-2]  # without the closing brace
    click.echo(head, nl=False)
    for part, items in (("items", plan.items), ("held", plan.held)):
        click.echo(f',\n  "{part}": [', nl=False)
        first = True
        for item in items:
            text = json.dumps(to_jsonable(item), indent=2).replace("\n", "\n    ")
            click.echo(("\n    " if first else ",\n    ") + text, nl=False)
            first = False
        click.echo("]" if first else "\n  ]", nl=False)
    savings = json.dumps(to_jsonable(plan.savings_by_currency), indent=2).replace("\n", "\n  ")
    click.echo(',\n  "potential_savings": ' + savings + "\n}")


def _echo_plan(plan: ReclaimPlan | StoredPlan, *, limit: int | None = None) -> None:
    mode = "dry run — nothing was changed" if plan.dry_run else "applied"
    ident = f" {plan.id}" if plan.id else ""
    click.echo(
        f"reclaim plan{ident} for {plan.profile} ({mode}): {len(plan.reclaims)} seats to reclaim, "
        f"{len(plan.notices)} seats whose users are notified first, {len(plan.held)} held"
    )
    if not plan.reclaim_enabled:
        click.echo(
            "  the profile's reclaim process is off: candidates are reported, never acted on"
        )
    items = plan.items if limit is None else plan.items[:limit]
    echo_table(
        ["candidate", "user", "identifier", "action", "inactive days", "savings"],
        [
            (
                i.candidate.id,
                i.subscription.user_principal_name,
                i.subscription.identifier,
                i.action,
                i.candidate.inactive_days,
                "" if i.potential_savings is None else f"{i.potential_savings} {i.currency or ''}",
            )
            for i in items
        ],
    )
    if limit is not None and len(plan) > limit:
        click.echo(
            f"  … and {len(plan) - limit:,} more of {len(plan):,} (see all: --all or --json)"
        )
    click.echo(f"  potential savings: {_money(plan.savings_by_currency)}")
    if plan.held:
        click.echo("  held (not acted on):")
        for h in plan.held[: limit or len(plan.held)]:
            click.echo(safe(f"    {h.candidate.id} {h.candidate.user_principal_name}: {h.reason}"))
        if limit is not None and len(plan.held) > limit:
            click.echo(f"    … and {len(plan.held) - limit:,} more held (see all: --all or --json)")
    if plan.id and plan.reclaim_enabled and len(plan):
        expires = f"{plan.expires_at:%Y-%m-%d %H:%M} UTC" if plan.expires_at else "?"
        click.echo(
            f"  apply it (until {expires}): saas-license reclaim {plan.profile} "
            f"--apply {plan.id} [--cap N]"
        )


def _echo_apply(report: ApplyReport, *, limit: int | None = None) -> None:
    click.echo(
        f"applied plan {report.plan_id} to {report.profile}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
    )
    echo_table(
        ["candidate", "user", "identifier", "outcome", "message"],
        [
            (o.candidate_id, o.user_principal_name, o.identifier, o.outcome, o.message)
            for o in report.outcomes
        ],
        limit=limit,
        more="--all or --json",
    )
    click.echo(f"  actual savings: {_money(report.savings_by_currency)}")
    if report.halted:
        click.echo(safe(f"  halted: {report.halted}"), err=True)
    if report.counts.get("unknown"):
        click.echo(
            f"  {report.counts['unknown']} seat(s) of unknown outcome: "
            f"`saas-license reclaim {report.profile} --reconcile` reads the vendor",
            err=True,
        )


@cli.command("reclaim")
@click.argument("profile")
@click.option(
    "--plan",
    "plan_only",
    is_flag=True,
    help="Make and show a plan (the default; nothing changes at the vendor).",
)
@click.option("--apply", "apply_id", metavar="PLAN_ID", help="Execute exactly this stored plan.")
@click.option(
    "--cap",
    type=click.IntRange(0, None),
    help="Reclaim at most this many seats in this run (a kill switch for mass reclaims).",
)
@click.option("--yes", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--reconcile",
    is_flag=True,
    help="Resolve reclaims of unknown outcome by reading the vendor; mark dead jobs abandoned.",
)
@limit_options
@json_option
def reclaim_cmd(
    profile: str,
    plan_only: bool,
    apply_id: str | None,
    cap: int | None,
    yes: bool,
    reconcile: bool,
    limit: int,
    show_all_rows: bool,
    as_json: bool,
) -> None:
    """Plan reclaims for a profile (dry run, the default) or apply a plan made before."""
    ws = _state().open()
    if reconcile:
        if apply_id is not None or plan_only or cap is not None:
            raise click.UsageError("--reconcile stands alone (no --plan, --apply or --cap)")
        _reconcile(ws, profile, as_json)
        return
    if apply_id is None:
        if cap is not None:
            raise click.UsageError("--cap only applies with --apply PLAN_ID")
        plan = ws.plans.create(profile)
        if as_json:
            _plan_json(plan)
        else:
            _echo_plan(plan, limit=None if show_all_rows or not limit else limit)
        return
    if plan_only:
        raise click.UsageError("give --plan or --apply PLAN_ID, not both")
    stored = ws.plans.get(apply_id)  # the head and counts only: items stay in the store
    if stored.profile != profile:
        raise ConfigError(
            f"plan {apply_id} is for profile {stored.profile!r}, not {profile!r}", field="--apply"
        )
    if not yes:
        plan = stored
        cap_text = f" (at most {cap})" if cap is not None else ""
        click.confirm(
            f"Apply plan {apply_id} to {profile}: reclaim {len(plan.reclaims)} seats{cap_text} "
            f"and notify the users of {len(plan.notices)} seats?",
            abort=True,
        )
    with StepProgress(as_json=as_json) as progress:
        report = ws.plans.apply(apply_id, cap=cap, actor=_actor(), progress=progress)
    if as_json:
        echo_json(report)
    else:
        _echo_apply(report, limit=None if show_all_rows or not limit else limit)
    if report.halted or report.counts.get("failed") or report.counts.get("unknown"):
        sys.exit(1)


def _reconcile(ws: Workspace, profile: str, as_json: bool) -> None:
    """``reclaim PROFILE --reconcile``: one recovery step, reading the vendor (issue 8)."""
    report = ws.plans.reconcile(profile, actor=_actor())
    if as_json:
        echo_json(report)
    else:
        click.echo(
            f"{profile}: {report.abandoned_jobs} abandoned job(s), "
            f"{len(report.resolved)} reclaim(s) of unknown outcome checked at the vendor"
        )
        for r in report.resolved:
            click.echo(
                safe(
                    f"  reclaim {r.reclaim_id} (user {r.external_user_id}): {r.previous} -> "
                    f"{r.status} — {r.message}"
                )
            )
    if report.unresolved:
        sys.exit(1)


@cli.command("undo")
@click.argument("candidate_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def undo_cmd(candidate_id: int, yes: bool, as_json: bool) -> None:
    """Undo a completed reclaim (within the undo window), through the profile's spoke."""
    ws = _state().open()
    cand = ws.candidates.get(candidate_id)
    if not yes:
        click.confirm(
            f"Give {cand.user_principal_name} their seat(s) back in {cand.profile}?", abort=True
        )
    result = ws.plans.undo(candidate_id, actor=_actor())
    if as_json:
        echo_json(result)
    else:
        click.echo(
            f"undo of reclaim {result.reclaim_id} (candidates "
            f"{', '.join(map(str, result.candidate_ids))}): {result.status.value} — {result.message}"
        )
    if not result.status.ok:
        sys.exit(1)


def _schedule_json(job: ScheduledJob) -> dict[str, Any]:
    return {
        "profile": job.profile,
        "process": job.process,
        "name": job.name,
        "interval_seconds": int(job.interval.total_seconds()),
        "next_run_at": to_jsonable(job.next_run_at),
        "last_run_at": to_jsonable(job.last_run_at),
        "last_status": to_jsonable(job.last_status),
        "enabled": job.enabled,
    }


def _every(interval: dt.timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _echo_schedule(jobs: list[ScheduledJob]) -> None:
    echo_table(
        ["job", "profile", "process", "every", "next run", "last run", "last status"],
        [
            (
                j.name,
                j.profile,
                j.process,
                _every(j.interval),
                j.next_run_at.replace(microsecond=0).isoformat(),
                j.last_run_at.replace(microsecond=0).isoformat() if j.last_run_at else "",
                j.last_status.value if j.last_status else "",
            )
            for j in jobs
        ],
        empty="(no scheduled jobs: publish a profile)",
    )


@cli.group("jobs", invoke_without_command=True)
@click.option("--profile")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--scheduled", is_flag=True, help="Show the schedule instead of the history.")
@json_option
@click.pass_context
def jobs_cmd(
    ctx: click.Context, profile: str | None, limit: int, scheduled: bool, as_json: bool
) -> None:
    """Recent job results, newest first (or the schedule with --scheduled)."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    if profile is not None:
        ws.profiles.get(profile)  # an unknown profile is an error, not an empty list
    if scheduled:
        schedule = ws.jobs.schedules(profile)
        if as_json:
            echo_json({"scheduled": [_schedule_json(j) for j in schedule], "due": ws.jobs.due()})
        else:
            _echo_schedule(schedule)
        return
    jobs = ws.jobs.query(profile, limit=limit)
    if as_json:
        echo_json({"jobs": jobs, "quarantined": ws.subscriptions.quarantined(profile, limit=limit)})
        return
    echo_table(
        ["id", "profile", "process", "status", "started", "seconds", "counts", "error"],
        [
            (
                j.id,
                j.profile,
                j.process,
                j.status.value,
                j.started_at.replace(microsecond=0).isoformat(),
                f"{j.duration_seconds:.2f}" if j.duration_seconds is not None else "",
                ", ".join(
                    f"{k}={v}" for k, v in sorted(j.counts.items()) if not k.startswith("verdict_")
                ),
                j.error or "",
            )
            for j in jobs
        ],
    )
    quarantined = ws.subscriptions.quarantined(profile, limit=limit)
    if quarantined:
        click.echo(f"\nquarantined spoke records (newest {len(quarantined)}):")
        echo_table(
            ["profile", "spoke", "user", "identifier", "field", "reason", "at"],
            [
                (
                    q.profile,
                    q.spoke,
                    q.external_user_id,
                    q.identifier,
                    q.field,
                    q.reason,
                    q.at.replace(microsecond=0).isoformat(),
                )
                for q in quarantined
            ],
        )


@jobs_cmd.command("unlock")
@click.argument("profile")
def jobs_unlock(profile: str) -> None:
    """Break a profile's run lock left behind by a crashed run."""
    ws = _state().open()
    ws.profiles.get(profile)
    if ws.jobs.unlock(profile, actor=_actor()):
        click.echo(f"run lock of {profile} removed")
    else:
        click.echo(f"{profile} was not locked")


@cli.group("audit", invoke_without_command=True)
@click.option("--profile")
@click.option("--candidate", "candidate_id", type=int, help="Only this candidate's entries.")
@click.option("--action", help="Only actions starting with this (candidate., vendor., profile.).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only entries at or after this UTC date/time.",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--first", is_flag=True, help="The oldest entries instead of the newest.")
@json_option
@click.pass_context
def audit_cmd(
    ctx: click.Context,
    profile: str | None,
    candidate_id: int | None,
    action: str | None,
    since: dt.datetime | None,
    limit: int,
    first: bool,
    as_json: bool,
) -> None:
    """The append-only, hash-chained audit log (the newest --limit entries, oldest first), and
    whether its chains verify; `audit verify` checks them in full."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    if profile is not None:
        ws.profiles.get(profile)  # an unknown profile is an error, not an empty list
    entries = ws.audit.query(
        profile=profile,
        entity="candidate" if candidate_id is not None else None,
        entity_id=str(candidate_id) if candidate_id is not None else None,
        action=action,
        since=since.replace(tzinfo=dt.timezone.utc) if since else None,
        limit=limit,
        last=not first,
    )
    verification = ws.audit.verify()
    if as_json:
        echo_json(
            {
                "audit": entries,
                "verified": verification.ok,
                "problems": [p.message for p in verification.problems],
            }
        )
        return
    echo_table(
        ["id", "at", "actor", "action", "entity", "from", "to", "detail"],
        [
            (
                e.id,
                e.at.replace(microsecond=0).isoformat(),
                e.actor,
                e.action,
                f"{e.entity}:{e.entity_id}",
                (e.before or {}).get("state", ""),
                (e.after or {}).get("state", ""),
                e.detail,
            )
            for e in entries
        ],
    )
    click.echo(verification.summary(), err=not verification.ok)
    if not verification.ok:
        click.echo("  details: saas-license audit verify", err=True)


@audit_cmd.command("verify")
@json_option
def audit_verify(as_json: bool) -> None:
    """Check every entry of every audit chain and the log's guards; exit 1 if anything was
    changed, removed, inserted or replaced, or a trigger dropped."""
    result = _state().open().audit.verify()
    if as_json:
        echo_json({"verified": result.ok, **to_jsonable(result)})
    else:
        click.echo(result.summary())
        echo_table(
            ["chain", "entries", "head"],
            [(c, n, result.heads.get(c, "")[:16]) for c, n in sorted(result.chains.items())],
        )
        for problem in result.problems:
            click.echo(f"  {problem.kind}: {problem.message}", err=True)
    if not result.ok:
        sys.exit(1)
