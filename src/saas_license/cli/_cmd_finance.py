"""Finance commands: ``entitlements`` (add/list/edit/retire/import), ``reconcile`` and ``report``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .._errors import ConfigError
from .._finance.csv_import import CsvImportError
from .._finance.entitlements import SubscriptionPeriod
from .._tables import Table, cell_text
from .._time import format_instant
from ..reports import render_html, write_csv, write_json
from . import _State, cli
from ._output import echo_json, echo_stream_table, echo_table, limit_options, safe
from ._progress import StageProgress

#: Bad CSV rows listed on a terminal; the rest are counted.
_PROBLEMS_SHOWN = 50

#: Entitlement fields → the CLI options that set them, so errors name what the user typed.
_OPTIONS = {
    "entitlement.software_model": "--model",
    "entitlement.purchased_rights": "--rights",
    "entitlement.unit_cost": "--unit-cost",
    "entitlement.currency": "--currency",
    "entitlement.period": "--period",
    "entitlement.start": "--start",
    "entitlement.end": "--end",
    "entitlement.profile": "--profile",
    "entitlement.retired_on": "--on",
}
_TABLE_NAMES = (
    "products",
    "models",
    "metrics",
    "profiles",
    "remediation",
    "unlicensed",
    "unmapped",
    "activity",
    "opportunities",
    "totals",
)


def _state() -> _State:
    return click.get_current_context().find_object(_State)  # type: ignore[return-value]


@contextmanager
def _as_options() -> Iterator[None]:
    """Re-word entitlement field errors with the option the user typed."""
    try:
        yield
    except ConfigError as exc:
        option = _OPTIONS.get(exc.field or "")
        if option is None:
            raise
        message = exc.message.removeprefix(f"{exc.field}: ")
        raise ConfigError(message, field=option, hint=exc.hint) from None


def _format_options(func: Any) -> Any:
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")(func)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


def _emit(table: Table, *, as_json: bool, as_csv: bool, limit: int | None = None) -> None:
    if as_json and as_csv:
        raise ConfigError("choose one of --json and --csv", field="--csv")
    if as_json:
        echo_json(table.to_json_data())
    elif as_csv:
        click.echo(table.to_csv(), nl=False)
    else:
        stamp = f" (as of {format_instant(table.as_of)})" if table.as_of else ""
        click.echo(f"{table.title or table.name}{stamp}")
        echo_table(
            table.columns,
            [[cell_text(v) for v in row] for row in table.rows],
            limit=limit,
            more="--all, --json or --csv",
        )


@cli.group("entitlements")
def entitlements_group() -> None:
    """Entitlements: rights bought per software model, with unit cost and dates."""


_period_choice = click.Choice([p.value for p in SubscriptionPeriod])


@entitlements_group.command("add")
@click.option("--model", "software_model", required=True, help="Software model the rights are for.")
@click.option("--rights", "purchased_rights", required=True, type=int, help="Purchased rights.")
@click.option("--unit-cost", required=True, help="Cost of one right per period, e.g. 59.00.")
@click.option("--currency", required=True, help="ISO currency code, e.g. USD.")
@click.option("--start", required=True, help="First day in force (YYYY-MM-DD).")
@click.option("--end", help="Last day in force (YYYY-MM-DD); open-ended if omitted.")
@click.option("--period", type=_period_choice, default="annually", show_default=True)
@click.option("--profile", help="Only for this profile (default: every profile).")
@click.option("--name", default="", help="A label, e.g. the contract number.")
@click.option("--json", "as_json", is_flag=True, help="Print the entitlement as JSON.")
def entitlements_add(
    software_model: str,
    purchased_rights: int,
    unit_cost: str,
    currency: str,
    start: str,
    end: str | None,
    period: str,
    profile: str | None,
    name: str,
    as_json: bool,
) -> None:
    """Record rights bought for a software model."""
    ws = _state().open()
    with _as_options():
        ent = ws.finance.add_entitlement(
            software_model,
            purchased_rights=purchased_rights,
            unit_cost=unit_cost,
            currency=currency,
            start=start,
            end=end,
            period=period,
            profile=profile,
            name=name,
        )
    if as_json:
        echo_json(ent.to_row(at=ws.clock(), timezone=ws.policy.timezone))
        return
    click.echo(
        f"entitlement {ent.id} added: {ent.purchased_rights} rights of {ent.software_model} "
        f"at {ent.currency} {ent.unit_cost} {ent.period.value} "
        f"({ent.state_at(ws.clock(), ws.policy.timezone).value})"
    )


@entitlements_group.command("list")
@click.option("--model", "software_model", help="Only this software model.")
@limit_options
@_format_options
def entitlements_list(
    software_model: str | None, limit: int, show_all_rows: bool, as_json: bool, as_csv: bool
) -> None:
    """List entitlements with their state as of now."""
    ws = _state().open()
    table = ws.finance.entitlements_table()
    if software_model is not None:
        models = sorted(m.name for m in ws.subscriptions.models())
        if software_model not in models:
            raise ConfigError(
                f"no software model named {software_model!r}",
                field="--model",
                hint="known models: " + (", ".join(models) or "none yet"),
            )
        i = table.columns.index("software_model")
        table = Table(
            name=table.name,
            columns=table.columns,
            rows=tuple(r for r in table.rows if r[i] == software_model),
            title=table.title,
            as_of=table.as_of,
        )
    _emit(
        table, as_json=as_json, as_csv=as_csv, limit=None if show_all_rows or not limit else limit
    )


@entitlements_group.command("edit")
@click.argument("entitlement_id", type=int)
@click.option("--model", "software_model")
@click.option("--rights", "purchased_rights", type=int)
@click.option("--unit-cost")
@click.option("--currency")
@click.option("--start")
@click.option("--end", help="New last day; 'none' makes it open-ended.")
@click.option("--period", type=_period_choice)
@click.option("--profile", help="Scope to a profile; 'none' for every profile.")
@click.option("--name")
def entitlements_edit(entitlement_id: int, **options: Any) -> None:
    """Change an entitlement's fields (only those given)."""
    changes = {k: v for k, v in options.items() if v is not None}
    for key in ("end", "profile"):
        if isinstance(changes.get(key), str) and changes[key].lower() == "none":
            changes[key] = None
    if not changes:
        raise ConfigError("nothing to change", field="options", hint="give at least one option")
    with _as_options():
        ent = _state().open().finance.edit_entitlement(entitlement_id, **changes)
    click.echo(f"entitlement {ent.id} updated: {', '.join(sorted(changes))}")


@entitlements_group.command("retire")
@click.argument("entitlement_id", type=int)
@click.option("--on", "on", help="Retire from this day (YYYY-MM-DD); default today.")
def entitlements_retire(entitlement_id: int, on: str | None) -> None:
    """Retire an entitlement: its rights stop counting from that day."""
    with _as_options():
        ent = _state().open().finance.retire_entitlement(entitlement_id, on=on)
    click.echo(f"entitlement {ent.id} retired from {ent.retired_on}")


@entitlements_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def entitlements_import(path: Path) -> None:
    """Import entitlements from CSV (all rows or none). Columns: software_model, purchased_rights,
    unit_cost, currency, start, and optionally period, end, profile, name."""
    ws = _state().open()
    try:
        if sys.stderr.isatty():
            total = max(path.read_bytes().count(b"\n") - 1, 1)
            with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
                saved = ws.finance.import_entitlements(
                    path, progress=lambda n: bar.update(n - bar.pos)
                )
        else:
            saved = ws.finance.import_entitlements(path)
    except CsvImportError as exc:
        click.echo(f"error: {path}: {len(exc.problems)} problem(s); nothing was imported", err=True)
        for problem in exc.problems[:_PROBLEMS_SHOWN]:
            click.echo(
                safe(f"  {path}:{problem.line}: {problem.field}: {problem.message}"), err=True
            )
        if len(exc.problems) > _PROBLEMS_SHOWN:
            click.echo(f"  … and {len(exc.problems) - _PROBLEMS_SHOWN:,} more", err=True)
        raise SystemExit(2) from None
    click.echo(f"imported {len(saved)} entitlements from {path}")


@entitlements_group.command("allocate")
@click.argument("entitlement_id", type=int)
@click.argument("rights", type=int)
@click.option("--profile", help="Set the rights aside for this profile.")
@click.option(
    "--users",
    help="…or for these users: principal names or * / ? patterns, comma-separated.",
)
@click.option("--name", default="", help="A label for the allocation.")
def entitlements_allocate(
    entitlement_id: int, rights: int, profile: str | None, users: str | None, name: str
) -> None:
    """Allocate RIGHTS of a company-wide entitlement to a profile or a group of users."""
    from ._cmd_core import _actor

    members = [u.strip() for u in (users or "").split(",") if u.strip()]
    alloc = (
        _state()
        .open()
        .finance.allocate(
            entitlement_id, rights, profile=profile, users=members, name=name, actor=_actor()
        )
    )
    click.echo(
        f"allocation {alloc.id}: {alloc.rights} rights of entitlement "
        f"{alloc.entitlement_id} for {safe(alloc.target)}"
    )


@entitlements_group.command("allocations")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def entitlements_allocations(as_json: bool) -> None:
    """Allocations of company-wide rights to profiles and groups of users."""
    allocs = _state().open().finance.allocations()
    rows = [
        {
            "id": a.id,
            "entitlement_id": a.entitlement_id,
            "rights": a.rights,
            "profile": a.profile,
            "users": list(a.users),
            "name": a.name,
        }
        for a in allocs
    ]
    if as_json:
        echo_json({"allocations": rows})
        return
    echo_table(
        ["id", "entitlement", "rights", "for", "name"],
        [(a.id, a.entitlement_id, a.rights, safe(a.target), safe(a.name)) for a in allocs],
    )


@entitlements_group.command("unallocate")
@click.argument("allocation_id", type=int)
def entitlements_unallocate(allocation_id: int) -> None:
    """Give an allocation's rights back to the company-wide pool."""
    from ._cmd_core import _actor

    _state().open().finance.remove_allocation(allocation_id, actor=_actor())
    click.echo(f"allocation {allocation_id} removed")


@cli.command("reconcile")
@click.option(
    "--table",
    "table_name",
    type=click.Choice(_TABLE_NAMES),
    help="Show only this table (default: a summary).",
)
@click.option("--save", is_flag=True, help="Keep the result in the workspace.")
@click.option(
    "--by",
    type=click.Choice(("department", "cost_center")),
    help="Showback: counted and idle seats and their cost per department or cost centre of "
    "the user directory (users not in it are one row).",
)
@click.option(
    "--every",
    "every_days",
    type=click.IntRange(1, 366),
    help="Reconcile and save only if the last saved result is older than this many days "
    "(for cron).",
)
@limit_options
@_format_options
def reconcile_cmd(
    table_name: str | None,
    save: bool,
    by: str | None,
    every_days: int | None,
    limit: int,
    show_all_rows: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Reconcile seats against entitlements: owned, used, available, true-up, savings."""
    ws = _state().open()
    if by is not None:
        if table_name is not None or every_days is not None or save:
            raise click.UsageError(
                "--by shows the showback table alone: drop --table/--save/--every"
            )
        rows = None if show_all_rows or not limit else limit
        _emit(ws.finance.showback(by).table(), as_json=as_json, as_csv=as_csv, limit=rows)
        return
    # opportunities and unlicensed seats: a terminal shows the first ``limit``; --all, --json
    # and --csv page through every one below, so none of them is held with the others
    paged = table_name in ("opportunities", "unlicensed")
    listed = limit if paged and limit and not show_all_rows else 0
    if every_days is not None:
        result = ws.finance.reconcile_if_due(dt.timedelta(days=every_days))
        if result is None:
            last = ws.finance.reconciliations(limit=1)[0]
            click.echo(
                f"not due: last saved reconciliation is from {format_instant(last.as_of)}",
                err=True,
            )
            return
    else:
        result = ws.finance.reconcile(
            save=save,
            opportunity_limit=listed if table_name == "opportunities" and listed else 100,
            unlicensed_limit=listed if table_name == "unlicensed" and listed else 100,
        )
    rows = None if show_all_rows or not limit else limit
    if paged and (not listed or as_json or as_csv):
        _all_rows(ws, result, table_name or "", as_json=as_json, as_csv=as_csv)
        return
    if paged:
        _emit(result.table(table_name or ""), as_json=False, as_csv=False)
        shown, total = (
            (len(result.opportunities), result.opportunity_count)
            if table_name == "opportunities"
            else (len(result.unlicensed), result.unlicensed_count)
        )
        if total > shown:
            click.echo(
                f"  … and {total - shown:,} more of {total:,} (see all: --all, --json or --csv)"
            )
        return
    if table_name is not None:
        _emit(result.table(table_name), as_json=as_json, as_csv=as_csv, limit=rows)
        return
    if as_csv:
        raise ConfigError("--csv prints one table; choose it with --table", field="--table")
    if as_json:
        echo_json(result.to_json_data())
        return
    zone = result.timezone
    click.echo(
        f"reconciliation as of {format_instant(result.as_of)} ({zone}): "
        + ("compliant" if result.compliant else "NOT compliant")
    )
    for name in ("products", "models", "metrics", "remediation"):
        click.echo()
        _emit(result.table(name), as_json=False, as_csv=False, limit=rows)
    click.echo(
        f"\nunlicensed seats: {result.unlicensed_count}; seats with unmapped identifiers: "
        f"{sum(u.subscriptions for u in result.unmapped)}; open candidates on counted seats: "
        f"{result.opportunity_count}"
    )
    for currency, sums in result.totals().items():
        click.echo(
            f"{currency} per year: true-up {sums['true_up_cost']}, over-licensed "
            f"{sums['over_licensed_amount']}, potential savings {sums['potential_savings']}, "
            f"realised {sums['actual_savings']}"
        )


def _all_rows(ws: Any, result: Any, name: str, *, as_json: bool, as_csv: bool) -> None:
    """Every opportunity (idlest first) or unlicensed seat of ``result``, written page by page
    (JSON: the table's usual document; CSV: one header; a terminal: aligned a page at a
    time)."""
    from .._finance.reconciliation import opportunities_table, unlicensed_table

    if as_json and as_csv:
        raise ConfigError("choose one of --json and --csv", field="--csv")
    # each page is one pass over the open candidates (or a unit's seats): large pages, few
    # passes (~10 MB a page)
    if name == "opportunities":
        table_of: Any = opportunities_table
        pages = _pages(ws.finance.iter_opportunities(page_size=20_000), 1000)
    else:
        table_of = unlicensed_table
        pages = _pages(ws.finance.iter_unlicensed(page_size=20_000), 1000)
    if as_json:
        head = table_of([], as_of=result.as_of).to_json_data()
        head.pop("rows")
        text = json.dumps(head, indent=2)
        click.echo(text[: text.rfind("\n}")] + ',\n  "rows": [', nl=False)
        first = True
        for page in pages:
            for record in table_of(page, as_of=result.as_of).to_records():
                item = json.dumps(record, indent=2).replace("\n", "\n    ")
                click.echo(("\n    " if first else ",\n    ") + item, nl=False)
                first = False
        click.echo(("]" if first else "\n  ]") + "\n}")
        return
    if as_csv:
        header = True
        for page in pages:
            text = table_of(page, as_of=result.as_of).to_csv()
            click.echo(text if header else text.split("\n", 1)[1], nl=False)
            header = False
        if header:
            click.echo(table_of([], as_of=result.as_of).to_csv(), nl=False)
        return
    table = table_of([], as_of=result.as_of)
    click.echo(f"{table.title} (as of {format_instant(result.as_of)})")
    echo_stream_table(
        table.columns,
        (
            [cell_text(v) for v in row]
            for page in pages
            for row in table_of(page, as_of=result.as_of).rows
        ),
    )


def _pages(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    page: list[Any] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


@cli.command("report")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the HTML report (one self-contained file).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every table as one JSON document.",
)
@click.option(
    "--csv",
    "csv_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one CSV file per table into this directory.",
)
@click.option("--save", is_flag=True, help="Also keep the reconciliation in the workspace.")
def report_cmd(
    html_path: Path | None, json_path: Path | None, csv_dir: Path | None, save: bool
) -> None:
    """Reconcile now and write the report: HTML with charts, and/or JSON and CSV tables."""
    if html_path is None and json_path is None and csv_dir is None:
        raise ConfigError(
            "nothing to write", field="--html", hint="give --html FILE, --json FILE or --csv DIR"
        )
    for option, target in (("--html", html_path), ("--json", json_path)):
        if target is not None and not target.parent.is_dir():
            raise ConfigError(
                f"the directory {target.parent} does not exist",
                field=option,
                hint="create it first, or write the file somewhere else",
            )
    if csv_dir is not None and csv_dir.exists() and not csv_dir.is_dir():
        raise ConfigError(f"{csv_dir} is not a directory", field="--csv")
    ws = _state().open()
    outputs = (("html", html_path), ("json", json_path), ("csv", csv_dir))
    stages = ["reconcile", *(name for name, target in outputs if target is not None)]
    wrote: list[Path] = []
    # The bar is on stderr; "wrote …" lines wait for it to finish so they do not cut it.
    try:
        with StageProgress(stages, label="report", as_json=json_path is not None) as progress:
            with progress.stage("reconcile"):
                result = ws.finance.reconcile(save=save)
            if html_path is not None:
                with progress.stage("html"):
                    html = render_html(
                        result, audit=ws.audit.verify(), showback=ws.finance.showbacks()
                    )
                    html_path.write_text(html, encoding="utf-8")
                wrote.append(html_path)
            if json_path is not None:
                with progress.stage("json"):
                    wrote.append(write_json(result, json_path))
            if csv_dir is not None:
                with progress.stage("csv"):
                    wrote.extend(write_csv(result, csv_dir))
    finally:
        for path in wrote:
            click.echo(f"wrote {path}")
