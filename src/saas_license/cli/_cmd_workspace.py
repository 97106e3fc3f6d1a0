"""``saas-license workspace``: the workspace as a whole (copy it between stores)."""

from __future__ import annotations

import click

from . import cli
from ._output import echo_json, echo_table


@cli.group("workspace")
def workspace_group() -> None:
    """The workspace as a whole: copy it between SQLite and PostgreSQL."""


@workspace_group.command("copy")
@click.argument("source")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def copy_cmd(source: str, target: str, as_json: bool) -> None:
    """Copy the workspace SOURCE into the new, empty TARGET (a file path or postgresql:// URL),
    row for row; then compare every table and verify TARGET's audit chains."""
    from .._store.copy import copy_workspace
    from .._workspace import Workspace

    src = Workspace.open(source, create=False)
    try:
        dst = Workspace.open(target, create=True)
        try:
            report = copy_workspace(src.store, dst.store)
        finally:
            dst.close()
    finally:
        src.close()
    if as_json:
        echo_json(
            {
                "rows": report.rows,
                "audit_entries": report.audit_entries,
                "audit_ok": report.audit_ok,
            }
        )
        return
    echo_table(["table", "rows"], sorted(report.rows.items()))
    state = "verified" if report.audit_ok else "FAILED verification"
    click.echo(
        f"copied; every table matches the source; audit chain {state} "
        f"({report.audit_entries} entries)"
    )
    if not report.audit_ok:
        raise click.exceptions.Exit(1)
