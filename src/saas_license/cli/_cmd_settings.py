"""``saas-license settings`` / ``approvers`` / ``auto-reclaim``: the public address, SMTP,
approver groups and automatic reclaim of a workspace."""

from __future__ import annotations

import os

import click

from .._workspace.settings import SETTINGS
from . import cli
from ._cmd_core import _state, json_option
from ._output import echo_json, echo_table


@cli.group("settings", invoke_without_command=True)
@json_option
@click.pass_context
def settings_group(ctx: click.Context, as_json: bool) -> None:
    """Workspace settings: public_url (answer links), notice templates, SMTP."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    values = ws.settings.all()
    if as_json:
        echo_json(values)
        return
    echo_table(
        ["setting", "value", "meaning"],
        [(name, values.get(name, ""), doc) for name, (_, doc) in SETTINGS.items()],
    )
    if ws.outbox.smtp_problem:
        click.echo(f"  SMTP is not set up: {ws.outbox.smtp_problem}")


@settings_group.command("set")
@click.argument("name", type=click.Choice(sorted(SETTINGS)))
@click.argument("value")
def settings_set(name: str, value: str) -> None:
    """Set one setting (checked first; audited)."""
    stored = _state().open().settings.set(name, value)
    click.echo(f"{name} = {stored}")


@settings_group.command("unset")
@click.argument("name", type=click.Choice(sorted(SETTINGS)))
def settings_unset(name: str) -> None:
    """Unset one setting."""
    _state().open().settings.set(name, None)
    click.echo(f"{name} unset")


@settings_group.command("smtp-password")
@click.option(
    "--from-env",
    "env",
    required=True,
    metavar="VAR",
    help="Read the password from this environment variable (never from the command line).",
)
def settings_smtp_password(env: str) -> None:
    """Keep the SMTP password in the workspace's secret store."""
    value = os.environ.get(env)
    if not value:
        raise click.UsageError(f"the environment variable {env} is not set or empty")
    _state().open().settings.set_smtp_password(value)
    click.echo("SMTP password stored in the secret store")


@cli.group("approvers", invoke_without_command=True)
@json_option
@click.pass_context
def approvers_group(ctx: click.Context, as_json: bool) -> None:
    """Approver groups: who decides a "keep" when neither the rule nor the seat names someone."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    groups = ws.approvals.groups()
    if as_json:
        echo_json({"groups": {k: list(v) for k, v in groups.items()}})
        return
    echo_table(["group", "members"], [(k, ", ".join(v) or "(nobody)") for k, v in groups.items()])


@approvers_group.command("set")
@click.argument("group")
@click.argument("members", nargs=-1)
def approvers_set(group: str, members: tuple[str, ...]) -> None:
    """Create or replace an approver group with these e-mail addresses."""
    got = _state().open().approvals.set_group(group, members)
    click.echo(f"{group}: {len(got)} member(s)")


@approvers_group.command("profile")
@click.argument("profile")
@click.argument("group")
def approvers_profile(profile: str, group: str) -> None:
    """Make GROUP the approver group of PROFILE (default "Software managers")."""
    _state().open().approvals.set_profile_group(profile, group)
    click.echo(f"{profile}: approver group {group}")


@cli.command("auto-reclaim")
@click.argument("profile")
@click.option("--on/--off", "enabled", default=None, help="Turn automatic reclaim on or off.")
@click.option("--max-per-run", type=int)
@click.option("--max-per-day", type=int)
@click.option("--halt-after-failures", type=int)
@click.option("--notices/--no-notices", "send_notices", default=None)
@json_option
def auto_reclaim(
    profile: str,
    enabled: bool | None,
    max_per_run: int | None,
    max_per_day: int | None,
    halt_after_failures: int | None,
    send_notices: bool | None,
    as_json: bool,
) -> None:
    """Show or change PROFILE's automatic reclaim (off by default), and what it would do now."""
    ws = _state().open()
    if any(
        v is not None
        for v in (enabled, max_per_run, max_per_day, halt_after_failures, send_notices)
    ):
        ws.jobs.set_auto_reclaim(
            profile,
            enabled=enabled,
            max_per_run=max_per_run,
            max_per_day=max_per_day,
            halt_after_failures=halt_after_failures,
            send_notices=send_notices,
        )
    preview = ws.jobs.preview_auto_reclaim(profile)
    if as_json:
        echo_json(preview)
        return
    click.echo(preview.describe())
