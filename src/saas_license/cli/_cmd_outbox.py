"""``saas-license outbox``: notifications waiting for a notifier plugin, and their delivery."""

from __future__ import annotations

import click

from .._notify import DeliveryStatus
from . import cli
from ._cmd_core import _state, json_option
from ._output import echo_json, echo_table


@cli.group("outbox", invoke_without_command=True)
@click.option(
    "--status", type=click.Choice([s.value for s in DeliveryStatus]), help="Only this status."
)
@click.option("--profile")
@json_option
@click.pass_context
def outbox_group(
    ctx: click.Context, status: str | None, profile: str | None, as_json: bool
) -> None:
    """Notifications: pending ones wait here until a notifier plugin delivers them."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    if profile is not None:
        ws.profiles.get(profile)  # an unknown profile is an error, not an empty list
    items = ws.outbox.query(status=DeliveryStatus(status) if status else None, profile=profile)
    if as_json:
        echo_json({"notifications": items, "notifiers": ws.outbox.notifiers.names()})
        return
    echo_table(
        ["id", "created", "kind", "to", "status", "via", "subject"],
        [
            (
                n.id,
                n.created_at.replace(microsecond=0).isoformat(),
                n.kind.value,
                n.recipient,
                n.status.value,
                n.channel or "",
                n.subject,
            )
            for n in items
        ],
    )
    if not ws.outbox.notifiers.names():
        click.echo("  no notifier installed: see docs/candidates.md#notifications")


@outbox_group.command("deliver")
@click.option("--retry-failed", is_flag=True, help="Also retry notifications that gave up.")
def outbox_deliver(retry_failed: bool) -> None:
    """Offer pending notifications to the installed notifiers again."""
    ws = _state().open()
    results = ws.outbox.deliver(retry_failed=retry_failed)
    delivered = sum(1 for n in results if n.status is DeliveryStatus.DELIVERED)
    click.echo(f"{delivered} of {len(results)} notifications delivered")
