"""``alias add/list/show/delete``: connection aliases. Secrets are never shown, only whether one
is set and where it comes from."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .._errors import ConfigError
from .._profiles import AliasDetails, check_base_url
from .._secrets import Secret
from . import cli
from ._cmd_core import _actor, _state, json_option
from ._output import echo_json, echo_table, safe, to_jsonable


@cli.group("alias")
def alias_group() -> None:
    """Connection aliases: where a vendor account is and how to authenticate."""


@alias_group.command("add")
@click.argument("name")
@click.option("--spoke", help="Spoke name, e.g. aha (a child alias may leave it out).")
@click.option(
    "--url",
    "base_url",
    help="Account base URL, e.g. https://acme.aha.io (a child alias without one uses its parent's).",
)
@click.option(
    "--api-key-env", metavar="VAR", help="Read the API key from this environment variable."
)
@click.option("--api-key-stdin", is_flag=True, help="Read the API key from standard input.")
@click.option(
    "--parent",
    help="Parent alias: makes this a child alias (same spoke; inherits URL and credentials "
    "unless given its own).",
)
def alias_add(
    name: str,
    spoke: str | None,
    base_url: str | None,
    api_key_env: str | None,
    api_key_stdin: bool,
    parent: str | None,
) -> None:
    """Create or update a connection alias. Keys are never taken as plain options (shell history)."""
    if api_key_env and api_key_stdin:
        raise ConfigError(
            "give one of --api-key-env and --api-key-stdin, not both", field="--api-key-stdin"
        )
    if base_url is not None:
        check_base_url(base_url, field="--url")
    elif parent is None:
        raise click.UsageError("give --url (only a child alias, with --parent, may leave it out)")
    if spoke is None and parent is None:
        raise click.UsageError("give --spoke (only a child alias, with --parent, may leave it out)")
    ws = _state().open()
    info = ws.spokes.get(spoke or ws.profiles.alias(parent or "").spoke).info()
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
    ws.profiles.add_alias(name, spoke=spoke, base_url=base_url, api_key=key, parent=parent)
    click.echo(
        f"alias {name} saved"
        + (" with its API key (in the owner-only secrets file)" if key else "")
    )


def _details_json(d: AliasDetails) -> dict[str, Any]:
    return {
        "name": d.alias.name,
        "spoke": d.alias.spoke,
        "parent": d.alias.parent,
        "base_url": d.base_url,
        "url_from": d.url_from,
        "auth_type": d.auth_type,
        "credentials": to_jsonable(d.credentials),
        "credentials_set": d.has_credentials,
        "children": list(d.children),
        "profiles": list(d.profiles),
    }


@alias_group.command("list")
@json_option
def alias_list(as_json: bool) -> None:
    """List connection aliases: spoke, URL, parent, whether credentials are set, used by."""
    ws = _state().open()
    details = [ws.profiles.describe_alias(a.name) for a in ws.profiles.aliases()]
    if as_json:
        echo_json({"aliases": [_details_json(d) for d in details]})
        return
    echo_table(
        ["name", "spoke", "url", "parent", "credentials", "profiles"],
        [
            (
                d.alias.name,
                d.alias.spoke,
                d.base_url + (" (inherited)" if d.alias.inherits_url else ""),
                d.alias.parent or "",
                _credentials_short(d),
                ", ".join(d.profiles),
            )
            for d in details
        ],
        empty="(no aliases: saas-license alias add NAME --spoke SPOKE --url URL)",
    )


def _credentials_short(d: AliasDetails) -> str:
    if not d.credentials:
        return "not set"
    kinds = ", ".join(c.kind for c in d.credentials)
    inherited = d.credentials[0].inherited
    return f"{kinds} (from {d.credentials[0].alias})" if inherited else kinds


@alias_group.command("show")
@click.argument("name")
@json_option
def alias_show(name: str, as_json: bool) -> None:
    """Show one alias: its effective URL and auth, which credentials are set and where from
    (never their values), its child aliases and the profiles using it."""
    d = _state().open().profiles.describe_alias(name)
    if as_json:
        echo_json({"alias": _details_json(d)})
        return
    click.echo(f"{d.alias.name}: spoke {d.alias.spoke}, auth {d.auth_type}")
    if d.alias.parent:
        click.echo(f"  parent: {d.alias.parent} (child alias)")
    origin = f" (inherited from {d.url_from})" if d.alias.inherits_url else ""
    click.echo(safe(f"  url: {d.base_url}{origin}"))
    if d.credentials:
        for c in d.credentials:
            where = f"inherited from {c.alias}" if c.inherited else "own"
            click.echo(safe(f"  credential {c.kind}: set ({where}; {c.stored_in})"))
    else:
        click.echo(
            f"  credentials: not set (saas-license alias add {d.alias.name} … --api-key-env VAR, "
            "or saas-license connect PROFILE)"
        )
    click.echo(f"  children: {', '.join(d.children) or 'none'}")
    click.echo(f"  used by profiles: {', '.join(d.profiles) or 'none'}")


@alias_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def alias_delete(name: str, yes: bool) -> None:
    """Delete an alias and its stored secrets; refused while a profile uses it or a child
    alias names it as parent."""
    ws = _state().open()
    d = ws.profiles.describe_alias(name)
    if not yes and not (d.profiles or d.children):  # a refusal needs no confirmation
        click.confirm(f"Delete alias {name} and its stored credentials?", abort=True)
    ws.profiles.delete_alias(name, actor=_actor())
    click.echo(f"alias {name} deleted, with its stored credentials")
