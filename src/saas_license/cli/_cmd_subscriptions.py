"""``subscriptions``: list seats with filters, as a table, JSON or CSV, streamed row by row."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import sys
from collections.abc import Iterator
from typing import Any

import click

from .._subscriptions import SubscriptionRow
from .._tables import csv_cell
from .._time import format_instant
from . import _State, cli
from ._output import DEFAULT_LIMIT, safe

#: CSV and table columns, in order.
COLUMNS = (
    "id",
    "profile",
    "external_user_id",
    "user_principal_name",
    "display_name",
    "identifier",
    "software_model",
    "last_activity",
    "inactive_days",
    "excluded_from",
    "first_seen_at",
    "last_seen_at",
    "active",
    "reconciled",
    "unlicensed",
)

#: Rows whose widths set the table's columns when every row is printed (later rows that are
#: wider simply overflow: the table is streamed, never held whole).
WIDTH_SAMPLE = 200


def _state() -> _State:
    return click.get_current_context().find_object(_State)  # type: ignore[return-value]


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else format_instant(value)


def _record(row: SubscriptionRow) -> dict[str, Any]:
    """One seat as a JSON object (built directly: this runs once per seat)."""
    s = row.subscription
    return {
        "id": s.id,
        "profile": s.profile,
        "external_user_id": s.external_user_id,
        "user_principal_name": s.user_principal_name,
        "display_name": s.display_name,
        "identifier": s.identifier,
        "software_model": s.software_model,
        "last_activity": _iso(s.last_activity),
        "inactive_days": row.inactive_days,
        "excluded_from": list(row.excluded_from),
        "first_seen_at": _iso(s.first_seen_at),
        "last_seen_at": _iso(s.last_seen_at),
        "active": s.active,
        "reconciled": row.reconciled,
        "unlicensed": row.unlicensed,
        "unknown": sorted(s.unknown),
        "attributes": s.attributes,
    }


def _emit_json(rows: Iterator[SubscriptionRow]) -> None:
    """One JSON document written as rows arrive: ``{"subscriptions": [...], "count": n}``."""
    out = sys.stdout
    out.write('{\n  "subscriptions": [')
    count = 0
    for row in rows:
        out.write(("," if count else "") + "\n    " + json.dumps(_record(row), default=str))
        count += 1
    out.write(("\n  " if count else "") + f'],\n  "count": {count}\n}}\n')


def _emit_csv(rows: Iterator[SubscriptionRow]) -> None:
    """CSV with a header, one line per seat; text a spreadsheet would run as a formula is
    neutralised."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        rec = _record(row)
        rec["excluded_from"] = ";".join(row.excluded_from)
        writer.writerow(["" if rec.get(c) is None else csv_cell(rec[c]) for c in COLUMNS])


def _cells(row: SubscriptionRow) -> list[str]:
    s = row.subscription
    last = (
        "unknown"
        if "last_activity" in s.unknown
        else (s.last_activity.date().isoformat() if s.last_activity else "never")
    )
    return [
        safe(str(c))
        for c in (
            s.id,
            s.profile,
            s.user_principal_name,
            s.identifier,
            s.software_model or "(unrecognized)",
            last,
            "" if row.inactive_days is None else row.inactive_days,
            ",".join(row.excluded_from) or "no",
            ("unlicensed" if row.unlicensed else "yes") if row.reconciled else "no",
        )
    ]


HEADERS = (
    "id",
    "profile",
    "user",
    "identifier",
    "software model",
    "last activity",
    "inactive days",
    "excluded",
    "reconciled",
)
_NUMERIC = {0, 6}


def _emit_table(rows: Iterator[SubscriptionRow], limit: int | None) -> None:
    """An aligned table: the first ``limit`` rows and a count of the rest, or (no limit) every
    row, its widths taken from the first :data:`WIDTH_SAMPLE` rows."""
    cells = (_cells(r) for r in rows)
    head = list(itertools.islice(cells, limit if limit is not None else WIDTH_SAMPLE))
    if not head:
        click.echo("  (no subscriptions match)")
        return
    widths = [max(len(h), *(len(r[i]) for r in head)) for i, h in enumerate(HEADERS)]

    def line(values: list[str] | tuple[str, ...]) -> str:
        return (
            "  "
            + "  ".join(
                v.rjust(w) if i in _NUMERIC else v.ljust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            ).rstrip()
        )

    click.echo(line(HEADERS))
    click.echo(line(["-" * w for w in widths]))
    for r in head:
        click.echo(line(r))
    if limit is None:
        for r in cells:
            click.echo(line(r))
        return
    more = sum(1 for _ in cells)
    if more:
        click.echo(
            f"  … and {more:,} more of {len(head) + more:,} (see all: --all, --json or --csv)"
        )


@cli.command("subscriptions")
@click.option("--profile", help="Only this profile's seats.")
@click.option("--model", "software_model", help="Only seats of this software model.")
@click.option(
    "--inactive-days",
    type=click.IntRange(0, None),
    metavar="N",
    help="Only seats inactive for at least N days (never-used seats count from their creation).",
)
@click.option(
    "--excluded/--not-excluded",
    default=None,
    help="Only seats an exclusion rule covers (from cost or reclaim), or only seats none covers.",
)
@click.option("--closed", is_flag=True, help="Include seats no longer held (closed by a download).")
@click.option(
    "--limit",
    type=click.IntRange(0, None),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Rows to print on a terminal (0 = every row); the rest are counted.",
)
@click.option("--all", "show_all_rows", is_flag=True, help="Print every row (same as --limit 0).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every row, streamed).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (every row, streamed).")
def subscriptions_cmd(
    profile: str | None,
    software_model: str | None,
    inactive_days: int | None,
    excluded: bool | None,
    closed: bool,
    limit: int,
    show_all_rows: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List seats (subscriptions) with their inactive days and exclusions, filtered by profile,
    software model, inactivity and exclusion; streamed, so any number of seats fits."""
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    ws = _state().open()
    rows = ws.subscriptions.rows(
        profile,
        software_model=software_model,
        inactive_days=inactive_days,
        excluded=excluded,
        active_only=not closed,
    )
    first = next(rows, None)  # bad filters fail here, before any output
    stream = itertools.chain(() if first is None else (first,), rows)
    if as_json:
        _emit_json(stream)
    elif as_csv:
        _emit_csv(stream)
    else:
        _emit_table(stream, None if show_all_rows or not limit else limit)
