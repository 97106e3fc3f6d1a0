"""``saas-license models``: software models with their seat counts, and unrecognized identifiers."""

from __future__ import annotations

from typing import Any

import click

from .._errors import ConfigError
from . import cli
from ._cmd_core import _actor, _state, json_option
from ._output import echo_json, echo_table, to_jsonable


@cli.group("models", invoke_without_command=True)
@json_option
@click.pass_context
def models_group(ctx: click.Context, as_json: bool) -> None:
    """Software models with their seat counts, and unrecognized identifiers."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _state().open()
    models = ws.subscriptions.models()
    counts = ws.store.count_subscriptions(by="software_model")
    unrecognized = ws.subscriptions.unrecognized()
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
    items = _state().open().subscriptions.unrecognized()
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
    _state().open().subscriptions.add_model(
        name, publisher=publisher, paid=not free, actor=_actor()
    )
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
    if create and software_model not in {m.name for m in ws.subscriptions.models()}:
        if not publisher:
            raise ConfigError("--create needs --publisher", field="--publisher")
        ws.subscriptions.add_model(
            software_model, publisher=publisher, paid=not free, actor=_actor()
        )
    count = ws.subscriptions.map_identifier(identifier, software_model, actor=_actor())
    click.echo(f"{identifier} → {software_model}: {count} subscriptions re-pointed")


@models_group.command("product")
@click.argument("software_model")
@click.argument("product", required=False)
def models_product(software_model: str, product: str | None) -> None:
    """Name the product SOFTWARE_MODEL belongs to in reconciliation (none: its publisher)."""
    _state().open().finance.set_product(software_model, product, actor=_actor())
    click.echo(f"{software_model}: product {product or '(its publisher)'}")
