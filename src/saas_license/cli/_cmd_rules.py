"""``saas-license rules``: exclusion and reclamation rules (list, add, change, import, export)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .._errors import ConfigError
from .._rule_impact import BigChangeError
from .._rules import ExclusionRule, ReclamationRule
from . import cli
from ._cmd_core import _actor, _key_values, _state, json_option
from ._output import echo_json, echo_table

T = TypeVar("T")


def _interactive() -> bool:
    """Whether a person can answer a question on standard input."""
    return sys.stdin.isatty()


def _big_change(store: Callable[[bool], T], *, yes: bool) -> T:
    """Run ``store(allow_big_change)``; when the change has a big effect, say how big and ask
    first (``--yes`` answers for the user)."""
    try:
        return store(False)
    except BigChangeError as exc:
        if not yes and not _interactive():
            raise
        click.echo(f"warning: {exc.impact.describe()}", err=True)
        if not yes:
            click.confirm("Store the change anyway?", abort=True, err=True)
        return store(True)


def _echo_rules(exclusions: list[ExclusionRule] | None, reclamation: list[ReclamationRule]) -> None:
    if exclusions is not None:
        _echo_exclusions(exclusions)
        click.echo()
    _echo_reclamation(reclamation)


def _echo_exclusions(exclusions: list[ExclusionRule]) -> None:
    click.echo("Exclusion rules")
    echo_table(
        ["id", "kind", "match", "profile type", "excludes from", "active", "description"],
        [
            (
                r.id,
                r.kind.value,
                f"{r.attribute}={r.value}" if r.attribute else r.value,
                r.profile_type or "",
                r.effect.value,
                "yes" if r.active else "no",
                r.description,
            )
            for r in exclusions
        ],
    )


def _echo_reclamation(reclamation: list[ReclamationRule]) -> None:
    click.echo("Reclamation rules")
    echo_table(
        [
            "id",
            "software model",
            "idle days",
            "grace",
            "notify",
            "auto after",
            "approval",
            "cooldown",
            "candidates",
            "filter",
        ],
        [
            (
                r.id,
                r.software_model,
                r.inactivity_days,
                r.new_account_grace_days,
                "yes" if r.notify_user else "no",
                r.days_before_auto_reclaim if r.notify_user else "",
                (r.approver or "yes") if r.keep_requires_approval else "no",
                r.cooldown_days,
                "on" if r.create_candidates and r.active else "off",
                json.dumps(r.filter, sort_keys=True) if r.filter else "",
            )
            for r in reclamation
        ],
    )


@cli.group("rules", invoke_without_command=True)
@json_option
@click.pass_context
def rules_group(ctx: click.Context, as_json: bool) -> None:
    """Exclusion rules (keep seats out of cost and/or reclaim) and reclamation rules (when a
    seat is idle and how it is taken back). Without a subcommand: list them."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    if as_json:
        echo_json(
            {"exclusion_rules": ws.rules.exclusions(), "reclamation_rules": ws.rules.reclamation()}
        )
        return
    _echo_rules(ws.rules.exclusions(), ws.rules.reclamation())


@rules_group.command("exclude")
@click.option("--user", "user", help="User principal name, exact or glob (svc-*@corp.com).")
@click.option("--domain", help="Every user of this email domain (and its subdomains).")
@click.option("--identifier", help="A subscription identifier (seat type).")
@click.option("--profile-type", help="Limit an identifier rule to this profile type.")
@click.option(
    "--attribute", metavar="KEY=VALUE", help="Any seat attribute, e.g. department=Executive."
)
@click.option(
    "--effect",
    type=click.Choice(["cost", "reclaim", "both"]),
    default="both",
    show_default=True,
    help="What the matched seats are kept out of.",
)
@click.option("--description", default="")
def rules_exclude(
    user: str | None,
    domain: str | None,
    identifier: str | None,
    profile_type: str | None,
    attribute: str | None,
    effect: str,
    description: str,
) -> None:
    """Add an exclusion rule (give exactly one of --user, --domain, --identifier, --attribute)."""
    given = [
        (k, v) for k, v in (("user", user), ("domain", domain), ("identifier", identifier)) if v
    ]
    if attribute:
        given.append(("attribute", attribute))
    if len(given) != 1:
        raise click.UsageError("give exactly one of --user, --domain, --identifier, --attribute")
    kind, value = given[0]
    fields: dict[str, Any] = {"kind": kind, "effect": effect, "description": description}
    if kind == "attribute":
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise ConfigError(f"{value!r} is not KEY=VALUE", field="--attribute")
        fields.update(attribute=key, value=val)
    else:
        fields["value"] = value
    if profile_type:
        fields["profile_type"] = profile_type
    rule = _state().open().rules.add_exclusion(actor=_actor(), **fields)
    click.echo(
        f"exclusion rule {rule.id} added ({rule.kind.value} {rule.value}, {rule.effect.value})"
    )


@rules_group.command("unexclude")
@click.argument("rule_id", type=int)
def rules_unexclude(rule_id: int) -> None:
    """Delete an exclusion rule."""
    _state().open().rules.remove_exclusion(rule_id, actor=_actor())
    click.echo(f"exclusion rule {rule_id} deleted")


@rules_group.command("enable")
@click.argument("rule_id", type=int)
def rules_enable(rule_id: int) -> None:
    """Switch an exclusion rule on."""
    _state().open().rules.update_exclusion(rule_id, active=True, actor=_actor())
    click.echo(f"exclusion rule {rule_id} is active")


@rules_group.command("disable")
@click.argument("rule_id", type=int)
def rules_disable(rule_id: int) -> None:
    """Switch an exclusion rule off (kept, but matches nothing)."""
    _state().open().rules.update_exclusion(rule_id, active=False, actor=_actor())
    click.echo(f"exclusion rule {rule_id} is inactive")


@rules_group.command("set")
@click.argument("software_model")
@click.option("--inactivity-days", type=int, help="Days without activity before a seat is idle.")
@click.option("--grace-days", type=int, help="No candidates for seats created/assigned recently.")
@click.option("--notify/--no-notify", default=None, help="Ask the user before reclaiming.")
@click.option("--days-before-auto-reclaim", type=int, help="Days the user has to answer.")
@click.option(
    "--remind-days", type=int, help="Remind this many days before the deadline (0 = off)."
)
@click.option(
    "--approval/--no-approval", default=None, help="A 'keep' needs the approver's decision."
)
@click.option("--approver", help="Who decides 'keep' requests (default: the seat's manager).")
@click.option("--cooldown-days", type=int, help="Days a kept seat is not proposed again.")
@click.option(
    "--candidates/--no-candidates",
    default=None,
    help="Create candidates at all (off = report only).",
)
@click.option("--active/--inactive", default=None)
@click.option(
    "--filter", "filters", multiple=True, metavar="KEY=VALUE", help="Seat attribute filter."
)
@click.option("--clear-filter", is_flag=True, help="Remove the filter.")
@click.option(
    "--yes", is_flag=True, help="Store a change with a big effect without asking (see docs)."
)
def rules_set(
    software_model: str,
    inactivity_days: int | None,
    grace_days: int | None,
    notify: bool | None,
    days_before_auto_reclaim: int | None,
    remind_days: int | None,
    approval: bool | None,
    approver: str | None,
    cooldown_days: int | None,
    candidates: bool | None,
    active: bool | None,
    filters: tuple[str, ...],
    clear_filter: bool,
    yes: bool,
) -> None:
    """Create or edit the reclamation rule of a software model."""
    ws = _state().open()
    changes: dict[str, Any] = {
        k: v
        for k, v in {
            "inactivity_days": inactivity_days,
            "new_account_grace_days": grace_days,
            "notify_user": notify,
            "days_before_auto_reclaim": days_before_auto_reclaim,
            "remind_days_before": remind_days,
            "keep_requires_approval": approval,
            "approver": approver,
            "cooldown_days": cooldown_days,
            "create_candidates": candidates,
            "active": active,
        }.items()
        if v is not None
    }
    if clear_filter:
        changes["filter"] = {}
    if filters:
        current = ws.store.get_reclamation_rule(software_model)
        base = {} if clear_filter or current is None else dict(current.filter)
        changes["filter"] = {**base, **_key_values(filters, field="--filter")}
    rule = _big_change(
        lambda allow: ws.rules.set_reclamation(
            software_model, actor=_actor(), allow_big_change=allow, **changes
        ),
        yes=yes,
    )
    _echo_rules(None, [rule])


@rules_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Remove existing exclusion rules first.")
@click.option(
    "--yes", is_flag=True, help="Import rules with a big effect without asking (see docs)."
)
def rules_import(path: Path, replace: bool, yes: bool) -> None:
    """Import rules from a JSON or TOML file: all of them or none."""
    ws = _state().open()
    rules = _big_change(
        lambda allow: ws.rules.load(path, replace=replace, actor=_actor(), allow_big_change=allow),
        yes=yes,
    )
    click.echo(
        f"imported {len(rules.exclusions)} exclusion rules and "
        f"{len(rules.reclamation)} reclamation rules from {path}"
    )


@rules_group.command("export")
def rules_export() -> None:
    """Print every rule as JSON (loadable with `rules import`)."""
    echo_json(_state().open().rules.export().to_dict())
