"""``saas-license remediation``: the options of the last saved reconciliation, with their
statuses, and the actions on them (create candidates, record a purchase, set a status)."""

from __future__ import annotations

import click

from .._finance.reconciliation import RemediationOption, RemediationStatus
from . import cli
from ._cmd_core import _actor, _state, json_option
from ._output import echo_json, echo_table, safe, to_jsonable


def _row(o: RemediationOption) -> dict[str, object]:
    return {**to_jsonable(o), "key": o.key}


@cli.group("remediation", invoke_without_command=True)
@click.option("--all", "include_void", is_flag=True, help="Include void options.")
@json_option
@click.pass_context
def remediation_group(ctx: click.Context, include_void: bool, as_json: bool) -> None:
    """Remediation options of the last saved reconciliation, with their status; act on them."""
    if ctx.invoked_subcommand is not None:
        return
    options = _state().open().finance.remediation.options(include_void=include_void)
    if as_json:
        echo_json({"remediation": [_row(o) for o in options]})
        return
    echo_table(
        ["key", "status", "rights", "amount", "note"],
        [
            (
                safe(o.key),
                o.status.value,
                o.rights,
                "" if o.amount is None else f"{o.amount} {o.currency}",
                safe(o.note),
            )
            for o in options
        ],
        empty="(none: save a reconciliation first, e.g. reconcile --save)",
    )


@remediation_group.command("create-candidates")
@click.argument("key")
@json_option
def remediation_create_candidates(key: str, as_json: bool) -> None:
    """Propose the least-active seats a remove_unlicensed option KEY needs, as removal
    candidates (justification unlicensed; nothing is reclaimed)."""
    done = _state().open().finance.remediation.create_candidates(key, actor=_actor())
    if as_json:
        echo_json(
            {
                "key": key,
                "status": done.status.value,
                "candidates": list(done.candidates),
                "skipped": done.skipped,
                "note": done.note,
            }
        )
        return
    click.echo(f"{safe(key)}: {done.status.value}: {safe(done.note)}")
    if done.candidates:
        click.echo("candidates: " + ", ".join(str(c) for c in done.candidates))


@remediation_group.command("record-purchase")
@click.argument("key")
@click.option("--rights", type=int, help="Rights bought (default: the rights needed).")
@click.option("--unit-cost", help="Cost of one right per period (default: the current price).")
@click.option("--currency", help="ISO currency code (default: the model's).")
@click.option("--start", help="First day in force (default: tomorrow; a draft until then).")
@click.option("--period", default="annually", show_default=True)
def remediation_record_purchase(
    key: str,
    rights: int | None,
    unit_cost: str | None,
    currency: str | None,
    start: str | None,
    period: str,
) -> None:
    """Record the purchase a purchase_rights option KEY calls for, as an entitlement draft."""
    done = (
        _state()
        .open()
        .finance.remediation.record_purchase(
            key,
            rights=rights,
            unit_cost=unit_cost,
            currency=currency,
            start=start,
            period=period,
            actor=_actor(),
        )
    )
    click.echo(f"{safe(key)}: {done.status.value}: {safe(done.note)}")


@remediation_group.command("status")
@click.argument("key")
@click.argument("status", type=click.Choice([s.value for s in RemediationStatus]))
@click.option("--note", default="", help="Why, for the audit log.")
def remediation_status(key: str, status: str, note: str) -> None:
    """Set option KEY's status by hand (e.g. in_progress while a purchase order is out)."""
    got = _state().open().finance.remediation.set_status(key, status, actor=_actor(), note=note)
    click.echo(f"{safe(key)}: {got.status.value}")
