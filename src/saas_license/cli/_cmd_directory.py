"""``directory``: load the user directory, show it, and list the seats it does not resolve."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import attrs
import click

from .._directory.resolution import SeatResolution
from .._tables import csv_cell
from . import _State, cli
from ._output import safe


def _state() -> _State:
    return click.get_current_context().find_object(_State)  # type: ignore[return-value]


def _resolution_lines(res: SeatResolution) -> list[str]:
    return [
        f"  seats resolved to a person: {res.resolved_seats:,} of {res.seats:,} "
        f"({res.resolved_people:,} people)",
        f"  seats not in the directory: {res.unresolved_seats:,} "
        f"({len(res.unresolved):,} users; list them: `directory unresolved`)",
    ]


@cli.group("directory", invoke_without_command=True)
@click.pass_context
def directory_group(ctx: click.Context) -> None:
    """The user directory: who each seat's user is (person, manager, department, cost centre,
    employment status). Without a subcommand: show it."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(show_cmd)


@directory_group.command("load")
@click.argument("source")
def load_cmd(source: str) -> None:
    """Replace the directory with the people in SOURCE: a CSV file (columns email, aliases, name,
    manager_email, department, cost_center, employment_status) or a source a directory plugin
    reads. A bad or conflicting line refuses the whole file; the directory stays as it was."""
    ws = _state().open()
    loaded = ws.directory.load(source)
    click.echo(
        f"loaded {loaded.people:,} people ({loaded.addresses:,} addresses) from {safe(loaded.source)}"
    )
    for line in _resolution_lines(loaded.resolution):
        click.echo(line)


@directory_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the source and every person.")
def show_cmd(as_json: bool = False) -> None:
    """Where the directory came from, how many people it has, and how many seats it resolves."""
    ws = _state().open()
    source = ws.directory.source()
    people = ws.directory.people()
    res = ws.directory.resolution()
    if as_json:
        doc: dict[str, Any] = {
            "source": source[0] if source else None,
            "loaded_at": source[1] if source else None,
            "people": [attrs.asdict(p) for p in people],
            "resolved_seats": res.resolved_seats,
            "unresolved_seats": res.unresolved_seats,
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if source is None:
        click.echo("no directory loaded (load one: `directory load people.csv`)")
        return
    click.echo(f"directory from {safe(source[0])}, loaded {source[1]}: {len(people):,} people")
    for line in _resolution_lines(res):
        click.echo(line)
    for key, label in (("department", "departments"), ("cost_center", "cost centres")):
        values = sorted({getattr(p, key) for p in people if getattr(p, key)})
        shown = ", ".join(safe(v) for v in values[:10]) + (" …" if len(values) > 10 else "")
        click.echo(f"  {label}: {len(values)}{': ' + shown if values else ''}")


@directory_group.command("unresolved")
@click.option("--profile", help="Only this profile's seats.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (address, seats, profiles).")
def unresolved_cmd(profile: str | None, as_json: bool, as_csv: bool) -> None:
    """Users holding seats whom the directory does not know (by e-mail or alias): listed, never
    guessed. Add them (or their alias) to the directory and load it again."""
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    ws = _state().open()
    res = ws.directory.resolution(profile)
    if as_json:
        doc = {
            "profile": profile,
            "resolved_seats": res.resolved_seats,
            "unresolved_seats": res.unresolved_seats,
            "unresolved": [attrs.asdict(u) for u in res.unresolved],
        }
        click.echo(json.dumps(doc, indent=2))
        return
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("address", "seats", "profiles"))
        for u in res.unresolved:
            writer.writerow((csv_cell(u.address), u.seats, csv_cell(";".join(u.profiles))))
        return
    if not res.unresolved:
        click.echo(f"every seat resolves to a person ({res.resolved_seats:,} seats)")
        return
    click.echo(
        f"{res.unresolved_seats:,} of {res.seats:,} seats belong to users not in the directory:"
    )
    width = max(len(u.address) for u in res.unresolved)
    for u in res.unresolved:
        click.echo(f"  {safe(u.address).ljust(width)}  {u.seats:>5} seats  {', '.join(u.profiles)}")
