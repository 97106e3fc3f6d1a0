"""Rules, software models (and unrecognized identifiers) and the notification outbox."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import ConfigError
from ..notify import DeliveryStatus
from ..rule_impact import BigChangeError
from ..rules import ExclusionRule, ReclamationRule
from . import cli
from ._cmd_core import _actor, _key_values, _state, json_option
from ._output import echo_json, echo_table, to_jsonable

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
            {"exclusion_rules": ws.exclusion_rules(), "reclamation_rules": ws.reclamation_rules()}
        )
        return
    _echo_rules(ws.exclusion_rules(), ws.reclamation_rules())


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
    rule = _state().open().add_exclusion_rule(actor=_actor(), **fields)
    click.echo(
        f"exclusion rule {rule.id} added ({rule.kind.value} {rule.value}, {rule.effect.value})"
    )


@rules_group.command("unexclude")
@click.argument("rule_id", type=int)
def rules_unexclude(rule_id: int) -> None:
    """Delete an exclusion rule."""
    _state().open().remove_exclusion_rule(rule_id, actor=_actor())
    click.echo(f"exclusion rule {rule_id} deleted")


@rules_group.command("enable")
@click.argument("rule_id", type=int)
def rules_enable(rule_id: int) -> None:
    """Switch an exclusion rule on."""
    _state().open().update_exclusion_rule(rule_id, active=True, actor=_actor())
    click.echo(f"exclusion rule {rule_id} is active")


@rules_group.command("disable")
@click.argument("rule_id", type=int)
def rules_disable(rule_id: int) -> None:
    """Switch an exclusion rule off (kept, but matches nothing)."""
    _state().open().update_exclusion_rule(rule_id, active=False, actor=_actor())
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
        lambda allow: ws.set_reclamation_rule(
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
        lambda allow: ws.import_rules(
            path, replace=replace, actor=_actor(), allow_big_change=allow
        ),
        yes=yes,
    )
    click.echo(
        f"imported {len(rules.exclusions)} exclusion rules and "
        f"{len(rules.reclamation)} reclamation rules from {path}"
    )


@rules_group.command("export")
def rules_export() -> None:
    """Print every rule as JSON (loadable with `rules import`)."""
    echo_json(_state().open().export_rules().to_dict())


@cli.group("models", invoke_without_command=True)
@json_option
@click.pass_context
def models_group(ctx: click.Context, as_json: bool) -> None:
    """Software models with their seat counts, and unrecognized identifiers."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    models = ws.software_models()
    counts = ws.store.count_subscriptions(by="software_model")
    unrecognized = ws.unrecognized_identifiers()
    if as_json:
        echo_json(
            {
                "software_models": [
                    {**to_jsonable(m), "subscriptions": counts.get(m.name, 0)} for m in models
                ],
                "unrecognized_identifiers": unrecognized,
            }
        )
        return
    echo_table(
        ["software model", "publisher", "paid", "seats"],
        [(m.name, m.publisher, "yes" if m.paid else "no", counts.get(m.name, 0)) for m in models],
    )
    if unrecognized:
        click.echo(
            "\nUnrecognized identifiers (map them: saas-license models map IDENTIFIER MODEL)"
        )
        _echo_unrecognized(unrecognized)


def _echo_unrecognized(items: list[Any]) -> None:
    echo_table(
        ["identifier", "seats", "profiles"],
        [
            (u.identifier, u.subscriptions, ", ".join(f"{p} ({n})" for p, n in u.profiles.items()))
            for u in items
        ],
    )


@models_group.command("unrecognized")
@json_option
def models_unrecognized(as_json: bool) -> None:
    """Identifiers that map to no software model (their seats cannot be reconciled)."""
    items = _state().open().unrecognized_identifiers()
    if as_json:
        echo_json({"unrecognized_identifiers": items})
    else:
        _echo_unrecognized(items)


@models_group.command("add")
@click.argument("name")
@click.option("--publisher", required=True)
@click.option("--free", is_flag=True, help="A free model (no reclamation rule).")
def models_add(name: str, publisher: str, free: bool) -> None:
    """Create a software model (a paid one gets the default reclamation rule)."""
    _state().open().add_software_model(name, publisher=publisher, paid=not free, actor=_actor())
    click.echo(f"software model {name} created")


@models_group.command("map")
@click.argument("identifier")
@click.argument("software_model")
@click.option("--create", is_flag=True, help="Create the model if it does not exist.")
@click.option("--publisher", help="Publisher for --create.")
@click.option("--free", is_flag=True, help="With --create: a free model.")
def models_map(
    identifier: str, software_model: str, create: bool, publisher: str | None, free: bool
) -> None:
    """Map an identifier to a software model; every seat carrying it is re-pointed."""
    ws = _state().open()
    if create and software_model not in {m.name for m in ws.software_models()}:
        if not publisher:
            raise ConfigError("--create needs --publisher", field="--publisher")
        ws.add_software_model(software_model, publisher=publisher, paid=not free, actor=_actor())
    count = ws.map_identifier(identifier, software_model, actor=_actor())
    click.echo(f"{identifier} → {software_model}: {count} subscriptions re-pointed")


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
        ws.profile(profile)  # an unknown profile is an error, not an empty list
    items = ws.outbox(status=DeliveryStatus(status) if status else None, profile=profile)
    if as_json:
        echo_json({"notifications": items, "notifiers": ws.notifiers.names()})
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
    if not ws.notifiers.names():
        click.echo("  no notifier installed: see docs/candidates.md#notifications")


@outbox_group.command("deliver")
@click.option("--retry-failed", is_flag=True, help="Also retry notifications that gave up.")
def outbox_deliver(retry_failed: bool) -> None:
    """Offer pending notifications to the installed notifiers again."""
    ws = _state().open()
    results = ws.deliver_outbox(retry_failed=retry_failed)
    delivered = sum(1 for n in results if n.status is DeliveryStatus.DELIVERED)
    click.echo(f"{delivered} of {len(results)} notifications delivered")
